# sable as an adopter installs it.
#
#   test-sable-install  make install-sable into a staging tree (DESTDIR, PREFIX): files,
#                       symlinks, soname, sable.pc, sable(3); a program built through
#                       `pkg-config --cflags --libs sable` only runs linked, and preloaded,
#                       and finds that sable served it; make uninstall-sable removes all

.PHONY: test-sable-install
TESTS += test-sable-install

test-sable-install: $(SABLE_BUILD)/libsable.so $(SABLE_BUILD)/libsable.a
	CC=$(CC) $(SABLE_DIR)/tests/install.sh $(SABLE_BUILD)/install-test
