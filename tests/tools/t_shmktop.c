// SPDX-License-Identifier: GPL-2.0
/*
 * shmktop: the last --json snapshot (printed on SIGINT) must count the
 * workload of traffic.h exactly, per member and per arena: messages and
 * bytes each way, publishes, who ended how, deaths, reclaims, and name
 * every member with its pid and command.
 *
 * Tracers started before the workload, after its processes attached
 * (they never see an attach), and after it ended (no arena); -p; the text
 * output; -c. Then, in this process, a queue filled to the brim (depth
 * and back-pressure counted exactly) and an allocation waiting for a full
 * heap.
 *
 * Portable backend everywhere; kmod where /dev/shmk exists (the VM), where
 * the kernel source is on too. Needs root (BPF).
 */
#include "traffic.h"

#define TOOL	"shmktop"

/* The object of arena @name in @snap: [*start, *end). */
static bool find_arena(const char *snap, const char *name, const char **start,
		       const char **end)
{
	char pat[128];
	const char *p, *q;

	snprintf(pat, sizeof(pat), "{\"arena\":\"%s\"", name);
	p = strstr(snap, pat);
	if (!p)
		return false;
	q = strstr(p + 1, "{\"arena\":");
	*start = p;
	*end = q ? q : p + strlen(p);
	return true;
}

/* The object of member @id in arena object [a, e): [*start, *end). */
static bool find_member(const char *a, const char *e, uint32_t id,
			const char **start, const char **end)
{
	char pat[48];
	const char *p, *q;

	snprintf(pat, sizeof(pat), "{\"member\":%u,", id);
	p = strstr(a, pat);
	if (!p || p >= e)
		return false;
	q = strchr(p, '}');
	if (!q || q > e)
		return false;
	*start = p;
	*end = q;
	return true;
}

static long long num(const char *s, const char *e, const char *key)
{
	long long v = -1;

	if (js_num(s, e, key, &v) != 1)
		return -1;
	return v;
}

static bool str_is(const char *s, const char *e, const char *key,
		   const char *want)
{
	char buf[64];

	return js_str(s, e, key, buf, sizeof(buf)) == 1 && !strcmp(buf, want);
}

/* The last line that is a snapshot, or NULL. */
static const char *last_snapshot(const struct tracer *t)
{
	int i;

	for (i = t->n - 1; i >= 0; i--)
		if (!strncmp(t->lines[i], "{\"time\":", 8))
			return t->lines[i];
	return NULL;
}

struct want {
	long long sent, sent_bytes, recvd, recvd_bytes, publishes;
	const char *state, *how;
	long long status;
};

static bool check_member(const char *tag, const char *a, const char *e,
			 uint32_t id, int32_t pid, const char *comm,
			 const struct want *w)
{
	const char *s, *t;
	bool ok;

	if (!find_member(a, e, id, &s, &t)) {
		diag("%s: no member %u", tag, id);
		return false;
	}
	ok = num(s, t, "pid") == pid && str_is(s, t, "comm", comm) &&
		num(s, t, "sent") == w->sent &&
		num(s, t, "sent_bytes") == w->sent_bytes &&
		num(s, t, "recvd") == w->recvd &&
		num(s, t, "recvd_bytes") == w->recvd_bytes &&
		num(s, t, "publishes") == w->publishes &&
		num(s, t, "full") == 0 && str_is(s, t, "state", w->state) &&
		str_is(s, t, "how", w->how) && num(s, t, "status") == w->status;
	if (!ok)
		diag("%s: member %u: %.*s", tag, id, (int)(t - s + 1), s);
	return ok;
}

/*
 * The last snapshot of @t against the workload. @only >= 0: the tracer
 * had -p of client @only and must show that member only.
 */
