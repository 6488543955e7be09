# maps/: the lookup-table library (libmaps.a) and postmap, postalias,
# newaliases.
MAPS_SRCS += maps/map.c maps/map_kv.c maps/map_text.c maps/map_static.c \
	maps/map_texthash.c maps/map_lmdb.c maps/map_cidr.c maps/map_regexp.c \
	maps/map_mysql.c maps/map_unix.c maps/map_tool.c maps/map_cache.c

PROGRAMS += postmap postalias
postmap_SRCS := maps/postmap.c
postalias_SRCS := maps/postalias.c
PROGRAM_LINKS += newaliases=postalias

UNIT_TESTS += map_cidr_test
map_cidr_test_SRCS := maps/map_cidr_test.c
UNIT_TESTS += map_regexp_test
map_regexp_test_SRCS := maps/map_regexp_test.c
UNIT_TESTS += map_lmdb_test
map_lmdb_test_SRCS := maps/map_lmdb_test.c
UNIT_TESTS += map_texthash_test
map_texthash_test_SRCS := maps/map_texthash_test.c
UNIT_TESTS += map_inline_static_test
map_inline_static_test_SRCS := maps/map_inline_static_test.c
UNIT_TESTS += map_addr_test
map_addr_test_SRCS := maps/map_addr_test.c
UNIT_TESTS += map_mysql_test
map_mysql_test_SRCS := maps/map_mysql_test.c
UNIT_TESTS += map_text_test
map_text_test_SRCS := maps/map_text_test.c
UNIT_TESTS += map_thread_test
map_thread_test_SRCS := maps/map_thread_test.c
UNIT_TESTS += map_cache_test
map_cache_test_SRCS := maps/map_cache_test.c
