// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * shmkwaitlat: latency of shmk waits (futex-like WAIT on arena words), as
 * log2 histograms per arena, with a count of how the waits ended.
 * See tools/man/shmkwaitlat.8.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/shmk.h>

#include "shmk_tools.h"
#include "shmkwaitlat.h"
#include "shmkwaitlat.skel.h"

_Static_assert(SHMKT_ETIMEDOUT == ETIMEDOUT, "ETIMEDOUT");
_Static_assert(SHMKT_EAGAIN == EAGAIN, "EAGAIN");
_Static_assert(SHMKT_EINTR == EINTR, "EINTR");
_Static_assert(SHMK_WAIT_EVENT == 1, "SHMK_WAIT_EVENT");

static const char usage_text[] =
"Usage: shmkwaitlat [OPTIONS] [INTERVAL [COUNT]]\n"
"\n"
"Summarize how long shmk waits (SHMK_IOC_WAIT, or the portable backend's\n"
"futex waits) sleep, as a log2 histogram per arena, with how they ended:\n"
"woken, event (a membership event was pending), timedout, again (the word\n"
"had changed), intr, other. Printed every INTERVAL seconds (COUNT times),\n"
"or once at Ctrl-C.\n"
"\n"
"Sources:\n"
"  kernel   syscalls:sys_enter_ioctl and the module's shmk:shmk_wait\n"
"           tracepoint (kmod backend)\n"
"  library  libshmk's USDT probes shmk:wait and shmk:wait_done (both\n"
"           backends; every wait of the library, lock and allocator\n"
"           waits included)\n"
"Default: kernel if the module's tracepoints exist, else library.\n"
"\n"
"Options:\n"
"  -p, --pid PID        only waits of this process\n"
"  -a, --arena ID       only this arena id (kernel source only)\n"
"  -n, --name NAME      only the arena called NAME\n"
"  -M, --per-member     one histogram per member (pid and member id)\n"
"  -m, --milliseconds   buckets in milliseconds (default microseconds)\n"
"  -k, --kernel         trace the module's tracepoints\n"
"  -u, --library        trace libshmk\n"
"  -l, --lib PATH       shared library or program holding libshmk\n"
"                       (repeatable, implies -u); default libshmk.so.0\n"
"  -v, --verbose        libbpf debug messages\n"
"  -h, --help           this text\n"
"  -V, --version        print the version and exit\n"
"\n"
"A line \"Tracing ...\" on stdout says the probes are in place. The arena\n"
"of a library wait is known when its process attached while shmkwaitlat\n"
"was running; otherwise it is shown as pid and member id.\n"
"\n"
"EXAMPLES:\n"
"  shmkwaitlat                  # until Ctrl-C, then one histogram each\n"
"  shmkwaitlat 5                # every 5 seconds\n"
"  shmkwaitlat -m 1 10          # ms buckets, every second, 10 times\n"
"  shmkwaitlat -p 1234 -M       # process 1234, per member\n"
"  shmkwaitlat -a 3             # arena id 3 (kernel source)\n"
"  shmkwaitlat -u -l ./server   # libshmk linked statically into ./server\n";

static struct shmkt_opts opt;
/* Ours only. */
static struct wl_opts {
	uint32_t interval, count;
	bool per_member, millis;
} wopt;

static const char *const res_names[WL_NRES] = {
	"woken", "event", "timedout", "again", "intr", "other",
};

static void print_bars(const struct wl_hist *h)
{
	const char *unit = wopt.millis ? "msecs" : "usecs";
	int lo = -1, hi = -1, i, j, stars;
	uint64_t max = 0;

	for (i = 0; i < WL_SLOTS; i++) {
		if (!h->slots[i])
			continue;
		if (lo < 0)
			lo = i;
		hi = i;
		if (h->slots[i] > max)
			max = h->slots[i];
	}
	if (lo < 0)
		return;
	printf("%28s : count     distribution\n", unit);
	for (i = lo; i <= hi; i++) {
		uint64_t low = i ? 1ULL << i : 0, high = (1ULL << (i + 1)) - 1;

		stars = max ? (int)(h->slots[i] * 40 / max) : 0;
		printf("%14llu -> %-10llu : %-9llu |",
		       (unsigned long long)low, (unsigned long long)high,
		       (unsigned long long)h->slots[i]);
		for (j = 0; j < 40; j++)
			putchar(j < stars ? '*' : ' ');
		printf("|\n");
	}
}

