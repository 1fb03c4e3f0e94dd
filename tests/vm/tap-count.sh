# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# TAP counting shared by tests/vm/run-vm.sh and tests/run-host.sh.
# Source it, then call tap_report once per test program:
#
#   tap_report NAME OUTPUT_FILE RC [MODE] [FORCED_REASON]
#
# NAME is "suite/t_x"; OUTPUT_FILE holds what the program printed; RC is its
# exit status (124: killed by the per-test timeout). MODE "test" (default)
# or "cmd" (a --cmd command: no TAP and exit 0 is one pass). FORCED_REASON,
# if set, says the program never finished normally (e.g. "the VM died"):
# it counts as one failure, like a timeout.
#
# Rules (the test contract):
#   "ok N ..."                    passed
#   "ok N ... # SKIP ..."         skipped (also "not ok ... # SKIP")
#   "not ok N ... # TODO ..."     skipped (expected failure); "ok # TODO" passes
#   "not ok N ..."                failed
#   "1..0 # SKIP reason"          with no test lines: one skip
#   only unindented lines count (indented ones are subtests)
#   one extra failure when the program: timed out (always); ended with an
#     exit status other than 0/77 and printed no "not ok"; printed
#     "Bail out!"; printed no plan, or a plan that disagrees with the number
#     of test lines (when not already failing for another reason)
#   no TAP at all: exit 77 is one skip; otherwise one failure
#
# It prints "PASS|FAIL|SKIP NAME ..." plus the failing lines and, for an
# abnormal end, the last lines of output; and adds to the global counters
# TAP_PASSED TAP_FAILED TAP_SKIPPED. TAP_VERBOSE=1 prints all output.

TAP_PASSED=${TAP_PASSED:-0}
TAP_FAILED=${TAP_FAILED:-0}
TAP_SKIPPED=${TAP_SKIPPED:-0}
TAP_TAIL=${TAP_TAIL:-20}

# Human text for an exit status.
tap_rc_text() {
	local rc=$1 sig
	if [ "$rc" -gt 128 ] && [ "$rc" -lt 160 ]; then
		sig=$(kill -l $((rc - 128)) 2>/dev/null)
		echo "killed by signal $((rc - 128))${sig:+ (SIG$sig)}"
	else
		echo "exit status $rc"
	fi
}

