// SPDX-License-Identifier: GPL-2.0
/*
 * shmksnoop: every message of a workload of known shape (traffic.h) must
 * be shown exactly once, with the right sender and receiver (member, pid,
 * command), tag, length, a depth and a latency, and every publish once
 * with its fan-out; filters must keep exactly what they name.
 *
 * Tracers started before the workload, after its processes attached (they
 * never see an attach: arena names come from the probes' arguments), and
 * after it ended (nothing). Also: -c, the text output, pids inside a pid
 * namespace of their own, and a machine without tracefs mounted.
 *
 * Portable backend everywhere; kmod where /dev/shmk exists (the VM).
 * Needs root (BPF).
 */
#include "traffic.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/vfs.h>

#define TOOL	"shmksnoop"

struct rec {
	bool pub;
	uint32_t from, to;
	long long from_pid, to_pid, tag, len, depth, lat, fanout, skipped,
		topic;
	bool from_known, lat_known;
	char from_comm[32], to_comm[32], kind[32], arena[80];
};

static bool parse_rec(const char *line, struct rec *r)
{
	char type[16];
	long long v;

	memset(r, 0, sizeof(*r));
	if (line[0] != '{' || js_str(line, NULL, "type", type,
				     sizeof(type)) != 1)
		return false;
	r->pub = !strcmp(type, "publish");
	js_str(line, NULL, "arena", r->arena, sizeof(r->arena));
	if (js_num(line, NULL, "from_member", &v) == 1)
		r->from = (uint32_t)v;
	r->from_known = js_num(line, NULL, "from_pid", &r->from_pid) == 1;
	js_str(line, NULL, "from_comm", r->from_comm, sizeof(r->from_comm));
	js_num(line, NULL, "tag", &r->tag);
	js_num(line, NULL, "len", &r->len);
	if (r->pub) {
		js_num(line, NULL, "fanout", &r->fanout);
		js_num(line, NULL, "skipped", &r->skipped);
		js_num(line, NULL, "topic", &r->topic);
		return true;
	}
	if (js_num(line, NULL, "to_member", &v) == 1)
		r->to = (uint32_t)v;
	js_num(line, NULL, "to_pid", &r->to_pid);
	js_str(line, NULL, "to_comm", r->to_comm, sizeof(r->to_comm));
	js_str(line, NULL, "kind", r->kind, sizeof(r->kind));
	js_num(line, NULL, "depth", &r->depth);
	r->lat_known = js_num(line, NULL, "latency_ns", &r->lat) == 1;
	return true;
}

/* Which workload process member @id is: -1 server, 0..NCLI-1, or -2. */
static int who(const struct wl *w, uint32_t id)
{
	int k;

	if (id == w->srv_who.member)
		return -1;
	for (k = 0; k < NCLI; k++)
		if (id == w->cli_who[k].member)
			return k;
	return -2;
}

static int32_t pid_of(const struct wl *w, int k)
{
	return k < 0 ? w->srv_who.pid : w->cli_who[k].pid;
}

/*
 * The JSON lines of @t against the whole workload: NCLI * NMSG requests,
 * as many replies, NPUB publishes, nothing else. @only (-1 for none): the
 * tracer had -p of client @only, so it sees that client's messages only.
 */
