/*
 * NAME
 *	postern_dkim.h - "postern dkim-keygen" (postern_dkim.c)
 */
#ifndef POSTERN_DKIM_H
#define POSTERN_DKIM_H

int	 postern_dkim_main(int, char **);

#endif
