// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * shmktop: a refreshing view of shmk traffic per arena and per member:
 * messages and bytes per second each way, queue depth and back-pressure,
 * allocator use and waits, wakes and sleeps, deaths and reclaims.
 * See tools/man/shmktop.8.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "shmk_tools.h"
#include "shmktop.h"
#include "shmktop.skel.h"

#define TOOL	"shmktop"

static const char usage_text[] =
"Usage: shmktop [OPTIONS] [INTERVAL [COUNT]]\n"
"\n"
"Show shmk traffic per arena and per member, refreshed every INTERVAL\n"
"seconds (default 1, -i): messages and bytes per second sent (OUT) and\n"
"taken off the member's queue (IN), the deepest its queue was at a send\n"
"to it (DEPTH), sends that found a queue full (FULL: back-pressure),\n"
"wake and wait calls per second, kilobytes allocated per second and\n"
"allocations that waited for memory (AWAIT), and per arena the heap in\n"
"use, deaths and reclaims of dead members. On a terminal the screen is\n"
"redrawn; otherwise (or with -C) snapshots follow each other. On Ctrl-C\n"
"a last snapshot is printed.\n"
"\n"
"Sources:\n"
"  library  libshmk's USDT probes (both backends): the traffic, waits,\n"
"           allocator, membership; without -l: libshmk.so.0 and every\n"
"           running program that uses libshmk\n"
"  kernel   the module's shmk:shmk_attach and shmk_end tracepoints\n"
"           (kmod): every attach and every death, at once\n"
"Default: the library, and the kernel when the module is loaded.\n"
"\n"
"Options:\n"
"  -i, --interval SECS    refresh every SECS seconds (decimals allowed)\n"
"  -c, --count N          exit after N snapshots\n"
"  -s, --sort KEY         msgs (default), bytes, depth, full, wakes,\n"
"                         sleeps, alloc, member, pid, name\n"
"  -j, --json             one JSON object per snapshot and line (the\n"
"                         \"Tracing\" line goes to stderr)\n"
"  -C, --noclear          do not clear the screen between snapshots\n"
"  -A, --all              count the sessions' control messages too\n"
"  -p, --pid PID          only the members of this process\n"
"  -a, --arena ID         only this arena id (the module's id on kmod)\n"
"  -n, --name NAME        only the arena called NAME\n"
"  -e, --member ID        only this member id\n"
"  -k, --kernel           the kernel source too (needs the module)\n"
"  -u, --library          the library source only\n"
"  -l, --lib PATH         a shared library or program holding libshmk\n"
"                         (repeatable)\n"
"  -v, --verbose          libbpf debug messages\n"
"  -V, --version          print the version and exit\n"
"  -h, --help             this text\n"
"\n"
"Counts start when shmktop starts; rates are over the last interval.\n"
"A member is shown from the first probe it fires (its process, PID in\n"
"shmktop's pid namespace, and command come with it). A line \"Tracing\n"
"...\" says the probes are in place.\n"
"\n"
"EXAMPLES:\n"
"  shmktop                      # every arena, every second\n"
"  shmktop 5                    # every 5 seconds\n"
"  shmktop -n pingpong -s depth # one arena, deepest queues first\n"
"  shmktop -j -i 0.5 -c 20      # 20 JSON snapshots, twice a second\n"
"  shmktop -p 1234              # the members of process 1234\n"
"  shmktop -l ./server          # libshmk linked statically into ./server\n";

static struct shmkt_opts opt;
/* Ours only. */
static struct {
	double interval;
	uint32_t count;
	uint32_t member;
	int sort;
	bool noclear, all;
} topt = { .interval = 1.0 };

