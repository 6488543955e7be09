/*
 * NAME
 *	fuzz_map_cidr - libFuzzer target: cidr: table files (maps/)
 * DESCRIPTION
 *	See fuzz_map.h: a cidr: table and keys to look up in it.
 */
#define FUZZ_MAP_TYPE	"cidr"
#include "fuzz_map.h"