static int print_hists(struct shmkwaitlat_bpf *skel, bool clear)
{
	int fd = bpf_map__fd(skel->maps.hists);
	struct wl_key key, next, *prev = NULL;
	struct wl_hist h;
	char nb[SHMKT_NAME_MAX], time_s[32];
	int i, n = 0;
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(time_s, sizeof(time_s), "%H:%M:%S", &tm);
	printf("\n%s\n", time_s);
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &h))
			continue;
		key.name[SHMKT_NAME_MAX - 1] = '\0';
		if (opt.name && strcmp(opt.name, key.name) != 0)
			continue;
		n++;
		printf("arena %s", key.name[0] ?
		       shmkt_clean_name(key.name, nb, sizeof(nb)) : "?");
		if (key.arena_id)
			printf(" id %u", key.arena_id);
		if (key.pid)
			printf(" pid %d member %u", key.pid, key.member_id);
		printf(" [%s]: waits %llu, avg %llu us, max %llu us;",
		       key.src == WL_SRC_KERNEL ? "kern" : "lib",
		       (unsigned long long)h.count,
		       (unsigned long long)(h.count ? h.total_ns / h.count / 1000 : 0),
		       (unsigned long long)(h.max_ns / 1000));
		for (i = 0; i < WL_NRES; i++)
			printf(" %s %llu", res_names[i],
			       (unsigned long long)h.results[i]);
		printf("\n");
		print_bars(&h);
	}
	if (!n)
		printf("no waits\n");
	if (clear) {
		prev = NULL;
		while (bpf_map_get_next_key(fd, NULL, &next) == 0)
			bpf_map_delete_elem(fd, &next);
	}
	fflush(stdout);
	return 0;
}

static int parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		SHMKT_LONGOPTS,
		{ "per-member", no_argument, NULL, 'M' },
		{ "milliseconds", no_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, SHMKT_SHORTOPTS "Mm", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'M':
			wopt.per_member = true;
			break;
		case 'm':
			wopt.millis = true;
			break;
		default:
			if (shmkt_parse_opt("shmkwaitlat", usage_text, c,
					    optarg, &opt))
				return -1;
		}
	}
	if (optind < argc &&
	    !shmkt_parse_u32(argv[optind++], 1, 86400, &wopt.interval)) {
		fprintf(stderr, "shmkwaitlat: bad interval: %s\n",
			argv[optind - 1]);
		return -1;
	}
	if (optind < argc &&
	    !shmkt_parse_u32(argv[optind++], 1, UINT32_MAX, &wopt.count)) {
		fprintf(stderr, "shmkwaitlat: bad count: %s\n",
			argv[optind - 1]);
		return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "shmkwaitlat: unexpected argument: %s\n",
			argv[optind]);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_link *links[SHMKT_MAX_LINKS] = { NULL };
	char *paths[SHMKT_MAX_LIBS] = { NULL };
	struct shmkwaitlat_bpf *skel = NULL;
	int nlinks = 0, err = 0, i;
	uint32_t done = 0;

	if (parse_args(argc, argv))
		return SHMKT_EXIT_USAGE;
	opt.need_syms = true;	/* uprobes on shmk_arena_create/attach */
	err = shmkt_start("shmkwaitlat", &opt, paths);
	if (err)
		goto out;

	skel = shmkwaitlat_bpf__open();
	if (!skel) {
		fprintf(stderr, "shmkwaitlat: cannot open the BPF object: %s\n",
			strerror(errno));
		err = 1;
		goto out;
	}
	skel->rodata->targ_tgid = opt.pid;
	skel->rodata->targ_arena = opt.arena;
	skel->rodata->per_member = wopt.per_member;
	skel->rodata->millis = wopt.millis;
	shmkt_lib_layout((struct shmkt_lib_layout *)&skel->rodata->layout);
	shmkt_pidns((uint64_t *)&skel->rodata->pidns_dev,
		    (uint64_t *)&skel->rodata->pidns_ino);

	err = shmkt_load("shmkwaitlat", skel->skeleton, &opt, links, &nlinks);
	if (err)
		goto out;
	for (i = 0; opt.library && i < opt.nlibs; i++) {
		if (shmkt_attach_open_probes("shmkwaitlat", skel->obj, paths[i],
					     links, &nlinks)) {
			err = 1;
			goto out;
		}
		links[nlinks] = bpf_program__attach_usdt(skel->progs.lib_wait,
							 -1, paths[i], "shmk",
							 "wait", NULL);
		if (links[nlinks])
			links[++nlinks] = bpf_program__attach_usdt(
				skel->progs.lib_wait_done, -1, paths[i],
				"shmk", "wait_done", NULL);
		if (!links[nlinks]) {
			err = -errno;
			fprintf(stderr, "shmkwaitlat: %s: USDT shmk:wait/wait_done: %s (built with SHMK_NO_SDT?)\n",
				paths[i], strerror(-err));
			err = 1;
			goto out;
		}
		nlinks++;
	}

	shmkt_print_tracing("waits", &opt, paths);

	while (!shmkt_exiting) {
		struct timespec ts = { .tv_sec = wopt.interval ? wopt.interval :
				       3600 };

		/* A signal ends the sleep early (never restarted). */
		nanosleep(&ts, NULL);
		if (shmkt_exiting)
			break;
		if (wopt.interval) {
			print_hists(skel, true);
			if (wopt.count && ++done >= wopt.count)
				goto out;
		}
	}
	print_hists(skel, false);

out:
	for (i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	shmkwaitlat_bpf__destroy(skel);
	for (i = 0; i < opt.nlibs; i++)
		free(paths[i]);
	return err;
}