static void check_json(const struct tracer *t, const struct wl *w,
		       const char *tag, int only)
{
	static uint8_t req[NCLI][NMSG], rep[NCLI][NMSG], pubs[NPUB];
	int nreq = 0, nrep = 0, npub = 0, bad = 0, i, k, f, to;
	const char *why = "";
	struct rec r;
	uint64_t idx;

	if (getenv("TT_DUMP")) {
		FILE *df = fopen(getenv("TT_DUMP"), "a");

		for (i = 0; df && i < t->n; i++)
			fprintf(df, "%s %s\n", tag, t->lines[i]);
		if (df)
			fclose(df);
	}
	memset(req, 0, sizeof(req));
	memset(rep, 0, sizeof(rep));
	memset(pubs, 0, sizeof(pubs));
	for (i = 0; i < t->n; i++) {
		if (!parse_rec(t->lines[i], &r)) {
			why = "not a JSON record";
			goto bad;
		}
		if (strcmp(r.arena, w->name)) {
			why = "another arena";
			goto bad;
		}
		f = who(w, r.from);
		if (f == -2 || !r.from_known || r.from_pid != pid_of(w, f) ||
		    strcmp(r.from_comm, wl_comm(f))) {
			why = "sender";
			goto bad;
		}
		if (r.pub) {
			idx = (uint64_t)r.tag - PUB_TAG(0);
			if (f != -1 || idx >= NPUB || pubs[idx]++ ||
			    r.len != PUB_LEN || r.fanout != NCLI ||
			    r.skipped != 0 || r.topic != PUB_TOPIC) {
				why = "publish";
				goto bad;
			}
			npub++;
			continue;
		}
		to = who(w, r.to);
		if (to == -2 || r.to_pid != pid_of(w, to) ||
		    strcmp(r.to_comm, wl_comm(to)) || strcmp(r.kind, "data") ||
		    !r.lat_known || r.lat <= 0 || r.depth < 0) {
			why = "receiver, kind, latency or depth";
			goto bad;
		}
		/* request: client k -> server; reply: server -> client k */
		k = f >= 0 ? f : to;
		idx = (uint64_t)r.tag - TAG(k, 0);
		if ((f >= 0) == (to >= 0) || idx >= NMSG ||
		    r.len != LEN(k)) {
			why = "tag or length";
			goto bad;
		}
		if (f >= 0 ? req[k][idx]++ : rep[k][idx]++) {
			why = "twice";
			goto bad;
		}
		if (f >= 0)
			nreq++;
		else
			nrep++;
		continue;
bad:
		if (bad++ < 5)
			diag("%s: line %d (%s): %s", tag, i + 1, why,
			     t->lines[i]);
	}
	for (k = 0, i = 0; k < NCLI && i < 5; k++) {
		for (f = 0; f < NMSG && i < 5; f++) {
			if ((only < 0 || only == k) && !req[k][f] && ++i)
				diag("%s: no request %d of client %d", tag, f, k);
			if ((only < 0 || only == k) && !rep[k][f] && ++i)
				diag("%s: no reply %d to client %d", tag, f, k);
		}
	}
	if (only >= 0) {
		tap_ok(!bad && nreq == NMSG && nrep == NMSG && npub == 0 &&
		       t->n == 2 * NMSG,
		       "%s: -p: client %d's %d requests and %d replies only (got %d, %d, %d publishes, %d lines, %d bad)",
		       tag, only, NMSG, NMSG, nreq, nrep, npub, t->n, bad);
		return;
	}
	tap_ok(!bad, "%s: every line a message of the workload, sender and receiver right (%d bad)",
	       tag, bad);
	tap_ok(nreq == NCLI * NMSG && nrep == NCLI * NMSG,
	       "%s: %d requests and %d replies, each tag once each way (got %d, %d)",
	       tag, NCLI * NMSG, NCLI * NMSG, nreq, nrep);
	tap_ok(npub == NPUB, "%s: %d publishes, fan-out %d (got %d)", tag,
	       NPUB, NCLI, npub);
	tap_ok(t->n == 2 * NCLI * NMSG + NPUB,
	       "%s: nothing else: %d lines (got %d)", tag,
	       2 * NCLI * NMSG + NPUB, t->n);
	if (bad || t->n != 2 * NCLI * NMSG + NPUB)
		tracer_dump(t, 3);
}