static void check_snapshot(const struct tracer *t, const struct wl *w,
			   const char *tag, int only)
{
	const char *snap = last_snapshot(t), *a, *e;
	long long msgs = 0, bytes = 0;
	struct want srv, cli;
	bool ok = true;
	int k;

	if (!tap_ok(snap && find_arena(snap, w->name, &a, &e),
		    "%s: a last snapshot with arena %s", tag, w->name)) {
		tracer_dump(t, 5);
		return;
	}
	for (k = 0; k < NCLI; k++) {
		msgs += NMSG;
		bytes += (long long)NMSG * LEN(k);
	}
	srv = (struct want){ .sent = msgs + NCLI * NPUB,
			     .sent_bytes = bytes + NCLI * NPUB * PUB_LEN,
			     .recvd = msgs, .recvd_bytes = bytes,
			     .publishes = NPUB, .state = "left",
			     .how = "detach", .status = 0 };
	if (only < 0) {
		ok = check_member(tag, a, e, w->srv_who.member, w->srv_who.pid,
				  wl_comm(-1), &srv);
		tap_ok(ok, "%s: server: %lld out (%lld bytes), %lld in, %d publishes, left",
		       tag, srv.sent, srv.sent_bytes, srv.recvd, NPUB);
	}
	for (k = 0; k < NCLI; k++) {
		if (only >= 0 && k != only)
			continue;
		cli = (struct want){
			.sent = NMSG, .sent_bytes = (long long)NMSG * LEN(k),
			.recvd = NMSG + NPUB,
			.recvd_bytes = (long long)NMSG * LEN(k) + NPUB * PUB_LEN,
			.state = k == KILLED ? "dead" : "left",
			.how = k == KILLED ? "signal" : "detach",
			.status = k == KILLED ? SIGKILL : 0 };
		ok = check_member(tag, a, e, w->cli_who[k].member,
				  w->cli_who[k].pid, wl_comm(k), &cli);
		tap_ok(ok, "%s: client %d: %d out and in of %u bytes, %d published, %s",
		       tag, k, NMSG, LEN(k), NPUB,
		       k == KILLED ? "dead by SIGKILL" : "left");
	}
	if (only >= 0) {
		tap_ok(num(a, e, "nmembers") == 1,
		       "%s: -p: that member only (%lld)", tag,
		       num(a, e, "nmembers"));
		return;
	}
	ok = num(a, e, "nmembers") == NCLI + 1 &&
		num(a, e, "sent") == 2 * msgs + NCLI * NPUB &&
		num(a, e, "recvd") == 2 * msgs + NCLI * NPUB &&
		num(a, e, "publishes") == NPUB && num(a, e, "deaths") == 1 &&
		num(a, e, "reclaims") == 1 && num(a, e, "full") == 0;
	if (!tap_ok(ok, "%s: arena: %d members, %lld messages, 1 death, 1 reclaim",
		    tag, NCLI + 1, 2 * msgs + NCLI * NPUB))
		diag("%s: %.*s", tag, (int)(strstr(a, "\"members\":[") ?
					    strstr(a, "\"members\":[") - a :
					    80), a);
	ok = num(a, e, "heap_size") > 0 &&
		num(a, e, "heap_used") > 0 &&
		num(a, e, "heap_used") <= num(a, e, "heap_size") &&
		num(a, e, "allocs") >= NCLI * NMSG + NPUB &&
		num(a, e, "sleeps") > 0 && num(a, e, "wakes") > 0;
	tap_ok(ok, "%s: heap in use, an allocation per message, sleeps and wakes (heap %lld/%lld, %lld allocs)",
	       tag, num(a, e, "heap_used"), num(a, e, "heap_size"),
	       num(a, e, "allocs"));
}

/* Text: the header, the arena's row, a row per member with its command. */
static void check_text(const struct tracer *t, const struct wl *w,
		       const char *tag)
{
	bool head = false, arena = false, mem[NCLI + 1] = { false };
	char pid[16];
	int i, k;

	for (i = 0; i < t->n; i++) {
		const char *l = t->lines[i];

		if (!strncmp(l, "ARENA/MEMBER", 12))
			head = true;
		if (!strncmp(l, w->name, strlen(w->name)) &&
		    strstr(l, "deaths 1 reclaims 1"))
			arena = true;
		for (k = -1; k < NCLI; k++) {
			snprintf(pid, sizeof(pid), " %d ", k < 0 ?
				 w->srv_who.pid : w->cli_who[k].pid);
			if (!strncmp(l, "  ", 2) && strstr(l, pid) &&
			    strstr(l, wl_comm(k)))
				mem[k + 1] = true;
		}
	}
	for (k = 0; k <= NCLI; k++)
		if (!mem[k])
			head = false;
	if (!tap_ok(head && arena, "%s: text: header, the arena with its death and reclaim, a row per member",
		    tag))
		tracer_dump(t, 20);
}