/* Counters of struct tm_member, in order (all __u64 at its start). */
enum {
	C_SENT, C_SENT_BYTES, C_RECVD, C_RECVD_BYTES, C_FULL, C_FULL_WAITS,
	C_WAKES, C_SLEEPS, C_ALLOCS, C_ALLOC_BYTES, C_FREES, C_FREE_BYTES,
	C_ALLOC_WAITS, C_PUBLISHES, C_RECLAIMED, NC
};
_Static_assert(offsetof(struct tm_member, reclaimed) ==
	       (NC - 1) * sizeof(uint64_t), "counters");
static const char *const cnames[NC] = {
	"sent", "sent_bytes", "recvd", "recvd_bytes", "full", "full_waits",
	"wakes", "sleeps", "allocs", "alloc_bytes", "frees", "free_bytes",
	"alloc_waits", "publishes", "reclaimed",
};

enum { S_MSGS, S_BYTES, S_DEPTH, S_FULL, S_WAKES, S_SLEEPS, S_ALLOC,
	S_MEMBER, S_PID, S_NAME };
static const char *const sort_names[] = {
	"msgs", "bytes", "depth", "full", "wakes", "sleeps", "alloc",
	"member", "pid", "name",
};

/* One member: its counters now and at the last snapshot. */
struct row {
	struct tm_key k;
	struct tm_member now;
	uint64_t prev[NC];
	struct tm_depth d;	/* this interval */
	bool fresh;		/* in the map at this snapshot */
	uint64_t delta[NC];
};

/* One arena: the sums of the rows shown, and its own counters. */
struct agg {
	uint64_t id;
	char name[SHMKT_NAME_MAX];
	struct tm_arena a;
	bool has_a;
	uint64_t tot[NC], delta[NC];
	uint64_t depth_max;
	int nmembers, nlive;
	struct row **rows;
	int nrows;
};

static struct row *rows;
static size_t nrows, caprows;
static uint64_t start_ns, last_ns;
static struct shmktop_bpf *skel;

static int key_cmp(const struct tm_key *a, const struct tm_key *b)
{
	if (a->arena != b->arena)
		return a->arena < b->arena ? -1 : 1;
	if (a->member != b->member)
		return a->member < b->member ? -1 : 1;
	return 0;
}

static int row_key_cmp(const void *x, const void *y)
{
	return key_cmp(&((const struct row *)x)->k, &((const struct row *)y)->k);
}

static struct row *row_find(const struct tm_key *k)
{
	struct row r = { .k = *k };

	return nrows ? bsearch(&r, rows, nrows, sizeof(*rows), row_key_cmp) :
		NULL;
}

/*
 * An end the portable backend guessed (the survivor that reported it is
 * not the dead member's parent): the exit status of its process, seen at
 * sched_process_exit, says how it really ended.
 */
static void refine_end(struct tm_member *m)
{
	struct tm_exit x;

	if (!(m->flags & TMF_GUESSED) || m->pid <= 0 ||
	    bpf_map_lookup_elem(bpf_map__fd(skel->maps.procs), &m->pid, &x) ||
	    x.code < 0)
		return;
	if (x.code & 0x7f) {
		m->how = SHMKT_END_SIGNAL;
		m->status = x.code & 0x7f;
	} else {
		m->how = SHMKT_END_EXIT;
		m->status = (x.code >> 8) & 0xff;
	}
	m->state = TM_DEAD;
	m->flags &= ~TMF_GUESSED;
}

