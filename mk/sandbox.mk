# mk/sandbox.mk: postern sandbox (issue 19): the command's module in
# postern, and the smtp client's capture mode (smtp_sandbox_capture_directory).
postern_SRCS += master/postern_sandbox.c
smtp_SRCS += smtp/smtp_capture.c
smtp_test_SRCS += smtp/smtp_capture.c