tap_report() {
	local name=$1 file=$2 rc=$3 mode=${4:-test} forced=${5:-}
	local ok fail skip plan nlines bail skipwhy
	local extra=0 why=() summary

	[ -r "$file" ] || file=/dev/null
	# One line of counts, then the failing TAP lines.
	{
		read -r ok fail skip plan nlines bail skipwhy
		mapfile -t tap_bad
	} < <(awk '
		{ sub(/\r$/, "") }
		# Diagnostics ("# ...") just before and after a failing line
		# go with it, at most 6 of each.
		/^#/ {
			if (after > 0 && after <= 6) {
				bad[++nbad] = "  " $0
				after++
			} else if (npre < 6) {
				pre[++npre] = $0
			}
			next
		}
		/^(not )?ok($|[ \t])/ {
			after = 0
			nlines++
			low = tolower($0)
			notok = ($0 ~ /^not /)
			if (low ~ /#[ \t]*skip/) {
				skip++
				if (skipwhy == "") {
					skipwhy = $0
					sub(/^.*#[ \t]*[Ss][Kk][Ii][Pp][A-Za-z]*[ \t:]*/, "", skipwhy)
				}
			} else if (low ~ /#[ \t]*todo/) {
				if (notok) skip++; else ok++
			} else if (notok) {
				fail++
				for (i = 1; i <= npre; i++)
					bad[++nbad] = "  " pre[i]
				bad[++nbad] = $0
				after = 1
			} else {
				ok++
			}
			npre = 0
			next
		}
		/^1\.\.[0-9]+/ {
			p = $0
			sub(/^1\.\./, "", p)
			plan = p + 0
			if (plan == 0 && tolower($0) ~ /#[ \t]*skip/ && skipwhy == "") {
				skipwhy = $0
				sub(/^.*#[ \t]*[Ss][Kk][Ii][Pp][A-Za-z]*[ \t:]*/, "", skipwhy)
			}
			next
		}
		/^Bail out!/ { bail = 1 }
		END {
			if (plan == "") plan = -1
			gsub(/[ \t]+/, " ", skipwhy)
			printf "%d %d %d %d %d %d %s\n", ok, fail, skip, plan,
				nlines, bail, skipwhy
			for (i = 1; i <= nbad; i++)
				print bad[i]
		}' "$file")

	if [ -n "$forced" ]; then
		extra=1
		why+=("$forced")
	elif [ "$rc" -eq 124 ]; then
		extra=1
		why+=("timed out")
	fi
	if [ "$nlines" -eq 0 ] && [ "$plan" -ne 0 ]; then
		# No TAP test line at all (and not a "1..0" skip plan).
		if [ "$extra" -eq 0 ]; then
			if [ "$rc" -eq 77 ]; then
				skip=1
				skipwhy="exit status 77, no TAP"
			elif [ "$mode" = cmd ] && [ "$rc" -eq 0 ]; then
				ok=1
			else
				extra=1
				why+=("no TAP output, $(tap_rc_text "$rc")")
			fi
		else
			why+=("no TAP output")
		fi
	elif [ "$nlines" -eq 0 ]; then
		# "1..0 # SKIP reason": the whole program skipped.
		skip=1
		[ -n "$skipwhy" ] || skipwhy="plan 1..0"
		if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ "$extra" -eq 0 ]; then
			extra=1
			why+=("$(tap_rc_text "$rc")")
		fi
	else
		if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ "$rc" -ne 124 ] &&
			[ -z "$forced" ]; then
			why+=("$(tap_rc_text "$rc")")
			[ "$fail" -eq 0 ] && extra=1
		fi
		if [ "$bail" -eq 1 ]; then
			why+=("Bail out!")
			[ "$fail" -eq 0 ] && [ "$extra" -eq 0 ] && extra=1
		fi
		if [ "$plan" -lt 0 ] && [ "$mode" != cmd ]; then
			why+=("no plan line")
			[ "$fail" -eq 0 ] && [ "$extra" -eq 0 ] && extra=1
		elif [ "$plan" -ge 0 ] && [ "$plan" -ne "$nlines" ]; then
			why+=("plan 1..$plan but $nlines test lines")
			[ "$fail" -eq 0 ] && [ "$extra" -eq 0 ] && extra=1
		fi
	fi
	fail=$((fail + extra))

	summary="$ok ok"
	[ "$skip" -gt 0 ] && summary="$summary, $skip skipped"
	if [ "$fail" -gt 0 ]; then
		local w="" x
		for x in "${why[@]}"; do
			w="${w:+$w; }$x"
		done
		echo "FAIL $name: $fail failed, $summary${w:+; $w}"
		local l
		for l in "${tap_bad[@]}"; do
			echo "    $l"
		done
	elif [ "$ok" -eq 0 ] && [ "$skip" -gt 0 ]; then
		echo "SKIP $name ($skip skipped${skipwhy:+: $skipwhy})"
	else
		echo "PASS $name ($summary)"
	fi
	if [ "${TAP_VERBOSE:-0}" = 1 ]; then
		sed -e 's/\r$//' -e 's/^/    | /' "$file"
	elif [ "$extra" -gt 0 ] && [ "$file" != /dev/null ]; then
		# Abnormal end: show how it ended.
		sed -e 's/\r$//' "$file" | grep -v '^[[:space:]]*$' |
			tail -n "$TAP_TAIL" | sed 's/^/    | /'
	fi
	TAP_PASSED=$((TAP_PASSED + ok))
	TAP_FAILED=$((TAP_FAILED + fail))
	TAP_SKIPPED=$((TAP_SKIPPED + skip))
}

# tap_check NAME ok|fail|skip [REASON]: count a harness check (insmod, stats,
# rmmod, dmesg, ...) as one test.
tap_check() {
	local name=$1 state=$2 reason=${3:-}
	case $state in
	ok)
		echo "PASS $name"
		TAP_PASSED=$((TAP_PASSED + 1))
		;;
	skip)
		echo "SKIP $name${reason:+ ($reason)}"
		TAP_SKIPPED=$((TAP_SKIPPED + 1))
		;;
	*)
		echo "FAIL $name${reason:+: $reason}"
		TAP_FAILED=$((TAP_FAILED + 1))
		;;
	esac
}

# tap_totals: the closing line.
tap_totals() {
	echo "$TAP_PASSED passed, $TAP_FAILED failed, $TAP_SKIPPED skipped"
}

# tap_write_result FILE: "<passed> <failed> <skipped>".
tap_write_result() {
	[ -n "$1" ] || return 0
	mkdir -p "$(dirname "$1")"
	echo "$TAP_PASSED $TAP_FAILED $TAP_SKIPPED" > "$1.tmp" && mv "$1.tmp" "$1"
}
