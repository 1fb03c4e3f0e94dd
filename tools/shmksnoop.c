// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * shmksnoop: one line per shmk message as it is received: who sent it to
 * whom, tag, length, how deep the receiver's queue was when it was sent,
 * and how long it took; a publish is one line with its fan-out.
 * See tools/man/shmksnoop.8.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "shmk_tools.h"
#include "shmksnoop.h"
#include "shmksnoop.skel.h"

#define TOOL	"shmksnoop"

static const char usage_text[] =
"Usage: shmksnoop [OPTIONS]\n"
"\n"
"Trace shmk messages: one line per message as its receiver takes it off\n"
"its queue, with the sender (member id, pid, command) and the receiver,\n"
"tag, length, the depth of the receiver's queue when it was sent and the\n"
"latency from send to receive. A publish is one line with its fan-out\n"
"(its copies are not shown one by one). Session data messages and every\n"
"descriptor of a plain queue are shown; -A adds the sessions' control\n"
"messages and the published copies.\n"
"\n"
"Source: libshmk's USDT probes shmk:send, shmk:recv and shmk:publish, on\n"
"either backend (messages never go through the kernel). Without -l:\n"
"libshmk.so.0 and every running program using libshmk.\n"
"\n"
"Options:\n"
"  -p, --pid PID          only messages sent or received by this process\n"
"  -a, --arena ID         only this arena id (as shmksnoop --json and\n"
"                         shmktop show it; the module's id on kmod)\n"
"  -n, --name NAME        only the arena called NAME\n"
"  -e, --member ID        only messages from or to this member id\n"
"  -t, --tag TAG          only this tag (decimal or 0x hex)\n"
"  -L, --min-latency US   only messages that took at least US\n"
"                         microseconds from send to receive\n"
"  -c, --count N          exit after N lines\n"
"  -j, --json             one JSON object per line (the \"Tracing\" line\n"
"                         goes to stderr)\n"
"  -A, --all              control messages and published copies too\n"
"  -u, --library          trace libshmk (the only source; the default)\n"
"  -l, --lib PATH         a shared library or program holding libshmk\n"
"                         (repeatable); default libshmk.so.0 and the\n"
"                         running programs that use libshmk\n"
"  -v, --verbose          libbpf debug messages\n"
"  -V, --version          print the version and exit\n"
"  -h, --help             this text\n"
"\n"
"Output: TIME(s) since start, ARENA, KIND (data, queue for a plain\n"
"queue, publish, or a session control message with -A), FROM and TO as\n"
"MEMBER/PID/COMM (\"-\" where not known: a message sent before shmksnoop\n"
"started), TAG, LEN bytes, DEPTH (descriptors ahead of it in the queue\n"
"when it was sent), LAT(us) send to receive. PIDs are those of\n"
"shmksnoop's pid namespace. A line \"Tracing ...\" says the probes are in\n"
"place.\n"
"\n"
"EXAMPLES:\n"
"  shmksnoop                    # every message of every libshmk program\n"
"  shmksnoop -n pingpong        # arena \"pingpong\" only\n"
"  shmksnoop -p 1234            # messages of process 1234, either way\n"
"  shmksnoop -e 2 -t 0x10       # member 2, tag 0x10\n"
"  shmksnoop -L 100             # messages that took 100 us or more\n"
"  shmksnoop -c 10 -j           # ten messages as JSON, then exit\n"
"  shmksnoop -l ./server        # libshmk linked statically into ./server\n";

static struct shmkt_opts opt;
/* Ours only. */
static struct {
	uint32_t member;
	uint64_t tag;
	bool tag_set;
	uint64_t min_ns;
	uint64_t count;
	bool all;
} sopt;

static uint64_t start_ns, printed;
static int anames_fd = -1;

/* "MEMBER/PID/COMM", with "-" for what is not known. */
static const char *endpoint(uint32_t member, int32_t pid, const char *comm,
			    char *buf, size_t len)
{
	char c[SN_COMM_LEN + 1], p[16];

	if (pid > 0)
		snprintf(p, sizeof(p), "%d", pid);
	else
		snprintf(p, sizeof(p), "-");
	if (comm && comm[0])
		shmkt_clean_name(comm, c, sizeof(c));
	else
		snprintf(c, sizeof(c), "-");
	snprintf(buf, len, "%u/%s/%s", member, p, c);
	return buf;
}