/* Read the maps: rows refreshed (new ones added), depths taken. */
static void collect(void)
{
	int mfd = bpf_map__fd(skel->maps.members);
	int dfd = bpf_map__fd(skel->maps.depths);
	struct tm_key k, next, *prev = NULL;
	struct tm_member m;
	struct tm_depth d;
	size_t i, added = 0;
	struct row *r;

	for (i = 0; i < nrows; i++) {
		rows[i].fresh = false;
		memset(&rows[i].d, 0, sizeof(rows[i].d));
	}
	while (bpf_map_get_next_key(mfd, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(mfd, &k, &m))
			continue;
		r = row_find(&k);
		if (!r) {
			if (nrows + added == caprows) {
				size_t nc = caprows ? caprows * 2 : 64;
				struct row *n = realloc(rows, nc * sizeof(*n));

				if (!n)
					continue;
				rows = n;
				caprows = nc;
			}
			r = &rows[nrows + added++];
			memset(r, 0, sizeof(*r));
			r->k = k;
		}
		refine_end(&m);
		r->now = m;
		r->fresh = true;
	}
	nrows += added;
	qsort(rows, nrows, sizeof(*rows), row_key_cmp);
	/* Depths of this interval: read, then forgotten. */
	prev = NULL;
	while (bpf_map_get_next_key(dfd, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(dfd, &k, &d))
			continue;
		r = row_find(&k);
		if (r)
			r->d = d;
	}
	while (bpf_map_get_next_key(dfd, NULL, &next) == 0)
		bpf_map_delete_elem(dfd, &next);
	for (i = 0; i < nrows; i++) {
		const uint64_t *c = (const uint64_t *)&rows[i].now;
		int j;

		for (j = 0; j < NC; j++)
			rows[i].delta[j] = c[j] - rows[i].prev[j];
	}
}

static void advance(void)
{
	size_t i;

	for (i = 0; i < nrows; i++)
		memcpy(rows[i].prev, &rows[i].now, sizeof(rows[i].prev));
}

static bool row_shown(const struct row *r)
{
	if (!r->fresh)
		return false;
	if (opt.pid && r->now.pid != (int32_t)opt.pid)
		return false;
	if (topt.member && r->k.member != topt.member)
		return false;
	return true;
}

static uint64_t sort_value(const uint64_t *delta, uint64_t depth)
{
	switch (topt.sort) {
	case S_BYTES:
		return delta[C_SENT_BYTES] + delta[C_RECVD_BYTES];
	case S_DEPTH:
		return depth;
	case S_FULL:
		return delta[C_FULL];
	case S_WAKES:
		return delta[C_WAKES];
	case S_SLEEPS:
		return delta[C_SLEEPS];
	case S_ALLOC:
		return delta[C_ALLOC_BYTES];
	default:
		return delta[C_SENT] + delta[C_RECVD];
	}
}

static int row_cmp(const void *x, const void *y)
{
	const struct row *a = *(struct row *const *)x;
	const struct row *b = *(struct row *const *)y;
	uint64_t va, vb;

	switch (topt.sort) {
	case S_MEMBER:
		return a->k.member < b->k.member ? -1 : a->k.member > b->k.member;
	case S_PID:
		return a->now.pid < b->now.pid ? -1 : a->now.pid > b->now.pid;
	case S_NAME:
		return strncmp(a->now.comm, b->now.comm, TM_COMM_LEN);
	default:
		va = sort_value(a->delta, a->d.max);
		vb = sort_value(b->delta, b->d.max);
		if (va != vb)
			return va > vb ? -1 : 1;
		return a->k.member < b->k.member ? -1 : a->k.member > b->k.member;
	}
}

