# SPDX-License-Identifier: GPL-2.0
# shmk benchmark report: reads machine.txt then results.csv (see main.c for
# the columns) and writes the Markdown report on stdout, plus gnuplot data
# files under the directory given as -v plotdir=DIR. POSIX awk (mawk).
#
#   awk -v plotdir=DIR -f report.awk machine.txt results.csv > latest.md

function fmt_us(ns) {
	if (ns == "") return "n/a"
	ns = ns / 1000
	if (ns < 1) return sprintf("%.3f", ns)
	if (ns < 10) return sprintf("%.2f", ns)
	if (ns < 100) return sprintf("%.1f", ns)
	return sprintf("%.0f", ns)
}
function fmt_rate(r) {
	if (r == "") return "n/a"
	if (r >= 1e6) return sprintf("%.2f M", r / 1e6)
	if (r >= 1e3) return sprintf("%.1f k", r / 1e3)
	return sprintf("%.0f", r)
}
function fmt_x(x) {
	if (x == "") return "n/a"
	if (x < 0.1) return sprintf("%.3fx", x)
	if (x < 10) return sprintf("%.2fx", x)
	return sprintf("%.0fx", x)
}
function fmt_size(s) {
	if (s >= 1048576 && s % 1048576 == 0) return (s / 1048576) " MiB"
	if (s >= 1024 && s % 1024 == 0) return (s / 1024) " KiB"
	return s " B"
}
function ratio(a, b) {
	if (a == "" || b == "" || b + 0 == 0) return ""
	return a / b
}
# Median round trip (ns) of an rtt case, or "" when it did not run.
function rtt(tr, mode, pl, size,   k) {
	k = tr SUBSEP mode SUBSEP pl SUBSEP size
	if (!(k in med) || st[k] != "ok") return ""
	return med[k]
}
function add_unique(list, n, v,   i) {
	for (i = 1; i <= n; i++) if (list[i] == v) return n
	list[n + 1] = v
	return n + 1
}
function verdict(ok, val, lim, sense) {
	# sense "<=": ok when val <= lim; ">=": ok when val >= lim
	if (val == "") return "not measured"
	if (ok) return "**met**"
	return "**not met**"
}
function margin(val, lim, sense) {
	if (val == "") return ""
	if (val == lim) return "equal to the limit (within one histogram bucket, about 3%)"
	if (sense == "<=" || sense == "<") {
		if (val < lim || (sense == "<=" && val == lim)) return sprintf("%.0f%% under the limit", 100 * (lim - val) / lim)
		return sprintf("%.0f%% over the limit (%.2fx of it)", 100 * (val - lim) / lim, val / lim)
	}
	if (val >= lim) return sprintf("%.0f%% above the minimum", 100 * (val - lim) / lim)
	return sprintf("%.0f%% short (reaches %.2fx of the minimum)", 100 * (lim - val) / lim, val / lim)
}
function target(name, pl, val, lim, sense, detail,   ok) {
	if (val == "") ok = 0
	else if (sense == "<=") ok = (val <= lim)
	else if (sense == "<") ok = (val < lim)
	else ok = (val >= lim)
	ntarget++
	if (val != "") { if (ok) nmet++; else nmiss++ }
	printf("| %s | %s | %s | %s %s | %s | %s |\n", name, pl,
	       val == "" ? "n/a" : fmt_x(val), sense, fmt_x(lim),
	       verdict(ok, val, lim, sense), (val == "" ? detail : margin(val, lim, sense) (detail != "" ? "; " detail : "")))
}

# Short names (default: the transport's own) and fixed colours for the
# plots, from the table in BEGIN.
function short_name(tr) {
	return (tr in shortname) && shortname[tr] != "" ? shortname[tr] : tr
}
function color(tr) {
	return (tr in colour) ? colour[tr] : "#bcbd22"
}
# A Markdown table head: @h and @s, then a column per placement.
function placement_head(h, s,   p) {
	for (p = 1; p <= npl; p++) { h = h " " pls[p] " |"; s = s "---|" }
	print h; print s
}

