# makefile.mk: a test of the top Makefile itself.
#   make test-makefile   how ALLOCATORS is handed over: the default sable-secure variant in
#                        make bench and not in make conformance, every folder built,
#                        the list passed to the runner untouched, an unknown base refused,
#                        a contestant whose library is missing skipped, not built

.PHONY: test-makefile
TESTS += test-makefile

test-makefile:
	scripts/tests/test_makefile.sh

# test-contestants   a contestant added as README.md says (in a scratch copy),
#                    built and run; skipped with a notice (terminal, meta.json)
#                    when its library is missing at build time or at run time
.PHONY: test-contestants
TESTS += test-contestants
test-contestants: $(BUILD)/heapmark
	scripts/tests/test_contestants.sh

# test-make-conformance   make conformance renders the matrix from the runner's run
#                         folder (the runner starts no Python): printed, CSV and
#                         Markdown written, make fails on an allocator without
#                         verdicts; check_suite.sh (test-conformance) fails on a
#                         verdict that differs from conformance/expected
.PHONY: test-make-conformance
TESTS += test-make-conformance
test-make-conformance: $(BUILD)/heapmark $(BUILD)/glibc/conformance
	scripts/tests/test_make_conformance.sh