static void run_case(const char *tag, unsigned int flags)
{
	char name[64], pidopt[16], label[80];
	char *self = (char *)tt_self(), *tool = (char *)tt_tool(TOOL);
	struct tracer a, b, p, x, c;
	struct wl w;
	int rc;

	memset(&w, 0, sizeof(w));
	snprintf(name, sizeof(name), "tt_top_%s_%d", tag, (int)getpid());
	w.name = name;
	w.flags = flags;
	{
		char *argv[] = { tool, "-j", "-i", "0.2", "-l", self, "-n",
				 name, NULL };

		if (!tap_ok(tracer_start(&a, argv, true),
			    "%s: tracer ready before the workload", tag))
			return;
	}
	if (!tap_ok(wl_start(&w), "%s: server and %d clients connected", tag,
		    NCLI)) {
		wl_kill(&w);
		goto out;
	}
	snprintf(pidopt, sizeof(pidopt), "%d", w.cli_who[0].pid);
	{
		char *argv_b[] = { tool, "-j", "-i", "0.2", "-l", self, "-n",
				   name, NULL };
		char *argv_p[] = { tool, "-j", "-l", self, "-n", name, "-p",
				   pidopt, NULL };
		char *argv_x[] = { tool, "-C", "-i", "0.2", "-s", "depth",
				   "-l", self, "-n", name, NULL };

		if (!tap_ok(tracer_start(&b, argv_b, true) &&
			    tracer_start(&p, argv_p, true) &&
			    tracer_start(&x, argv_x, false),
			    "%s: tracers ready after the attaches", tag)) {
			wl_kill(&w);
			goto out;
		}
	}
	tap_ok(wl_run(&w), "%s: workload ran: %d x %d round trips, %d publishes, client %d killed",
	       tag, NCLI, NMSG, NPUB, KILLED);
	rc = tracer_finish(&a);
	tap_ok(rc == 0, "%s: tracer exits 0 on SIGINT (got %d)", tag, rc);
	snprintf(label, sizeof(label), "%s, started first", tag);
	check_snapshot(&a, &w, label, -1);
	tracer_finish(&b);
	snprintf(label, sizeof(label), "%s, started after the attaches", tag);
	check_snapshot(&b, &w, label, -1);
	tracer_finish(&p);
	check_snapshot(&p, &w, tag, 0);
	tracer_finish(&x);
	check_text(&x, &w, tag);
	{
		char *argv[] = { tool, "-j", "-c", "2", "-i", "0.1", "-l", self,
				 "-n", name, NULL };
		const char *s;

		if (tap_ok(tracer_start(&c, argv, true),
			   "%s: tracer ready after the workload", tag)) {
			rc = tracer_wait(&c);
			s = last_snapshot(&c);
			tap_ok(rc == 0 && c.n == 2 && s &&
			       strstr(s, "\"arenas\":[]}"),
			       "%s: ... -c 2: two snapshots, no arena (exit %d, %d lines)",
			       tag, rc, c.n);
		}
		tracer_free(&c);
	}
	tracer_free(&b);
	tracer_free(&p);
	tracer_free(&x);
out:
	tracer_free(&a);
}

/*
 * In this process: a queue of 4 slots filled (depths 0..3 at the sends),
 * three sends that find it full and one that waits, then the four taken;
 * a heap filled and an allocation that waits for it.
 */
