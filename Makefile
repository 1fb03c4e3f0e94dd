# SPDX-License-Identifier: MIT
# shmk: top-level build.
#
#   make              module + library + tools + tests + examples (-j safe)
#   make check        install deps, build, run host, packaging and VM suites
#   make check-host   host suites only (unit + portable integration)
#   make check-pkg    packaging suite: symbols, versions, licenses, ABI,
#                     make install, the .debs, a third-party build
#   make check-vm     VM suite (the DKMS-built module in Debian's kernel
#                     under qemu), the limits, the tracing page's commands
#                     (check-vm-tracing), then the autoload run
#   make check-debug  module suite on a lockdep/KASAN/kmemleak debug kernel
#   make torture      kill -9 torture, N=<kills> (default 1000), both backends
#   make soak         torture for SECS seconds under a CPU and memory hog
#   make fuzz         libFuzzer harnesses of the library, FUZZ_SECS=<s> each
#                     (default 60; tests/fuzz-lib/README.md)
#   make fuzz-kmod    randomized syscall fuzzer of the module, CALLS=<n> (VM)
#   make fuzz-kmod-debug  the same on the debug kernel (KASAN, lockdep)
#   make demo         client/server demo with crash recovery (in the VM)
#   make bench        benchmarks and report in bench/results (QUICK=1: smoke)
#   make install      [DESTDIR= PREFIX=/usr/local LIBDIR= INCLUDEDIR= MANDIR=
#                     SBINDIR= UDEVRULESDIR= MODPROBEDIR= DKMSSRCDIR=
#                     PYTHONDIR= EXAMPLEDIR=]
#   make uninstall    the same variables
#   make dkms-install register, build and install the module with DKMS (root)
#   make dkms-uninstall
#   make dkms-build   DKMS build in build/dkms only (what make check runs)
#   make deb          Debian packages into build/deb/ (dpkg-buildpackage)
#   make abi-update   rewrite the ABI baseline lib/abi/libshmk.abi
#
# KVER/KDIR select the target kernel: by default the installed Debian cloud
# kernel that the VM boots, never the host's uname -r.

VERSION := $(shell cat VERSION)
KVER ?= $(shell scripts/kver.sh)
KDIR ?= /lib/modules/$(KVER)/build
VMLINUZ ?= /boot/vmlinuz-$(KVER)
BUILD := $(CURDIR)/build
# Suites the VM runs against the real module (library ones on kmod).
# tests/fuzz-kmod runs its short default budget there (about 30 s).
VM_SUITES := tests/kmod tests/integ tests/msg tests/tools tests/torture \
	tests/fuzz-kmod tests/examples tests/cpp
# The module's limits, tested in a VM of their own with small ones.
LIMIT_ARGS := max_arenas=12 reserved_arenas=3 max_arenas_per_ns=6 \
	max_arenas_per_user=4 max_bytes_per_user=1048576 \
	max_bytes_per_ns=2097152
# Suites the host runs (portable backend).
HOST_SUITES := tests/unit tests/integ tests/msg tests/tools tests/torture \
	tests/docs tests/examples tests/fuzz-lib tests/model tests/cpp \
	tests/python
export KVER KDIR VMLINUZ BUILD

# Installation directories. Configuration read by udev and modprobe goes
# under /usr/lib for PREFIX=/usr (packages), under /etc otherwise.
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
SBINDIR ?= $(PREFIX)/sbin
DATADIR ?= $(PREFIX)/share
DOCDIR ?= $(DATADIR)/doc/shmk
# The examples' sources (and a Makefile that builds them with pkg-config).
EXAMPLEDIR ?= $(DOCDIR)/examples
# The Python package (bindings/python/README.md): Debian's layout, on
# sys.path for PREFIX=/usr.
PYTHONDIR ?= $(PREFIX)/lib/python3/dist-packages
ifeq ($(PREFIX),/usr)
UDEVRULESDIR ?= /usr/lib/udev/rules.d
MODPROBEDIR ?= /usr/lib/modprobe.d
else
UDEVRULESDIR ?= /etc/udev/rules.d
MODPROBEDIR ?= /etc/modprobe.d
endif
DKMSSRCDIR ?= /usr/src/shmk-$(VERSION)
INSTALL_VARS = DESTDIR=$(DESTDIR) PREFIX=$(PREFIX) LIBDIR=$(LIBDIR) \
	INCLUDEDIR=$(INCLUDEDIR) MANDIR=$(MANDIR) SBINDIR=$(SBINDIR)

