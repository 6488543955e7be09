/*
 * NAME
 *	fuzz_map_regexp - libFuzzer target: regexp: table files (maps/)
 * DESCRIPTION
 *	See fuzz_map.h: a regexp: table and keys to look up in it.
 */
#define FUZZ_MAP_TYPE	"regexp"
#include "fuzz_map.h"