static int agg_cmp(const void *x, const void *y)
{
	const struct agg *a = x, *b = y;
	uint64_t va, vb;

	if (topt.sort == S_NAME || topt.sort == S_MEMBER ||
	    topt.sort == S_PID) {
		int c = strcmp(a->name, b->name);

		return c ? c : (a->id < b->id ? -1 : a->id > b->id);
	}
	va = sort_value(a->delta, a->depth_max);
	vb = sort_value(b->delta, b->depth_max);
	if (va != vb)
		return va > vb ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* The arenas with their rows shown, sorted. *n of them. */
static struct agg *group(int *n, struct row ***store)
{
	int afd = bpf_map__fd(skel->maps.arenas);
	int nfd = bpf_map__fd(skel->maps.anames);
	struct agg *g = NULL;
	struct row **idx;
	int na = 0, i, j, k;
	size_t r;

	*n = 0;
	idx = calloc(nrows ? nrows : 1, sizeof(*idx));
	if (!idx)
		return NULL;
	for (r = 0, k = 0; r < nrows; r++)
		if (row_shown(&rows[r]))
			idx[k++] = &rows[r];
	/* rows are sorted by key: one run per arena */
	for (i = 0; i < k; i = j) {
		struct agg *a, *ng = realloc(g, (size_t)(na + 1) * sizeof(*g));

		if (!ng)
			break;
		g = ng;
		a = &g[na++];
		memset(a, 0, sizeof(*a));
		a->id = idx[i]->k.arena;
		shmkt_arena_name(nfd, a->id, a->name, sizeof(a->name));
		a->has_a = bpf_map_lookup_elem(afd, &a->id, &a->a) == 0;
		a->rows = &idx[i];
		for (j = i; j < k && idx[j]->k.arena == a->id; j++) {
			const uint64_t *c = (const uint64_t *)&idx[j]->now;
			int x;

			for (x = 0; x < NC; x++) {
				a->tot[x] += c[x];
				a->delta[x] += idx[j]->delta[x];
			}
			if (idx[j]->d.max > a->depth_max)
				a->depth_max = idx[j]->d.max;
			a->nmembers++;
			if (idx[j]->now.state == TM_LIVE ||
			    idx[j]->now.state == TM_SEEN)
				a->nlive++;
		}
		a->nrows = j - i;
		qsort(a->rows, (size_t)a->nrows, sizeof(*a->rows), row_cmp);
	}
	qsort(g, (size_t)na, sizeof(*g), agg_cmp);
	*n = na;
	*store = idx;
	return g;
}

static const char *state_name(const struct tm_member *m, char *buf,
			      size_t len)
{
	char sig[32];

	switch (m->state) {
	case TM_LIVE:
		return "live";
	case TM_LEFT:
		return "left";
	case TM_DEAD:
		if (m->how == SHMKT_END_SIGNAL)
			snprintf(buf, len, "dead:%s",
				 shmkt_signame(m->status, sig, sizeof(sig)));
		else
			snprintf(buf, len, "dead:%s:%d",
				 shmkt_how_name(m->how, "?"), m->status);
		return buf;
	default:
		return "seen";
	}
}

static const char *state_json(uint32_t state)
{
	static const char *const n[] = { "seen", "live", "left", "dead" };

	return state < 4 ? n[state] : "seen";
}

/* 1.5K style size. */
static const char *human(uint64_t b, char *buf, size_t len)
{
	static const char u[] = "BKMGT";
	double v = (double)b;
	int i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%lluB", (unsigned long long)b);
	else
		snprintf(buf, len, "%.*f%c", v < 10 ? 1 : 0, v, u[i]);
	return buf;
}

static void print_counts(const uint64_t *tot, const uint64_t *delta,
			 double secs)
{
	int i;

	for (i = 0; i < NC; i++)
		printf(",\"%s\":%llu", cnames[i], (unsigned long long)tot[i]);
	printf(",\"sent_per_s\":%.1f,\"recvd_per_s\":%.1f,\"sent_bytes_per_s\":%.1f,\"recvd_bytes_per_s\":%.1f,\"wakes_per_s\":%.1f,\"sleeps_per_s\":%.1f,\"alloc_bytes_per_s\":%.1f",
	       delta[C_SENT] / secs, delta[C_RECVD] / secs,
	       delta[C_SENT_BYTES] / secs, delta[C_RECVD_BYTES] / secs,
	       delta[C_WAKES] / secs, delta[C_SLEEPS] / secs,
	       delta[C_ALLOC_BYTES] / secs);
}

static void print_json(const struct agg *g, int n, double secs, double t,
		       const char *clock)
{
	char idb[32];
	int i, j;

	printf("{\"time\":\"%s\",\"time_s\":%.3f,\"interval_s\":%.3f,\"arenas\":[",
	       clock, t, secs);
	for (i = 0; i < n; i++) {
		const struct agg *a = &g[i];

		printf("%s{\"arena\":", i ? "," : "");
		shmkt_json_str(stdout, a->name);
		printf(",\"arena_id\":%llu,\"id\":\"%s\",\"nmembers\":%d,\"live\":%d",
		       (unsigned long long)a->id,
		       shmkt_arena_id(a->id, idb, sizeof(idb)), a->nmembers,
		       a->nlive);
		print_counts(a->tot, a->delta, secs);
		printf(",\"depth_max\":%llu", (unsigned long long)a->depth_max);
		if (a->has_a && a->a.heap_size)
			printf(",\"heap_used\":%llu,\"heap_size\":%llu",
			       (unsigned long long)(a->a.heap_size -
						    a->a.heap_free),
			       (unsigned long long)a->a.heap_size);
		else
			printf(",\"heap_used\":null,\"heap_size\":null");
		printf(",\"deaths\":%llu,\"reclaims\":%llu,\"members\":[",
		       (unsigned long long)(a->has_a ? a->a.deaths : 0),
		       (unsigned long long)(a->has_a ? a->a.reclaims : 0));
		for (j = 0; j < a->nrows; j++) {
			const struct row *r = a->rows[j];
			char comm[TM_COMM_LEN + 1];

			printf("%s{\"member\":%u", j ? "," : "", r->k.member);
			if (r->now.pid > 0)
				printf(",\"pid\":%d,\"comm\":", r->now.pid);
			else
				printf(",\"pid\":null,\"comm\":");
			memcpy(comm, r->now.comm, TM_COMM_LEN);
			comm[TM_COMM_LEN] = '\0';
			shmkt_json_str(stdout, r->now.pid > 0 || comm[0] ?
				       comm : NULL);
			printf(",\"state\":\"%s\"", state_json(r->now.state));
			if (r->now.state == TM_LEFT || r->now.state == TM_DEAD)
				printf(",\"how\":\"%s\",\"status\":%d",
				       shmkt_how_name(r->now.how, "?"),
				       r->now.status);
			print_counts((const uint64_t *)&r->now, r->delta, secs);
			printf(",\"depth\":");
			if (r->d.n)
				printf("%llu", (unsigned long long)r->d.last);
			else
				printf("null");
			printf(",\"depth_max\":%llu}",
			       (unsigned long long)r->d.max);
		}
		printf("]}");
	}
	printf("]}\n");
}

/* Terminal rows, or 0 when not a terminal (everything is printed). */
static int term_rows(void)
{
	struct winsize ws;

	if (topt.noclear || !isatty(STDOUT_FILENO) ||
	    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) || ws.ws_row < 5)
		return 0;
	return ws.ws_row;
}

