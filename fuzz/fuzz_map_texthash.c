/*
 * NAME
 *	fuzz_map_texthash - libFuzzer target: texthash: table files (maps/)
 * DESCRIPTION
 *	See fuzz_map.h: a texthash: table and keys to look up in it.
 */
#define FUZZ_MAP_TYPE	"texthash"
#include "fuzz_map.h"
