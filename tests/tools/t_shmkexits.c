// SPDX-License-Identifier: GPL-2.0
/*
 * shmkexits: the membership timeline must show every attach and end with
 * the right pid, how and status.
 *
 * kernel source (where /dev/shmk exists): two tracers at once, one for
 * the arena name (-n), one for one process (-p). A member holding a
 * robust lock is SIGKILLed, another detaches: the first tracer shows
 * both ends and the lock recovery, the second shows only its process.
 *
 * library source (portable backend; this test program is the traced
 * binary, libshmk being linked into it): the same story through the
 * uprobes, sched_process_exit and the USDT cleanup probe.
 *
 * Needs root (BPF); without it everything is skipped.
 */
#include "tt.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/vfs.h>

#include <linux/shmk.h>
#include <shmk.h>

#define LIMIT_MS	60000
#define MAX_LINES	512

struct member_arg {
	const char *name;
	unsigned int flags;
	bool lock;		/* hold a robust lock when reporting */
	bool wait_order;	/* wait for an order before attaching */
};

static int member_main(void *argp, int cmd, int ready)
{
	struct member_arg *m = argp;
	struct shmk_arena_info info;
	struct shmk_arena *a;
	uint64_t off;
	uint32_t id;
	char b;
	int r;

	if (m->wait_order && read(cmd, &b, 1) != 1)
		return 1;
	r = shmk_arena_attach(m->name, m->flags, &a);
	if (r) {
		fprintf(stderr, "# child: attach: %s\n", strerror(-r));
		return 1;
	}
	if (m->lock) {
		if (shmk_alloc(a, sizeof(struct shmk_lock), SHMK_ALLOC_ZERO, 0,
			       &off) || shmk_lock_init(a, off) ||
		    shmk_lock_acquire(a, off, -1)) {
			fprintf(stderr, "# child: lock failed\n");
			return 1;
		}
	}
	shmk_arena_info(a, &info);
	id = info.member_id;
	if (write(ready, &id, sizeof(id)) != sizeof(id))
		return 1;
	while (read(cmd, &b, 1) == 1) {
		if (b == 'd')
			return shmk_arena_detach(a) ? 1 : 0;
	}
	return 0;
}

static int child_id(struct tt_child *c, uint32_t *id)
{
	struct pollfd pf = { c->ready, POLLIN, 0 };

	if (poll(&pf, 1, LIMIT_MS) != 1)
		return -1;
	return read(c->ready, id, sizeof(*id)) == sizeof(*id) ? 0 : -1;
}

static int wait_exit(struct shmk_arena *a, uint32_t id)
{
	uint64_t end = tt_now_ms() + LIMIT_MS;
	struct shmk_event ev[16];
	int n, i;

	while (tt_now_ms() < end) {
		struct pollfd pf = { shmk_arena_event_fd(a), POLLIN, 0 };

		poll(&pf, 1, (int)(end - tt_now_ms()));
		n = shmk_arena_events(a, ev, 16);
		for (i = 0; i < n; i++)
			if (ev[i].type == SHMK_EVENT_EXIT &&
			    ev[i].member_id == id)
				return (int)ev[i].how;
	}
	return -1;
}

/* ---- a running tracer and what it printed ------------------------------- */

struct tracer {
	struct tt_proc p;
	char *lines[MAX_LINES];
	int n;
	bool ready;
};

static void tracer_free(struct tracer *t)
{
	int i;

	for (i = 0; i < t->n; i++)
		free(t->lines[i]);
	t->n = 0;
}

/* Start it and wait for its "Tracing" line. */
static bool tracer_start(struct tracer *t, char *const argv[])
{
	uint64_t end = tt_now_ms() + LIMIT_MS;
	char line[1024];
	int r;

	memset(t, 0, sizeof(*t));
	if (tt_spawn(argv, &t->p))
		return false;
	while ((r = tt_line(&t->p, line, sizeof(line), end)) == 1) {
		if (!strncmp(line, "Tracing ", 8)) {
			t->ready = true;
			return true;
		}
	}
	tt_stop(&t->p, SIGKILL);
	diag("tracer did not get ready (%s)", r ? "timeout" : "exited");
	tt_diag_text("tracer stderr", t->p.errbuf);
	return false;
}

/* Fields of an output line: TIME SRC ARENA AID MEMBER GEN PID EVENT HOW STATUS NOTE... */
enum { F_SRC = 1, F_ARENA, F_AID, F_MEMBER, F_GEN, F_PID, F_EVENT, F_HOW,
	F_STATUS, F_NOTE, F_N };

