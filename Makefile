# xapi-storage-spdk: SMAPIv3 plugins (TypeScript) and the blkif backend (C).
# `make` builds everything in place; the plugins/ executables then run from the checkout.
SHELL := /bin/bash
PREFIX ?= /usr
DESTDIR ?=
BUNDLE := dist/xapi-storage-spdk.js
SR_TYPE := spdk
VOLUME_DIR := plugins/volume/org.xen.xapi.storage.$(SR_TYPE)
DATAPATH_DIR := plugins/datapath/$(SR_TYPE)
LIBEXEC := $(DESTDIR)$(PREFIX)/libexec/xapi-storage-script
LIBDIR := $(DESTDIR)$(PREFIX)/lib/xapi-storage-spdk

.PHONY: all deps build plugins native typecheck test test-native test-xen test-xen-quick test-spdk-pcie bench bench-backend bench-spdk demo install clean
all: build plugins native

# Debian packages and npm packages, whatever is missing (run as root on Debian 12).
deps:
	./scripts/setup-debian.sh

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

build: node_modules/.package-lock.json
	node scripts/bundle.mjs
	chmod +x $(BUNDLE)

plugins: build
	./scripts/plugin-files.sh $(BUNDLE) volume $(VOLUME_DIR) ../../../$(BUNDLE)
	./scripts/plugin-files.sh $(BUNDLE) datapath $(DATAPATH_DIR) ../../../$(BUNDLE)

# The C backend, its simulator and their tests (plain and sanitized builds).
native:
	$(MAKE) -C native

# C tests (plain and ASan+UBSan), then each fuzz target coverage-guided for a bounded time
# (clang-14 from scripts/setup-debian.sh; FUZZ_SECONDS each).
FUZZ_SECONDS ?= 20
test-native: native
	$(MAKE) -C native check
	$(MAKE) -C native fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)

typecheck: node_modules/.package-lock.json
	npx tsc --noEmit -p .

# The README's test command: sh scripts/setup-debian.sh && make test
test: all typecheck test-native
	npx jest --ci
	# The simulator and fault tests again with every native program built with ASan+UBSan.
	XENBLKD_SAN=1 npx jest --ci spec/sim spec/faults

# The real-Xen tier (root; installs qemu-system-x86 and debootstrap if missing; images cached in
# $(XEN_CACHE) or /var/cache/xapi-storage-spdk-xen): Xen 4.17 + Debian dom0 in QEMU TCG, our plugins
# and xenblkd against running PV guests' xen-blkfront. See spec/xen/README.md.
test-xen: all
	bash spec/xen/run.sh
	bash spec/spdk-pcie/run.sh

# The SPDK store on a PCIe NVMe drive (QEMU's emulated controller, in a QEMU guest running this
# tree; about 2 minutes): only where xenblkd-spdk is built, else it says so. See docs/spdk.md.
test-spdk-pcie: all
	bash spec/spdk-pcie/run.sh

# The reduced form: plug into a running guest, negotiated features, verified fio, teardown.
test-xen-quick: all
	CASES=plug,features,fio bash spec/xen/run.sh

bench: all
	node spec/bench/startup.mjs

# The backend against fio (needs fio; about 3 minutes).
bench-backend: all
	node dist/bench-backend.js

# The SPDK engine (aio, uring and null bdevs, an lvol) beside the io_uring engine and fio; needs
# xenblkd-spdk, built where SPDK is installed (docs/spdk.md); about 6 minutes.
bench-spdk: all
	node dist/bench-spdk.js

demo: all
	node dist/demo.js

# Lays the plugins out as XCP-ng expects, under $(DESTDIR). The datapath
# directory is built aside and renamed in: xapi-storage-script registers a
# datapath plugin the moment its directory appears.
install: all
	install -d $(LIBDIR) $(LIBEXEC)/volume $(LIBEXEC)/datapath
	install -m 0755 $(BUNDLE) $(LIBDIR)/xapi-storage-spdk.js
	install -m 0755 native/build/xenblkd $(LIBDIR)/xenblkd
	# xenblkd-spdk exists where SPDK was found at build time (docs/spdk.md).
	[ ! -f native/build/xenblkd-spdk ] || install -m 0755 native/build/xenblkd-spdk $(LIBDIR)/xenblkd-spdk
	install -m 0644 native/build/libxenblk-shim.so $(LIBDIR)/libxenblk-shim.so
	rm -rf $(LIBDIR)/node_modules && mkdir -p $(LIBDIR)/node_modules
	cp -a node_modules/ffi-rs $(LIBDIR)/node_modules/
	cp -a node_modules/@yuuang $(LIBDIR)/node_modules/
	./scripts/plugin-files.sh $(BUNDLE) volume $(LIBEXEC)/volume/org.xen.xapi.storage.$(SR_TYPE) ../../../../lib/xapi-storage-spdk/xapi-storage-spdk.js
	rm -rf $(LIBEXEC)/datapath/.$(SR_TYPE).new
	./scripts/plugin-files.sh $(BUNDLE) datapath $(LIBEXEC)/datapath/.$(SR_TYPE).new ../../../../lib/xapi-storage-spdk/xapi-storage-spdk.js
	rm -rf $(LIBEXEC)/datapath/$(SR_TYPE).old
	if [ -e $(LIBEXEC)/datapath/$(SR_TYPE) ]; then mv $(LIBEXEC)/datapath/$(SR_TYPE) $(LIBEXEC)/datapath/$(SR_TYPE).old; fi
	mv $(LIBEXEC)/datapath/.$(SR_TYPE).new $(LIBEXEC)/datapath/$(SR_TYPE)
	rm -rf $(LIBEXEC)/datapath/$(SR_TYPE).old

clean:
	rm -rf dist
	$(MAKE) -C native clean
