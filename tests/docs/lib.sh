# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Shared by the tests/docs scripts: TAP lines and where things are. The
# runner (tests/run-host.sh) gives every test a fresh empty cwd and
# SHMK_TEST_DIR (this directory).
set -u
DOCS_DIR=${SHMK_TEST_DIR:-$(cd "$(dirname "$0")" && pwd)}
ROOT=$(cd "$DOCS_DIR/../.." && pwd)
MAN_DIR=$ROOT/lib/man
GUIDE=$ROOT/Documentation/guide.rst
SNIPPETS=$ROOT/Documentation/guide/snippets
WORK=$(pwd)
T_N=0 T_FAIL=0

ok() {
	T_N=$((T_N + 1))
	echo "ok $T_N - $*"
}

not_ok() {
	T_N=$((T_N + 1))
	T_FAIL=$((T_FAIL + 1))
	echo "not ok $T_N - $*"
}

# check DESCRIPTION COMMAND...: one line from COMMAND's status; its output
# is shown when it fails.
check() {
	c_desc=$1
	shift
	if c_out=$("$@" 2>&1); then
		ok "$c_desc"
	else
		not_ok "$c_desc"
		printf '%s\n' "$c_out" | tail -n 30 | sed 's/^/#   /'
	fi
}

# Show a file on failure, as TAP comments.
show() {
	echo "# --- $1"
	sed 's/^/#   /' "$1" 2>/dev/null | tail -n 40
}

done_testing() {
	echo "1..$T_N"
	[ "$T_FAIL" -eq 0 ]
	exit $?
}

# The exported functions of the built shared library, one a line.
exported() {
	nm -D --defined-only "$ROOT/lib/libshmk.so" |
		awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort -u
}

# The guide's programs, as tests/docs/Makefile builds them.
prog() {
	p=$DOCS_DIR/g_$1
	[ -x "$p" ] || { not_ok "g_$1 built (make -C tests/docs)"; done_testing; }
	echo "$p"
}

# start OUT CMD...: CMD in the background, output to OUT; its pid in BG.
start() {
	s_out=$1
	shift
	"$@" > "$s_out" 2>&1 &
	BG=$!
}

# wait_for FILE REGEX SECS: until FILE has a line matching REGEX.
wait_for() {
	w_n=0
	while ! grep -qE -- "$2" "$1" 2>/dev/null; do
		w_n=$((w_n + 1))
		[ "$w_n" -gt $(($3 * 10)) ] && return 1
		sleep 0.1
	done
	return 0
}

# wait_exit PID SECS: its exit status; 124 (and SIGKILL) if it outlives SECS.
wait_exit() {
	w_n=0
	while kill -0 "$1" 2>/dev/null; do
		w_n=$((w_n + 1))
		if [ "$w_n" -gt $(($2 * 10)) ]; then
			kill -KILL "$1" 2>/dev/null
			wait "$1" 2>/dev/null
			return 124
		fi
		sleep 0.1
	done
	wait "$1"
}
