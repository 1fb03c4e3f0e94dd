// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * shmkexits: membership and crash timeline of shmk arenas.
 *
 * One line per attach, end (detach, exit, signal, close), robust-lock
 * recovery (kernel) and cleanup of a dead member's memory (library).
 * See tools/man/shmkexits.8.
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

#include <bpf/libbpf.h>
#include <linux/shmk.h>

#include "shmk_tools.h"
#include "shmkexits.h"
#include "shmkexits.skel.h"

static const char usage_text[] =
"Usage: shmkexits [OPTIONS]\n"
"\n"
"Trace shmk arena membership: attaches, detaches and deaths (with how\n"
"and status), robust locks recovered, dead members cleaned up.\n"
"\n"
"Sources:\n"
"  kernel   the shmk module's tracepoints (kmod backend)\n"
"  library  uprobes and USDT probes in libshmk (both backends; the only\n"
"           source for the portable backend)\n"
"Default: kernel if the module's tracepoints exist, else library.\n"
"\n"
"Options:\n"
"  -p, --pid PID        only this process's memberships\n"
"  -a, --arena ID       only this arena id (kernel source only)\n"
"  -n, --name NAME      only the arena called NAME\n"
"  -k, --kernel         trace the module's tracepoints\n"
"  -u, --library        trace libshmk (default path: see -l)\n"
"  -l, --lib PATH       a shared library or program holding libshmk\n"
"                       (repeatable, implies -u); default libshmk.so.0\n"
"                       from ../lib next to this program, /usr/local/lib\n"
"                       or /usr/lib; statically linked programs must be\n"
"                       named here\n"
"  -v, --verbose        libbpf debug messages\n"
"  -h, --help           this text\n"
"  -V, --version        print the version and exit\n"
"\n"
"Output: TIME(s) since start, SRC (kern/lib), ARENA name, AID (arena id,\n"
"kernel only), MEMBER id, GEN generation, PID, EVENT (attach, end,\n"
"robust, cleanup), HOW (detach, exit, signal, close), STATUS (exit code\n"
"or signal number), NOTE. A line \"Tracing ...\" on stdout says the probes\n"
"are in place.\n"
"\n"
"EXAMPLES:\n"
"  shmkexits                    # everything, kernel tracepoints if the\n"
"                               # module is loaded, else libshmk.so.0\n"
"  shmkexits -p 1234            # memberships of process 1234 only\n"
"  shmkexits -a 3               # arena id 3 (kernel source)\n"
"  shmkexits -n orders          # arena \"orders\", from either source\n"
"  shmkexits -u -l ./server     # portable backend, libshmk linked\n"
"                               # statically into ./server\n"
"  shmkexits -k -u              # both sources at once\n";

static struct shmkt_opts opt;

static uint64_t start_ns;

/* ---- library memberships seen attaching (the library source) -------- */

struct lmember {
	int32_t pid;
	uint64_t handle;
	uint32_t id, gen;
	char name[SHMK_NAME_MAX];
};

static struct lmember *lm;
static size_t lm_len, lm_cap;

/* Ends already printed (each survivor reports every end once). */
struct seen {
	uint32_t id, gen;
	int32_t pid;
	char name[SHMK_NAME_MAX];
};

#define SEEN_MAX	1024
static struct seen seen[SEEN_MAX];
static size_t seen_next, seen_len;

static void lm_add(const struct exit_event *e)
{
	struct lmember *n;
	size_t i;

	for (i = 0; i < lm_len; i++) {
		if (lm[i].pid == e->pid && lm[i].handle == e->handle)
			break;
	}
	if (i == lm_len) {
		if (lm_len == lm_cap) {
			size_t cap = lm_cap ? 2 * lm_cap : 64;

			n = realloc(lm, cap * sizeof(*lm));
			if (!n)
				return;
			lm = n;
			lm_cap = cap;
		}
		lm_len++;
	}
	lm[i].pid = e->pid;
	lm[i].handle = e->handle;
	lm[i].id = e->member_id;
	lm[i].gen = e->generation;
	memcpy(lm[i].name, e->name, sizeof(lm[i].name));
	lm[i].name[SHMK_NAME_MAX - 1] = '\0';
}