static bool line_is(const char *line, const char *src, pid_t pid,
		    uint32_t member, const char *event, const char *how,
		    const char *status, const char *note_has)
{
	char *copy = strdup(line), *f[24];
	int n = tt_fields(copy, f, 24), i;
	bool ok = n >= F_N;
	char pidb[16], memb[16];

	snprintf(pidb, sizeof(pidb), "%d", (int)pid);
	snprintf(memb, sizeof(memb), "%u", member);
	if (ok && src)
		ok = !strcmp(f[F_SRC], src);
	if (ok && pid)
		ok = !strcmp(f[F_PID], pidb);
	if (ok && member)
		ok = !strcmp(f[F_MEMBER], memb);
	if (ok && event)
		ok = !strcmp(f[F_EVENT], event);
	if (ok && how)
		ok = !strcmp(f[F_HOW], how);
	if (ok && status)
		ok = !strcmp(f[F_STATUS], status);
	if (ok && note_has) {
		ok = false;
		for (i = F_NOTE; i < n; i++)
			if (strstr(f[i], note_has))
				ok = true;
	}
	free(copy);
	return ok;
}

struct want {
	const char *src;
	pid_t pid;
	uint32_t member;
	const char *event, *how, *status, *note;
	bool seen;
};

static bool all_seen(struct want *w, int nw)
{
	int i;

	for (i = 0; i < nw; i++)
		if (!w[i].seen)
			return false;
	return true;
}

/* Read its lines until every wanted one has shown up (or the limit). */
static void tracer_expect(struct tracer *t, struct want *w, int nw)
{
	uint64_t end = tt_now_ms() + LIMIT_MS;
	char line[1024];
	int i, j;

	for (i = 0; i < t->n; i++)
		for (j = 0; j < nw; j++)
			if (line_is(t->lines[i], w[j].src, w[j].pid,
				    w[j].member, w[j].event, w[j].how,
				    w[j].status, w[j].note))
				w[j].seen = true;
	while (!all_seen(w, nw) &&
	       tt_line(&t->p, line, sizeof(line), end) == 1) {
		if (t->n < MAX_LINES)
			t->lines[t->n++] = strdup(line);
		for (j = 0; j < nw; j++)
			if (line_is(line, w[j].src, w[j].pid, w[j].member,
				    w[j].event, w[j].how, w[j].status,
				    w[j].note))
				w[j].seen = true;
	}
}

static void tracer_dump(struct tracer *t)
{
	int i;

	for (i = 0; i < t->n; i++)
		diag("tracer: %s", t->lines[i]);
	tt_diag_text("tracer stderr", t->p.errbuf);
}

static void report(struct tracer *t, struct want *w, int nw, const char *tag)
{
	bool bad = false;
	int i;

	for (i = 0; i < nw; i++) {
		if (!tap_ok(w[i].seen, "%s: %s line for pid %d member %u%s%s%s%s%s%s",
			    tag, w[i].event, (int)w[i].pid, w[i].member,
			    w[i].how ? " how " : "", w[i].how ? w[i].how : "",
			    w[i].status ? " status " : "",
			    w[i].status ? w[i].status : "",
			    w[i].note ? " note " : "",
			    w[i].note ? w[i].note : ""))
			bad = true;
	}
	if (bad)
		tracer_dump(t);
}

static void stop_tracer(struct tracer *t, const char *tag)
{
	int rc = tt_stop(&t->p, SIGINT);

	if (!tap_ok(rc == 0, "%s: tracer exits 0 on SIGINT (got %d)", tag, rc))
		tt_diag_text("tracer stderr", t->p.errbuf);
	tracer_free(t);
}

/* ---- kernel source ----------------------------------------------------- */

