// SPDX-License-Identifier: GPL-2.0
/*
 * Reclaim races, made deterministic with the library's crash points (this
 * test is white-box: it links the core sources built with SHMK_TEST_HOOKS
 * and reads member slots through lib/core/shmk_int.h). A process is stopped
 * (SIGSTOP) at a named point of its reclaim; the parent sees it stopped
 * with waitpid(WUNTRACED), acts, then continues or kills it.
 *
 *  1. A member reclaiming itself at detach is a live helper: nobody else
 *     takes its reclaim over (-EINPROGRESS).
 *  2. A reclaim ends with a CAS from its own RECLAIM value: it never
 *     overwrites a slot that moved on meanwhile.
 *  3. An exit event is not handed out while another survivor is still
 *     reclaiming that member: shmk_arena_events() waits for it.
 *  4. ... and takes over when that survivor dies.
 */
#include "common.h"
#include "core/shmk_int.h"

#include <pthread.h>

#define MB (1024 * 1024)

/* ---- the test hook: stop at one point, or note one point in a pipe --- */
static const char *stop_at;
static const char *note_at;
static int note_fd = -1;

static void hook(const char *where)
{
	if (stop_at && !strcmp(where, stop_at)) {
		stop_at = NULL;
		raise(SIGSTOP);
	}
	if (note_at && !strcmp(where, note_at)) {
		note_at = NULL;
		put64(note_fd, 1);
	}
}

/*
 * wait_exit() that keeps the other exits it reads (one test may wait for
 * two); never called by two threads at once.
 */
static struct { uint32_t id, gen; } seen[32];
static int nseen;

static int exit_of(struct shmk_arena *a, uint32_t id, uint32_t gen,
		   int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms, now;
	struct shmk_event ev[16];
	int n, i;

	for (;;) {
		struct pollfd pf = { .fd = shmk_arena_event_fd(a),
				     .events = POLLIN };

		for (i = 0; i < nseen; i++)
			if (seen[i].id == id && seen[i].gen == gen) {
				seen[i] = seen[--nseen];
				return 0;
			}
		n = shmk_arena_events(a, ev, 16);
		for (i = 0; i < n; i++)
			if (ev[i].type == SHMK_EVENT_EXIT && nseen < 32) {
				seen[nseen].id = ev[i].member_id;
				seen[nseen++].gen = ev[i].generation;
			}
		if (n)
			continue;
		now = now_ms();
		if (now >= end)
			return -ETIMEDOUT;
		poll(&pf, 1, (int)(end - now));
	}
}

struct ctx {
	char name[64];
	int out[2];		/* child -> parent */
	int in[2];		/* parent -> child */
	uint32_t vid, vgen;	/* the member whose reclaim is raced */
	const char *stop;	/* where the child stops */
};

static uint64_t idgen(struct shmk_arena *a)
{
	struct shmk_arena_info info;

	shmk_arena_info(a, &info);
	return ((uint64_t)info.member_id << 32) | info.generation;
}

static uint64_t ctl_of(struct shmk_arena *a, uint32_t id)
{
	return ld_acq(&lm_slot(a, id)->ctl);
}

static uint64_t used_of(struct shmk_arena *a, uint32_t id)
{
	uint64_t b = ~0ULL;

	shmk_alloc_member_used(a, id, &b);
	return b;
}

static struct shmk_arena *make(struct ctx *c, const char *tag)
{
	struct shmk_arena_opts o = { .size = 2 * MB, .max_members = 8,
				     .refs_per_member = 32 };
	struct shmk_arena *a = NULL;

	memset(c, 0, sizeof(*c));
	nseen = 0;	/* ids are per arena */
	mkname(c->name, sizeof(c->name), tag);
	if (shmk_arena_create(c->name, &o, SHMK_OPEN_EXCL, &a))
		return NULL;
	if (pipe(c->out) || pipe(c->in))
		return NULL;
	return a;
}

static void unmake(struct ctx *c)
{
	close(c->out[0]);
	close(c->out[1]);
	close(c->in[0]);
	close(c->in[1]);
}

/* Stopped at its hook: 1; anything else (it ended, error): 0. */
static int stopped(pid_t pid)
{
	int st;

	return waitpid(pid, &st, WUNTRACED) == pid && WIFSTOPPED(st);
}

/* Joins, owns some memory, reports, waits to be killed. */
static int victim(void *p)
{
	struct ctx *c = p;
	struct shmk_arena *a;
	uint64_t off;

	if (shmk_arena_attach(c->name, 0, &a))
		return 10;
	if (shmk_alloc(a, 100, 0, 0, &off) ||
	    shmk_alloc(a, 3 * LM_PAGE, 0, 0, &off))
		return 11;
	put64(c->out[1], idgen(a));
	for (;;)
		pause();
}

