#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Licenses: scripts/check-spdx.sh over the tree, COPYING and the texts.
. "${SHMK_TEST_DIR:-$(dirname "$0")}/lib.sh"
cd "$ROOT" || exit 1
check "every file names its license (scripts/check-spdx.sh)" scripts/check-spdx.sh
check "COPYING at the root" test -s COPYING
for l in MIT GPL-2.0 LGPL-2.1 BSD-2-Clause Linux-syscall-note; do
	check "LICENSES/$l" test -s "LICENSES/$l"
done
check "uapi header: GPL-2.0 WITH Linux-syscall-note" \
	grep -q 'SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note' uapi/linux/shmk.h
check "module license GPL" grep -q 'MODULE_LICENSE("GPL")' kmod/main.c
done_testing
