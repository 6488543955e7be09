/*
 * NAME
 *	postmap - build and query lookup tables (Postfix's postmap(1))
 * SYNOPSIS
 *	postmap [-firsv] [-c config_dir] [-d key] [-q key] [type:]file ...
 * DESCRIPTION
 *	A thin main over map_tool_main(); see maps/map_tool.c.
 */
#include "map_int.h"
#include "map_tool.h"

/* main - postmap */
int
main(int argc, char **argv)
{
	return (map_tool_main(argc, argv, MAP_TOOL_POSTMAP));
}
