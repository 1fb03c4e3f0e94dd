#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# libshmk exports only its API: the names of lib/libshmk.map, from the
# shared library and from libshmk.a; a static program using POSIX message
# queues links libshmk.a and works.
. "${SHMK_TEST_DIR:-$(dirname "$0")}/lib.sh"
cd "$ROOT/lib" || exit 1
sed -n 's/^[[:space:]]*\(shmk_[a-z0-9_]*\);.*/\1/p' libshmk.map | sort > "$WORK/want"
nm -g --defined-only libshmk.a | awk 'NF == 3 { print $3 }' | sort > "$WORK/a"
if cmp -s "$WORK/want" "$WORK/a"; then
	ok "libshmk.a defines exactly the $(wc -l < "$WORK/want") names of libshmk.map"
else
	not_ok "libshmk.a global names differ from libshmk.map"
	diff "$WORK/want" "$WORK/a" | sed 's/^/#   /' | head -n 20
fi
nm -D --defined-only "libshmk.so.$VERSION" | awk '$2 == "T" || $2 == "D" || $2 == "B" { sub(/@.*/, "", $3); print $3 }' |
	sort > "$WORK/so"
if cmp -s "$WORK/want" "$WORK/so"; then
	ok "libshmk.so.$VERSION exports exactly the names of libshmk.map"
else
	not_ok "libshmk.so.$VERSION exports other names than libshmk.map"
	diff "$WORK/want" "$WORK/so" | sed 's/^/#   /' | head -n 20
fi
if nm -D "libshmk.so.$VERSION" | grep -q ' shmk_version@@SHMK_1$'; then
	ok "symbols carry the version SHMK_1"
else
	not_ok "shmk_version@@SHMK_1 missing from the dynamic symbols"
fi
if out=$("$PKG_DIR/mq_static" 2>&1); then
	ok "static program with mq_open/mq_send/mq_receive/mq_close and libshmk.a runs"
	printf '%s\n' "$out" | indent
else
	not_ok "static program with POSIX mq_* and libshmk.a failed"
	printf '%s\n' "$out" | sed 's/^/#   /'
fi
# The control: the same program on the archive with global internals
# must break, or the test above proves nothing.
"$PKG_DIR/mq_control" "/shmk-pkg-control-$$" > "$WORK/control.out" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
	ok "control: linked with libshmk_internal.a (internals global) it fails (status $rc)"
else
	not_ok "control: with libshmk_internal.a the program worked: the mq test sees nothing"
fi
done_testing
