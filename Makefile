# shmk: top-level build.
#
#   make              module + library + tests + tools
#   make check        install deps, build, run host and VM suites
#   make check-host   host suites only (unit + portable integration)
#   make check-vm     VM suite only (real module in Debian's kernel under qemu)
#   make check-debug  module suite on a lockdep/KASAN/kmemleak debug kernel
#   make torture      kill -9 torture, N=<rounds> (default 1000), both backends
#   make demo         client/server demo with crash recovery (in the VM)
#   make bench        benchmarks and report in bench/results (QUICK=1: smoke)
#
# KVER/KDIR select the target kernel: by default the installed Debian cloud
# kernel that the VM boots, never the host's uname -r.

KVER ?= $(shell scripts/kver.sh)
KDIR ?= /lib/modules/$(KVER)/build
VMLINUZ ?= /boot/vmlinuz-$(KVER)
BUILD := $(CURDIR)/build
# Suites the VM runs against the real module (library ones on kmod).
VM_SUITES := tests/kmod tests/integ tests/msg tests/tools tests/torture
# The module's limits, tested in a VM of their own with small ones.
LIMIT_ARGS := max_arenas=12 reserved_arenas=3 max_arenas_per_ns=6 \
	max_arenas_per_user=4 max_bytes_per_user=1048576 \
	max_bytes_per_ns=2097152
# Suites the host runs (portable backend).
HOST_SUITES := tests/unit tests/integ tests/msg tests/tools tests/torture
export KVER KDIR VMLINUZ BUILD

.PHONY: all deps module lib tests examples tools bench demo check check-host \
	check-vm check-debug torture clean lint checkpatch sparse

all: module lib tools tests examples

deps:
	@scripts/install-deps.sh

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

lib:
	$(MAKE) -C lib

tools: lib
	$(MAKE) -C tools

# After tools: tests/tools copies them next to its tests.
tests: lib tools
	$(MAKE) -C tests

examples:
	$(MAKE) -C examples

# Benchmarks (bench/README.md); QUICK=1 for the one-minute smoke run.
bench: lib
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

# Every test: host then VM; one closing line for both.
check: deps
	@rm -f $(BUILD)/check-host.result $(BUILD)/check-vm.result \
		$(BUILD)/check-vm-limits.result
	$(MAKE) all
	-$(MAKE) check-host
	-$(MAKE) check-vm
	@scripts/check-summary.sh $(BUILD)/check-host.result \
		$(BUILD)/check-vm.result $(BUILD)/check-vm-limits.result

check-host: lib tests
	@mkdir -p $(BUILD)
	tests/run-host.sh --result $(BUILD)/check-host.result $(HOST_SUITES)

check-vm: module tests
	@mkdir -p $(BUILD)
	@rc=0; \
	tests/vm/run-vm.sh --kernel $(VMLINUZ) --module kmod/shmk.ko \
		--env SHMK_BACKEND=kmod --test-timeout 120 --timeout 900 --quiet \
		--result $(BUILD)/check-vm.result $(VM_SUITES) || rc=1; \
	tests/vm/run-vm.sh --kernel $(VMLINUZ) --module kmod/shmk.ko \
		--module-args "$(LIMIT_ARGS)" --quiet \
		--result $(BUILD)/check-vm-limits.result tests/kmod-limits || rc=1; \
	exit $$rc

# Kill -9 torture (tests/torture/README.md), long: N rounds of kills on the
# host (portable backend), then in the VM (kmod). make check runs 20.
N ?= 1000
torture: module tests
	@mkdir -p $(BUILD)
	tests/run-host.sh --env SHMK_TORTURE_KILLS=$(N) --test-timeout 3000 \
		--verbose \
		--result $(BUILD)/torture-host.result tests/torture
	tests/vm/run-vm.sh --kernel $(VMLINUZ) --module kmod/shmk.ko \
		--env SHMK_BACKEND=kmod --env SHMK_TORTURE_KILLS=$(N) \
		--test-timeout 3000 --quiet --verbose \
		--result $(BUILD)/torture-vm.result tests/torture

# The module suite on a debug kernel (lockdep, KASAN, kmemleak, atomic
# sleep, UBSAN). The first run builds that kernel from Debian's
# linux-source (10-20 min, cached in /var/cache/shmk); later runs ~1 min.
check-debug: tests
	@scripts/install-deps.sh --lint
	@mkdir -p $(BUILD)
	scripts/debug-kernel.sh check --result $(BUILD)/check-debug.result tests/kmod

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