static void test_kernel(void)
{
	struct shmk_arena_opts o = { .size = 1 << 20, .mode = 0600 };
	struct member_arg ma, mb;
	struct tt_child ca, cb;
	struct tracer tn, tp, ta;
	struct shmk_arena *a, *other;
	struct shmk_arena_info info;
	char name[64], other_name[64], pidopt[32], aid[16] = "";
	uint32_t ida = 0, idb = 0;
	char *argv_n[] = { (char *)tt_tool("shmkexits"), "-k", "-n", name,
			   NULL };
	char *argv_p[] = { (char *)tt_tool("shmkexits"), "-k", "-p", pidopt,
			   NULL };
	char *argv_a[] = { (char *)tt_tool("shmkexits"), "-k", "-a", aid,
			   NULL };
	int i, rc;

	snprintf(name, sizeof(name), "tt_exits_k_%d", (int)getpid());
	snprintf(other_name, sizeof(other_name), "tt_exits_o_%d", (int)getpid());
	memset(&ta, 0, sizeof(ta));
	ma = (struct member_arg){ .name = name, .flags = SHMK_OPEN_KMOD,
				  .lock = true, .wait_order = true };
	mb = (struct member_arg){ .name = name, .flags = SHMK_OPEN_KMOD,
				  .wait_order = true };
	if (tt_child_start(&ca, member_main, &ma) ||
	    tt_child_start(&cb, member_main, &mb)) {
		tap_ok(0, "kernel: fork members");
		return;
	}
	snprintf(pidopt, sizeof(pidopt), "%d", (int)ca.pid);
	if (!tap_ok(tracer_start(&tn, argv_n), "kernel: tracer -n ready") ||
	    !tap_ok(tracer_start(&tp, argv_p), "kernel: tracer -p ready")) {
		kill(ca.pid, SIGKILL);
		kill(cb.pid, SIGKILL);
		return;
	}

	rc = shmk_arena_create(name, &o, SHMK_OPEN_KMOD | SHMK_OPEN_EXCL, &a);
	tap_ok(rc == 0, "kernel: create %s", name);
	if (rc)
		goto out;
	shmk_arena_info(a, &info);
	/* The arena id, from our own attach line; then a tracer for it. */
	{
		struct want w[] = {
			{ "kern", getpid(), info.member_id, "attach", NULL, NULL,
			  "created", false },
		};
		char *f[F_N + 4], *copy;

		tracer_expect(&tn, w, 1);
		for (i = 0; i < tn.n && !aid[0]; i++) {
			if (!line_is(tn.lines[i], "kern", getpid(),
				     info.member_id, "attach", NULL, NULL, NULL))
				continue;
			copy = strdup(tn.lines[i]);
			if (tt_fields(copy, f, F_N + 4) >= F_N)
				snprintf(aid, sizeof(aid), "%s", f[F_AID]);
			free(copy);
		}
	}
	if (!tap_ok(aid[0] && tracer_start(&ta, argv_a),
		    "kernel: tracer -a %s ready", aid))
		goto out_arena;
	/* Another arena, which the -a tracer must not show. */
	rc = shmk_arena_create(other_name, &o, SHMK_OPEN_KMOD | SHMK_OPEN_EXCL,
			       &other);
	tap_ok(rc == 0 && shmk_arena_detach(other) == 0,
	       "kernel: another arena created and left");
	tt_child_order(&ca, 'a');
	tt_child_order(&cb, 'a');
	rc = child_id(&ca, &ida) == 0 && child_id(&cb, &idb) == 0;
	if (!tap_ok(rc, "kernel: members %u (holds a lock) and %u attached",
		    ida, idb))
		goto out_arena;
	tt_child_order(&cb, 'd');
	tap_ok(wait_exit(a, idb) == SHMK_END_DETACH, "kernel: B detached");
	kill(ca.pid, SIGKILL);
	tap_ok(wait_exit(a, ida) == SHMK_END_SIGNAL, "kernel: A killed");

	{
		struct want w[] = {
			{ "kern", getpid(), info.member_id, "attach", NULL, NULL,
			  "created", false },
			{ "kern", ca.pid, ida, "attach", NULL, NULL, "joined",
			  false },
			{ "kern", cb.pid, idb, "attach", NULL, NULL, "joined",
			  false },
			{ "kern", cb.pid, idb, "end", "detach", "0", "clean",
			  false },
			{ "kern", ca.pid, ida, "end", "signal", "9", "SIGKILL",
			  false },
			{ "kern", ca.pid, ida, "robust", NULL, NULL,
			  "recovered=1", false },
		};
		tracer_expect(&tn, w, 6);
		report(&tn, w, 6, "kernel -n");
	}
	{
		struct want w[] = {
			{ "kern", ca.pid, ida, "attach", NULL, NULL, NULL, false },
			{ "kern", ca.pid, ida, "end", "signal", "9", "crash",
			  false },
		};
		bool other = false;

		tracer_expect(&tp, w, 2);
		report(&tp, w, 2, "kernel -p");
		/* B's detach and our attach came before A's end. */
		for (i = 0; i < tp.n; i++)
			if (strncmp(tp.lines[i], "TIME(s)", 7) &&
			    !line_is(tp.lines[i], NULL, ca.pid, 0, NULL, NULL,
				     NULL, NULL))
				other = true;
		if (!tap_ok(!other, "kernel -p: no line of another process"))
			tracer_dump(&tp);
	}
	{
		struct want w[] = {
			{ "kern", ca.pid, ida, "attach", NULL, NULL, NULL, false },
			{ "kern", cb.pid, idb, "end", "detach", "0", NULL, false },
			{ "kern", ca.pid, ida, "robust", NULL, NULL,
			  "recovered=1", false },
			{ "kern", ca.pid, ida, "end", "signal", "9", NULL, false },
		};
		bool other_arena = false;

		tracer_expect(&ta, w, 4);
		report(&ta, w, 4, "kernel -a");
		/* The other arena came and went before A's end. */
		for (i = 0; i < ta.n; i++)
			if (strstr(ta.lines[i], other_name))
				other_arena = true;
		if (!tap_ok(!other_arena, "kernel -a: no line of another arena"))
			tracer_dump(&ta);
	}
out_arena:
	/* Gone already on the normal path (zombies until reaped). */
	kill(ca.pid, SIGKILL);
	kill(cb.pid, SIGKILL);
	waitpid(ca.pid, NULL, 0);
	waitpid(cb.pid, NULL, 0);
	rc = shmk_arena_detach(a);
	{
		struct want w[] = {
			{ "kern", getpid(), info.member_id, "end", "detach", "0",
			  NULL, false },
		};
		tracer_expect(&tn, w, 1);
		report(&tn, w, 1, "kernel -n");
	}
out:
	stop_tracer(&tn, "kernel -n");
	stop_tracer(&tp, "kernel -p");
	if (ta.ready)
		stop_tracer(&ta, "kernel -a");
	close(ca.cmd);
	close(cb.cmd);
}