static void print_header(void)
{
	if (opt.json)
		return;
	printf("%-10s %-16s %-9s %-24s %-24s %-18s %7s %5s %9s\n", "TIME(s)",
	       "ARENA", "KIND", "FROM", "TO", "TAG", "LEN", "DEPTH",
	       "LAT(us)");
}

static void json_pid(const char *key, int32_t pid)
{
	if (pid > 0)
		printf(",\"%s\":%d", key, pid);
	else
		printf(",\"%s\":null", key);
}

static void json_comm(const char *key, const char *comm, bool known)
{
	char c[SN_COMM_LEN + 1];

	printf(",\"%s\":", key);
	if (known) {
		memcpy(c, comm, SN_COMM_LEN);
		c[SN_COMM_LEN] = '\0';
		shmkt_json_str(stdout, c);
	} else {
		shmkt_json_str(stdout, NULL);
	}
}

static void print_json(const struct sn_event *e, const char *name,
		       double t)
{
	bool sent = e->info & SNI_SENT;

	printf("{\"type\":\"%s\",\"time_s\":%.6f,\"ts_ns\":%llu,\"arena\":",
	       e->type == SN_PUB ? "publish" : "msg", t,
	       (unsigned long long)e->ts);
	shmkt_json_str(stdout, name);
	printf(",\"arena_id\":%llu", (unsigned long long)e->arena);
	if (e->type == SN_MSG)
		printf(",\"kind\":\"%s\",\"published\":%s",
		       shmkt_kind_name(e->flags),
		       (e->flags & SHMKT_QF_SESSION) &&
		       (e->flags & SHMKT_QF_PUB) ? "true" : "false");
	printf(",\"from_member\":%u", e->from);
	json_pid("from_pid", sent ? e->from_pid : 0);
	json_comm("from_comm", e->from_comm, sent);
	if (e->type == SN_MSG) {
		printf(",\"to_member\":%u", e->to);
		json_pid("to_pid", e->to_pid);
		json_comm("to_comm", e->to_comm, true);
	} else {
		printf(",\"topic\":%u,\"fanout\":%u,\"skipped\":%u", e->topic,
		       e->fanout, e->skipped);
	}
	printf(",\"tag\":%llu,\"len\":%u", (unsigned long long)e->tag, e->len);
	if (e->type == SN_MSG) {
		if (sent)
			printf(",\"depth\":%llu,\"latency_ns\":%llu",
			       (unsigned long long)e->depth,
			       (unsigned long long)e->latency_ns);
		else
			printf(",\"depth\":null,\"latency_ns\":null");
		printf(",\"queue\":%llu,\"seq\":%llu,\"flags\":%llu",
		       (unsigned long long)e->queue,
		       (unsigned long long)e->seq,
		       (unsigned long long)e->flags);
	}
	printf("}\n");
}

static void print_text(const struct sn_event *e, const char *name, double t)
{
	char from[64], to[64], tag[24], depth[24], lat[24], kind[16];
	bool sent = e->info & SNI_SENT;

	endpoint(e->from, sent ? e->from_pid : 0, sent ? e->from_comm : NULL,
		 from, sizeof(from));
	snprintf(tag, sizeof(tag), "0x%llx", (unsigned long long)e->tag);
	if (e->type == SN_PUB) {
		snprintf(to, sizeof(to), "topic %u x%u", e->topic, e->fanout);
		if (e->skipped)
			snprintf(to + strlen(to), sizeof(to) - strlen(to),
				 " (%u skipped)", e->skipped);
		snprintf(kind, sizeof(kind), "publish");
		snprintf(depth, sizeof(depth), "-");
		snprintf(lat, sizeof(lat), "-");
	} else {
		endpoint(e->to, e->to_pid, e->to_comm, to, sizeof(to));
		snprintf(kind, sizeof(kind), "%s%s", shmkt_kind_name(e->flags),
			 (e->flags & SHMKT_QF_SESSION) &&
			 (e->flags & SHMKT_QF_PUB) ? "+pub" : "");
		if (sent) {
			snprintf(depth, sizeof(depth), "%llu",
				 (unsigned long long)e->depth);
			snprintf(lat, sizeof(lat), "%.2f",
				 (double)e->latency_ns / 1000.0);
		} else {
			snprintf(depth, sizeof(depth), "-");
			snprintf(lat, sizeof(lat), "-");
		}
	}
	printf("%-10.6f %-16s %-9s %-24s %-24s %-18s %7u %5s %9s\n", t, name,
	       kind, from, to, tag, e->len, depth, lat);
}

