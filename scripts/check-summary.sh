#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Sum the result files of the test halves and print the closing line.
# Each file holds one line: "<passed> <failed> <skipped>". A missing file
# means that half did not run to completion: counted as one failure.
tp=0 tf=0 ts=0
for f in "$@"; do
	name=$(basename "$f" .result)
	if [ -r "$f" ] && read -r p fl s < "$f" && [ -n "$s" ]; then
		echo "$name: $p passed, $fl failed, $s skipped"
	else
		echo "$name: did not complete (no $f)"
		p=0 fl=1 s=0
	fi
	tp=$((tp + p)) tf=$((tf + fl)) ts=$((ts + s))
done
echo "$tp passed, $tf failed, $ts skipped"
[ "$tf" -eq 0 ] && [ "$tp" -gt 0 ]
