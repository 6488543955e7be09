/*
 * NAME
 *	fuzz_map_regexp - libFuzzer target: regexp: table files (maps/)
 * DESCRIPTION
 *	See fuzz_map.h: a regexp: table and keys to look up in it. Tables
 *	that make glibc's regcomp() explode are skipped (corpus input
 *	timeout-glibc-nested-plus: 40 '+' after one atom).
 */
#define FUZZ_MAP_TYPE	"regexp"
#define FUZZ_MAP_REGCOMP	1
#include "fuzz_map.h"
