#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The layering of libshmk (Documentation/library-design.md, "Layers"):
#
#   scripts/check-layers.sh [-v] [LIBDIR [OBJDIR]]
#
# LIBDIR is lib/ (default), OBJDIR the objects of libshmk_internal.a
# (default LIBDIR/.obj/a: run "make -C lib" first). Exit 0 iff
#  1. includes: core/ includes nothing of msg/ or backend/, backend/
#     nothing of msg/, msg/ nothing of backend/ (msg/ reaches the core
#     through core/shmk_int.h, the backends only through the core);
#  2. calls (symbols, from nm): no source calls a function defined in a
#     layer it must not know (core -> msg, core -> backend except the
#     ops tables arena.c picks, backend -> msg, msg -> backend), and the
#     graph of calls between sources has no cycle;
#  3. messaging uses the core through its named interface: msg/ reads
#     no core internals (a->g, a->be, a->hdr, member slots and their
#     LS_ words, holdings tables), and the session files no queue
#     internals (q->h->...: mq_*() of queue.c say it).
# -v prints the call graph between sources, bottom layer first.
set -eu
verbose=0
[ "${1:-}" = -v ] && { verbose=1; shift; }
LIB=${1:-lib}
OBJ=${2:-$LIB/.obj/a}
NM=${NM:-nm}
bad=0
say() {
	echo "check-layers: $*"
	bad=$((bad + 1))
}

[ -d "$LIB/core" ] || { echo "check-layers: no $LIB/core" >&2; exit 2; }
# Only the objects of today's sources: a tree built before a move keeps
# stale ones (lib/.obj/a/arena.o beside core/arena.o).
objs=$(find "$OBJ" -name '*.o' 2>/dev/null | sort | while read -r o; do
	s=${o#"$OBJ"/}
	if [ -f "$LIB/${s%.o}.c" ]; then echo "$o"; fi
done)
[ -n "$objs" ] || {
	echo "check-layers: no objects under $OBJ (make -C $LIB)" >&2
	exit 2
}

# ---- 1. includes -----------------------------------------------------
# layer of a source or header path relative to LIB: core, msg, backend
layer_of() {
	p=$1
	while [ "${p#../}" != "$p" ]; do p=${p#../}; done
	case $p in
	core/*) echo core ;;
	msg/*) echo msg ;;
	backend/*) echo backend ;;
	*) echo other ;;
	esac
}
for f in $(cd "$LIB" && find core msg backend -name '*.[ch]' | sort); do
	from=$(layer_of "$f")
	grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$LIB/$f" |
	while IFS= read -r line; do
		inc=$(echo "$line" | sed 's/.*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/')
		case $inc in
		*/*) to=$(layer_of "$inc") ;;
		*) to=$from ;;	# same directory
		esac
		case $inc in	# the headers of each layer, by name
		msg_int.h | */msg_int.h) to=msg ;;
		shmk_int.h | */shmk_int.h) to=core ;;
		esac
		case $from:$to in
		core:msg | core:backend | backend:msg | msg:backend)
			echo "$LIB/$f:${line%%:*}: $from/ includes $inc ($to/)" ;;
		esac
	done
done >"${TMPDIR:-/tmp}/check-layers.$$"
while IFS= read -r l; do say "$l"; done <"${TMPDIR:-/tmp}/check-layers.$$"
rm -f "${TMPDIR:-/tmp}/check-layers.$$"

# ---- 2. calls --------------------------------------------------------
# object path -> source name relative to OBJ (core/alloc.c)
src_of() {
	s=${1#"$OBJ"/}
	echo "${s%.o}.c"
}
defs=$(for o in $objs; do
	$NM -g --defined-only "$o" | awk -v s="$(src_of "$o")" \
		'$2 ~ /^[TDRBC]$/ { print $3, s }'
done | sort -u)
edges=$(for o in $objs; do
	s=$(src_of "$o")
	$NM -u "$o" | awk '{ print $NF }' | sort -u | while read -r sym; do
		echo "$defs" | awk -v y="$sym" -v s="$s" \
			'$1 == y && $2 != s { print s, $2, y }'
	done
done | sort -u)
echo "$edges" | while read -r from to sym; do
	[ -n "$from" ] || continue
	case $(layer_of "$from"):$(layer_of "$to") in
	core:msg | backend:msg | msg:backend)
		echo "$from calls $sym of $to" ;;
	core:backend)
		# arena.c picks a backend by its ops table, nothing else
		case $from:$sym in
		core/arena.c:shmk_be_*) ;;
		*) echo "$from calls $sym of $to" ;;
		esac ;;
	esac
done >"${TMPDIR:-/tmp}/check-layers.$$"
while IFS= read -r l; do say "$l"; done <"${TMPDIR:-/tmp}/check-layers.$$"
rm -f "${TMPDIR:-/tmp}/check-layers.$$"
pairs=$(echo "$edges" | awk 'NF { print $2, $1 }' | sort -u)
if ! order=$(echo "$pairs" | tsort 2>"${TMPDIR:-/tmp}/check-layers.$$"); then
	say "the calls between sources go round in a cycle:"
	sed 's/^/  /' "${TMPDIR:-/tmp}/check-layers.$$"
fi
rm -f "${TMPDIR:-/tmp}/check-layers.$$"
if [ $verbose = 1 ]; then
	echo "sources, bottom first, with what each calls:"
	for s in $order; do
		echo "  $s -> $(echo "$edges" | awk -v s="$s" '$1 == s { print $2 }' |
			sort -u | tr '\n' ' ')"
	done
fi

# ---- 3. the core's interface for messaging -----------------------------
core_internals='->g\.|->be([^_a-z]|$)|->hdr([^_a-z]|$)|\blm_slot\(|\blm_ref\(|\blm_desc\(|\bLS_[A-Z_]+|\bLR_[A-Z_]+|\bLM_SLOT_SIZE\b'
for f in $(cd "$LIB" && find msg -name '*.[ch]' | sort); do
	sed 's|/\*.*\*/||' "$LIB/$f" | grep -nE -e "$core_internals" |
		sed "s|^|$LIB/$f:|; s|\$| (a core internal)|"
done >"${TMPDIR:-/tmp}/check-layers.$$"
for f in $(cd "$LIB" && find msg -name 'session*.c' -o -name 'server*.c' \
	-o -name 'client*.c' | sort); do
	sed 's|/\*.*\*/||' "$LIB/$f" | grep -nE -e '->h->' |
		sed "s|^|$LIB/$f:|; s|\$| (a queue internal)|"
done >>"${TMPDIR:-/tmp}/check-layers.$$"
while IFS= read -r l; do say "$l"; done <"${TMPDIR:-/tmp}/check-layers.$$"
rm -f "${TMPDIR:-/tmp}/check-layers.$$"

n=$(echo "$objs" | wc -w)
echo "check-layers: $n objects, $(echo "$edges" | awk 'NF' | wc -l) calls between them, $bad problems"
[ "$bad" -eq 0 ]