#define ROWFMT	"%-24s %7s %-15s %8s %8s %8s %8s %5s %5s %7s %7s %8s %5s %s\n"
/* An arena's row: its name and id over the first three columns. */
#define ARENAFMT "%-48s %8s %8s %8s %8s %5s %5s %7s %7s %8s %5s %s\n"

static void print_text(const struct agg *g, int n, double secs,
		       const char *clock)
{
	int lines = term_rows(), used = 0, i, j, nm = 0;
	char b[10][32], sb[48], hb[2][16], idb[32], label[96];

	for (i = 0; i < n; i++)
		nm += g[i].nrows;
	if (lines)
		printf("\033[H\033[2J");
	else if (last_ns != start_ns)
		printf("\n");
	printf("%s  shmktop: %d arena%s, %d member%s, every %.1f s, sorted by %s\n",
	       clock, n, n == 1 ? "" : "s", nm, nm == 1 ? "" : "s", secs,
	       sort_names[topt.sort]);
	used++;
	if (!n) {
		printf("(no traffic seen yet)\n");
		fflush(stdout);
		return;
	}
	printf(ROWFMT, "ARENA/MEMBER", "PID", "COMM", "OUT/s", "IN/s",
	       "KBOUT/s", "KBIN/s", "DEPTH", "FULL", "WAKE/s", "SLEEP/s",
	       "KBALLOC/s", "AWAIT", "STATE");
	used++;
	for (i = 0; i < n; i++) {
		const struct agg *a = &g[i];
		const uint64_t *d = a->delta;

		if (lines && used >= lines - 1)
			break;
		snprintf(label, sizeof(label), "%s [%s]", a->name,
			 shmkt_arena_id(a->id, idb, sizeof(idb)));
		if (a->has_a && a->a.heap_size)
			snprintf(sb, sizeof(sb), "heap %s/%s deaths %llu reclaims %llu",
				 human(a->a.heap_size - a->a.heap_free, hb[0],
				       sizeof(hb[0])),
				 human(a->a.heap_size, hb[1], sizeof(hb[1])),
				 (unsigned long long)a->a.deaths,
				 (unsigned long long)a->a.reclaims);
		else
			snprintf(sb, sizeof(sb), "deaths %llu reclaims %llu",
				 (unsigned long long)(a->has_a ? a->a.deaths : 0),
				 (unsigned long long)(a->has_a ? a->a.reclaims : 0));
		snprintf(b[1], 32, "%.0f", d[C_SENT] / secs);
		snprintf(b[2], 32, "%.0f", d[C_RECVD] / secs);
		snprintf(b[3], 32, "%.1f", d[C_SENT_BYTES] / secs / 1024);
		snprintf(b[4], 32, "%.1f", d[C_RECVD_BYTES] / secs / 1024);
		snprintf(b[5], 32, "%llu", (unsigned long long)a->depth_max);
		snprintf(b[6], 32, "%llu", (unsigned long long)d[C_FULL]);
		snprintf(b[7], 32, "%.0f", d[C_WAKES] / secs);
		snprintf(b[8], 32, "%.0f", d[C_SLEEPS] / secs);
		snprintf(b[9], 32, "%.1f", d[C_ALLOC_BYTES] / secs / 1024);
		snprintf(idb, sizeof(idb), "%llu",
			 (unsigned long long)d[C_ALLOC_WAITS]);
		printf(ARENAFMT, label, b[1], b[2], b[3], b[4], b[5],
		       b[6], b[7], b[8], b[9], idb, sb);
		used++;
		for (j = 0; j < a->nrows; j++) {
			const struct row *r = a->rows[j];
			char name[32], pid[16], comm[TM_COMM_LEN + 1], st[48];
			char aw[24];

			if (lines && used >= lines - 1) {
				printf("  ... %d more\n", a->nrows - j);
				used++;
				break;
			}
			d = r->delta;
			snprintf(name, sizeof(name), "  %u", r->k.member);
			if (r->now.pid > 0)
				snprintf(pid, sizeof(pid), "%d", r->now.pid);
			else
				snprintf(pid, sizeof(pid), "-");
			shmkt_clean_name(r->now.comm, comm, sizeof(comm));
			snprintf(b[1], 32, "%.0f", d[C_SENT] / secs);
			snprintf(b[2], 32, "%.0f", d[C_RECVD] / secs);
			snprintf(b[3], 32, "%.1f", d[C_SENT_BYTES] / secs / 1024);
			snprintf(b[4], 32, "%.1f",
				 d[C_RECVD_BYTES] / secs / 1024);
			snprintf(b[5], 32, "%llu", (unsigned long long)r->d.max);
			snprintf(b[6], 32, "%llu", (unsigned long long)d[C_FULL]);
			snprintf(b[7], 32, "%.0f", d[C_WAKES] / secs);
			snprintf(b[8], 32, "%.0f", d[C_SLEEPS] / secs);
			snprintf(b[9], 32, "%.1f",
				 d[C_ALLOC_BYTES] / secs / 1024);
			snprintf(aw, sizeof(aw), "%llu",
				 (unsigned long long)d[C_ALLOC_WAITS]);
			printf(ROWFMT, name, pid, comm, b[1], b[2], b[3], b[4],
			       b[5], b[6], b[7], b[8], b[9], aw,
			       state_name(&r->now, st, sizeof(st)));
			used++;
		}
	}
	fflush(stdout);
}

