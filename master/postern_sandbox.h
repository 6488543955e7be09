/*
 * NAME
 *	postern_sandbox.h - "postern sandbox" (postern_sandbox.c)
 */
#ifndef POSTERN_SANDBOX_H
#define POSTERN_SANDBOX_H

int	 postern_sandbox_main(int, char **);

#endif
