# lib/: shared code, no main(). Every .c that is not a test is in the library.
LIB_SRCS += $(filter-out %_test.c,$(wildcard lib/*.c))

UNIT_TESTS += str_test
str_test_SRCS := lib/str_test.c

UNIT_TESTS += workq_test
workq_test_SRCS := lib/workq_test.c

UNIT_TESTS += reply_test
reply_test_SRCS := lib/reply_test.c

UNIT_TESTS += addr_test
addr_test_SRCS := lib/addr_test.c