/* Text output of -t TAG(1, 5): the header and the two lines of it. */
static void check_text(const struct tracer *t, const struct wl *w,
		       const char *tag)
{
	char want_from[2][64], want_to[2][64], *copy, *f[16];
	int i, n, data = 0, good = 0;

	snprintf(want_from[0], 64, "%u/%d/%s", w->cli_who[1].member,
		 w->cli_who[1].pid, wl_comm(1));
	snprintf(want_to[0], 64, "%u/%d/%s", w->srv_who.member,
		 w->srv_who.pid, wl_comm(-1));
	snprintf(want_from[1], 64, "%s", want_to[0]);
	snprintf(want_to[1], 64, "%s", want_from[0]);
	for (i = 0; i < t->n; i++) {
		if (!strncmp(t->lines[i], "TIME(s)", 7))
			continue;
		data++;
		copy = strdup(t->lines[i]);
		n = tt_fields(copy, f, 16);
		/* TIME ARENA KIND FROM TO TAG LEN DEPTH LAT */
		if (n == 9 && !strcmp(f[1], w->name) && !strcmp(f[2], "data") &&
		    !strcmp(f[3], want_from[good & 1]) &&
		    !strcmp(f[4], want_to[good & 1]) &&
		    !strcmp(f[5], "0x200000005") && atoi(f[6]) == (int)LEN(1))
			good++;
		free(copy);
	}
	if (!tap_ok(data == 2 && good == 2,
		    "%s: -t 0x200000005 in text: request then reply (%d lines, %d right)",
		    tag, data, good))
		tracer_dump(t, 10);
}

static void run_case(const char *tag, unsigned int flags)
{
	char name[64], pidopt[16], tagopt[32], label[80];
	char *self = (char *)tt_self(), *tool = (char *)tt_tool(TOOL);
	struct tracer a, b, c, d, e, cnt;
	struct wl w;
	int rc;

	memset(&w, 0, sizeof(w));
	snprintf(name, sizeof(name), "tt_sn_%s_%d", tag, (int)getpid());
	snprintf(tagopt, sizeof(tagopt), "0x%llx",
		 (unsigned long long)TAG(1, 5));
	w.name = name;
	w.flags = flags;
	{
		char *argv[] = { tool, "-j", "-l", self, "-n", name, NULL };
		char *argv_c[] = { tool, "-j", "-c", "7", "-l", self, "-n",
				   name, NULL };

		if (!tap_ok(tracer_start(&a, argv, true) &&
			    tracer_start(&cnt, argv_c, true),
			    "%s: tracers ready before the workload", tag))
			return;
	}
	if (!tap_ok(wl_start(&w), "%s: server and %d clients connected", tag,
		    NCLI)) {
		wl_kill(&w);
		goto out;
	}
	snprintf(pidopt, sizeof(pidopt), "%d", w.cli_who[0].pid);
	{
		char *argv_b[] = { tool, "-j", "-l", self, "-n", name, NULL };
		char *argv_c[] = { tool, "-l", self, "-n", name, "-t", tagopt,
				   NULL };
		char *argv_d[] = { tool, "-j", "-l", self, "-n", name, "-p",
				   pidopt, NULL };

		if (!tap_ok(tracer_start(&b, argv_b, true) &&
			    tracer_start(&c, argv_c, false) &&
			    tracer_start(&d, argv_d, true),
			    "%s: tracers ready after the attaches", tag)) {
			wl_kill(&w);
			goto out;
		}
	}
	tap_ok(wl_run(&w), "%s: workload ran: %d x %d round trips, %d publishes, client %d killed",
	       tag, NCLI, NMSG, NPUB, KILLED);
	rc = tracer_wait(&cnt);
	if (!tap_ok(rc == 0 && cnt.n == 7, "%s: -c 7 exits by itself after 7 lines (exit %d, %d lines)",
		    tag, rc, cnt.n))
		tracer_dump(&cnt, 10);
	rc = tracer_finish(&a);
	tap_ok(rc == 0, "%s: tracer exits 0 on SIGINT (got %d)", tag, rc);
	snprintf(label, sizeof(label), "%s, started first", tag);
	check_json(&a, &w, label, -1);
	tracer_finish(&b);
	snprintf(label, sizeof(label), "%s, started after the attaches", tag);
	check_json(&b, &w, label, -1);
	tracer_finish(&c);
	check_text(&c, &w, tag);
	tracer_finish(&d);
	check_json(&d, &w, tag, 0);
	{
		char *argv[] = { tool, "-j", "-l", self, "-n", name, NULL };

		if (tap_ok(tracer_start(&e, argv, true),
			   "%s: tracer ready after the workload", tag)) {
			rc = tracer_finish(&e);
			tap_ok(rc == 0 && e.n == 0,
			       "%s: ... shows nothing (exit %d, %d lines)", tag,
			       rc, e.n);
		}
		tracer_free(&e);
	}
	tracer_free(&b);
	tracer_free(&c);
	tracer_free(&d);
out:
	tracer_free(&a);
	tracer_free(&cnt);
}

