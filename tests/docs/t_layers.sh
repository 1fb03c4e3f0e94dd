#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The library's layers (Documentation/library-design.md, "Layers"):
# scripts/check-layers.sh passes on the tree, and fails on a copy of it
# with one deliberate violation of each of its rules, so that it cannot
# pass by checking nothing.
. "${SHMK_TEST_DIR:-$(dirname "$0")}/lib.sh"
CHECK=$ROOT/scripts/check-layers.sh
OBJ=$ROOT/lib/.obj/a
[ -f "$OBJ/core/arena.o" ] || {
	not_ok "lib/ built (make -C lib): no $OBJ/core/arena.o"
	done_testing
}

check "the tree keeps its layers" "$CHECK" "$ROOT/lib" "$OBJ"

# A scratch copy of lib/'s sources and objects to break.
fresh() {
	rm -rf "$WORK/lib" "$WORK/obj"
	mkdir -p "$WORK/lib"
	cp -R "$ROOT/lib/core" "$ROOT/lib/msg" "$ROOT/lib/backend" \
		"$ROOT/lib/include" "$WORK/lib/"
	cp -R "$OBJ" "$WORK/obj"
}
# must_fail DESCRIPTION PATTERN: the check fails and says PATTERN
must_fail() {
	if out=$("$CHECK" "$WORK/lib" "$WORK/obj" 2>&1); then
		not_ok "$1: the check passed"
		printf '%s\n' "$out" | tail -n 10 | sed 's/^/#   /'
	elif printf '%s\n' "$out" | grep -q -e "$2"; then
		ok "$1"
	else
		not_ok "$1: the check failed, but did not say '$2'"
		printf '%s\n' "$out" | tail -n 10 | sed 's/^/#   /'
	fi
}
# rebuild SOURCE: its object in the scratch copy, from the scratch source
rebuild() {
	cc -std=c11 -D_GNU_SOURCE -I"$WORK/lib" -I"$WORK/lib/include" \
		-I"$ROOT/uapi" -pthread -DSHMK_VERSION='"0"' -O0 \
		-fvisibility=hidden -c -o "$WORK/obj/${1%.c}.o" "$WORK/lib/$1"
}

fresh
printf '#include "msg/msg_int.h"\n' >>"$WORK/lib/core/lock.c"
must_fail "core/ including msg/ is refused" "core/ includes msg/msg_int.h"

fresh
printf '#include "../backend/backend_kmod.c"\n' >>"$WORK/lib/msg/queue.c"
must_fail "msg/ including backend/ is refused" "msg/ includes ../backend/backend_kmod.c"

fresh
printf 'int lm_layers_up(struct shmk_arena *a);\nint lm_layers_up(struct shmk_arena *a)\n{\n\treturn lm_reclaim(a, 0, 0);\n}\n' \
	>>"$WORK/lib/core/lock.c"
if rebuild core/lock.c; then
	must_fail "a call from lock.c up to reclaim.c (a cycle) is refused" "cycle"
else
	not_ok "the scratch lock.c with a call to lm_reclaim() builds"
fi

fresh
printf 'uint64_t mq_spin_ns(uint32_t requested);\nuint64_t lm_layers_msg(void);\nuint64_t lm_layers_msg(void)\n{\n\treturn mq_spin_ns(0);\n}\n' \
	>>"$WORK/lib/core/util.c"
if rebuild core/util.c; then
	must_fail "a call from core/ to msg/ is refused" "core/util.c calls mq_spin_ns of msg/queue.c"
else
	not_ok "the scratch util.c with a call to mq_spin_ns() builds"
fi

fresh
printf 'static inline uint32_t msg_layers_peek(struct shmk_arena *a)\n{\n\treturn a->g.member_max;\n}\n' \
	>>"$WORK/lib/msg/msg_int.h"
must_fail "msg/ reading a->g is refused" "a core internal"

fresh
printf 'static inline uint64_t sess_layers_peek(struct shmk_queue *q)\n{\n\treturn q->h->cons;\n}\n' \
	>>"$WORK/lib/msg/session.c"
must_fail "session.c reading q->h is refused" "a queue internal"

done_testing