static void snapshot(void)
{
	uint64_t now = shmkt_now_ns();
	double secs = (double)(now - last_ns) / 1e9;
	struct row **store = NULL;
	char clock[16];
	struct agg *g;
	time_t t = time(NULL);
	struct tm tm;
	int n;

	if (secs <= 0)
		secs = 1e-9;
	localtime_r(&t, &tm);
	strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	collect();
	g = group(&n, &store);
	if (opt.json)
		print_json(g, n, secs, (double)(now - start_ns) / 1e9, clock);
	else
		print_text(g, n, secs, clock);
	fflush(stdout);
	free(g);
	free(store);
	advance();
	last_ns = now;
}

static bool parse_interval(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0.01 ||
	    v > 86400)
		return false;
	*out = v;
	return true;
}

static int parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		SHMKT_LONGOPTS,
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ "sort", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "noclear", no_argument, NULL, 'C' },
		{ "all", no_argument, NULL, 'A' },
		{ "member", required_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	size_t i;
	int c;

	while ((c = getopt_long(argc, argv, SHMKT_SHORTOPTS "i:c:s:jCAe:",
				longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (!parse_interval(optarg, &topt.interval)) {
				fprintf(stderr, TOOL ": bad interval: %s\n",
					optarg);
				return -1;
			}
			break;
		case 'c':
			if (!shmkt_parse_u32(optarg, 1, UINT32_MAX,
					     &topt.count)) {
				fprintf(stderr, TOOL ": bad count: %s\n",
					optarg);
				return -1;
			}
			break;
		case 's':
			for (i = 0; i < sizeof(sort_names) / sizeof(*sort_names);
			     i++)
				if (!strcmp(optarg, sort_names[i]))
					break;
			if (i == sizeof(sort_names) / sizeof(*sort_names)) {
				fprintf(stderr, TOOL ": bad sort key: %s (msgs, bytes, depth, full, wakes, sleeps, alloc, member, pid, name)\n",
					optarg);
				return -1;
			}
			topt.sort = (int)i;
			break;
		case 'j':
			opt.json = true;
			break;
		case 'C':
			topt.noclear = true;
			break;
		case 'A':
			topt.all = true;
			break;
		case 'e':
			if (!shmkt_parse_u32(optarg, 1, UINT32_MAX,
					     &topt.member)) {
				fprintf(stderr, TOOL ": bad member id: %s\n",
					optarg);
				return -1;
			}
			break;
		default:
			if (shmkt_parse_opt(TOOL, usage_text, c, optarg, &opt))
				return -1;
		}
	}
	if (optind < argc && !parse_interval(argv[optind++], &topt.interval)) {
		fprintf(stderr, TOOL ": bad interval: %s\n", argv[optind - 1]);
		return -1;
	}
	if (optind < argc &&
	    !shmkt_parse_u32(argv[optind++], 1, UINT32_MAX, &topt.count)) {
		fprintf(stderr, TOOL ": bad count: %s\n", argv[optind - 1]);
		return -1;
	}
	if (optind < argc) {
		fprintf(stderr, TOOL ": unexpected argument: %s\n",
			argv[optind]);
		return -1;
	}
	return 0;
}

/* The library programs, named after their probes (lib_<probe>). */
static int attach_lib(const char *path, struct bpf_link **links,
		      int *nlinks)
{
	struct bpf_program *prog;
	int n = 0, r;

	bpf_object__for_each_program(prog, skel->obj) {
		const char *pn = bpf_program__name(prog);

		if (strncmp(pn, "lib_", 4) ||
		    strcmp(bpf_program__section_name(prog), "usdt"))
			continue;
		r = shmkt_attach_usdt(TOOL, prog, path, pn + 4, links, nlinks);
		if (r < 0)
			return 1;
		n += r == 0;
	}
	if (!n)
		fprintf(stderr, TOOL ": %s: no shmk probe attached\n", path);
	return 0;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ULL),
			       .tv_nsec = (long)(ns % 1000000000ULL) };

	nanosleep(&ts, NULL);	/* a signal ends it early, SA_RESTART or not */
}