BEGIN {
	FS = ","
	# transport|short name|colour
	ntr = split("shmk||#d62728;shmk-raw|shmk raw-futex equivalent|#ff9896;" \
		    "shmk-kmod|shmk (kmod backend)|#e377c2;" \
		    "uds|Unix socket|#1f77b4;pipe||#17becf;" \
		    "tcp|TCP loopback|#9467bd;iceoryx||#2ca02c;" \
		    "boost-mq|Boost message_queue|#8c564b;" \
		    "spin-floor|limit: cache line (spin)|#7f7f7f;" \
		    "futex-floor|limit: futex (block)|#000000", trtab, ";")
	for (ti = 1; ti <= ntr; ti++) {
		split(trtab[ti], trcol, "|")
		shortname[trcol[1]] = trcol[2]
		colour[trcol[1]] = trcol[3]
	}
}

FNR == 1 && NR != 1 { incsv = 1; next }	# CSV header

!incsv {
	i = index($0, ": ")
	if (i) { mk = substr($0, 1, i - 1); mach[mk] = substr($0, i + 2) }
	next
}

{
	sec = $1; tr = $2; lab = $3; be = $4; mode = $5; pl = $6; size = $7
	param = $8; unit = $9; n = $10
	note = $21
	for (i = 22; i <= NF; i++) note = note "," $i
	# Both backends on a host with /dev/shmk: kmod rows get their own name.
	if (be == "kmod" && (sec == "rtt" || sec == "stream" || sec == "fanin")) { tr = tr "-kmod"; lab = lab " [kmod backend]" }
	if (sec == "rtt") {
		k = tr SUBSEP mode SUBSEP pl SUBSEP size
		nrt = add_unique(rtlist, nrt, tr SUBSEP mode)
		label[tr] = lab; label[tr SUBSEP mode] = lab; backend[tr] = be
		npl = add_unique(pls, npl, pl)
		nsz = add_unique(szs, nsz, size)
	} else if (sec == "stream" || sec == "fanin") {
		k = sec SUBSEP tr SUBSEP pl SUBSEP size SUBSEP param
		slabel[tr] = lab
		if (sec == "stream") nst = add_unique(stlist, nst, tr)
		else nfi = add_unique(filist, nfi, tr)
		nspl = add_unique(spls, nspl, pl)
	} else {
		k = sec SUBSEP tr SUBSEP param SUBSEP be
		nmisc = add_unique(misc, nmisc, k)
		mlabel[k] = lab; mbe[k] = be
	}
	cnt[k] = n; mn[k] = $11; med[k] = $12; p99[k] = $13; mx[k] = $14
	mean[k] = $15; spr[k] = $16; att[k] = $17; ld[k] = $18; fg[k] = $19
	st[k] = $20; nt[k] = note
	if (st[k] != "ok") { nbad++; bad[nbad] = sec " " tr " " mode " " pl " " (size ? fmt_size(size) : "") " " param ": " st[k] " (" note ")" }
	if (st[k] == "ok" && (fg[k] + 0 > 25 || spr[k] + 0 > 0.25)) {
		nnoisy++
		noisy[nnoisy] = sec " " tr " " mode " " pl " " fmt_size(size) " " param ": spread " (spr[k] == "" ? "n/a" : sprintf("%.0f%%", 100 * spr[k])) ", other processes used " sprintf("%.0f%%", fg[k]) " of the CPUs, load " ld[k]
	}
}

