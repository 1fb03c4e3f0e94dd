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

static struct opts {
	uint32_t pid, arena, interval, count;
	const char *name;
	bool kernel, library, verbose, per_member, millis;
	const char *libs[SHMKT_MAX_LIBS];
	int nlibs;
} opt;

static const char *const res_names[WL_NRES] = {
	"woken", "event", "timedout", "again", "intr", "other",
};

static void print_bars(const struct wl_hist *h)
{
	const char *unit = opt.millis ? "msecs" : "usecs";
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
		{ "pid", required_argument, NULL, 'p' },
		{ "arena", required_argument, NULL, 'a' },
		{ "name", required_argument, NULL, 'n' },
		{ "per-member", no_argument, NULL, 'M' },
		{ "milliseconds", no_argument, NULL, 'm' },
		{ "kernel", no_argument, NULL, 'k' },
		{ "library", no_argument, NULL, 'u' },
		{ "lib", required_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "p:a:n:Mmkul:vh", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!shmkt_parse_u32(optarg, 1, INT32_MAX, &opt.pid)) {
				fprintf(stderr, "shmkwaitlat: bad pid: %s\n",
					optarg);
				return -1;
			}
			break;
		case 'a':
			if (!shmkt_parse_u32(optarg, 1, UINT32_MAX,
					     &opt.arena)) {
				fprintf(stderr, "shmkwaitlat: bad arena id: %s\n",
					optarg);
				return -1;
			}
			break;
		case 'n':
			if (!*optarg || strlen(optarg) >= SHMK_NAME_MAX) {
				fprintf(stderr, "shmkwaitlat: bad arena name\n");
				return -1;
			}
			opt.name = optarg;
			break;
		case 'M':
			opt.per_member = true;
			break;
		case 'm':
			opt.millis = true;
			break;
		case 'k':
			opt.kernel = true;
			break;
		case 'u':
			opt.library = true;
			break;
		case 'l':
			if (opt.nlibs == SHMKT_MAX_LIBS) {
				fprintf(stderr, "shmkwaitlat: at most %d -l\n",
					SHMKT_MAX_LIBS);
				return -1;
			}
			opt.libs[opt.nlibs++] = optarg;
			opt.library = true;
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			fprintf(stderr, "Try 'shmkwaitlat --help'.\n");
			return -1;
		}
	}
	if (optind < argc &&
	    !shmkt_parse_u32(argv[optind++], 1, 86400, &opt.interval)) {
		fprintf(stderr, "shmkwaitlat: bad interval: %s\n",
			argv[optind - 1]);
		return -1;
	}
	if (optind < argc &&
	    !shmkt_parse_u32(argv[optind++], 1, UINT32_MAX, &opt.count)) {
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

#define MAX_LINKS	(8 + SHMKT_MAX_LIBS * 8)

int main(int argc, char **argv)
{
	struct bpf_link *links[MAX_LINKS] = { NULL };
	char *paths[SHMKT_MAX_LIBS] = { NULL };
	struct shmkwaitlat_bpf *skel = NULL;
	int nlinks = 0, err = 0, i;
	uint32_t done = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* First: a Ctrl-C while the probes load must not be lost. */
	shmkt_signals();
	if (parse_args(argc, argv))
		return SHMKT_EXIT_USAGE;
	if (!opt.kernel && !opt.library) {
		if (shmkt_kernel_tracepoints())
			opt.kernel = true;
		else
			opt.library = true;
	}
	if (opt.arena && !opt.kernel) {
		fprintf(stderr, "shmkwaitlat: -a needs the kernel source (-k): the library does not know arena ids; use -n NAME\n");
		return SHMKT_EXIT_USAGE;
	}
	if (opt.kernel && !shmkt_kernel_tracepoints()) {
		fprintf(stderr, "shmkwaitlat: no shmk tracepoints (is the module loaded and tracefs mounted?): %s\n",
			strerror(ENOENT));
		return 1;
	}
	if (opt.library && !opt.nlibs) {
		const char *def = shmkt_default_lib();

		if (!def) {
			fprintf(stderr, "shmkwaitlat: libshmk.so.0 not found: name the library or program with -l PATH\n");
			return 1;
		}
		opt.libs[opt.nlibs++] = def;
	}
	for (i = 0; i < opt.nlibs; i++) {
		paths[i] = shmkt_abspath(opt.libs[i]);
		if (!paths[i]) {
			fprintf(stderr, "shmkwaitlat: %s: %s\n", opt.libs[i],
				strerror(errno));
			err = 1;
			goto out;
		}
		if (!shmkt_has_symbol(paths[i], "shmk_arena_attach")) {
			fprintf(stderr, "shmkwaitlat: %s: no libshmk in it (no symbol shmk_arena_attach)\n",
				paths[i]);
			err = 1;
			goto out;
		}
	}

	shmkt_libbpf_logs(opt.verbose);

	skel = shmkwaitlat_bpf__open();
	if (!skel) {
		fprintf(stderr, "shmkwaitlat: cannot open the BPF object: %s\n",
			strerror(errno));
		err = 1;
		goto out;
	}
	skel->rodata->targ_tgid = opt.pid;
	skel->rodata->targ_arena = opt.arena;
	skel->rodata->per_member = opt.per_member;
	skel->rodata->millis = opt.millis;
	shmkt_lib_layout((struct shmkt_lib_layout *)&skel->rodata->layout);

	bpf_program__set_autoload(skel->progs.tp_attach, opt.kernel);
	bpf_program__set_autoload(skel->progs.tp_ioctl_enter, opt.kernel);
	bpf_program__set_autoload(skel->progs.tp_wait, opt.kernel);
	bpf_program__set_autoload(skel->progs.tp_ioctl_exit, opt.kernel);
	bpf_program__set_autoload(skel->progs.lib_create_entry, opt.library);
	bpf_program__set_autoload(skel->progs.lib_attach_entry, opt.library);
	bpf_program__set_autoload(skel->progs.lib_open_ret, opt.library);
	bpf_program__set_autoload(skel->progs.lib_wait, opt.library);
	bpf_program__set_autoload(skel->progs.lib_wait_done, opt.library);

	err = shmkwaitlat_bpf__load(skel);
	if (err) {
		fprintf(stderr, "shmkwaitlat: cannot load the BPF programs: %s (run as root; -v for details)\n",
			strerror(-err));
		err = 1;
		goto out;
	}
	if (opt.kernel) {
		struct bpf_program *tps[] = { skel->progs.tp_attach,
					      skel->progs.tp_ioctl_enter,
					      skel->progs.tp_wait,
					      skel->progs.tp_ioctl_exit };

		for (i = 0; i < 4; i++) {
			links[nlinks] = bpf_program__attach(tps[i]);
			if (!links[nlinks]) {
				err = -errno;
				fprintf(stderr, "shmkwaitlat: cannot attach %s: %s\n",
					bpf_program__name(tps[i]),
					strerror(-err));
				err = 1;
				goto out;
			}
			nlinks++;
		}
	}
	for (i = 0; opt.library && i < opt.nlibs; i++) {
		static const char *const fn[] = { "shmk_arena_create",
						  "shmk_arena_attach" };
		struct bpf_program *entry[] = { skel->progs.lib_create_entry,
						skel->progs.lib_attach_entry };
		int f;

		for (f = 0; f < 2; f++) {
			LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = fn[f]);
			LIBBPF_OPTS(bpf_uprobe_opts, ur, .func_name = fn[f],
				    .retprobe = true);

			links[nlinks] = bpf_program__attach_uprobe_opts(
				entry[f], -1, paths[i], 0, &uo);
			if (links[nlinks])
				links[++nlinks] = bpf_program__attach_uprobe_opts(
					skel->progs.lib_open_ret, -1, paths[i],
					0, &ur);
			if (!links[nlinks]) {
				err = -errno;
				fprintf(stderr, "shmkwaitlat: %s: uprobe on %s: %s\n",
					paths[i], fn[f], strerror(-err));
				err = 1;
				goto out;
			}
			nlinks++;
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

	printf("Tracing shmk waits from %s%s%s",
	       opt.kernel ? "kernel tracepoints" : "",
	       opt.kernel && opt.library ? " and " : "",
	       opt.library ? "libshmk (" : "");
	for (i = 0; opt.library && i < opt.nlibs; i++)
		printf("%s%s", i ? ", " : "", paths[i]);
	printf("%s... Hit Ctrl-C to end.\n", opt.library ? ")" : "");

	while (!shmkt_exiting) {
		struct timespec ts = { .tv_sec = opt.interval ? opt.interval :
				       3600 };

		/* A signal ends the sleep early (no SA_RESTART). */
		nanosleep(&ts, NULL);
		if (shmkt_exiting)
			break;
		if (opt.interval) {
			print_hists(skel, true);
			if (opt.count && ++done >= opt.count)
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