/* Joins, reports, waits for "go", then reads events until V's exit. */
static int reclaimer(void *p)
{
	struct ctx *c = p;
	struct shmk_arena *a;
	uint64_t v;

	if (shmk_arena_attach(c->name, 0, &a))
		return 10;
	put64(c->out[1], idgen(a));
	if (get64(c->in[0], &v, 20000))
		return 12;
	stop_at = c->stop;
	if (wait_exit(a, (uint32_t)(v >> 32), (uint32_t)v, NULL, 20000))
		return 13;
	return 0;	/* leaves without detaching: an exit too */
}

/* ---- 1. a member reclaiming itself is a live helper ------------------- */

static int leaver(void *p)
{
	struct ctx *c = p;
	struct shmk_arena *a;
	uint64_t off, v;

	if (shmk_arena_attach(c->name, 0, &a))
		return 10;
	if (shmk_alloc(a, 3 * LM_PAGE, 0, 0, &off))
		return 11;
	put64(c->out[1], idgen(a));
	if (get64(c->in[0], &v, 20000))
		return 12;
	stop_at = "reclaim:claimed";
	return shmk_arena_detach(a) ? 14 : 0;
}

static void t_self_reclaim(void)
{
	struct ctx c;
	struct shmk_arena *a = make(&c, "rc.self");
	uint64_t v, ctl;
	uint32_t id, gen;
	pid_t pid;
	int r;

	if (!tap_ok(a != NULL, "self: create")) {
		return;
	}
	pid = spawn(leaver, &c);
	if (!tap_ok(get64(c.out[0], &v, 20000) == 0, "self: leaver joined")) {
		kill(pid, SIGKILL);
		reap(pid);
		return;
	}
	id = (uint32_t)(v >> 32);
	gen = (uint32_t)v;
	put64(c.in[1], 1);
	tap_ok(stopped(pid), "self: leaver stopped in its own reclaim");
	ctl = ctl_of(a, id);
	tap_ok(LS_STATE(ctl) == LS_RECLAIM && LS_HELPER(ctl) == id &&
	       LS_GEN(ctl) == gen, "self: its slot is RECLAIM by itself");
	/* it is live: nobody else may run (or finish) its reclaim */
	r = shmk_alloc_reclaim(a, id, gen);
	ok_eq(r, -EINPROGRESS, "self: another member's reclaim: -EINPROGRESS");
	ok_eq(ctl_of(a, id), ctl, "self: slot untouched");
	tap_ok(used_of(a, id) >= 3 * LM_PAGE,
	       "self: its blocks still its own while it works");
	kill(pid, SIGCONT);
	ok_eq(reap(pid), 0, "self: detach completed");
	ok_eq(exit_of(a, id, gen, 20000), 0, "self: exit event");
	ok_eq(LS_STATE(ctl_of(a, id)), LS_FREE, "self: slot FREE");
	ok_eq(used_of(a, id), 0, "self: nothing left owned");
	ok_eq(shmk_arena_check(a, SHMK_CHECK_REFS, NULL, 0), 0, "self: check");
	shmk_arena_detach(a);
	unmake(&c);
}

/* ---- 2. the end of a reclaim is a CAS from its own RECLAIM value ------ */

static void t_final_cas(void)
{
	struct ctx c;
	struct shmk_arena *a = make(&c, "rc.cas");
	uint64_t v, ctl, fake;
	uint32_t rid, rgen;
	pid_t vpid, rpid;

	if (!tap_ok(a != NULL, "cas: create"))
		return;
	vpid = spawn(victim, &c);
	if (!tap_ok(get64(c.out[0], &v, 20000) == 0, "cas: victim joined")) {
		kill(vpid, SIGKILL);
		reap(vpid);
		return;
	}
	c.vid = (uint32_t)(v >> 32);
	c.vgen = (uint32_t)v;
	c.stop = "reclaim:done";
	rpid = spawn(reclaimer, &c);
	ok_eq(get64(c.out[0], &v, 20000), 0, "cas: reclaimer joined");
	rid = (uint32_t)(v >> 32);
	rgen = (uint32_t)v;
	kill(vpid, SIGKILL);
	reap(vpid);
	put64(c.in[1], ((uint64_t)c.vid << 32) | c.vgen);
	tap_ok(stopped(rpid), "cas: reclaimer stopped before its last step");
	ctl = ctl_of(a, c.vid);
	tap_ok(LS_STATE(ctl) == LS_RECLAIM && LS_HELPER(ctl) == rid,
	       "cas: slot is RECLAIM by the reclaimer");
	/*
	 * The slot moves on under it (as when another helper took over and
	 * the id's next member attached): its last step must not clobber it.
	 */
	fake = LS_MAKE(LS_LIVE, 0, c.vgen + 1000);
	tap_ok(cas_sc(&lm_slot(a, c.vid)->ctl, &ctl, fake),
	       "cas: slot replaced by a LIVE one");
	kill(rpid, SIGCONT);
	ok_eq(reap(rpid), 0, "cas: reclaimer finished");
	ok_eq(ctl_of(a, c.vid), fake, "cas: the LIVE slot was not overwritten");
	/* put it back as the reclaimer would have left it */
	tap_ok(cas_sc(&lm_slot(a, c.vid)->ctl, &fake,
		      LS_MAKE(LS_FREE, 0, c.vgen)), "cas: slot restored");
	ok_eq(exit_of(a, c.vid, c.vgen, 20000), 0, "cas: victim exit");
	ok_eq(exit_of(a, rid, rgen, 20000), 0, "cas: reclaimer exit");
	ok_eq(used_of(a, c.vid), 0, "cas: victim owns nothing");
	ok_eq(shmk_arena_check(a, SHMK_CHECK_REFS, NULL, 0), 0, "cas: check");
	shmk_arena_detach(a);
	unmake(&c);
}

