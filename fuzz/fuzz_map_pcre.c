/*
 * NAME
 *	fuzz_map_pcre - libFuzzer target: pcre: table files (maps/)
 * DESCRIPTION
 *	See fuzz_map.h: a pcre: table and keys to look up in it.
 */
#define FUZZ_MAP_TYPE	"pcre"
#include "fuzz_map.h"