# What the DKMS source tree holds: enough for Kbuild, nothing else.
# (Every file names its license in its SPDX line; shmk.mod.c is Kbuild's.)
DKMS_FILES := Kbuild VERSION uapi/linux/shmk.h kmod/Kbuild \
	$(sort $(filter-out %.mod.c,$(wildcard kmod/*.c)) $(wildcard kmod/*.h))
# The DKMS build of make check (a private DKMS tree, not /var/lib/dkms).
DKMS_BUILD := $(BUILD)/dkms
DKMS_KO := $(DKMS_BUILD)/tree/shmk/$(VERSION)/$(KVER)/$(shell uname -m)/module/shmk.ko

.PHONY: all deps module lib tests examples tools bench demo check check-host \
	check-pkg check-vm check-vm-suite check-vm-limits check-vm-tracing \
	check-autoload \
	check-debug torture soak fuzz fuzz-kmod fuzz-kmod-debug model \
	clean lint checkpatch sparse install uninstall install-lib \
	install-tools install-data install-bindings install-examples \
	install-dkms-src dkms-install \
	dkms-uninstall dkms-build deb abi-update

all: module lib tools tests examples

deps:
	@scripts/install-deps.sh

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

lib:
	$(MAKE) -C lib

# Everything below links lib/'s archives: built once, before them.
tools: lib
	$(MAKE) -C tools

# After tools and examples: tests/tools and tests/examples copy them next
# to their tests.
tests: lib tools examples
	$(MAKE) -C tests

examples: lib
	$(MAKE) -C examples

# SPIN models of the queue (model/README.md, Documentation/model.rst);
# make check runs their fast configuration (tests/model).
model:
	$(MAKE) -C model check

# Benchmarks (bench/README.md); QUICK=1 for the one-minute smoke run.
bench: lib tools
	$(MAKE) -C bench run QUICK=$(QUICK)

# The main job: on /dev/shmk if this host has it, else in the VM.
demo: deps
	$(MAKE) module lib examples
	@if [ -c /dev/shmk ]; then examples/demo; else \
	  echo "demo: this host cannot load shmk.ko: running it in a VM"; \
	  echo "demo: (SHMK_BACKEND=portable examples/demo runs it on this host)"; \
	  tests/vm/run-vm.sh --module kmod/shmk.ko --quiet --verbose \
	    --env SHMK_BACKEND=kmod --extra examples/demo:/bin/demo \
	    --cmd demo --test-timeout 120; fi

# Every test: host, packaging, then VM; one closing line for all. With
# CHECK_DEBUG=1 (.ci/run) the module suite on the debug kernel too (a cold
# kernel build adds 10-20 minutes; cached in /var/cache/shmk after).
RESULTS := $(addprefix $(BUILD)/,check-host.result check-pkg.result \
	check-vm.result check-vm-limits.result check-vm-tracing.result \
	check-autoload.result \
	$(if $(filter 1,$(CHECK_DEBUG)),check-debug.result))
check: deps
	@rm -f $(RESULTS)
	$(MAKE) all
	-$(MAKE) dkms-build
	-$(MAKE) check-host
	-$(MAKE) check-pkg
	-$(MAKE) check-vm
	$(if $(filter 1,$(CHECK_DEBUG)),-$(MAKE) check-debug)
	@scripts/check-summary.sh $(RESULTS)

check-host: lib tests
	@mkdir -p $(BUILD)
	tests/run-host.sh --test-timeout 300 --result $(BUILD)/check-host.result \
		$(HOST_SUITES)

# Packaging (tests/pkg/README.md): builds the .debs, installs into
# DESTDIRs, builds programs against them; minutes, hence its own timeout.
check-pkg: all dkms-build
	@mkdir -p $(BUILD)
	tests/run-host.sh --test-timeout 900 --result $(BUILD)/check-pkg.result \
		tests/pkg

# The VM suite loads the module DKMS built; the autoload run then installs
# that build in the guest's /lib/modules and lets an open() load it.
check-vm: dkms-build tests
	-$(MAKE) check-vm-suite
	-$(MAKE) check-vm-limits
	-$(MAKE) check-vm-tracing
	$(MAKE) check-autoload

check-vm-suite:
	@mkdir -p $(BUILD)
	tests/vm/run-vm.sh --kernel $(VMLINUZ) --module $(DKMS_KO) \
		--env SHMK_BACKEND=kmod --test-timeout 120 --timeout 900 --quiet \
		--result $(BUILD)/check-vm.result $(VM_SUITES)

# The module's limits need small ones: a VM of their own.
check-vm-limits: module tests
	@mkdir -p $(BUILD)
	tests/vm/run-vm.sh --kernel $(VMLINUZ) --module kmod/shmk.ko \
		--module-args "$(LIMIT_ARGS)" --quiet \
		--result $(BUILD)/check-vm-limits.result tests/kmod-limits

# The commands of shmk-tracing(7) on the module (its tracepoints), in a VM
# of their own: tests/tools/t_tracing_examples.sh with bpftrace, bpftool,
# perf, readelf and pgrep copied in (those the host has; the script skips
# what it lacks), the examples and the page. About 1.5 minutes (12 under
# a load of 25: hence the bounds).
TRACING_BINS := $(wildcard /usr/bin/bpftrace /usr/sbin/bpftool /usr/bin/perf \
	/usr/bin/readelf /usr/bin/pgrep)
TRACING_SUITE := $(BUILD)/vm-tracing/tools
check-vm-tracing: dkms-build examples
	@mkdir -p $(TRACING_SUITE)
	install -m 0755 tests/tools/t_tracing_examples.sh $(TRACING_SUITE)/
	tests/vm/run-vm.sh --kernel $(VMLINUZ) --module $(DKMS_KO) \
		--env SHMK_BACKEND=kmod --test-timeout 2400 --timeout 2700 --quiet \
		$(foreach b,$(TRACING_BINS),--extra $(b):$(b)) \
		--extra examples:/examples \
		--extra tools/man/shmk-tracing.7:/tools/man/shmk-tracing.7 \
		--result $(BUILD)/check-vm-tracing.result $(TRACING_SUITE)

check-autoload:
	@mkdir -p $(BUILD)
	tests/vm/autoload.sh --module $(DKMS_KO) \
		--result $(BUILD)/check-autoload.result

# Kill -9 torture (tests/torture/README.md), long: N kills (N=10000 for
# the figures) on the host (portable backend), then in the VM (kmod); the
# report, with the kill-to-event and kill-to-reclaimed distributions, goes
# to build/torture-report.md. make check runs 20 kills. make soak: the same for SECS seconds a backend
# (default 600) under HOG load (default cpu,mem; HOG_MB sizes the memory
# hog), rounds unbounded.
N ?= 1000
SECS ?= 600
HOG ?= cpu,mem
TORTURE_ENV = $(if $(HOG_MB),--env SHMK_TORTURE_HOG_MB=$(HOG_MB))
TORTURE_LOGS = "portable (host)=$(BUILD)/host/torture/t_torture.out" \
	"kmod (VM)=$(BUILD)/torture-vm.log"
torture: module tests
	@mkdir -p $(BUILD)
	tests/run-host.sh --env SHMK_TORTURE_KILLS=$(N) \
		--test-timeout $$(( $(N) / 4 + 600 )) --verbose \
		--result $(BUILD)/torture-host.result tests/torture
	tests/vm/run-vm.sh --kernel $(VMLINUZ) --module kmod/shmk.ko \
		--env SHMK_BACKEND=kmod --env SHMK_TORTURE_KILLS=$(N) \
		--test-timeout $$(( $(N) / 2 + 600 )) --quiet --verbose \
		--result $(BUILD)/torture-vm.result tests/torture
	tests/torture/report.sh $(TORTURE_LOGS) > $(BUILD)/torture-report.md
	@echo "torture report: $(BUILD)/torture-report.md"

soak: module tests
	@mkdir -p $(BUILD)
	tests/run-host.sh --env SHMK_TORTURE_SECS=$(SECS) \
		--env SHMK_TORTURE_HOG=$(HOG) $(TORTURE_ENV) \
		--test-timeout $$(( $(SECS) + 600 )) --verbose \
		--result $(BUILD)/torture-host.result tests/torture
	tests/vm/run-vm.sh --kernel $(VMLINUZ) --module kmod/shmk.ko \
		--env SHMK_BACKEND=kmod --env SHMK_TORTURE_SECS=$(SECS) \
		--env SHMK_TORTURE_HOG=$(HOG) $(TORTURE_ENV) \
		--test-timeout $$(( $(SECS) + 600 )) --quiet --verbose \
		--result $(BUILD)/torture-vm.result tests/torture
	tests/torture/report.sh $(TORTURE_LOGS) > $(BUILD)/torture-report.md
	@echo "soak report: $(BUILD)/torture-report.md"

# libFuzzer harnesses of every reader of shared memory in the library
# (tests/fuzz-lib/README.md), one after the other, FUZZ_SECS seconds each
# (60 unless given: the 7200 below is fuzz-kmod's), from the committed
# corpus; new inputs and crashes go to build/fuzz-lib/. make check runs
# each for a few seconds (tests/fuzz-lib/t_fuzz_lib.sh).
FUZZ_LIB_SECS = $(if $(filter command line environment,$(origin FUZZ_SECS)),$(FUZZ_SECS),60)
fuzz:
	$(MAKE) -C tests/fuzz-lib run FUZZ_SECS=$(FUZZ_LIB_SECS)

# Randomized system-call fuzzer of the module (tests/fuzz-kmod/README.md),
# long: CALLS calls in all (default 1000000), at most FUZZ_SECS seconds of
# issuing them; SEED, PROCS and MODULE_ARGS (module parameters, e.g.
# MODULE_ARGS='$(LIMIT_ARGS)' for small limits) optional. make check runs a
# ~30 s budget.
CALLS ?= 1000000
FUZZ_SECS ?= 7200
FUZZ_ENV = --env SHMK_FUZZ_CALLS=$(CALLS) --env SHMK_FUZZ_SECS=$(FUZZ_SECS) \
	$(if $(SEED),--env SHMK_FUZZ_SEED=$(SEED)) \
	$(if $(PROCS),--env SHMK_FUZZ_PROCS=$(PROCS)) \
	$(if $(MODULE_ARGS),--module-args "$(MODULE_ARGS)")
FUZZ_TIMEOUT = $(shell echo $$(( $(FUZZ_SECS) + 300 )))
fuzz-kmod: module
	$(MAKE) -C tests/fuzz-kmod
	@mkdir -p $(BUILD)
	tests/vm/run-vm.sh --kernel $(VMLINUZ) --module kmod/shmk.ko \
		$(FUZZ_ENV) --test-timeout $(FUZZ_TIMEOUT) --quiet --verbose \
		--result $(BUILD)/fuzz-kmod.result tests/fuzz-kmod

# The same on the debug kernel (scripts/debug-kernel.sh builds it first).
fuzz-kmod-debug:
	$(MAKE) -C tests/fuzz-kmod
	@mkdir -p $(BUILD)
	scripts/debug-kernel.sh check $(FUZZ_ENV) \
		--test-timeout $(FUZZ_TIMEOUT) --quiet --verbose \
		--result $(BUILD)/fuzz-kmod-debug.result tests/fuzz-kmod

# The module suite on a debug kernel (lockdep, KASAN, kmemleak, atomic
# sleep, UBSAN). The first run builds that kernel from Debian's
# linux-source (10-20 min, cached in /var/cache/shmk); later runs ~1 min.
check-debug: tests
	@scripts/install-deps.sh --lint
	@mkdir -p $(BUILD)
	scripts/debug-kernel.sh check --result $(BUILD)/check-debug.result tests/kmod

# ---- install -------------------------------------------------------------
# Everything a machine needs: the library and its headers, .pc and man
# pages; the tools; udev rule and modprobe snippet (plus opt-in files in
# DATADIR/shmk); the module sources for DKMS. Building or loading the
# module is DKMS's job (make dkms-install, or the shmk-dkms package).
install: install-lib install-tools install-data install-dkms-src \
	install-bindings install-examples

install-lib:
	$(MAKE) -C lib install $(INSTALL_VARS)

# After install-lib: both run make in lib/, never at the same time.
install-tools: install-lib
	$(MAKE) -C tools install $(INSTALL_VARS)

install-data:
	install -d $(DESTDIR)$(UDEVRULESDIR) $(DESTDIR)$(MODPROBEDIR) \
		$(DESTDIR)$(DATADIR)/shmk $(DESTDIR)$(MANDIR)/man4 \
		$(DESTDIR)$(DOCDIR)
	install -m 0644 data/60-shmk.rules $(DESTDIR)$(UDEVRULESDIR)/60-shmk.rules
	install -m 0644 data/modprobe.conf $(DESTDIR)$(MODPROBEDIR)/shmk.conf
	install -m 0644 data/70-shmk-group.rules data/modules-load.conf \
		$(DESTDIR)$(DATADIR)/shmk/
	install -m 0644 Documentation/man/shmk.4 $(DESTDIR)$(MANDIR)/man4/shmk.4
	install -m 0644 NEWS COPYING Documentation/admin-guide.rst $(DESTDIR)$(DOCDIR)/

# The C++ header next to the C ones (the .pc's -I finds it); the Python
# package under PYTHONDIR.
PY_FILES := $(sort $(wildcard bindings/python/shmk/*.py))
EXAMPLE_FILES := $(sort $(wildcard examples/*.c) \
	$(wildcard bindings/cpp/examples/*.cpp) \
	$(wildcard bindings/python/examples/*.py))
install-bindings:
	install -d $(DESTDIR)$(INCLUDEDIR)/shmk $(DESTDIR)$(PYTHONDIR)/shmk
	install -m 0644 bindings/cpp/include/shmk.hpp $(DESTDIR)$(INCLUDEDIR)/shmk/shmk.hpp
	install -m 0644 $(PY_FILES) $(DESTDIR)$(PYTHONDIR)/shmk/

install-examples:
	install -d $(DESTDIR)$(EXAMPLEDIR)
	install -m 0644 $(EXAMPLE_FILES) $(DESTDIR)$(EXAMPLEDIR)/
	install -m 0644 examples/Makefile.installed $(DESTDIR)$(EXAMPLEDIR)/Makefile

install-dkms-src:
	install -d $(DESTDIR)$(DKMSSRCDIR)
	tar -cf - $(DKMS_FILES) | tar -xf - -C $(DESTDIR)$(DKMSSRCDIR) --no-same-owner
	sed 's/@VERSION@/$(VERSION)/' dkms.conf.in > $(DESTDIR)$(DKMSSRCDIR)/dkms.conf
	chmod -R u=rwX,go=rX $(DESTDIR)$(DKMSSRCDIR)

uninstall:
	-$(MAKE) -C lib uninstall $(INSTALL_VARS)
	-$(MAKE) -C tools uninstall $(INSTALL_VARS)
	rm -f $(DESTDIR)$(UDEVRULESDIR)/60-shmk.rules \
		$(DESTDIR)$(MODPROBEDIR)/shmk.conf \
		$(DESTDIR)$(DATADIR)/shmk/70-shmk-group.rules \
		$(DESTDIR)$(DATADIR)/shmk/modules-load.conf \
		$(DESTDIR)$(MANDIR)/man4/shmk.4 \
		$(DESTDIR)$(DOCDIR)/NEWS $(DESTDIR)$(DOCDIR)/COPYING \
		$(DESTDIR)$(DOCDIR)/admin-guide.rst
	rm -f $(DESTDIR)$(INCLUDEDIR)/shmk/shmk.hpp \
		$(addprefix $(DESTDIR)$(PYTHONDIR)/shmk/,$(notdir $(PY_FILES))) \
		$(addprefix $(DESTDIR)$(EXAMPLEDIR)/,$(notdir $(EXAMPLE_FILES)) Makefile)
	-rmdir $(DESTDIR)$(PYTHONDIR)/shmk $(DESTDIR)$(EXAMPLEDIR) \
		$(DESTDIR)$(INCLUDEDIR)/shmk 2>/dev/null
	-rmdir $(DESTDIR)$(DATADIR)/shmk $(DESTDIR)$(DOCDIR) 2>/dev/null
	rm -rf $(DESTDIR)$(DKMSSRCDIR)

# ---- DKMS ----------------------------------------------------------------
# Sources to /usr/src/shmk-VERSION, then dkms add/build/install for the
# running kernel (DKMS_KVER=... for another one). DKMS rebuilds the module
# for every kernel installed later (AUTOINSTALL) and signs it with its MOK
# key when the kernel wants signed modules (Documentation/admin-guide.rst).
DKMS_KVER ?=
dkms-install:
	$(MAKE) install-dkms-src DESTDIR=
	dkms add -m shmk -v $(VERSION) || dkms status -m shmk -v $(VERSION) | grep -q .
	dkms install -m shmk -v $(VERSION) $(if $(DKMS_KVER),-k $(DKMS_KVER))

dkms-uninstall:
	-dkms remove -m shmk -v $(VERSION) --all
	rm -rf $(DKMSSRCDIR)

# What make check runs: the installed source tree, built by dkms against
# the headers of KVER, in a private tree under build/dkms (nothing goes to
# /usr/src or /var/lib/dkms, except the MOK key that DKMS creates once in
# /var/lib/dkms to sign modules with). Redone when a source changes.
dkms-build: $(DKMS_KO)
$(DKMS_KO): $(DKMS_FILES) dkms.conf.in Makefile
	rm -rf $(DKMS_BUILD)
	$(MAKE) install-dkms-src DESTDIR=$(DKMS_BUILD)/stage DKMSSRCDIR=/shmk-$(VERSION)
	mkdir -p $(DKMS_BUILD)/src $(DKMS_BUILD)/tree
	mv $(DKMS_BUILD)/stage/shmk-$(VERSION) $(DKMS_BUILD)/src/
	dkms build -m shmk -v $(VERSION) -k $(KVER) \
		--sourcetree $(DKMS_BUILD)/src --dkmstree $(DKMS_BUILD)/tree \
		> $(DKMS_BUILD)/build.log 2>&1 || { cat $(DKMS_BUILD)/build.log; exit 1; }
	@test -f $@ || { echo "dkms-build: no $@"; cat $(DKMS_BUILD)/build.log; exit 1; }
	@echo "dkms-build: $@"

# ---- Debian packages -----------------------------------------------------
# From a copy of the tracked files (the work tree is never cleaned by
# dh_auto_clean): shmk-dkms, libshmk0, libshmk-dev, shmk-tools and their
# -dbgsym packages, in build/deb/.
deb:
	scripts/build-deb.sh $(BUILD)/deb

# ---- ABI -----------------------------------------------------------------
# The baseline that make check (tests/pkg/t_abi) compares libshmk against.
# Rewrite it only for an intended change, in its own commit, with NEWS.
abi-update: lib
	scripts/abi.sh update lib/abi/libshmk.abi

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	-$(MAKE) -C lib clean
	-$(MAKE) -C tests clean
	-$(MAKE) -C examples clean
	-$(MAKE) -C tools clean
	rm -rf $(BUILD)

# Kernel style: checkpatch --strict and sparse, from Debian's linux-source.
lint: checkpatch sparse
checkpatch:
	scripts/checkpatch.sh
sparse:
	$(MAKE) -C $(KDIR) M=$(CURDIR) C=2 modules
