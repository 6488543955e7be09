# mk/deb.mk - "make deb": the Debian package, built from the tree.
#
#   make deb	build/deb/postern_VERSION_ARCH.deb (tests/82-deb.t)
#
# dpkg-buildpackage writes its results into the parent of the source
# tree, so the working tree (git ls-files: tracked files and untracked
# ones git does not ignore, as they are now, i.e. what "make all" here
# compiles) is copied to build/deb/src and the package is built there:
# nothing is written outside build/. debian/rules calls "make all" and
# "make install PREFIX=/usr DESTDIR=debian/postern" (mk/install.mk) in
# the copy. The packaging tools are in tools/deps.txt (group test).
# Without git (a tarball, or a machine that has none) the whole tree
# but build/ is copied. DEB_FROM=index copies the index instead (committed plus staged
# content: what the next commit holds), leaving half-done edits of the
# working tree out.

DEB_DIR		:= build/deb
DEB_VERSION	:= $(shell dpkg-parsechangelog -l debian/changelog \
			-S Version 2>/dev/null)
DEB_ARCH	:= $(shell dpkg --print-architecture 2>/dev/null)
DEB_FILE	:= $(DEB_DIR)/postern_$(DEB_VERSION)_$(DEB_ARCH).deb

.PHONY: deb
deb:
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/src
ifeq ($(DEB_FROM),index)
	git checkout-index -a --prefix=$(DEB_DIR)/src/
else
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z --cached --others --exclude-standard | \
		tar --null -T - --ignore-failed-read -cf - ; \
	else \
		tar --exclude=./build --exclude=./.git -cf - . ; \
	fi | tar -C $(DEB_DIR)/src -xf -
endif
	cd $(DEB_DIR)/src && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		dpkg-buildpackage -us -uc -b -J2 > ../build.log 2>&1 || \
		{ tail -40 ../build.log; echo "make deb: failed;" \
		"the whole log is $(DEB_DIR)/build.log" >&2; exit 1; }
	@test -f $(DEB_FILE) || { echo "make deb: no $(DEB_FILE)" >&2; exit 1; }
	@echo "make deb: $(DEB_FILE)"