static void test_pressure(const char *tag, unsigned int flags)
{
	struct shmk_arena_opts o = { .size = 1 << 20, .mode = 0600 };
	struct shmk_queue_opts qo = { .capacity = 4 };
	char name[64], *self = (char *)tt_self();
	char *argv[] = { (char *)tt_tool(TOOL), "-j", "-i", "0.2", "-l", self,
			 "-n", name, NULL };
	struct shmk_queue *q = NULL, *pq = NULL;
	struct shmk_arena_info info;
	struct shmk_qmsg m[4];
	const char *snap, *a, *e, *s, *t;
	struct shmk_arena *ar;
	struct tracer tr;
	uint64_t tok, off;
	int i, r, full = 0, nomem = 0, waited;
	bool ok;

	snprintf(name, sizeof(name), "tt_top_bp_%s_%d", tag, (int)getpid());
	if (!tap_ok(tracer_start(&tr, argv, true), "%s: pressure: tracer ready",
		    tag))
		return;
	r = shmk_arena_create(name, &o, flags | SHMK_OPEN_EXCL, &ar);
	if (!tap_ok(r == 0, "%s: pressure: arena", tag))
		goto out;
	shmk_arena_info(ar, &info);
	r = shmk_queue_create(ar, &qo, &q);
	if (r == 0)
		r = shmk_queue_share(q, 0, &tok);
	if (r == 0)
		r = shmk_queue_open(ar, tok, &pq);
	if (!tap_ok(r == 0, "%s: pressure: a queue of 4, its producer handle (%s)",
		    tag, strerror(-r)))
		goto out_arena;
	memset(m, 0, sizeof(m));
	for (i = 0; i < 4; i++) {
		m[0].tag = (uint64_t)i;
		m[0].len = 100;
		if (shmk_queue_send(pq, &m[0], 0, 0) == 0)
			full++;
	}
	for (i = 0; i < 3; i++)
		if (shmk_queue_send(pq, &m[0], 0, 0) == -EAGAIN)
			full++;
	r = shmk_queue_send(pq, &m[0], SHMK_QSEND_WAIT, 1000000);
	waited = r == -ETIMEDOUT;
	r = shmk_queue_recv(q, m, 4, 0);
	tap_ok(full == 7 && waited && r == 4,
	       "%s: pressure: 4 sent, 3 -EAGAIN, one waited and timed out, 4 received",
	       tag);
	/* the heap: small blocks until none is left, then one that waits */
	while (nomem < 100000 && shmk_alloc(ar, 2048, 0, 0, &off) == 0)
		nomem++;
	r = shmk_alloc(ar, 2048, SHMK_ALLOC_WAIT, 1000000, &off);
	tap_ok(r == -ETIMEDOUT, "%s: pressure: heap full after %d blocks, a waiting allocation timed out",
	       tag, nomem);
	tracer_finish(&tr);
	snap = last_snapshot(&tr);
	ok = snap && find_arena(snap, name, &a, &e) &&
		find_member(a, e, info.member_id, &s, &t);
	if (!tap_ok(ok, "%s: pressure: the member in the last snapshot", tag)) {
		tracer_dump(&tr, 5);
		goto out_arena;
	}
	ok = num(s, t, "sent") == 4 && num(s, t, "sent_bytes") == 400 &&
		num(s, t, "recvd") == 4 && num(s, t, "full") == 4 &&
		num(s, t, "full_waits") == 1 && num(s, t, "depth_max") == 3 &&
		num(s, t, "alloc_waits") == 1 &&
		num(s, t, "allocs") >= nomem && num(s, t, "pid") == getpid();
	if (!tap_ok(ok, "%s: pressure: 4 out and in, 4 full of which 1 waited, depth 3, 1 allocation wait",
		    tag))
		diag("%.*s", (int)(t - s + 1), s);
	tap_ok(num(a, e, "heap_used") == num(a, e, "heap_size") &&
	       num(a, e, "heap_size") > 0,
	       "%s: pressure: the heap shown full (%lld of %lld)", tag,
	       num(a, e, "heap_used"), num(a, e, "heap_size"));
out_arena:
	if (pq)
		shmk_queue_close(pq, 0);
	if (q)
		shmk_queue_close(q, 0);
	shmk_arena_detach(ar);
out:
	tracer_free(&tr);
}

static void test_usage(void)
{
	char *tool = (char *)tt_tool(TOOL);
	char *help[] = { tool, "--help", NULL };
	char *ver[] = { tool, "--version", NULL };
	char *ver2[] = { tool, "-V", NULL };
	char *bad_sort[] = { tool, "-s", "nonsense", NULL };
	char *bad_int[] = { tool, "-i", "0", NULL };
	char *nolib[] = { tool, "-l", "/dev/null", NULL };
	struct tt_run r;

	tt_run(help, NULL, WL_LIMIT_MS, &r);
	tap_ok(r.status == 0 && strstr(r.out, "EXAMPLES:"),
	       "--help has an EXAMPLES block");
	tt_run_free(&r);
	tt_run(ver, NULL, WL_LIMIT_MS, &r);
	tap_ok(r.status == 0 && !strncmp(r.out, TOOL " (shmk) ", 15),
	       "--version says \"" TOOL " (shmk) VERSION\"");
	tt_run_free(&r);
	tt_run(ver2, NULL, WL_LIMIT_MS, &r);
	tap_ok(r.status == 0 && !strncmp(r.out, TOOL " (shmk) ", 15), "-V");
	tt_run_free(&r);
	tt_run(bad_sort, NULL, WL_LIMIT_MS, &r);
	tap_ok(r.status == 2 && strstr(r.err, "bad sort key"),
	       "an unknown sort key is a usage error");
	tt_run_free(&r);
	tt_run(bad_int, NULL, WL_LIMIT_MS, &r);
	tap_ok(r.status == 2, "interval 0 is a usage error");
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
	test_pressure("portable", SHMK_OPEN_PORTABLE);
	if (kmod) {
		run_case("kmod", SHMK_OPEN_KMOD);
		test_pressure("kmod", SHMK_OPEN_KMOD);
	} else {
		tap_skip("kmod backend", "no %s (module not loaded)",
			 SHMK_DEVICE_PATH);
	}
	return tap_done();
}
