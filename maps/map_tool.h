/*
 * NAME
 *	map_tool - the postmap, postalias and newaliases commands
 * SYNOPSIS
 *	#include "map_tool.h"
 *
 *	int	map_tool_main(int argc, char **argv, int how);
 * DESCRIPTION
 *	One driver for both commands; how is MAP_TOOL_POSTMAP ("key
 *	value" source lines) or MAP_TOOL_POSTALIAS ("name: value",
 *	aliases(5)). Invoked as newaliases, it builds every
 *	alias_database. See maps/map_tool.c for options and exit codes.
 */
#ifndef MAP_TOOL_H
#define MAP_TOOL_H

#define MAP_TOOL_POSTMAP	1
#define MAP_TOOL_POSTALIAS	2

int	 map_tool_main(int, char **, int);

#endif
