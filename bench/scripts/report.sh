#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the benchmark report from a results directory:
#   OUT/latest.md, OUT/rtt-<placement>.svg, OUT/throughput.svg, OUT/fanin.svg
# and, with --readme FILE, refresh the block of FILE between the markers
# "<!-- bench:latest:begin -->" and "<!-- bench:latest:end -->".
#
#   scripts/report.sh OUT [--readme README.md]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: report.sh OUT [--readme FILE]}
readme=
[ "${2:-}" = "--readme" ] && readme=${3:?--readme needs a file}

[ -f "$out/results.csv" ] || { echo "report: no $out/results.csv" >&2; exit 1; }
plot=$out/plot
rm -rf "$plot"
mkdir -p "$plot"

awk -v plotdir="$plot" -f "$here/report.awk" "$out/machine.txt" \
	"$out/results.csv" > "$out/latest.md"
# The tracing cost (scripts/tracing.sh), when it was measured: before the
# rows that did not run (at the end if that section is missing).
if [ -f "$out/tracing.md" ]; then
	awk -v tr="$out/tracing.md" '
		function put(  l) { while ((getline l < tr) > 0) print l; done = 1 }
		/^## Rows that did not run/ && !done { put(); print "" }
		{ print }
		END { if (!done) put() }' "$out/latest.md" > "$out/latest.md.new"
	mv "$out/latest.md.new" "$out/latest.md"
fi

# --------------------------------------------------------------- plots
term='set terminal svg size 1000,600 dynamic noenhanced font "Sans,11" background rgb "white"'
# The start of a plot script: the terminal, output file $1, title $2.
gp_begin() {
	echo "$term"
	echo "set output '$1'"
	echo "set title '$2'"
}
# "plot" over the series listed in file $1 (file|title|floor|colour|mode
# lines), each drawn with the style that command $2 prints for its
# floor and mode.
gp_plot_series() {
	printf 'plot '
	first=1
	while IFS='|' read -r f title floor col mode; do
		[ -s "$f" ] || continue
		[ $first = 1 ] || printf ', \\\n  '
		first=0
		printf "'%s' using 1:2 with %s lc rgb '%s' title '%s'" "$f" "$("$2" "$floor" "$mode")" "$col" "$title"
	done < "$1"
	echo
}
# Limits dashed, spinning modes dotted.
rtt_style() {
	if [ "$1" = 1 ]; then
		echo "lines dt 2 lw 3"
	elif [ "$2" = spin ]; then
		echo "linespoints dt 4 lw 2 pt 5 ps 0.7"
	else
		echo "linespoints lw 2 pt 7 ps 0.7"
	fi
}
fanin_style() {
	case $2 in
	block) echo "linespoints lw 2 dt 1 pt 7" ;;
	spin) echo "linespoints lw 2 dt 4 pt 5" ;;
	*) echo "linespoints lw 2 dt 2 pt 9" ;;
	esac
}

if ! command -v gnuplot > /dev/null; then
	printf '\n**Plots missing:** gnuplot is not installed (Debian package gnuplot-nox).\n' >> "$out/latest.md"
	echo "report: gnuplot not found: no plots" >&2
else
	# One plot per placement: latency vs size, log-log, floors dashed.
	for s in "$plot"/rtt-*.series; do
		[ -e "$s" ] || continue
		pl=$(basename "$s" .series)
		pl=${pl#rtt-}
		{
			gp_begin "$out/rtt-$pl.svg" "Round trip vs message size, $pl (median; limits dashed)"
			echo "set logscale xy"
			echo "set xlabel 'message size (bytes, each way)'"
			echo "set ylabel 'round trip, median (microseconds)'"
			echo "set xtics ('64' 64, '512' 512, '4K' 4096, '64K' 65536, '1M' 1048576, '4M' 4194304)"
			echo "set grid"
			echo "set key outside right top"
			gp_plot_series "$s" rtt_style
		} > "$plot/rtt-$pl.gp"
		gnuplot "$plot/rtt-$pl.gp" || echo "report: gnuplot failed for $pl" >&2
	done
	if [ -s "$plot/throughput.dat" ]; then
		ncol=$(($(wc -l < "$plot/throughput.colors") + 1))
		{
			gp_begin "$out/throughput.svg" "Streaming throughput, one producer and one consumer (median)"
			echo "set style data histograms"
			echo "set style histogram clustered gap 1"
			echo "set style fill solid 0.8 border -1"
			echo "set logscale y"
			echo "set yrange [1000:*]"
			echo "set ylabel 'messages per second (log scale)'"
			echo "set xtics rotate by -20"
			echo "set grid ytics"
			echo "set key top right"
			cols=$(awk -F'|' '{ printf "%s ", $4 }' "$plot/throughput.colors")
			set -- $cols
			printf "plot '%s' using 2:xtic(1) title columnheader(2) lc rgb '%s'" "$plot/throughput.dat" "$1"
			i=3
			while [ $i -le "$ncol" ]; do
				shift
				printf ", '' using %d title columnheader(%d) lc rgb '%s'" $i $i "$1"
				i=$((i + 1))
			done
			echo
		} > "$plot/throughput.gp"
		gnuplot "$plot/throughput.gp" || echo "report: gnuplot failed for throughput" >&2
	fi
	if [ -s "$plot/fanin.series" ]; then
		{
			gp_begin "$out/fanin.svg" "Fan-in: N producers to one consumer, 64 B messages"
			echo "set logscale xy 2"
			echo "set logscale y 10"
			echo "set xtics (1, 2, 4, 8)"
			echo "set xrange [0.85:9.5]"
			echo "set xlabel 'producers'"
			echo "set ylabel 'aggregate messages per second'"
			echo "set grid"
			echo "set key outside right top"
			gp_plot_series "$plot/fanin.series" fanin_style
		} > "$plot/fanin.gp"
		gnuplot "$plot/fanin.gp" || echo "report: gnuplot failed for fan-in" >&2
	fi
fi

# --------------------------------------------------------- README block
if [ -n "$readme" ] && [ -f "$readme" ] &&
   grep -q '<!-- bench:latest:begin -->' "$readme"; then
	rel=$(realpath --relative-to="$(dirname "$readme")" "$out")
	tmp=$(mktemp)
	{
		echo "Latest full run: [$rel/latest.md]($rel/latest.md) ($(grep '^date:' "$out/machine.txt" | cut -d' ' -f2-))."
		echo
		# Headline and targets, with plot paths made relative to the README.
		awk '/^## Headline/ { on = 1 } /^## Round trip by size/ { on = 0 } on' \
			"$out/latest.md" | sed 's/^## /### /'
		echo "Plots: ![round trip, pinned-2cpu]($rel/rtt-pinned-2cpu.svg)"
		echo "![throughput]($rel/throughput.svg)"
	} > "$tmp"
	awk -v blk="$tmp" '
		/<!-- bench:latest:begin -->/ { print; while ((getline l < blk) > 0) print l; skip = 1; next }
		/<!-- bench:latest:end -->/ { skip = 0 }
		!skip' "$readme" > "$readme.new" && mv "$readme.new" "$readme"
	rm -f "$tmp"
fi
echo "report: $out/latest.md" >&2