static void lm_del(size_t i)
{
	lm[i] = lm[--lm_len];
}

static struct lmember *lm_find_id(int32_t pid, uint32_t id)
{
	size_t i;

	for (i = 0; i < lm_len; i++) {
		if (lm[i].pid == pid && lm[i].id == id)
			return &lm[i];
	}
	return NULL;
}

static struct seen *seen_find(const char *name, uint32_t id, uint32_t gen)
{
	size_t i;

	for (i = 0; i < seen_len; i++) {
		if (seen[i].id == id && seen[i].gen == gen &&
		    strncmp(seen[i].name, name, SHMK_NAME_MAX) == 0)
			return &seen[i];
	}
	return NULL;
}

static void seen_add(const char *name, uint32_t id, uint32_t gen,
		     int32_t pid)
{
	struct seen *s = &seen[seen_next];

	s->id = id;
	s->gen = gen;
	s->pid = pid;
	snprintf(s->name, sizeof(s->name), "%s", name);
	seen_next = (seen_next + 1) % SEEN_MAX;
	if (seen_len < SEEN_MAX)
		seen_len++;
}

/* ---- output ---------------------------------------------------------- */

static void print_header(void)
{
	printf("%-10s %-4s %-16s %4s %6s %5s %7s %-7s %-6s %6s %s\n",
	       "TIME(s)", "SRC", "ARENA", "AID", "MEMBER", "GEN", "PID",
	       "EVENT", "HOW", "STATUS", "NOTE");
}

static void print_line(uint64_t ts, bool kern, const char *name,
		       uint32_t arena_id, uint32_t member, uint32_t gen,
		       int32_t pid, const char *event, const char *how,
		       const char *status, const char *note)
{
	char nbuf[SHMK_NAME_MAX], aid[16], pidb[16];

	if (opt.name && strcmp(opt.name, name) != 0)
		return;
	if (arena_id)
		snprintf(aid, sizeof(aid), "%u", arena_id);
	else
		snprintf(aid, sizeof(aid), "-");
	if (pid > 0)
		snprintf(pidb, sizeof(pidb), "%d", pid);
	else
		snprintf(pidb, sizeof(pidb), "-");
	printf("%-10.6f %-4s %-16s %4s %6u %5u %7s %-7s %-6s %6s %s\n",
	       ts > start_ns ? (double)(ts - start_ns) / 1e9 : 0.0,
	       kern ? "kern" : "lib", shmkt_clean_name(name, nbuf, sizeof(nbuf)),
	       aid, member, gen, pidb, event, how, status,
	       note && *note ? note : "-");
}

/* An end: how/status into text, crash marker, signal name. */
static void print_end(uint64_t ts, bool kern, const char *name,
		      uint32_t arena_id, uint32_t member, uint32_t gen,
		      int32_t pid, uint32_t how, int32_t status,
		      const char *extra)
{
	char st[16], note[160], sig[32];

	snprintf(st, sizeof(st), "%d", status);
	if (how == SHMK_END_DETACH) {
		snprintf(note, sizeof(note), "clean%s%s", extra ? " " : "",
			 extra ? extra : "");
	} else if (how == SHMK_END_SIGNAL) {
		snprintf(note, sizeof(note), "crash %s%s%s",
			 shmkt_signame(status, sig, sizeof(sig)),
			 extra ? " " : "", extra ? extra : "");
	} else {
		snprintf(note, sizeof(note), "crash%s%s", extra ? " " : "",
			 extra ? extra : "");
	}
	print_line(ts, kern, name, arena_id, member, gen, pid, "end",
		   shmkt_how_name(how, "?"), st, note);
}

static void handle_proc_exit(const struct exit_event *e)
{
	uint32_t how;
	int32_t status;
	size_t i = 0;

	if (e->status & 0x7f) {
		how = SHMK_END_SIGNAL;
		status = e->status & 0x7f;
	} else {
		how = SHMK_END_EXIT;
		status = (e->status >> 8) & 0xff;
	}
	while (i < lm_len) {
		if (lm[i].pid != e->pid) {
			i++;
			continue;
		}
		if (!seen_find(lm[i].name, lm[i].id, lm[i].gen)) {
			seen_add(lm[i].name, lm[i].id, lm[i].gen, lm[i].pid);
			print_end(e->ts, false, lm[i].name, 0, lm[i].id,
				  lm[i].gen, lm[i].pid, how, status,
				  "process-exit");
		}
		lm_del(i);
	}
}

