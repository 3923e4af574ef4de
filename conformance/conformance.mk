# conformance.mk: tests of the conformance suite (conformance/) and of its
# report script (scripts/conformance_report.py).
#
#   test-conformance           the whole suite for every allocator through the
#                              runner (build/heapmark conformance, two at a time),
#                              its matrix rendered and checked against
#                              conformance/expected/<A>.txt (scripts/conformance_report.py
#                              --check): any difference names the check, the
#                              allocator and both verdicts
#   test-conformance-selftest  the framework, in its own test binary: checks that pass,
#                              fail, crash (SIGSEGV, SIGABRT), hang, exit early,
#                              leave a hanging grandchild; REP and CAP checks that
#                              fail, crash or hang never come out as fail; the CLI's
#                              errors
#   test-conformance-report    the report script: matrix, CSV and Markdown, the
#                              --check comparison, version notices, malformed input

CONF_TEST_DIR := $(BUILD)/conformance-tests
CONF_BINARIES := $(foreach a,$(BUILT),$(BUILD)/$(a)/conformance)

.PHONY: test-conformance test-conformance-selftest test-conformance-report
TESTS += test-conformance test-conformance-selftest test-conformance-report

test-conformance: $(CONF_BINARIES) $(BUILD)/heapmark
	conformance/check_suite.sh $(BUILD)/heapmark '$(ALLOC_LIST)' $(CONF_TEST_DIR)/matrix

# The framework's own checks (selftest.c) live in a test binary of their own, on
# glibc; the shipped build/<A>/conformance binaries do not contain them.
CONF_SELFTEST_BIN := $(CONF_TEST_DIR)/conformance-selftest

$(OBJ)/conformance/selftest.o: CFLAGS += -fno-builtin

$(CONF_SELFTEST_BIN): $(OBJ)/allocators/glibc/ext.o $(OBJ)/conformance/selftest.o $(CONF_OBJS) \
                      $(LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread -ldl

test-conformance-selftest: $(CONF_SELFTEST_BIN) $(BUILD)/glibc/conformance
	@$(PYTHON) conformance/selftest.py $(CONF_SELFTEST_BIN) $(BUILD)/glibc/conformance \
	    $(CONF_TEST_DIR)/selftest

test-conformance-report:
	$(PYTHON) scripts/tests/test_conformance_report.py
