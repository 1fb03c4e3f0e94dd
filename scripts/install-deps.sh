#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Install what building and testing shmk needs on Debian 12.
# Idempotent and quick when everything is already present. The packaging
# checks need dkms (openssl: its signing key), debhelper, dh-dkms, lintian
# and abigail-tools (abidw, abidiff); tests/docs renders the manual pages
# with man-db; the one-liners of shmk-tracing(7) need bpftrace and perf
# (linux-perf), on the host and, copied there, in the VM; tests/fuzz-lib
# needs clang's libFuzzer runtime (libclang-rt-14-dev); make model runs
# spin.
#   scripts/install-deps.sh [--lint]   (--lint also installs linux-source for checkpatch)
set -eu

pkgs="build-essential pkg-config check libsubunit-dev systemtap-sdt-dev \
 qemu-system-x86 linux-image-cloud-amd64 linux-headers-cloud-amd64 \
 busybox-static cpio gzip kmod \
 clang llvm libclang-rt-14-dev libbpf-dev bpftool libelf-dev zlib1g-dev \
 bpftrace linux-perf procps binutils \
 gnuplot-nox iceoryx libiceoryx-binding-c-dev libboost-dev \
 dkms openssl debhelper dh-dkms lintian abigail-tools man-db spin"
[ "${1:-}" = "--lint" ] && pkgs="$pkgs sparse linux-source-6.1 python3 flex bison bc"

missing=""
for p in $pkgs; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run as root (or: sudo $0)" >&2
	exit 1
fi
echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >&2
