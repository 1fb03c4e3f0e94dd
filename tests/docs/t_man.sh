#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The man 3 pages of lib/man against libshmk.so: every exported function
# has a page (or a .so link to one) whose SYNOPSIS has its prototype as
# the headers declare it, every page names real functions, every shmk_*
# page a page refers to exists, shmk(7) lists every function, and every
# page renders without a warning (man --warnings, groff -ww).
. "${SHMK_TEST_DIR:-$(dirname "$0")}/lib.sh"

[ -f "$ROOT/lib/libshmk.so" ] || { not_ok "lib/libshmk.so built (make -C lib)"; done_testing; }
exported > syms
check "libshmk.so exports functions" test -s syms

# man -l resolves ".so man3/x.3" from the current directory: stage the
# pages as they are installed.
mkdir -p stage/man3 stage/man7
cp "$MAN_DIR"/*.3 stage/man3/
cp "$MAN_DIR"/*.7 stage/man7/
ls stage/man3 | sed 's/\.3$//' | sort > pages

# The page a function's name leads to: itself, or the target of its .so
# (a link page is an SPDX comment and one .so line).
target() {
	t_so=$(grep -m 1 '^\.so ' "stage/man3/$1.3" 2>/dev/null)
	case $t_so in
	".so man3/"*) echo "${t_so#.so man3/}" | sed 's/\.3$//' ;;
	*) echo "$1" ;;
	esac
}

# Declarations as the headers have them: preprocessed, one a line.
cc -E -P -std=gnu11 -I"$ROOT/lib/include" -I"$ROOT/uapi" \
	"$ROOT/lib/include/shmk_msg.h" | tr '\n\t' '  ' | tr ';' '\n' > protos

while read -r f; do
	if [ ! -f "stage/man3/$f.3" ]; then
		not_ok "$f: no page lib/man/$f.3"
		continue
	fi
	tg=$(target "$f")
	if [ ! -f "stage/man3/$tg.3" ]; then
		not_ok "$f: its .so names lib/man/$tg.3, which does not exist"
		continue
	fi
	# the prototype, as the header has it
	# without white space, as the SYNOPSIS is compared
	proto=$(grep -E "[^A-Za-z0-9_]$f\(" protos | head -n 1 | tr -d ' ')
	if [ -z "$proto" ]; then
		not_ok "$f: exported but declared in no public header"
		continue
	fi
	syn=$(cd stage && LC_ALL=C MANWIDTH=250 man -l "man3/$tg.3" 2>/dev/null |
		col -bx | sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | tr -d ' \n\t')
	case $syn in
	*"$proto;"*) ok "$f: $tg(3), prototype as in the header" ;;
	*) not_ok "$f: the SYNOPSIS of $tg(3) lacks its prototype"
	   echo "#   header: $proto;" ;;
	esac
	# the page's NAME line lists it
	if LC_ALL=C sed -n '/^\.SH NAME/{n;p;}' "stage/man3/$tg.3" |
	    tr ',' '\n' | sed 's/\\-.*//; s/[[:space:]]//g' | grep -qx "$f"; then
		ok "$f: named in the NAME section of $tg(3)"
	else
		not_ok "$f: not in the NAME section of $tg(3)"
	fi
done < syms

# Every page is a function of the library, and every name a page lists in
# NAME is one, with a page of its own.
while read -r p; do
	grep -qx "$p" syms && ok "page $p(3) names an exported function" ||
		not_ok "page $p(3): no such exported function"
done < pages
for p in $(cat pages); do
	[ "$(target "$p")" = "$p" ] || continue
	for n in $(sed -n '/^\.SH NAME/{n;p;}' "stage/man3/$p.3" |
	    sed 's/\\-.*//' | tr ',' ' '); do
		if ! grep -qx "$n" syms; then
			not_ok "$p(3) NAME lists $n: not an exported function"
		elif [ "$(target "$n")" != "$p" ]; then
			not_ok "$p(3) NAME lists $n, whose page is $(target "$n")(3)"
		fi
	done
done
ok "NAME sections checked"

# References to shmk pages lead somewhere.
others=$(ls "$ROOT/tools/man" "$ROOT/Documentation/man" | sed 's/\.\([0-9]\)$/(\1)/')
bad=0
for pg in stage/man3/*.3 stage/man7/*.7; do
	for ref in $(grep -ho '^\.BR \(lib\)\{0,1\}shmk[a-z0-9_]* ([0-9])' "$pg" |
	    sed 's/^\.BR //; s/ //'); do
		n=${ref%(*}
		s=${ref#*(}
		s=${s%)}
		if [ ! -f "stage/man$s/$n.$s" ] &&
		    ! printf '%s\n' "$others" | grep -qxF "$n($s)"; then
			echo "#   $(basename "$pg") refers to $n($s), which has no page"
			bad=1
		fi
	done
done
[ $bad = 0 ] && ok "every shmk page referred to exists" ||
	not_ok "every shmk page referred to exists"

# shmk(7) lists every function.
missing=''
while read -r f; do
	grep -q "^\.BR $f (3)" stage/man7/shmk.7 || missing="$missing $f"
done < syms
[ -z "$missing" ] && ok "shmk(7) lists every exported function" ||
	not_ok "shmk(7) does not list:$missing"

# Rendering: as lintian does (man --warnings), and groff's every warning.
for pg in stage/man3/*.3 stage/man7/*.7; do
	rel=${pg#stage/}
	w=$(cd stage && LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$rel" 2>&1 >/dev/null)
	if [ -z "$w" ] && ! grep -q '^\.so ' "$pg"; then
		w=$(cd stage && LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "$rel" 2>&1)
	fi
	if [ -z "$w" ]; then
		ok "$rel renders without warnings"
	else
		not_ok "$rel renders without warnings"
		printf '%s\n' "$w" | head -n 10 | sed 's/^/#   /'
	fi
	head -n 1 "$pg" | grep -q '^\.\\" SPDX-License-Identifier: MIT$' ||
		not_ok "$rel: SPDX line first"
done
done_testing
