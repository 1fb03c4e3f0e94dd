// SPDX-License-Identifier: GPL-2.0
/*
 * t_events: exit events read()/poll()ed from the member's file: how a
 * member ended (detach, exit, signal, close), seen by every survivor;
 * read() rules; overflow reporting; inherited fds.
 */
#include "kt.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int check_exit_ev(const struct shmk_event *ev, uint32_t how,
			 uint32_t id, uint32_t gen, pid_t pid, int status,
			 bool crash, uint64_t t0)
{
	KT_EQ(ev->type, SHMK_EVENT_EXIT);
	KT_EQ(ev->how, how);
	KT_EQ(ev->member_id, id);
	KT_EQ(ev->generation, gen);
	KT_EQ(ev->pid, pid);
	if (status != -1)
		KT_EQ(ev->status, status);
	KT_EQ(ev->flags, crash ? SHMK_EVENT_F_CRASH : 0);
	KT_EQ(ev->pad, 0);
	KT_EQ(ev->lost, 0);
	KT_EQ(ev->reserved, 0);
	KT_TRUE(ev->time_ns >= t0 && ev->time_ns <= kt_now_ns());
	return KT_PASS;
}

/* Exactly one event pending, and it is read into @ev. */
static int read_one(int fd, struct shmk_event *ev)
{
	KT_EQ(kt_poll_in(fd, KT_TIMEOUT_MS), 1);
	KT_RET(kt_read_event(fd, ev, true), sizeof(*ev));
	KT_RET(kt_read_event(fd, ev + 1, true), -EAGAIN);
	KT_EQ(kt_poll_in(fd, 0), 0);
	return KT_PASS;
}

enum end_kind { END_DETACH, END_EXIT, END_KILL, END_CLOSE, END_SEGV };

struct dier {
	char name[SHMK_NAME_MAX];
	enum end_kind kind;
	int cmd;	/* read end: the go */
	int rep;	/* write end: ids, then "done" */
};

struct ids {
	uint32_t id, gen;
};

static int dier_main(void *arg)
{
	struct dier *d = arg;
	struct shmk_attach at;
	struct ids ids;
	int fd = kt_open();

	/* No mapping: a mapping would keep the file (and membership). */
	if (fd < 0 || kt_attach(fd, d->name, 0, 0, 0, &at) < 0)
		return 100;
	ids.id = at.member_id;
	ids.gen = at.generation;
	kt_post(d->rep, &ids, sizeof(ids));
	if (kt_await(d->cmd, NULL, 0, KT_TIMEOUT_MS) < 0)
		return 101;
	switch (d->kind) {
	case END_DETACH:
		if (kt_detach(fd) < 0)
			return 102;
		break;
	case END_EXIT:
		_exit(7);
	case END_KILL:
		for (;;)
			pause();
	case END_CLOSE:
		close(fd);
		break;
	case END_SEGV:
		{
			/* A real fault, not raise(). */
			volatile int *volatile bad = NULL;

			*bad = 1;
		}
		return 103;
	}
	kt_post(d->rep, NULL, 0);
	/* Stay alive until told: the end must not be the process exit. */
	kt_await(d->cmd, NULL, 0, KT_TIMEOUT_MS);
	return 0;
}

struct watcher {
	char name[SHMK_NAME_MAX];
	int ready;	/* write end */
	int out;	/* write end: the event read */
	int go;		/* read end: leave when readable or closed */
};

/* An observer in another process: reads one event (blocking), reports. */
static int watcher_main(void *arg)
{
	struct watcher *w = arg;
	struct kt_member m;
	struct shmk_event ev;

	if (kt_join(&m, w->name, 0, 0, 0) < 0)
		return 100;
	kt_post(w->ready, NULL, 0);
	if (kt_read_event(m.fd, &ev, false) != sizeof(ev))
		return 101;
	kt_post(w->out, &ev, sizeof(ev));
	kt_await(w->go, NULL, 0, KT_TIMEOUT_MS);
	kt_leave(&m, true);
	return 0;
}

/*
 * One member ends in the given way while three others watch: two members
 * of this process (one RDONLY) and one in another process. Each reads the
 * same single event.
 */