static int handle_event(void *ctx, void *data, size_t len)
{
	const struct exit_event *e = data;
	char name[SHMK_NAME_MAX], note[160];
	struct lmember *m;
	struct seen *s;
	int32_t pid;
	size_t i;

	(void)ctx;
	if (len < sizeof(*e))
		return 0;
	memcpy(name, e->name, sizeof(name));
	name[sizeof(name) - 1] = '\0';

	switch (e->kind) {
	case EV_K_ATTACH:
		print_line(e->ts, true, name, e->arena_id, e->member_id,
			   e->generation, e->pid, "attach", "-", "-",
			   e->flags & XF_CREATED ? "created" : "joined");
		break;
	case EV_K_END:
		print_end(e->ts, true, name, e->arena_id, e->member_id,
			  e->generation, e->pid, e->how, e->status,
			  e->flags & XF_PID_GUESS ? "pid-of-ender" : NULL);
		break;
	case EV_K_ROBUST:
		snprintf(note, sizeof(note), "entries=%u recovered=%u",
			 e->entries, e->recovered);
		print_line(e->ts, true, name, e->arena_id, e->member_id,
			   e->generation, e->pid, "robust", "-", "-", note);
		break;
	case EV_L_ATTACH:
		lm_add(e);
		snprintf(note, sizeof(note), "%s backend=%s",
			 e->flags & XF_CREATED ? "created" : "joined",
			 e->backend[0] ? e->backend : "?");
		print_line(e->ts, false, name, 0, e->member_id, e->generation,
			   e->pid, "attach", "-", "-", note);
		break;
	case EV_L_DETACH:
		for (i = 0; i < lm_len; i++) {
			if (lm[i].pid == e->pid && lm[i].handle == e->handle) {
				lm_del(i);
				break;
			}
		}
		if (seen_find(name, e->member_id, e->generation))
			break;
		seen_add(name, e->member_id, e->generation, e->pid);
		print_end(e->ts, false, name, 0, e->member_id, e->generation,
			  e->pid, SHMK_END_DETACH, 0, NULL);
		break;
	case EV_L_EXIT:
		if (seen_find(name, e->member_id, e->generation))
			break;
		seen_add(name, e->member_id, e->generation, e->pid);
		for (i = 0; i < lm_len; i++) {
			if (lm[i].pid == e->pid && lm[i].id == e->member_id &&
			    lm[i].gen == e->generation &&
			    strcmp(lm[i].name, name) == 0) {
				lm_del(i);
				break;
			}
		}
		snprintf(note, sizeof(note), "%sreported-by=%d",
			 e->flags & XF_GUESSED ? "guessed " : "",
			 e->observer_pid);
		print_end(e->ts, false, name, 0, e->member_id, e->generation,
			  e->pid, e->how, e->status, note);
		break;
	case EV_L_CLEANUP:
		/* The probe names members only: the helper tells the arena. */
		m = lm_find_id(e->observer_pid, e->observer_id);
		snprintf(name, sizeof(name), "%s", m ? m->name : "");
		pid = 0;
		s = m ? seen_find(name, e->member_id, e->generation) : NULL;
		if (s)
			pid = s->pid;
		for (i = 0; m && !pid && i < lm_len; i++) {
			if (lm[i].id == e->member_id &&
			    lm[i].gen == e->generation &&
			    strcmp(lm[i].name, name) == 0)
				pid = lm[i].pid;
		}
		if (opt.pid && e->observer_pid != (int32_t)opt.pid &&
		    pid != (int32_t)opt.pid)
			break;
		snprintf(note, sizeof(note), "%sby-member=%u by-pid=%d",
			 pid == e->observer_pid &&
			 e->member_id == e->observer_id ? "own " : "",
			 e->observer_id, e->observer_pid);
		print_line(e->ts, false, name, 0, e->member_id, e->generation,
			   pid, "cleanup", "-", "-", note);
		break;
	case EV_L_PROCEXIT:
		handle_proc_exit(e);
		break;
	default:
		break;
	}
	fflush(stdout);
	return 0;
}

