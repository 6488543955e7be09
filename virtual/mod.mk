# virtual/: the virtual(8) delivery agent (Maildir and mbox delivery to
# virtual mailboxes). virtual.c is only main(); modules beside it.
PROGRAMS += virtual
virtual_SRCS := virtual/virtual.c virtual/virtual_deliver.c \
	virtual/virtual_request.c

UNIT_TESTS += virtual_test
virtual_test_SRCS := virtual/virtual_test.c virtual/virtual_deliver.c \
	virtual/virtual_request.c

# lib/gsync.c's test lives here (lib/mod.mk is shared): virtual is its user
UNIT_TESTS += gsync_test
gsync_test_SRCS := lib/gsync_test.c