static int handle_event(void *ctx, void *data, size_t len)
{
	const struct sn_event *e = data;
	char name[SHMKT_NAME_MAX];
	double t;

	(void)ctx;
	/* Before the "Tracing" line not every probe was in place yet. */
	if (len < sizeof(*e) || (sopt.count && printed >= sopt.count) ||
	    e->ts < start_ns)
		return 0;
	shmkt_arena_name(anames_fd, e->arena, name, sizeof(name));
	t = e->ts > start_ns ? (double)(e->ts - start_ns) / 1e9 : 0.0;
	if (opt.json)
		print_json(e, name, t);
	else
		print_text(e, name, t);
	printed++;
	return 0;
}

static int parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		SHMKT_LONGOPTS,
		{ "member", required_argument, NULL, 'e' },
		{ "tag", required_argument, NULL, 't' },
		{ "min-latency", required_argument, NULL, 'L' },
		{ "count", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "all", no_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t v;
	int c;

	while ((c = getopt_long(argc, argv, SHMKT_SHORTOPTS "e:t:L:c:jA",
				longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (!shmkt_parse_u32(optarg, 1, UINT32_MAX,
					     &sopt.member)) {
				fprintf(stderr, TOOL ": bad member id: %s\n",
					optarg);
				return -1;
			}
			break;
		case 't':
			/* 0 is a tag like any other */
			if (!strcmp(optarg, "0") || !strcmp(optarg, "0x0")) {
				sopt.tag = 0;
			} else if (!shmkt_parse_u64(optarg, &sopt.tag)) {
				fprintf(stderr, TOOL ": bad tag: %s\n", optarg);
				return -1;
			}
			sopt.tag_set = true;
			break;
		case 'L':
			if (!shmkt_parse_u32(optarg, 1, UINT32_MAX, &v)) {
				fprintf(stderr, TOOL ": bad latency: %s\n",
					optarg);
				return -1;
			}
			sopt.min_ns = (uint64_t)v * 1000;
			break;
		case 'c':
			if (!shmkt_parse_u32(optarg, 1, UINT32_MAX, &v)) {
				fprintf(stderr, TOOL ": bad count: %s\n",
					optarg);
				return -1;
			}
			sopt.count = v;
			break;
		case 'j':
			opt.json = true;
			break;
		case 'A':
			sopt.all = true;
			break;
		case 'k':
			fprintf(stderr, TOOL ": messages do not go through the kernel, on kmod either: there is no kernel source (-k)\n");
			return -1;
		default:
			if (shmkt_parse_opt(TOOL, usage_text, c, optarg, &opt))
				return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, TOOL ": unexpected argument: %s\n",
			argv[optind]);
		return -1;
	}
	return 0;
}

/* Records the ring buffer had no room for, all CPUs. */
static uint64_t lost_records(struct shmksnoop_bpf *skel)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	uint64_t *v, sum = 0;
	uint32_t zero = 0;

	if (ncpu <= 0)
		return 0;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return 0;
	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.lost), &zero, v) == 0)
		for (i = 0; i < ncpu; i++)
			sum += v[i];
	free(v);
	return sum;
}

/* The three probes in the file @path. 0, or 1 after saying what failed. */
static int attach_lib(struct shmksnoop_bpf *skel, const char *path,
		      struct bpf_link **links, int *nlinks)
{
	static const char *const probes[] = { "send", "recv", "publish" };
	struct bpf_program *progs[] = {
		skel->progs.lib_send, skel->progs.lib_recv,
		skel->progs.lib_publish,
	};
	int j;

