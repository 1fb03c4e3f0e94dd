#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Documentation/guide.rst and its programs: every snippet compiles alone
# with -Wall -Wextra -Werror against the tree's headers and libshmk.so, and
# links and starts; every literalinclude of the guide names a snippet and
# markers that are there, once each, in order; every snippet is shown.
. "${SHMK_TEST_DIR:-$(dirname "$0")}/lib.sh"

[ -f "$ROOT/lib/libshmk.so" ] || { not_ok "lib/libshmk.so built (make -C lib)"; done_testing; }
check "the guide exists" test -s "$GUIDE"
ls "$SNIPPETS"/*.c > snippets 2>/dev/null
check "the guide has snippets" test -s snippets

CC=${CC:-cc}
for c in $(cat snippets); do
	b=$(basename "$c" .c)
	if out=$($CC -std=gnu11 -Wall -Wextra -Werror -I"$ROOT/lib/include" \
	    -I"$ROOT/uapi" -o "$b" "$c" -L"$ROOT/lib" -lshmk -pthread \
	    -Wl,-rpath,"$ROOT/lib" 2>&1); then
		ok "$b.c compiles with -Wall -Wextra -Werror against libshmk.so"
	else
		not_ok "$b.c compiles with -Wall -Wextra -Werror against libshmk.so"
		printf '%s\n' "$out" | head -n 20 | sed 's/^/#   /'
		continue
	fi
	# linked to the tree's library, and it runs (argument errors are
	# fine: the program started)
	if ldd "./$b" | grep -q "$ROOT/lib/libshmk.so"; then
		ok "$b uses the tree's libshmk.so"
	else
		not_ok "$b uses the tree's libshmk.so"
	fi
done

# literalinclude FILE, then its :start-after: and :end-before: options.
awk '
/^\.\. literalinclude::/ { if (f != "") print f "\t" sa "\t" eb; f = $3; sa = ""; eb = ""; next }
f != "" && /^   :start-after:/ { sub(/^   :start-after: /, ""); sa = $0; next }
f != "" && /^   :end-before:/ { sub(/^   :end-before: /, ""); eb = $0; next }
f != "" && /^   :/ { next }
f != "" { print f "\t" sa "\t" eb; f = "" }
END { if (f != "") print f "\t" sa "\t" eb }
' "$GUIDE" > includes
check "the guide includes snippets" test -s includes
tab=$(printf '\t')
while IFS="$tab" read -r f sa eb; do
	p=$ROOT/Documentation/$f
	if [ ! -f "$p" ]; then
		not_ok "literalinclude $f: no such file"
		continue
	fi
	echo "$p" >> shown
	if [ -z "$sa" ] || [ -z "$eb" ]; then
		not_ok "literalinclude $f: no :start-after:/:end-before: markers"
		continue
	fi
	na=$(grep -cF -- "$sa" "$p")
	nb=$(grep -cF -- "$eb" "$p")
	la=$(grep -nF -- "$sa" "$p" | head -n 1 | cut -d: -f1)
	lb=$(grep -nF -- "$eb" "$p" | head -n 1 | cut -d: -f1)
	if [ "$na" = 1 ] && [ "$nb" = 1 ] && [ "$la" -lt "$lb" ] &&
	    [ $((lb - la)) -gt 1 ]; then
		ok "literalinclude $f [$sa .. $eb]: lines $((la + 1))-$((lb - 1))"
	else
		not_ok "literalinclude $f [$sa .. $eb]: markers found $na and $nb times"
	fi
done < includes

for c in $(cat snippets); do
	grep -qxF "$c" shown && ok "$(basename "$c") is shown in the guide" ||
		not_ok "$(basename "$c") is shown in the guide"
	head -n 2 "$c" | grep -q 'SPDX-License-Identifier: MIT' ||
		not_ok "$(basename "$c"): SPDX line"
done
done_testing