/*
 * In a pid namespace of its own (the tracer too): the pids shown are
 * those of that namespace. Runs as its init; 0 when every line is right.
 */
static int pidns_init(unsigned int flags)
{
	char name[64], *self = (char *)tt_self();
	char *argv[] = { (char *)tt_tool(TOOL), "-j", "-l", self, "-n", name,
			 NULL };
	struct tracer t;
	struct wl w;
	int i, bad = 0;
	struct rec r;

	memset(&w, 0, sizeof(w));
	snprintf(name, sizeof(name), "tt_sn_ns_%d", (int)getppid());
	w.name = name;
	w.flags = flags;
	if (!tracer_start(&t, argv, true))
		return 1;
	if (!wl_start(&w) || !wl_run(&w)) {
		wl_kill(&w);
		tracer_free(&t);
		return 1;
	}
	tracer_finish(&t);
	for (i = 0; i < t.n; i++) {
		if (!parse_rec(t.lines[i], &r) ||
		    r.from_pid != pid_of(&w, who(&w, r.from)) ||
		    (!r.pub && r.to_pid != pid_of(&w, who(&w, r.to))))
			bad++;
	}
	/* numbers of this namespace: small, and not ours outside */
	if (w.srv_who.pid > 100 || t.n != 2 * NCLI * NMSG + NPUB || bad) {
		diag("pid namespace: server pid %d, %d lines, %d wrong",
		     w.srv_who.pid, t.n, bad);
		tracer_dump(&t, 5);
		tracer_free(&t);
		return 1;
	}
	tracer_free(&t);
	return 0;
}

static void test_pidns(const char *tag, unsigned int flags)
{
	pid_t pid;
	int st = 0;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		pid_t init;

		if (unshare(CLONE_NEWPID)) {
			diag("unshare(CLONE_NEWPID): %s", strerror(errno));
			_exit(77);
		}
		init = fork();
		if (init == 0)
			_exit(pidns_init(flags));
		if (init < 0 || waitpid(init, &st, 0) != init)
			_exit(1);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) {
		tap_ok(0, "%s: pid namespace: child ran", tag);
		return;
	}
	if (WEXITSTATUS(st) == 77) {
		tap_skip("pid namespace", "cannot make one here");
		return;
	}
	tap_ok(WEXITSTATUS(st) == 0,
	       "%s: in a pid namespace of their own, the pids of that namespace",
	       tag);
}

/*
 * A fresh machine has no tracefs: in a mount namespace of its own with
 * tracefs (and debugfs, which would automount it) unmounted, the tool
 * must mount it, say so, and show the workload.
 */
#define TRACEFS_MAGIC_NR 0x74726163

static bool is_tracefs(const char *dir)
{
	struct statfs st;

	return statfs(dir, &st) == 0 && (long)st.f_type == TRACEFS_MAGIC_NR;
}

static int no_tracefs_child(unsigned int flags)
{
	char name[64], *self = (char *)tt_self();
	char *argv[] = { (char *)tt_tool(TOOL), "-j", "-l", self, "-n", name,
			 NULL };
	struct tracer t;
	struct wl w;
	int i, ok;

	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		diag("private mount namespace: %s", strerror(errno));
		return 2;
	}
	for (i = 0; i < 8 && is_tracefs("/sys/kernel/tracing"); i++)
		umount2("/sys/kernel/tracing", MNT_DETACH);
	for (i = 0; i < 8 && umount2("/sys/kernel/debug", MNT_DETACH) == 0; i++)
		;
	if (is_tracefs("/sys/kernel/tracing") ||
	    is_tracefs("/sys/kernel/debug/tracing"))
		return 2;
	memset(&w, 0, sizeof(w));
	snprintf(name, sizeof(name), "tt_sn_nt_%d", (int)getpid());
	w.name = name;
	w.flags = flags;
	if (!tracer_start(&t, argv, true))
		return 1;
	ok = is_tracefs("/sys/kernel/tracing") &&
		strstr(t.p.errbuf, "mounted tracefs");
	if (!wl_start(&w) || !wl_run(&w)) {
		wl_kill(&w);
		ok = 0;
	}
	if (tracer_finish(&t) != 0 || t.n != 2 * NCLI * NMSG + NPUB)
		ok = 0;
	if (!ok) {
		diag("no tracefs: %d lines", t.n);
		tracer_dump(&t, 5);
	}
	tracer_free(&t);
	return ok ? 0 : 1;
}

