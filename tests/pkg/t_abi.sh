#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The ABI guard: libshmk as built equals the committed abidw baseline.
. "${SHMK_TEST_DIR:-$(dirname "$0")}/lib.sh"
cd "$ROOT" || exit 1
if out=$(scripts/abi.sh check lib/abi/libshmk.abi 2>&1); then
	ok "libshmk.so.$VERSION matches lib/abi/libshmk.abi (abidiff)"
else
	not_ok "libshmk's ABI changed (update on purpose: make abi-update, symbols, NEWS)"
	printf '%s\n' "$out" | head -n 60 | sed 's/^/#   /'
fi
n=$(grep -c "<elf-symbol name='shmk_" lib/abi/libshmk.abi)
m=$(grep -c '^[[:space:]]*shmk_[a-z0-9_]*;' lib/libshmk.map)
check "the baseline records the $m functions of libshmk.map (has $n)" test "$n" -eq "$m"
done_testing