/* ---- library source, portable backend ------------------------------------ */

static void test_library(void)
{
	struct shmk_arena_opts o = { .size = 1 << 20, .mode = 0600 };
	struct member_arg ma, mb;
	struct tt_child ca, cb;
	struct shmk_arena_info info;
	struct shmk_arena *a;
	struct tracer t;
	char name[64], note[48];
	uint32_t ida = 0, idb = 0;
	char *argv[] = { (char *)tt_tool("shmkexits"), "-u", "-l",
			 (char *)tt_self(), "-n", name, NULL };
	int rc;

	snprintf(name, sizeof(name), "tt_exits_u_%d", (int)getpid());
	if (!tap_ok(tracer_start(&t, argv), "library: tracer ready"))
		return;
	rc = shmk_arena_create(name, &o, SHMK_OPEN_PORTABLE | SHMK_OPEN_EXCL,
			       &a);
	tap_ok(rc == 0, "library: create %s", name);
	if (rc)
		goto out;
	shmk_arena_info(a, &info);
	ma = (struct member_arg){ .name = name, .flags = SHMK_OPEN_PORTABLE,
				  .lock = true };
	mb = (struct member_arg){ .name = name, .flags = SHMK_OPEN_PORTABLE };
	rc = tt_child_start(&ca, member_main, &ma) == 0 &&
		child_id(&ca, &ida) == 0 &&
		tt_child_start(&cb, member_main, &mb) == 0 &&
		child_id(&cb, &idb) == 0;
	if (!tap_ok(rc, "library: members %u and %u attached", ida, idb)) {
		shmk_arena_detach(a);
		goto out;
	}
	tt_child_order(&cb, 'd');
	tap_ok(wait_exit(a, idb) == SHMK_END_DETACH, "library: B detached");
	kill(ca.pid, SIGKILL);
	/* Reading the event reclaims A: the USDT cleanup probe fires. */
	tap_ok(wait_exit(a, ida) == SHMK_END_SIGNAL, "library: A killed");
	waitpid(ca.pid, NULL, 0);
	waitpid(cb.pid, NULL, 0);
	rc = shmk_arena_detach(a);
	tap_ok(rc == 0, "library: last member detached");
	snprintf(note, sizeof(note), "by-member=%u", info.member_id);
	{
		struct want w[] = {
			{ "lib", getpid(), info.member_id, "attach", NULL, NULL,
			  "created", false },
			{ "lib", ca.pid, ida, "attach", NULL, NULL, "joined",
			  false },
			{ "lib", cb.pid, idb, "attach", NULL, NULL,
			  "backend=portable", false },
			{ "lib", cb.pid, idb, "end", "detach", "0", "clean",
			  false },
			{ "lib", ca.pid, ida, "end", "signal", "9", "SIGKILL",
			  false },
			{ "lib", ca.pid, ida, "cleanup", NULL, NULL, note,
			  false },
			{ "lib", getpid(), info.member_id, "end", "detach", "0",
			  NULL, false },
		};
		tracer_expect(&t, w, 7);
		report(&t, w, 7, "library");
	}
	close(ca.cmd);
	close(cb.cmd);
out:
	stop_tracer(&t, "library");
}

