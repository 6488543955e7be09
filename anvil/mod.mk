# anvil/: client connection counts and request rates (Postfix's anvil).
PROGRAMS += anvil
anvil_SRCS := anvil/anvil.c anvil/anvil_table.c

UNIT_TESTS += anvil_table_test
anvil_table_test_SRCS := anvil/anvil_table_test.c anvil/anvil_table.c