	/* A program without queues has none of them: nothing to see there. */
	for (j = 0; j < 3; j++)
		if (shmkt_attach_usdt(TOOL, progs[j], path, probes[j], links,
				      nlinks) < 0)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_link *links[SHMKT_MAX_LINKS] = { NULL };
	char *paths[SHMKT_MAX_LIBS] = { NULL };
	struct shmksnoop_bpf *skel = NULL;
	struct ring_buffer *rb = NULL;
	int nlinks = 0, err = 0, i;
	uint64_t nlost, next_scan;

	if (parse_args(argc, argv))
		return SHMKT_EXIT_USAGE;
	opt.library = true;
	opt.lib_ids = true;
	err = shmkt_start(TOOL, &opt, paths);
	if (err)
		goto out;

	skel = shmksnoop_bpf__open();
	if (!skel) {
		fprintf(stderr, TOOL ": cannot open the BPF object: %s\n",
			strerror(errno));
		err = 1;
		goto out;
	}
	skel->rodata->targ_tgid = opt.pid;
	skel->rodata->targ_arena = opt.arena;
	if (opt.name)
		snprintf((char *)skel->rodata->targ_name,
			 sizeof(skel->rodata->targ_name), "%s", opt.name);
	skel->rodata->targ_member = sopt.member;
	skel->rodata->targ_tag = sopt.tag;
	skel->rodata->targ_tag_set = sopt.tag_set;
	skel->rodata->targ_min_ns = sopt.min_ns;
	skel->rodata->targ_all = sopt.all;
	shmkt_lib_layout((struct shmkt_lib_layout *)&skel->rodata->layout);
	shmkt_pidns((uint64_t *)&skel->rodata->pidns_dev,
		    (uint64_t *)&skel->rodata->pidns_ino);

	err = shmkt_load(TOOL, skel->skeleton, &opt, links, &nlinks);
	if (err)
		goto out;
	for (i = 0; i < opt.nlibs; i++) {
		err = attach_lib(skel, paths[i], links, &nlinks);
		if (err)
			goto out;
	}
	anames_fd = bpf_map__fd(skel->maps.anames);
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), handle_event,
			      NULL, NULL);
	if (!rb) {
		err = -errno;
		fprintf(stderr, TOOL ": ring buffer: %s\n", strerror(-err));
		err = 1;
		goto out;
	}

	start_ns = shmkt_now_ns();
	next_scan = start_ns + SHMKT_RESCAN_NS;
	shmkt_print_tracing("messages", &opt, paths);
	print_header();

	while (!shmkt_exiting && (!sopt.count || printed < sopt.count)) {
		if (opt.found && shmkt_now_ns() >= next_scan) {
			for (i = shmkt_rescan(&opt, paths); i < opt.nlibs; i++) {
				fprintf(stderr, TOOL ": also tracing %s\n",
					paths[i]);
				if (attach_lib(skel, paths[i], links, &nlinks)) {
					err = 1;
					goto out;
				}
			}
			next_scan = shmkt_now_ns() + SHMKT_RESCAN_NS;
		}
		/* The kernel side wakes us once 64 KiB wait: take the rest. */
		err = ring_buffer__poll(rb, 100);
		if (err >= 0 && !shmkt_exiting)
			err = ring_buffer__consume(rb);
		if (err == -EINTR) {
			err = 0;
			continue;
		}
		if (err < 0) {
			fprintf(stderr, TOOL ": polling the ring buffer: %s\n",
				strerror(-err));
			err = 1;
			goto out;
		}
		err = 0;
	}
	/* What was already produced still gets printed. */
	ring_buffer__consume(rb);
	nlost = lost_records(skel);
	if (nlost)
		fprintf(stderr, TOOL ": %llu messages not shown: the ring buffer was full (use filters)\n",
			(unsigned long long)nlost);

out:
	ring_buffer__free(rb);
	for (i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	shmksnoop_bpf__destroy(skel);
	for (i = 0; i < opt.nlibs; i++)
		free(paths[i]);
	return err;
}