static void test_usage(void)
{
	char *help[] = { (char *)tt_tool("shmkexits"), "--help", NULL };
	char *bad[] = { (char *)tt_tool("shmkexits"), "-u", "-a", "3", NULL };
	char *nolib[] = { (char *)tt_tool("shmkexits"), "-l", "/dev/null",
			  NULL };
	struct tt_run r;

	tt_run(help, NULL, LIMIT_MS, &r);
	tap_ok(r.status == 0 && strstr(r.out, "EXAMPLES:"),
	       "--help has an EXAMPLES block");
	tt_run_free(&r);
	tt_run(bad, NULL, LIMIT_MS, &r);
	tap_ok(r.status == 2 && strstr(r.err, "-a needs the kernel source"),
	       "-a with the library source is a usage error");
	tt_run_free(&r);
	tt_run(nolib, NULL, LIMIT_MS, &r);
	tap_ok(r.status == 1 && strstr(r.err, "no libshmk in it"),
	       "-l of a file without libshmk fails and says why");
	tt_run_free(&r);
}

/*
 * A fresh machine has no tracefs mounted: in a mount namespace of its own
 * with tracefs (and debugfs, which would automount it) unmounted, the
 * tool must mount it itself, say so, and get ready.
 */
#define TRACEFS_MAGIC_NR 0x74726163

static bool is_tracefs(const char *dir)
{
	struct statfs st;

	return statfs(dir, &st) == 0 && (long)st.f_type == TRACEFS_MAGIC_NR;
}

static int no_tracefs_child(void)
{
	char *argv[] = { (char *)tt_tool("shmkexits"), "-u", "-l",
			 (char *)tt_self(), NULL };
	struct tracer t;
	int i, ok;

	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		diag("private mount namespace: %s", strerror(errno));
		return 2;
	}
	/* Stacked mounts come off one at a time. */
	for (i = 0; i < 8 && is_tracefs("/sys/kernel/tracing"); i++)
		umount2("/sys/kernel/tracing", MNT_DETACH);
	for (i = 0; i < 8 && umount2("/sys/kernel/debug", MNT_DETACH) == 0; i++)
		;
	if (is_tracefs("/sys/kernel/tracing") ||
	    is_tracefs("/sys/kernel/debug/tracing")) {
		diag("tracefs is still mounted");
		return 2;
	}
	if (!tracer_start(&t, argv))
		return 1;
	ok = is_tracefs("/sys/kernel/tracing");
	if (!ok)
		diag("tracefs not mounted after the tool got ready");
	if (tt_stop(&t.p, SIGINT) != 0)
		ok = 0;
	if (!strstr(t.p.errbuf, "mounted tracefs")) {
		tt_diag_text("tracer stderr", t.p.errbuf);
		ok = 0;
	}
	tracer_free(&t);
	return ok ? 0 : 1;
}

static void test_no_tracefs(void)
{
	pid_t pid;
	int st = 0;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(no_tracefs_child());
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) {
		tap_ok(0, "no tracefs: child ran");
		return;
	}
	if (WEXITSTATUS(st) == 2) {
		tap_skip("no tracefs", "cannot unmount tracefs here");
		return;
	}
	tap_ok(WEXITSTATUS(st) == 0,
	       "no tracefs: the tool mounts it, says so and gets ready");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (access(tt_tool("shmkexits"), X_OK) != 0) {
		tap_ok(0, "shmkexits next to the test (%s): %s",
		       tt_tool("shmkexits"), strerror(errno));
		return tap_done();
	}
	test_usage();
	if (geteuid() != 0) {
		tap_skip("kernel and library tracing", "needs root for BPF");
		return tap_done();
	}
	if (access(SHMK_DEVICE_PATH, F_OK) == 0)
		test_kernel();
	else
		tap_skip("kernel source", "no %s (module not loaded)",
			 SHMK_DEVICE_PATH);
	test_library();
	test_no_tracefs();
	return tap_done();
}