/* ---- setup ----------------------------------------------------------- */

static int parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		SHMKT_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, SHMKT_SHORTOPTS, longopts,
				NULL)) != -1) {
		if (shmkt_parse_opt("shmkexits", usage_text, c, optarg, &opt))
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "shmkexits: unexpected argument: %s\n",
			argv[optind]);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_link *links[SHMKT_MAX_LINKS] = { NULL };
	struct ring_buffer *rb = NULL;
	struct shmkexits_bpf *skel;
	char *paths[SHMKT_MAX_LIBS] = { NULL };
	int nlinks = 0, err = 0, i;

	if (parse_args(argc, argv))
		return SHMKT_EXIT_USAGE;
	opt.need_syms = true;	/* uprobes on shmk_arena_create/attach */
	err = shmkt_start("shmkexits", &opt, paths);
	if (err)
		goto out;

	skel = shmkexits_bpf__open();
	if (!skel) {
		fprintf(stderr, "shmkexits: cannot open the BPF object: %s\n",
			strerror(errno));
		err = 1;
		goto out;
	}
	skel->rodata->targ_tgid = opt.pid;
	skel->rodata->targ_arena = opt.arena;
	shmkt_lib_layout((struct shmkt_lib_layout *)&skel->rodata->layout);
	shmkt_pidns((uint64_t *)&skel->rodata->pidns_dev,
		    (uint64_t *)&skel->rodata->pidns_ino);

	err = shmkt_load("shmkexits", skel->skeleton, &opt, links, &nlinks);
	if (err)
		goto destroy;
	if (opt.library) {
		links[nlinks] = bpf_program__attach(skel->progs.lib_proc_exit);
		if (!links[nlinks]) {
			err = -errno;
			fprintf(stderr, "shmkexits: cannot attach sched_process_exit: %s\n",
				strerror(-err));
			err = 1;
			goto destroy;
		}
		nlinks++;
		for (i = 0; i < opt.nlibs; i++) {
			const char *p = paths[i];

			if (shmkt_attach_open_probes("shmkexits", skel->obj, p,
						     links, &nlinks) ||
			    shmkt_attach_call("shmkexits", p,
					      "shmk_arena_detach",
					      skel->progs.lib_detach_entry,
					      skel->progs.lib_detach_ret,
					      links, &nlinks) ||
			    shmkt_attach_call("shmkexits", p,
					      "shmk_arena_events",
					      skel->progs.lib_events_entry,
					      skel->progs.lib_events_ret,
					      links, &nlinks)) {
				err = 1;
				goto destroy;
			}
			links[nlinks] = bpf_program__attach_usdt(
				skel->progs.lib_cleanup, -1, p, "shmk",
				"cleanup", NULL);
			if (links[nlinks]) {
				nlinks++;
			} else {
				fprintf(stderr, "shmkexits: %s: no USDT probe shmk:cleanup (%s): cleanup lines not shown\n",
					p, strerror(errno));
			}
		}
	}

	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), handle_event,
			      NULL, NULL);
	if (!rb) {
		err = -errno;
		fprintf(stderr, "shmkexits: ring buffer: %s\n", strerror(-err));
		err = 1;
		goto destroy;
	}

	start_ns = shmkt_now_ns();
	shmkt_print_tracing("membership", &opt, paths);
	print_header();

	while (!shmkt_exiting) {
		err = ring_buffer__poll(rb, 200);
		if (err == -EINTR) {
			err = 0;
			continue;
		}
		if (err < 0) {
			fprintf(stderr, "shmkexits: polling the ring buffer: %s\n",
				strerror(-err));
			err = 1;
			goto destroy;
		}
		err = 0;
	}
	/* What was already produced still gets printed. */
	ring_buffer__consume(rb);

destroy:
	ring_buffer__free(rb);
	for (i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	shmkexits_bpf__destroy(skel);
out:
	for (i = 0; i < opt.nlibs; i++)
		free(paths[i]);
	free(lm);
	return err;
}
