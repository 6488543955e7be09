/*
 * NAME
 *	postalias, newaliases - build and query alias databases
 * SYNOPSIS
 *	postalias [-firsv] [-c config_dir] [-d key] [-q key] [type:]file ...
 *	newaliases [-c config_dir]
 * DESCRIPTION
 *	A thin main over map_tool_main(); see maps/map_tool.c. Invoked as
 *	newaliases it builds every table in alias_database.
 */
#include "map_int.h"
#include "map_tool.h"

/* main - postalias */
int
main(int argc, char **argv)
{
	return (map_tool_main(argc, argv, MAP_TOOL_POSTALIAS));
}