END {
	# sizes in numeric order
	for (i = 2; i <= nsz; i++) { v = szs[i]; for (j = i - 1; j >= 1 && szs[j] + 0 > v + 0; j--) szs[j + 1] = szs[j]; szs[j + 1] = v }
	# Targets and ratios use the libshmk rows; if none of them ran, the
	# raw-futex equivalent stands in, and the report says so.
	SH = "shmk"; shnote = ""
	okany = 0
	for (k in st) { split(k, q, SUBSEP); if (q[1] == "shmk" && st[k] == "ok") okany = 1 }
	if (!okany) {
		for (k in st) { split(k, q, SUBSEP); if (q[1] == "shmk-raw" && st[k] == "ok") okany = 2 }
		if (okany == 2) { SH = "shmk-raw"; shnote = "**The libshmk rows did not run (see below): targets and ratios use the raw-futex equivalent instead.**" }
	}
	main_pl = "pinned-2cpu"
	found = 0; for (i = 1; i <= npl; i++) if (pls[i] == main_pl) found = 1
	if (!found && npl) main_pl = pls[1]

	print "# shmk benchmark report"
	print ""
	printf("%s run of %s, %s s of benchmarking. Generated by `make -C bench run%s`.\n",
	       mach["quick"] == 1 ? "**Quick (smoke)**" : "Full", mach["date"] != "" ? mach["date"] : "(date unknown)",
	       mach["duration_s"], mach["quick"] == 1 ? " QUICK=1" : "")
	if (mach["quick"] == 1)
		print "A quick run is a smoke test: fewer sizes and repetitions, one placement; its numbers are not the reference ones."
	print ""
	print "**What the shmk rows are.** " mach["shmk_impl"] ". The ping-pong, streaming and fan-in rows go through libshmk's message queue (shmk_queue_send/shmk_queue_recv): each message is a descriptor carrying the arena offset of a payload produced and read in place, so nothing is copied. \"blocking\" sleeps at once on an empty queue (the library default); \"spin\" spins up to 50 us first (queue option spin_ns)."
	print ""
	print "**Backend.** " mach["shmk_backend"] "."
	print ""
	print "## Machine"
	print ""
	print "| | |"
	print "|---|---|"
	print "| CPU | " mach["cpu_model"] " |"
	print "| CPUs | " mach["cpus_online"] " online, " mach["cpus_allowed"] " usable |"
	print "| Kernel | " mach["kernel"] " |"
	print "| Memory | " mach["memory"] " |"
	print "| Clock | " mach["clocksource"] ", one clock read costs " mach["clock_read_ns"] " ns |"
	print "| Compiler | " mach["compiler"] " |"
	print "| Peers | iceoryx " (mach["iceoryx"] != "" ? mach["iceoryx"] : "not installed") ", Boost " (mach["boost"] != "" ? mach["boost"] : "not installed") " |"
	print "| Load average (1 min) | " mach["load_start"] " at start, " mach["load_end"] " at end |"
	print "| Other busy processes (>10% of a CPU) | at start: " mach["heavy_start"] "; at end: " mach["heavy_end"] " |"
	print "| Repetitions | " mach["reps"] " per case, each " mach["rep_ms"] " ms; a case whose repetition medians differ by more than " mach["spread_max"] " is run again (up to 3 attempts, the tightest kept; no repeats once 60% of the " mach["budget_s"] " s time budget is used) |"
	print "| Run time | benchmark " mach["duration_s"] " s" (mach["wall_s"] != "" ? ", whole `make` target including report and plots " mach["wall_s"] " s" : "") " |"
	print ""

	# ---------------------------------------------------------- headline
	print "## Headline: 64 B round trip"
	print ""
	print "Median round trip in microseconds (p99 in brackets), one message each way, same run."
	print ""
	placement_head("| transport | mode |", "|---|---|")
	for (t = 1; t <= nrt; t++) {
		split(rtlist[t], tm, SUBSEP)
		line = "| " label[rtlist[t]] " | " tm[2] " |"
		for (p = 1; p <= npl; p++) {
			k = tm[1] SUBSEP tm[2] SUBSEP pls[p] SUBSEP 64
			if (!(k in st)) line = line " |"
			else if (st[k] != "ok") line = line " " st[k] " |"
			else line = line " " fmt_us(med[k]) " (" fmt_us(p99[k]) ") |"
		}
		print line
	}
	print ""
	print "Ratios at 64 B (medians; below 1 means shmk is faster):"
	print ""
	placement_head("| ratio |", "|---|")
	split("shmk|block|uds|block|shmk blocking / Unix socket;shmk|block|futex-floor|block|shmk blocking / futex floor;shmk|spin|spin-floor|spin|shmk spinning / cache-line floor;shmk|block|iceoryx|block|shmk blocking / iceoryx blocking;shmk|spin|iceoryx|spin|shmk spinning / iceoryx spinning;shmk|block|pipe|block|shmk blocking / pipe;shmk|block|tcp|block|shmk blocking / TCP;shmk|block|boost-mq|block|shmk blocking / Boost message_queue;shmk|block|shmk-raw|block|shmk blocking / raw-futex equivalent (library overhead);shmk|spin|shmk-raw|spin|shmk spinning / raw-futex equivalent;futex-floor|block|uds|block|futex floor / Unix socket (the best any sleeping IPC can do)", R, ";")
	for (r = 1; r in R; r++) {
		split(R[r], q, "|")
		if (q[1] == "shmk") q[1] = SH
		line = "| " q[5] " |"
		for (p = 1; p <= npl; p++) line = line " " fmt_x(ratio(rtt(q[1], q[2], pls[p], 64), rtt(q[3], q[4], pls[p], 64))) " |"
		print line
	}
	print ""

	# ----------------------------------------------------------- targets
	print "## Targets"
	print ""
	print "Targets are stated, not asserted: this is a benchmark, not a test. Ratios are of medians from this run."
	if (shnote != "") { print ""; print shnote }
	print ""
	print "| target | placement | measured | limit | verdict | margin |"
	print "|---|---|---|---|---|---|"
	for (p = 1; p <= npl; p++) {
		pl = pls[p]
		target("64 B blocking: shmk / Unix socket", pl, ratio(rtt(SH, "block", pl, 64), rtt("uds", "block", pl, 64)), 0.5, "<=", "")
		target("64 B blocking: shmk / futex floor", pl, ratio(rtt(SH, "block", pl, 64), rtt("futex-floor", "block", pl, 64)), 1.3, "<=", "")
		target("64 B spinning: shmk / cache-line floor", pl, ratio(rtt(SH, "spin", pl, 64), rtt("spin-floor", "spin", pl, 64)), 2, "<=", "")
		for (m = 1; m <= 2; m++) {
			md = m == 1 ? "block" : "spin"
			for (sz = 1048576; sz <= 4194304; sz *= 4) {
				if (rtt(SH, md, pl, sz) == "" && !(((SH SUBSEP md SUBSEP pl SUBSEP sz) in st))) continue
				target(fmt_size(sz) " " (md == "block" ? "blocking" : "spinning") ": shmk / shmk 64 B (zero copy)", pl, ratio(rtt(SH, md, pl, sz), rtt(SH, md, pl, 64)), 1.5, "<=", "")
				if (md == "block")
					target(fmt_size(sz) ": Unix socket / shmk (speed-up)", pl, ratio(rtt("uds", "block", pl, sz), rtt(SH, "block", pl, sz)), 50, ">=", "")
			}
		}
		for (m = 1; m <= 2; m++) {
			md = m == 1 ? "block" : "spin"
			worst = ""; wsz = ""; nsizes = 0; nbelow = 0
			for (s = 1; s <= nsz; s++) {
				x = ratio(rtt(SH, md, pl, szs[s]), rtt("iceoryx", md, pl, szs[s]))
				if (x == "") continue
				nsizes++; if (x < 1) nbelow++
				if (worst == "" || x > worst) { worst = x; wsz = szs[s] }
			}
			target("below iceoryx at every size, " (md == "block" ? "blocking" : "spinning") " (worst shmk / iceoryx)", pl, worst, 1, "<",
			       worst == "" ? "iceoryx rows missing" : sprintf("worst at %s; below at %d of %d sizes", fmt_size(wsz), nbelow, nsizes))
		}
	}
	for (p = 1; p <= nspl; p++) {
		pl = spls[p]
		a = "stream" SUBSEP SH SUBSEP pl SUBSEP 64 SUBSEP 1
		b = "stream" SUBSEP "uds" SUBSEP pl SUBSEP 64 SUBSEP 1
		target("streaming 64 B: shmk / Unix socket messages/s", pl, (st[a] == "ok" && st[b] == "ok") ? ratio(med[a], med[b]) : "", 10, ">=", "")
	}
	k = "alloc" SUBSEP "alloc-free" SUBSEP "1proc" SUBSEP "portable"
	if (!(k in st)) k = "alloc" SUBSEP "alloc-free" SUBSEP "1proc" SUBSEP ""
	if (st[k] == "ok") {
		val = med[k] + 0
		ntarget++; if (val < 50) nmet++; else nmiss++
		printf("| alloc+free pair, single process | - | %.1f ns | < 50 ns | %s | %s |\n", val, val < 50 ? "**met**" : "**not met**",
		       val < 50 ? sprintf("%.0f%% under", 100 * (50 - val) / 50) : sprintf("%.0f%% over (%.2fx)", 100 * (val - 50) / 50, val / 50))
	} else {
		ntarget++
		printf("| alloc+free pair, single process | - | n/a | < 50 ns | not measured | %s |\n", (k in nt) ? nt[k] : "no row")
	}
	print ""
	printf("%d target checks: %d met, %d not met, %d not measured.\n\n", ntarget, nmet, nmiss, ntarget - nmet - nmiss)

	# --------------------------------------------------------- rtt detail
	print "## Round trip by size"
	print ""
	print "Per placement: min, median and p99 of the per-round-trip histogram (warm-up excluded, all repetitions merged), in microseconds; *spread* is how far apart the repetition medians were; *x UDS* and *x floor* compare medians with the Unix socket and with the matching limit (futex floor for blocking, cache-line floor for spinning) of the same placement and run; *other CPU* is how much of the machine other processes used meanwhile."
	print ""
	print "Plots: " 
	for (p = 1; p <= npl; p++) printf("[%s](rtt-%s.svg)%s", pls[p], pls[p], p < npl ? ", " : "\n")
	print ""
	for (p = 1; p <= npl; p++) {
		pl = pls[p]
		print "### " pl
		print ""
		print "![round trip vs size, " pl "](rtt-" pl ".svg)"
		print ""
		print "| transport | mode | size | min | median | p99 | spread | x UDS | x floor | other CPU | n |"
		print "|---|---|---|---|---|---|---|---|---|---|---|"
		for (t = 1; t <= nrt; t++) {
			split(rtlist[t], tm, SUBSEP)
			for (s = 1; s <= nsz; s++) {
				k = tm[1] SUBSEP tm[2] SUBSEP pl SUBSEP szs[s]
				if (!(k in st)) continue
				if (st[k] != "ok") {
					printf("| %s | %s | %s | %s: %s |||||||| \n", label[rtlist[t]], tm[2], fmt_size(szs[s]), st[k], nt[k])
					continue
				}
				fl = tm[2] == "spin" ? rtt("spin-floor", "spin", pl, 64) : rtt("futex-floor", "block", pl, 64)
				printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %.0f%% | %s |\n", label[rtlist[t]], tm[2], fmt_size(szs[s]),
				       fmt_us(mn[k]), fmt_us(med[k]), fmt_us(p99[k]), spr[k] == "" ? "" : sprintf("%.0f%%", 100 * spr[k]),
				       tm[1] == "uds" ? "" : fmt_x(ratio(med[k], rtt("uds", "block", pl, szs[s]))),
				       (tm[1] ~ /floor/) ? "" : fmt_x(ratio(med[k], fl)), fg[k], cnt[k])
				# plot data: one file per transport+mode+placement
				f = plotdir "/rtt-" pl "-" tm[1] "-" tm[2] ".dat"
				if (tm[1] ~ /floor/) {
					for (s2 = 1; s2 <= nsz; s2++) printf("%s %s\n", szs[s2], med[k] / 1000) > f
				} else printf("%s %s %s %s\n", szs[s], med[k] / 1000, mn[k] / 1000, p99[k] / 1000) > f
				if (!((f) in seen)) {
					seen[f] = 1
					printf("%s|%s|%d|%s|%s\n", f, short_name(tm[1]) (tm[1] ~ /floor/ ? "" : " " tm[2]), tm[1] ~ /floor/,
					       color(tm[1]), tm[2]) > (plotdir "/rtt-" pl ".series")
				}
			}
		}
		print ""
	}

	# ------------------------------------------------------- throughput
	print "## Streaming throughput"
	print ""
	print "One producer, one consumer, messages produced in place (shmk) or written with one write() per message and read in big chunks (socket, pipe). Median of the repetitions (min - max). GB/s counts payload bytes delivered."
	print ""
	print "![throughput](throughput.svg)"
	print ""
	print "| transport | size | placement | messages/s | min - max | GB/s | x UDS |"
	print "|---|---|---|---|---|---|---|"
	tf = plotdir "/throughput.dat"
	printf("case") > tf
	for (t = 1; t <= nst; t++) {
		printf(" \"%s\"", short_name(stlist[t])) > tf
		printf("%s|||%s\n", stlist[t], color(stlist[t])) > (plotdir "/throughput.colors")
	}
	printf("\n") > tf
	for (p = 1; p <= nspl; p++) for (sz = 64; sz <= 4096; sz *= 64) {
		printf("\"%s %s\"", fmt_size(sz), spls[p]) > tf
		for (t = 1; t <= nst; t++) {
			k = "stream" SUBSEP stlist[t] SUBSEP spls[p] SUBSEP sz SUBSEP 1
			u = "stream" SUBSEP "uds" SUBSEP spls[p] SUBSEP sz SUBSEP 1
			if (!(k in st)) { printf(" 0") > tf; continue }
			if (st[k] != "ok") { printf("| %s | %s | %s | %s: %s ||||\n", slabel[stlist[t]], fmt_size(sz), spls[p], st[k], nt[k]); printf(" 0") > tf; continue }
			printf("| %s | %s | %s | %s | %s - %s | %.3f | %s |\n", slabel[stlist[t]], fmt_size(sz), spls[p], fmt_rate(med[k]),
			       fmt_rate(mn[k]), fmt_rate(mx[k]), med[k] * sz / 1e9, stlist[t] == "uds" ? "" : fmt_x(st[u] == "ok" ? ratio(med[k], med[u]) : ""))
			printf(" %s", med[k]) > tf
		}
		printf("\n") > tf
	}
	print ""
	print "## Fan-in"
	print ""
	print "N producers streaming 64 B messages to one consumer; aggregate messages/s (median of the repetitions)."
	print ""
	print "![fan-in](fanin.svg)"
	print ""
	print "| transport | placement | N=1 | N=2 | N=4 | N=8 |"
	print "|---|---|---|---|---|---|"
	for (p = 1; p <= nspl; p++) for (t = 1; t <= nfi; t++) {
		line = "| " slabel[filist[t]] " | " spls[p] " |"
		f = plotdir "/fanin-" spls[p] "-" filist[t] ".dat"
		for (nn = 1; nn <= 8; nn *= 2) {
			k = "fanin" SUBSEP filist[t] SUBSEP spls[p] SUBSEP 64 SUBSEP nn
			if (!(k in st)) line = line " |"
			else if (st[k] != "ok") line = line " " st[k] " |"
			else { line = line " " fmt_rate(med[k]) " |"; printf("%d %s\n", nn, med[k]) > f }
		}
		print line
		if (!((f) in seen)) {
			seen[f] = 1
			printf("%s|%s, %s|0|%s|%s\n", f, short_name(filist[t]), spls[p], color(filist[t]),
			       spls[p] == "pinned-2cpu" ? "block" : spls[p] == "same-cpu" ? "spin" : "other") > (plotdir "/fanin.series")
		}
	}
	print ""

	# ------------------------------------------------ allocator, crashes
	print "## Allocator and crash recovery"
	print ""
	print "| case | what | backend | n | min | median | p99 | note |"
	print "|---|---|---|---|---|---|---|---|"
	for (i = 1; i <= nmisc; i++) {
		k = misc[i]; split(k, q, SUBSEP)
		if (st[k] != "ok") { printf("| %s %s %s | %s | %s | | | %s | | %s |\n", q[1], q[2], q[3], mlabel[k], mbe[k], st[k], nt[k]); continue }
		if (q[1] == "alloc")
			printf("| %s %s %s | %s | %s | %s | %.1f ns | %.1f ns | %.1f ns | %s pairs/s in all; %s |\n", q[1], q[2], q[3], mlabel[k], mbe[k], cnt[k],
			       mn[k], med[k], p99[k], fmt_rate(mean[k]), nt[k])
		else
			printf("| %s %s %s | %s | %s | %s | %s us | %s us | %s us | %s |\n", q[1], q[2], q[3], mlabel[k], mbe[k], cnt[k],
			       fmt_us(mn[k]), fmt_us(med[k]), fmt_us(p99[k]), nt[k])
	}
	print ""

	# ------------------------------------------------------------ notes
	print "## Rows that did not run"
	print ""
	if (!nbad) print "None."
	for (i = 1; i <= nbad; i++) print "- " bad[i]
	print ""
	print "## Noise"
	print ""
	print "Cases where other processes used more than 25% of the CPUs, or whose repetition medians stayed more than 25% apart after the repeats. Absolute times from such cases drift; ratios within one placement of one run are the figures to compare."
	print ""
	if (!nnoisy) print "None."
	for (i = 1; i <= nnoisy && i <= 60; i++) print "- " noisy[i]
	if (nnoisy > 60) print "- ... and " (nnoisy - 60) " more (see results.csv)"
	print ""
	print "## Method"
	print ""
	print "- Every repetition forks two fresh processes (A and B), placed as the column says: *pinned-2cpu* pins A and B to two different CPUs, *same-cpu* pins both to one CPU, *unpinned* lets the scheduler choose. A sends, B answers with a message of the same size; A times each round trip with CLOCK_MONOTONIC into a log-linear histogram (about 3% resolution, so ratios within 3% of 1 are ties). A warm-up (at least 5 round trips and " mach["warm_ms"] " ms) is not recorded."
	print "- A message carries its sequence number in its first and last 8 bytes; the receiver checks both, so a transport that loses, repeats or tears a message fails its row instead of looking fast. *Produced in place*: shmk and iceoryx write those words into the shared block the receiver reads, the copying transports into the sender's private buffer, which write() then copies into the kernel and read() out of it into the receiver's buffer."
	print "- Spinning modes poll with a pause instruction and yield the CPU every 64 polls (so they also work on one CPU); shmk's spinning mode spins at most 50 us before it sleeps in the same wait/wake path as the blocking mode."
	print "- Limits: *cache-line floor* bounces one 64-byte line between two spinning processes; *futex floor* does the same with FUTEX_WAIT / FUTEX_WAKE on every message. No spinning (sleeping) IPC can beat the first (second) on the same machine and placement."
	print "- iceoryx: RouDi is started by the bench with bench/iceoryx/roudi.toml and stopped at the end of the round-trip section; its log is roudi.log. Blocking mode waits in a WaitSet, spinning mode polls iox_sub_take_chunk."
	print "- Streaming and fan-in: producers run until the consumer has measured its window (warm-up excluded), then send an end marker; the consumer checks that every producer's sequence numbers arrive in order."
	print "- Files: results.csv (every row, all columns), machine.txt, run.log, the SVG plots and their .dat files in plot/."
}