/* ---- 3./4. an exit waits for another survivor's reclaim --------------- */

struct waiter {
	struct shmk_arena *a;
	struct ctx *c;
	int fd;
	int r;
	uint64_t used, ctl;
};

static void *wait_thread(void *p)
{
	struct waiter *w = p;

	w->r = exit_of(w->a, w->c->vid, w->c->vgen, 20000);
	/* what the application may rely on, the moment it is told */
	w->used = used_of(w->a, w->c->vid);
	w->ctl = ctl_of(w->a, w->c->vid);
	put64(w->fd, 2);
	return NULL;
}

static void t_exit_waits(bool reclaimer_dies)
{
	const char *t = reclaimer_dies ? "dies" : "live";
	struct ctx c;
	struct shmk_arena *a = make(&c, reclaimer_dies ? "rc.die" : "rc.wait");
	struct waiter w = { 0 };
	pthread_t th;
	uint64_t v, ctl;
	uint32_t rid, rgen;
	int note[2], rs;
	pid_t vpid, rpid;

	if (!tap_ok(a != NULL && pipe(note) == 0, "%s: create", t))
		return;
	vpid = spawn(victim, &c);
	if (!tap_ok(get64(c.out[0], &v, 20000) == 0, "%s: victim joined",
		    t)) {
		kill(vpid, SIGKILL);
		reap(vpid);
		return;
	}
	c.vid = (uint32_t)(v >> 32);
	c.vgen = (uint32_t)v;
	c.stop = "reclaim:claimed";
	rpid = spawn(reclaimer, &c);
	ok_eq(get64(c.out[0], &v, 20000), 0, "reclaimer joined");
	rid = (uint32_t)(v >> 32);
	rgen = (uint32_t)v;
	kill(vpid, SIGKILL);
	reap(vpid);
	put64(c.in[1], ((uint64_t)c.vid << 32) | c.vgen);
	tap_ok(stopped(rpid), "%s: reclaimer stopped mid-reclaim", t);
	ctl = ctl_of(a, c.vid);
	tap_ok(LS_STATE(ctl) == LS_RECLAIM && LS_HELPER(ctl) == rid,
	       "%s: victim's slot is RECLAIM by the reclaimer", t);
	tap_ok(used_of(a, c.vid) > 0, "%s: victim's blocks not yet back", t);

	/* we are a survivor too: read the exit in a thread */
	w.a = a;
	w.c = &c;
	w.fd = note[1];
	note_fd = note[1];
	note_at = "reclaim:wait";
	if (!tap_ok(pthread_create(&th, NULL, wait_thread, &w) == 0,
		    "%s: thread", t))
		return;
	v = 0;
	get64(note[0], &v, 20000);
	ok_eq(v, 1, "exit not handed out: waits for the other reclaimer");
	if (reclaimer_dies)
		kill(rpid, SIGKILL);
	else
		kill(rpid, SIGCONT);
	pthread_join(th, NULL);
	note_at = NULL;
	ok_eq(w.r, 0, "exit event read");
	ok_eq(w.used, 0, "when it is read, the victim owns nothing");
	ok_eq(LS_STATE(w.ctl), LS_FREE, "when it is read, its slot is FREE");
	rs = reap(rpid);
	ok_eq(rs, reclaimer_dies ? 128 + SIGKILL : 0, "reclaimer ended");
	ok_eq(exit_of(a, rid, rgen, 20000), 0, "reclaimer's exit");
	ok_eq(used_of(a, rid), 0, "reclaimer owns nothing");
	ok_eq(shmk_arena_check(a, SHMK_CHECK_REFS, NULL, 0), 0,
	      reclaimer_dies ? "dies: check" : "live: check");
	shmk_arena_detach(a);
	close(note[0]);
	close(note[1]);
	unmake(&c);
}

int main(void)
{
	watchdog(150);
	shmk__test_hook = hook;
	t_self_reclaim();
	t_final_cas();
	t_exit_waits(false);
	t_exit_waits(true);
	return tap_done();
}