static void test_no_tracefs(const char *tag, unsigned int flags)
{
	pid_t pid;
	int st = 0;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(no_tracefs_child(flags));
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) {
		tap_ok(0, "%s: no tracefs: child ran", tag);
		return;
	}
	if (WEXITSTATUS(st) == 2) {
		tap_skip("no tracefs", "cannot unmount tracefs here");
		return;
	}
	tap_ok(WEXITSTATUS(st) == 0,
	       "%s: no tracefs mounted: the tool mounts it, says so, shows every message",
	       tag);
}

static void test_usage(void)
{
	char *tool = (char *)tt_tool(TOOL);
	char *help[] = { tool, "--help", NULL };
	char *ver[] = { tool, "--version", NULL };
	char *ver2[] = { tool, "-V", NULL };
	char *bad[] = { tool, "--no-such-option", NULL };
	char *kern[] = { tool, "-k", NULL };
	char *nolib[] = { tool, "-l", "/dev/null", NULL };
	struct tt_run r;

	tt_run(help, NULL, WL_LIMIT_MS, &r);
	tap_ok(r.status == 0 && strstr(r.out, "EXAMPLES:"),
	       "--help has an EXAMPLES block");
	tt_run_free(&r);
	tt_run(ver, NULL, WL_LIMIT_MS, &r);
	tap_ok(r.status == 0 && !strncmp(r.out, TOOL " (shmk) ", 17),
	       "--version says \"" TOOL " (shmk) VERSION\"");
	tt_run_free(&r);
	tt_run(ver2, NULL, WL_LIMIT_MS, &r);
	tap_ok(r.status == 0 && !strncmp(r.out, TOOL " (shmk) ", 17), "-V");
	tt_run_free(&r);
	tt_run(bad, NULL, WL_LIMIT_MS, &r);
	tap_ok(r.status == 2, "an unknown option is a usage error (2)");
	tt_run_free(&r);
	tt_run(kern, NULL, WL_LIMIT_MS, &r);
	tap_ok(r.status == 2 && strstr(r.err, "no kernel source"),
	       "-k is refused, saying why");
	tt_run_free(&r);
	tt_run(nolib, NULL, WL_LIMIT_MS, &r);
	tap_ok(r.status == 1 && strstr(r.err, "no libshmk in it"),
	       "-l of a file without libshmk fails and says why");
	tt_run_free(&r);
}

int main(void)
{
	bool kmod = access(SHMK_DEVICE_PATH, F_OK) == 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (access(tt_tool(TOOL), X_OK) != 0) {
		tap_ok(0, TOOL " next to the test: %s", strerror(errno));
		return tap_done();
	}
	test_usage();
	if (geteuid() != 0) {
		tap_skip("tracing", "needs root for BPF");
		return tap_done();
	}
	run_case("portable", SHMK_OPEN_PORTABLE);
	if (kmod)
		run_case("kmod", SHMK_OPEN_KMOD);
	else
		tap_skip("kmod backend", "no %s (module not loaded)",
			 SHMK_DEVICE_PATH);
	test_pidns(kmod ? "kmod" : "portable",
		   kmod ? SHMK_OPEN_KMOD : SHMK_OPEN_PORTABLE);
	test_no_tracefs(kmod ? "kmod" : "portable",
			kmod ? SHMK_OPEN_KMOD : SHMK_OPEN_PORTABLE);
	return tap_done();
}