static int end_case(enum end_kind kind)
{
	struct kt_member o1, o2;
	struct kt_pipe cmd, rep, wready, wout, wgo;
	struct shmk_event ev[2], wev;
	struct watcher w;
	struct dier d;
	struct ids ids;
	uint32_t how;
	int status, code_want;
	bool crash = true;
	pid_t dpid, wpid;
	uint64_t t0;

	kt_name(d.name, "end");
	KT_RET(kt_join(&o1, d.name, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	KT_RET(kt_join(&o2, d.name, 0, SHMK_ATTACH_RDONLY, 0), 0);
	KT_RET(kt_pipe_open(&cmd), 0);
	KT_RET(kt_pipe_open(&rep), 0);
	KT_RET(kt_pipe_open(&wready), 0);
	KT_RET(kt_pipe_open(&wout), 0);
	KT_RET(kt_pipe_open(&wgo), 0);

	memcpy(w.name, d.name, sizeof(w.name));
	w.ready = wready.w;
	w.out = wout.w;
	w.go = wgo.r;
	wpid = kt_fork(watcher_main, &w);
	KT_RET(kt_await(wready.r, NULL, 0, KT_TIMEOUT_MS), 0);

	d.kind = kind;
	d.cmd = cmd.r;
	d.rep = rep.w;
	dpid = kt_fork(dier_main, &d);
	KT_RET(kt_await(rep.r, &ids, sizeof(ids), KT_TIMEOUT_MS), 0);
	KT_EQ(ids.id, 4);
	KT_EQ(kt_poll_in(o1.fd, 0), 0);
	t0 = kt_now_ns();
	KT_RET(kt_post(cmd.w, NULL, 0), 0);

	switch (kind) {
	case END_DETACH:
		how = SHMK_END_DETACH;
		status = -1;
		crash = false;
		KT_RET(kt_await(rep.r, NULL, 0, KT_TIMEOUT_MS), 0);
		code_want = 0;
		break;
	case END_CLOSE:
		how = SHMK_END_CLOSE;
		status = -1;
		KT_RET(kt_await(rep.r, NULL, 0, KT_TIMEOUT_MS), 0);
		code_want = 0;
		break;
	case END_EXIT:
		how = SHMK_END_EXIT;
		status = 7;
		code_want = 7;
		break;
	case END_KILL:
		how = SHMK_END_SIGNAL;
		status = SIGKILL;
		kill(dpid, SIGKILL);
		code_want = KT_KILLED(SIGKILL);
		break;
	default:
		how = SHMK_END_SIGNAL;
		status = SIGSEGV;
		code_want = KT_KILLED(SIGSEGV);
		break;
	}
	/* Every survivor: two here, one in the watcher process. */
	KT_DO(read_one(o1.fd, ev));
	KT_DO(check_exit_ev(ev, how, ids.id, ids.gen, dpid, status, crash,
			    t0));
	KT_DO(read_one(o2.fd, ev));
	KT_DO(check_exit_ev(ev, how, ids.id, ids.gen, dpid, status, crash,
			    t0));
	KT_RET(kt_await(wout.r, &wev, sizeof(wev), KT_TIMEOUT_MS), 0);
	KT_DO(check_exit_ev(&wev, how, ids.id, ids.gen, dpid, status, crash,
			    t0));
	/* The process ending later (detach/close cases) adds nothing. */
	KT_RET(kt_post(cmd.w, NULL, 0), 0);
	KT_EQ(kt_reap(dpid), code_want);
	KT_RET(kt_read_event(o1.fd, ev, true), -EAGAIN);
	KT_RET(kt_post(wgo.w, NULL, 0), 0);
	KT_EQ(kt_reap(wpid), 0);
	kt_leave(&o2, true);
	kt_leave(&o1, true);
	return KT_PASS;
}

static int t_end_detach(void)
{
	return end_case(END_DETACH);
}

static int t_end_exit(void)
{
	return end_case(END_EXIT);
}

static int t_end_kill(void)
{
	return end_case(END_KILL);
}

static int t_end_close(void)
{
	return end_case(END_CLOSE);
}

static int t_end_segv(void)
{
	return end_case(END_SEGV);
}

static int t_read_short(void)
{
	struct kt_member m, d;
	struct shmk_event ev[2];
	char nm[SHMK_NAME_MAX];
	char buf[sizeof(struct shmk_event)];

	kt_name(nm, "short");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	KT_RET(kt_join(&d, nm, 0, 0, 0), 0);
	kt_leave(&d, true);
	KT_EQ(kt_poll_in(m.fd, KT_TIMEOUT_MS), 1);
	KT_EQ(read(m.fd, buf, sizeof(buf) - 1), -1);
	KT_EQ(errno, EINVAL);
	KT_EQ(read(m.fd, buf, 1), -1);
	KT_EQ(errno, EINVAL);
	/* Still there, whole. */
	KT_DO(read_one(m.fd, ev));
	KT_EQ(ev[0].type, SHMK_EVENT_EXIT);
	KT_EQ(ev[0].member_id, 2);
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_read_nonblock_empty(void)
{
	struct kt_member m;
	struct shmk_event ev;
	char nm[SHMK_NAME_MAX];
	int fl;

	kt_name(nm, "nb");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	KT_RET(kt_read_event(m.fd, &ev, true), -EAGAIN);
	/* O_NONBLOCK set with fcntl, plain read(). */
	fl = fcntl(m.fd, F_GETFL);
	KT_TRUE(fl >= 0);
	KT_EQ(fcntl(m.fd, F_SETFL, fl | O_NONBLOCK), 0);
	KT_EQ(read(m.fd, &ev, sizeof(ev)), -1);
	KT_EQ(errno, EAGAIN);
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_poll(void)
{
	struct kt_member m, d;
	struct shmk_event ev[2];
	struct pollfd p;
	char nm[SHMK_NAME_MAX];

	kt_name(nm, "poll");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	p.fd = m.fd;
	p.events = POLLIN;
	p.revents = 0;
	KT_EQ(poll(&p, 1, 0), 0);
	KT_RET(kt_join(&d, nm, 0, 0, 0), 0);
	KT_EQ(poll(&p, 1, 0), 0);	/* a join is no event */
	kt_leave(&d, false);
	KT_EQ(poll(&p, 1, KT_TIMEOUT_MS), 1);
	KT_TRUE(p.revents & POLLIN);
	KT_EQ(poll(&p, 1, 0), 1);	/* level-triggered */
	KT_DO(read_one(m.fd, ev));
	KT_EQ(ev[0].how, SHMK_END_CLOSE);
	KT_EQ(poll(&p, 1, 0), 0);
	kt_leave(&m, true);
	return KT_PASS;
}

/* Several records in one read(), whole records only. */
static int t_read_many(void)
{
	struct kt_member m, d;
	struct shmk_event ev[4];
	char nm[SHMK_NAME_MAX];
	uint32_t gens[3], ids[3];
	int i;

	kt_name(nm, "many");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	for (i = 0; i < 3; i++) {
		KT_RET(kt_join(&d, nm, 0, 0, 0), 0);
		gens[i] = d.at.generation;
		ids[i] = d.at.member_id;
		kt_leave(&d, true);
	}
	KT_EQ(kt_poll_in(m.fd, KT_TIMEOUT_MS), 1);
	/* Room for two and a half: two. */
	KT_EQ(read(m.fd, ev, 2 * sizeof(ev[0]) + 30), 2 * sizeof(ev[0]));
	KT_EQ(ev[0].generation, gens[0]);
	KT_EQ(ev[1].generation, gens[1]);
	/* Room for four, one left: one. */
	KT_EQ(read(m.fd, ev, sizeof(ev)), sizeof(ev[0]));
	KT_EQ(ev[0].generation, gens[2]);
	KT_EQ(ev[0].member_id, ids[2]);
	KT_RET(kt_read_event(m.fd, ev, true), -EAGAIN);
	kt_leave(&m, true);
	return KT_PASS;
}

/* A reader asleep in read() is woken by the event. */
struct reader {
	char name[SHMK_NAME_MAX];
	int ready, out;
};

static int reader_main(void *arg)
{
	struct reader *r = arg;
	struct kt_member m;
	struct shmk_event ev;
	int n;

	if (kt_join(&m, r->name, 0, 0, 0) < 0)
		return 100;
	kt_post(r->ready, &m.at.member_id, sizeof(m.at.member_id));
	n = kt_read_event(m.fd, &ev, false);
	if (n != sizeof(ev))
		return 101;
	kt_post(r->out, &ev, sizeof(ev));
	kt_leave(&m, true);
	return 0;
}

static int t_read_blocks(void)
{
	struct kt_member m, d;
	struct kt_pipe rdy, out;
	struct shmk_event ev;
	struct reader r;
	uint32_t id;
	pid_t pid;

	kt_name(r.name, "blk");
	KT_RET(kt_join(&m, r.name, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	KT_RET(kt_pipe_open(&rdy), 0);
	KT_RET(kt_pipe_open(&out), 0);
	r.ready = rdy.w;
	r.out = out.w;
	pid = kt_fork(reader_main, &r);
	KT_RET(kt_await(rdy.r, &id, sizeof(id), KT_TIMEOUT_MS), 0);
	KT_RET(kt_await_reading(pid), 0);
	KT_RET(kt_join(&d, r.name, 0, 0, 0), 0);
	kt_leave(&d, true);
	KT_RET(kt_await(out.r, &ev, sizeof(ev), KT_TIMEOUT_MS), 0);
	KT_EQ(ev.type, SHMK_EVENT_EXIT);
	KT_EQ(ev.member_id, d.at.member_id);
	KT_EQ(ev.how, SHMK_END_DETACH);
	KT_EQ(kt_reap(pid), 0);
	kt_leave(&m, true);
	return KT_PASS;
}

/* A member that joins after a death does not get that death's event. */
static int t_no_event_for_later_joiner(void)
{
	struct kt_member m, d, late;
	struct shmk_event ev[2];
	char nm[SHMK_NAME_MAX];

	kt_name(nm, "late");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	KT_RET(kt_join(&d, nm, 0, 0, 0), 0);
	kt_leave(&d, false);
	KT_DO(read_one(m.fd, ev));
	KT_RET(kt_join(&late, nm, 0, 0, 0), 0);
	KT_RET(kt_read_event(late.fd, ev, true), -EAGAIN);
	kt_leave(&late, true);
	kt_leave(&m, true);
	return KT_PASS;
}

/*
 * A member process that forked a child holding its fd: the member's exit
 * (or death) is reported when the member process ends, not when the last
 * holder of the file lets go; the child's later exit adds nothing.
 */
struct holder {
	char name[SHMK_NAME_MAX];
	bool killself;
	int rep;	/* write end: ids, grandchild pid */
	int hold;	/* read end: grandchild exits when it closes */
};

struct holder_rep {
	struct ids ids;
	pid_t gpid;
};

static int holder_main(void *arg)
{
	struct holder *h = arg;
	struct holder_rep rep;
	struct shmk_attach at;
	int fd = kt_open();
	pid_t g;

	if (fd < 0 || kt_attach(fd, h->name, 0, 0, 0, &at) < 0)
		return 100;
	g = fork();
	if (g == 0) {
		/* Holds @fd (inherited), waits for the parent test. */
		kt_await(h->hold, NULL, 0, 20000);
		_exit(0);
	}
	rep.ids.id = at.member_id;
	rep.ids.gen = at.generation;
	rep.gpid = g;
	kt_post(h->rep, &rep, sizeof(rep));
	if (h->killself)
		raise(SIGKILL);
	_exit(3);
}

static int holder_case(bool killself)
{
	struct kt_member m;
	struct kt_pipe rep, hold;
	struct holder_rep hr;
	struct shmk_event ev[2];
	struct holder h;
	pid_t pid;
	uint64_t t0 = kt_now_ns();
	int r;

	kt_name(h.name, "hold");
	KT_RET(kt_join(&m, h.name, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	KT_RET(kt_pipe_open(&rep), 0);
	KT_RET(kt_pipe_open(&hold), 0);
	h.killself = killself;
	h.rep = rep.w;
	h.hold = hold.r;
	pid = kt_fork(holder_main, &h);
	KT_RET(kt_await(rep.r, &hr, sizeof(hr), KT_TIMEOUT_MS), 0);
	KT_EQ(kt_reap(pid), killself ? KT_KILLED(SIGKILL) : 3);
	/* The grandchild still holds the file: it must not matter. */
	KT_EQ(kill(hr.gpid, 0), 0);
	r = kt_poll_in(m.fd, KT_TIMEOUT_MS);
	if (r != 1)
		kt_diag("no exit event while a forked child holds the fd");
	KT_EQ(r, 1);
	KT_DO(read_one(m.fd, ev));
	KT_DO(check_exit_ev(ev, killself ? SHMK_END_SIGNAL : SHMK_END_EXIT,
			    hr.ids.id, hr.ids.gen, pid,
			    killself ? SIGKILL : 3, true, t0));
	KT_EQ(kt_slot(m.ctrl, hr.ids.id)->state, SHMK_MEMBER_DEAD);
	/* The grandchild (a subreaper's orphan) ends; no second event. */
	KT_RET(kt_post(hold.w, NULL, 0), 0);
	KT_EQ(kt_reap(hr.gpid), 0);
	KT_RET(kt_read_event(m.fd, ev, true), -EAGAIN);
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_holder_exit(void)
{
	return holder_case(false);
}

static int t_holder_kill(void)
{
	return holder_case(true);
}

/* More events than the queue holds: OVERFLOW first, with the count. */
static int t_overflow(void)
{
	struct kt_member m;
	struct kt_params p;
	struct shmk_event ev;
	struct shmk_attach at;
	char nm[SHMK_NAME_MAX];
	uint32_t n, i, kept = 0, *ids, *gens;
	uint64_t lost;
	int fd;

	KT_RET(kt_params(&p), 0);
	n = p.event_queue_len + 5;
	ids = calloc(n, sizeof(*ids));
	gens = calloc(n, sizeof(*gens));
	KT_TRUE(ids && gens);
	kt_name(nm, "ovf");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	for (i = 0; i < n; i++) {
		fd = kt_open();
		KT_TRUE(fd >= 0);
		KT_RET(kt_attach(fd, nm, 0, 0, 0, &at), 0);
		ids[i] = at.member_id;
		gens[i] = at.generation;
		KT_RET(kt_detach(fd), 0);
		close(fd);
	}
	KT_RET(kt_read_event(m.fd, &ev, true), sizeof(ev));
	KT_EQ(ev.type, SHMK_EVENT_OVERFLOW);
	kt_diag("queue %u, %u events: overflow says lost %llu",
		p.event_queue_len, n, (unsigned long long)ev.lost);
	lost = ev.lost;
	KT_TRUE(lost >= 5 && lost <= 6);
	for (;;) {
		int r = kt_read_event(m.fd, &ev, true);

		if (r == -EAGAIN)
			break;
		KT_RET(r, sizeof(ev));
		KT_EQ(ev.type, SHMK_EVENT_EXIT);
		KT_EQ(ev.how, SHMK_END_DETACH);
		/* the kept ones are the oldest, in order */
		KT_TRUE(kept < n);
		KT_EQ(ev.member_id, ids[kept]);
		KT_EQ(ev.generation, gens[kept]);
		kept++;
	}
	KT_TRUE(kept >= p.event_queue_len - 1 && kept <= p.event_queue_len);
	/* Lost + kept account for every event. */
	KT_EQ(kept + lost, n);
	free(ids);
	free(gens);
	kt_leave(&m, true);
	return KT_PASS;
}

/* After overflow, the queue works normally again. */
static int t_overflow_recovers(void)
{
	struct kt_member m, d;
	struct kt_params p;
	struct shmk_event ev[2];
	char nm[SHMK_NAME_MAX];
	uint32_t i, n;
	uint64_t lost = 0, exits = 0;
	int r;

	KT_RET(kt_params(&p), 0);
	n = p.event_queue_len + 1;
	kt_name(nm, "ovf2");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	for (i = 0; i < n; i++) {
		KT_RET(kt_join(&d, nm, 0, 0, 0), 0);
		kt_leave(&d, true);
	}
	while ((r = kt_read_event(m.fd, ev, true)) == sizeof(ev[0])) {
		if (ev[0].type == SHMK_EVENT_OVERFLOW)
			lost += ev[0].lost;
		else
			exits++;
	}
	KT_RET(r, -EAGAIN);
	KT_EQ(lost + exits, n);
	KT_TRUE(lost >= 1);
	KT_RET(kt_join(&d, nm, 0, 0, 0), 0);
	kt_leave(&d, true);
	KT_DO(read_one(m.fd, ev));
	KT_EQ(ev[0].type, SHMK_EVENT_EXIT);
	KT_EQ(ev[0].lost, 0);
	kt_leave(&m, true);
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "exit event: clean DETACH (no CRASH), seen by every survivor",
	  t_end_detach },
	{ "exit event: exit without detach (EXIT, status, CRASH)",
	  t_end_exit },
	{ "exit event: kill -9 (SIGNAL 9, CRASH)", t_end_kill },
	{ "exit event: close of the fd while alive (CLOSE, CRASH)",
	  t_end_close },
	{ "exit event: segfault (SIGNAL 11, CRASH)", t_end_segv },
	{ "read: short buffer -> EINVAL, event kept", t_read_short },
	{ "read: O_NONBLOCK and nothing pending -> EAGAIN",
	  t_read_nonblock_empty },
	{ "poll: POLLIN exactly while an event is pending", t_poll },
	{ "read: several whole records per call", t_read_many },
	{ "read: blocking reader is woken by the event", t_read_blocks },
	{ "no event for a member that joined after the death",
	  t_no_event_for_later_joiner },
	{ "forked child holding the fd does not delay the exit event",
	  t_holder_exit },
	{ "forked child holding the fd does not delay the kill event",
	  t_holder_kill },
	{ "overflow: OVERFLOW first with lost count, then the kept events",
	  t_overflow },
	{ "overflow: lost + delivered = generated; queue works after",
	  t_overflow_recovers },
};

int main(int argc, char **argv)
{
	return kt_main(argc, argv, cases, KT_ARRAY_SIZE(cases));
}