int main(int argc, char **argv)
{
	struct bpf_link *links[SHMKT_MAX_LINKS] = { NULL };
	char *paths[SHMKT_MAX_LIBS] = { NULL };
	uint64_t tick, next_tick, next_scan, now, until;
	int nlinks = 0, err = 0, i;
	uint32_t done = 0;

	if (parse_args(argc, argv))
		return SHMKT_EXIT_USAGE;
	/* The traffic is the library's; the kernel adds what it sees. */
	if (!opt.kernel && !opt.library)
		opt.kernel = shmkt_kernel_tracepoints();
	opt.library = true;
	opt.lib_ids = true;
	err = shmkt_start(TOOL, &opt, paths);
	if (err)
		goto out;

	skel = shmktop_bpf__open();
	if (!skel) {
		fprintf(stderr, TOOL ": cannot open the BPF object: %s\n",
			strerror(errno));
		err = 1;
		goto out;
	}
	skel->rodata->targ_arena = opt.arena;
	if (opt.name)
		snprintf((char *)skel->rodata->targ_name,
			 sizeof(skel->rodata->targ_name), "%s", opt.name);
	skel->rodata->targ_all = topt.all;
	shmkt_lib_layout((struct shmkt_lib_layout *)&skel->rodata->layout);
	shmkt_pidns((uint64_t *)&skel->rodata->pidns_dev,
		    (uint64_t *)&skel->rodata->pidns_ino);

	err = shmkt_load(TOOL, skel->skeleton, &opt, links, &nlinks);
	if (err)
		goto out;
	links[nlinks] = bpf_program__attach(skel->progs.lib_proc_exit);
	if (!links[nlinks]) {
		fprintf(stderr, TOOL ": cannot attach sched_process_exit: %s\n",
			strerror(errno));
		err = 1;
		goto out;
	}
	nlinks++;
	for (i = 0; i < opt.nlibs; i++) {
		err = attach_lib(paths[i], links, &nlinks);
		if (err)
			goto out;
	}

	start_ns = last_ns = shmkt_now_ns();
	tick = (uint64_t)(topt.interval * 1e9);
	next_tick = start_ns + tick;
	next_scan = start_ns + SHMKT_RESCAN_NS;
	shmkt_print_tracing("traffic", &opt, paths);

	while (!shmkt_exiting) {
		now = shmkt_now_ns();
		if (opt.found && now >= next_scan) {
			for (i = shmkt_rescan(&opt, paths); i < opt.nlibs; i++) {
				fprintf(stderr, TOOL ": also tracing %s\n",
					paths[i]);
				if (attach_lib(paths[i], links, &nlinks)) {
					err = 1;
					goto out;
				}
			}
			next_scan = shmkt_now_ns() + SHMKT_RESCAN_NS;
		}
		if (now >= next_tick) {
			snapshot();
			if (topt.count && ++done >= topt.count)
				goto out;
			next_tick += tick;
			if (next_tick <= now)
				next_tick = now + tick;
			continue;
		}
		until = opt.found && next_scan < next_tick ? next_scan :
			next_tick;
		now = shmkt_now_ns();
		if (now < until)
			sleep_ns(until - now);
	}
	snapshot();	/* interrupted: what was counted to the end */

out:
	for (i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	shmktop_bpf__destroy(skel);
	for (i = 0; i < opt.nlibs; i++)
		free(paths[i]);
	free(rows);
	return err;
}
