# metrics/: the Prometheus endpoint (lib/metrics.h counters + the queue).
PROGRAMS += metrics
metrics_SRCS := metrics/metrics.c

UNIT_TESTS += metrics_test
metrics_test_SRCS := lib/metrics_test.c
