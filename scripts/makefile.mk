# makefile.mk: a test of the top Makefile itself.
#   make test-makefile   how ALLOCATORS is read: the default sable-secure variant in
#                        make bench and not in make conformance, bases built,
#                        escaped values passed through exactly, an unknown base refused

.PHONY: test-makefile
TESTS += test-makefile

test-makefile:
	scripts/tests/test_makefile.sh
