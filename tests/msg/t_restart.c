// SPDX-License-Identifier: GPL-2.0
/*
 * Restarts and crashes under traffic: the server killed and started
 * again (clients see it go, keep their state, reconnect, go on); a hot
 * restart (a new server takes over the live arena, nobody is dropped,
 * nothing is lost); clients killed at random points while traffic flows,
 * then started again. Every echo is checked (sequence numbers, contents)
 * and every byte of the arena is free at the end of each case.
 */
#include "stest.h"

#define NCLI	3

struct env {
	char name[64];
	struct srv srv[2];
	pid_t spid[2];
	int scmd[2];		/* write ends */
	struct book sb[2];
	struct book cb;
	int cli_rep_w, cli_cmd_r, cli_cmd_w;
	struct shmk_arena *obs;
};

static struct env E;

static int start_server_crash(int k, unsigned int flags, const char *crash,
			      int wait_ms)
{
	int sp[2], sc[2];

	if (pipe(sp) || pipe(sc))
		return -1;
	memset(&E.srv[k], 0, sizeof(E.srv[k]));
	memcpy(E.srv[k].name, E.name, sizeof(E.name));
	E.srv[k].o.max_clients = 16;
	E.srv[k].o.flags = flags;
	E.srv[k].o.handover_timeout_ns = 10 * SEC;
	E.srv[k].rep = sp[1];
	E.srv[k].cmd = sc[0];
	E.srv[k].crash = crash;
	memset(&E.sb[k], 0, sizeof(E.sb[k]));
	E.sb[k].fd = sp[0];
	E.scmd[k] = sc[1];
	E.spid[k] = spawn(server_main, &E.srv[k]);
	return wait_ms ? book_wait(&E.sb[k], R_STARTED, -1, 1, wait_ms) : 0;
}

static int start_server(int k, unsigned int flags)
{
	return start_server_crash(k, flags, NULL, 30000);
}

static void close_server_pipes(int k)
{
	close(E.sb[k].fd);
	close(E.srv[k].rep);
	close(E.srv[k].cmd);
	close(E.scmd[k]);
}

static int setup_crash(const char *tag, const char *crash)
{
	int cp[2], cc[2];

	memset(&E, 0, sizeof(E));
	if (pipe(cp) || pipe(cc))
		return -1;
	tname(E.name, sizeof(E.name), tag);
	E.cb.fd = cp[0];
	E.cli_rep_w = cp[1];
	E.cli_cmd_r = cc[0];
	E.cli_cmd_w = cc[1];
	if (start_server_crash(0, 0, crash, 30000))
		return -1;
	return shmk_arena_attach(E.name, 0, &E.obs);
}

static int setup(const char *tag)
{
	return setup_crash(tag, NULL);
}

static void finish(const char *what)
{
	eat_events(E.obs);
	ok(arena_all_free(E.obs, what), "%s: every byte free", what);
	shmk_arena_detach(E.obs);
	close(E.cb.fd);
	close(E.cli_rep_w);
	close(E.cli_cmd_r);
	close(E.cli_cmd_w);
}

static void cli_init(struct cli *c, int idx, int count, int window,
		     unsigned int flags, int progress)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->name, E.name, sizeof(c->name));
	c->idx = idx;
	c->count = count;
	c->window = window;
	c->flags = flags;
	c->progress = progress;
	c->rep = E.cli_rep_w;
	c->cmd = E.cli_cmd_r;
}

static int bad_reports(void)
{
	int i, n = 0;

	book_slurp(&E.cb);
	for (i = 0; i < NCLI; i++)
		if (book_count(&E.cb, R_BAD, i) &&
		    REP_C(book_last(&E.cb, R_BAD, i)))
			n++;
	return n;
}

static void who_missed(unsigned int k, const char *what)
{
	int i;

	for (i = 0; i < NCLI; i++)
		if (!book_count(&E.cb, k, i))
			diag("client %d: no %s (last progress %u, started %d)",
			     i, what, REP_C(book_last(&E.cb, R_PROGRESS, i)),
			     book_count(&E.cb, R_STARTED, i));
}

static void t_server_restart(void)
{
	struct cli c[NCLI];
	pid_t pid[NCLI];
	int i, good = 1, rc = 1, after = 1;

	if (!ok(setup("rr") == 0, "restart: server and observer up"))
		return;
	for (i = 0; i < NCLI; i++) {
		cli_init(&c[i], i, 1 << 30, 4, CF_RESTART | CF_STOPPABLE, 50);
		pid[i] = spawn(client_main, &c[i]);
	}
	for (i = 0; i < NCLI; i++)
		good &= book_wait(&E.cb, R_PROGRESS, i, 2, 30000) == 0;
	ok(good, "restart: traffic flows (100 echoes each)");
	put64(E.scmd[0], C_CRASH);
	is(reap(E.spid[0]), 128 + SIGKILL, "restart: server killed mid-traffic");
	close_server_pipes(0);
	if (!ok(book_wait(&E.cb, SHMK_EV_SERVER_GONE, -1, NCLI, 20000) == 0,
		"restart: every client saw SERVER_GONE"))
		who_missed(SHMK_EV_SERVER_GONE, "SERVER_GONE");
	ok(start_server(1, 0) == 0, "restart: a new server starts on the "
	   "live arena");
	ok(book_wait(&E.cb, SHMK_EV_SERVER_BACK, -1, NCLI, 30000) == 0,
	   "restart: every client saw SERVER_BACK (reconnected)");
	for (i = 0; i < NCLI; i++)
		after &= book_wait(&E.cb, R_PROGRESS, i,
				   book_count(&E.cb, R_PROGRESS, i) + 2,
				   30000) == 0;
	ok(after, "restart: the clients kept their state and go on");
	for (i = 0; i < NCLI; i++)
		put64(E.cli_cmd_w, 1);	/* stop */
	for (i = 0; i < NCLI; i++)
		good &= book_wait(&E.cb, R_DONE, i, 1, 60000) == 0;
	ok(good, "restart: every client stopped with all its echoes back");
	is(bad_reports(), 0, "restart: no echo duplicated, out of order or "
	   "corrupt");
	for (i = 0; i < NCLI; i++)
		rc &= reap(pid[i]) == 0;
	ok(rc, "restart: clients closed cleanly");
	ok(book_wait(&E.sb[1], SHMK_EV_DISCONNECTED, -1, NCLI, 20000) == 0,
	   "restart: the new server saw them leave");
	put64(E.scmd[1], C_QUIT);
	is(reap(E.spid[1]), 0, "restart: new server closed cleanly");
	close_server_pipes(1);
	finish("restart");
}

static void t_hot_restart(void)
{
	struct cli c[NCLI];
	pid_t pid[NCLI];
	int i, good = 1, rc = 1, after = 1;
	uint32_t old_id, new_id;

	if (!ok(setup("rh") == 0, "hot: server and observer up"))
		return;
	old_id = REP_C(book_last(&E.sb[0], R_STARTED, -1));
	for (i = 0; i < NCLI; i++) {
		cli_init(&c[i], i, 1 << 30, 8, CF_STOPPABLE, 200);
		pid[i] = spawn(client_main, &c[i]);
	}
	for (i = 0; i < NCLI; i++)
		good &= book_wait(&E.cb, R_PROGRESS, i, 2, 30000) == 0;
	ok(good, "hot: traffic flows (400 echoes each)");
	ok(start_server(1, SHMK_SERVER_TAKEOVER) == 0,
	   "hot: a second server takes over the live arena");
	new_id = REP_C(book_last(&E.sb[1], R_STARTED, -1));
	ok(book_wait(&E.sb[0], SHMK_EV_HANDED_OVER, -1, 1, 20000) == 0,
	   "hot: the old server was told HANDED_OVER");
	is(reap(E.spid[0]), 0, "hot: the old server closed cleanly");
	close_server_pipes(0);
	ok(book_wait(&E.cb, SHMK_EV_SERVER_MOVED, -1, NCLI, 20000) == 0,
	   "hot: every client saw SERVER_MOVED");
	for (i = 0; i < NCLI; i++)
		after &= book_wait(&E.cb, R_PROGRESS, i,
				   book_count(&E.cb, R_PROGRESS, i) + 2,
				   30000) == 0;
	ok(after, "hot: traffic goes on with the new server");
	for (i = 0; i < NCLI; i++)
		put64(E.cli_cmd_w, 1);	/* stop */
	for (i = 0; i < NCLI; i++)
		good &= book_wait(&E.cb, R_DONE, i, 1, 60000) == 0;
	ok(good, "hot: every client stopped with all its echoes back");
	is(bad_reports(), 0, "hot: no echo lost, duplicated or out of order");
	is(book_count(&E.cb, SHMK_EV_SERVER_GONE, -1), 0,
	   "hot: nobody saw the server go");
	is(REP_C(book_last(&E.cb, SHMK_EV_SERVER_MOVED, -1)), new_id,
	   "hot: they follow the new server (%u -> %u)", old_id, new_id);
	for (i = 0; i < NCLI; i++)
		rc &= reap(pid[i]) == 0;
	ok(rc, "hot: clients closed cleanly");
	ok(book_wait(&E.sb[1], SHMK_EV_DISCONNECTED, -1, NCLI, 20000) == 0,
	   "hot: the new server saw them leave");
	is(book_count(&E.sb[1], SHMK_EV_CONNECTED, -1), 0,
	   "hot: none of them had to connect again");
	put64(E.scmd[1], C_QUIT);
	is(reap(E.spid[1]), 0, "hot: new server closed cleanly");
	close_server_pipes(1);
	finish("hot");
}

/* Client traffic that must go on: NCLI stoppable clients. */
static void traffic_start(struct cli *c, pid_t *pid, unsigned int flags)
{
	int i;

	for (i = 0; i < NCLI; i++) {
		cli_init(&c[i], i, 1 << 30, 4, CF_STOPPABLE | flags, 100);
		pid[i] = spawn(client_main, &c[i]);
	}
}

static int traffic_moves(int reports)
{
	int i, good = 1;

	for (i = 0; i < NCLI; i++)
		good &= book_wait(&E.cb, R_PROGRESS, i,
				  book_count(&E.cb, R_PROGRESS, i) + reports,
				  30000) == 0;
	return good;
}

static int traffic_stop(pid_t *pid)
{
	int i, good = 1;

	for (i = 0; i < NCLI; i++)
		put64(E.cli_cmd_w, 1);
	for (i = 0; i < NCLI; i++)
		good &= book_wait(&E.cb, R_DONE, i, 1, 60000) == 0;
	for (i = 0; i < NCLI; i++)
		good &= reap(pid[i]) == 0;
	return good;
}

/* The new server dies after the old one handed it its queue. */
static void t_hot_new_dies(void)
{
	struct cli c[NCLI];
	pid_t pid[NCLI];

	if (!ok(setup("rn") == 0, "hot-new-dies: server and observer up"))
		return;
	traffic_start(c, pid, 0);
	ok(traffic_moves(2), "hot-new-dies: traffic flows");
	start_server_crash(1, SHMK_SERVER_TAKEOVER, "takeover:received", 0);
	is(reap(E.spid[1]), 128 + SIGKILL,
	   "hot-new-dies: the new server died in the middle of the takeover");
	close_server_pipes(1);
	ok(traffic_moves(2), "hot-new-dies: the old server took its queue "
	   "back and serves on");
	ok(traffic_stop(pid), "hot-new-dies: clients stopped and closed");
	is(bad_reports(), 0, "hot-new-dies: no echo lost, duplicated or out "
	   "of order");
	is(book_count(&E.cb, SHMK_EV_SERVER_GONE, -1) +
	   book_count(&E.cb, SHMK_EV_SERVER_MOVED, -1), 0,
	   "hot-new-dies: the clients noticed nothing");
	put64(E.scmd[0], C_QUIT);
	is(reap(E.spid[0]), 0, "hot-new-dies: old server closed cleanly");
	close_server_pipes(0);
	finish("hot-new-dies");
}

/* The old server dies while it hands its clients over. */
static void t_hot_old_dies(void)
{
	struct cli c[NCLI];
	pid_t pid[NCLI];

	if (!ok(setup_crash("ro", "handover:clients") == 0,
		"hot-old-dies: server and observer up"))
		return;
	traffic_start(c, pid, CF_RESTART);
	ok(traffic_moves(2), "hot-old-dies: traffic flows");
	ok(start_server(1, SHMK_SERVER_TAKEOVER) == 0,
	   "hot-old-dies: the new server starts although the old one died "
	   "handing over");
	is(reap(E.spid[0]), 128 + SIGKILL, "hot-old-dies: the old one died");
	close_server_pipes(0);
	ok(book_wait(&E.cb, SHMK_EV_SERVER_BACK, -1, NCLI, 30000) == 0,
	   "hot-old-dies: the clients went through a server restart");
	ok(traffic_moves(2), "hot-old-dies: traffic flows with the new server");
	ok(traffic_stop(pid), "hot-old-dies: clients stopped and closed");
	is(bad_reports(), 0, "hot-old-dies: no echo duplicated, out of order "
	   "or corrupt");
	put64(E.scmd[1], C_QUIT);
	is(reap(E.spid[1]), 0, "hot-old-dies: new server closed cleanly");
	close_server_pipes(1);
	finish("hot-old-dies");
}

#define NKILL	12

static void t_client_kills(void)
{
	struct cli c[NCLI];
	pid_t pid[NCLI];
	int i, k, good = 1, noticed = 1, freed = 1, back = 1;
	unsigned int seed = (unsigned int)getpid();

	if (!ok(setup("rk") == 0, "kills: server and observer up"))
		return;
	for (i = 0; i < NCLI; i++) {
		cli_init(&c[i], i, 1000000, 4, 0, 20);
		pid[i] = spawn(client_main, &c[i]);
	}
	for (k = 0; k < NKILL; k++) {
		int want;

		i = rand_r(&seed) % NCLI;
		want = book_count(&E.cb, R_PROGRESS, i) + 1 +
			rand_r(&seed) % 3;
		good &= book_wait(&E.cb, R_PROGRESS, i, want, 30000) == 0;
		kill(pid[i], SIGKILL);	/* wherever it is right now */
		reap(pid[i]);
		noticed &= book_wait(&E.sb[0], SHMK_EV_PEER_CRASHED, -1, k + 1,
				     20000) == 0;
		freed &= book_wait(&E.sb[0], R_USED, -1, k + 1, 20000) == 0 &&
			REP_C(book_last(&E.sb[0], R_USED, -1)) == 0;
		want = book_count(&E.cb, R_STARTED, i) + 1;
		pid[i] = spawn(client_main, &c[i]);
		back &= book_wait(&E.cb, R_STARTED, i, want, 30000) == 0;
	}
	ok(good, "kills: traffic kept flowing between %d kills", NKILL);
	ok(noticed, "kills: the server noticed every kill");
	ok(freed, "kills: each dead client owned no byte when it was told");
	ok(back, "kills: each killed client connected again");
	is(bad_reports(), 0, "kills: no echo duplicated, out of order or "
	   "corrupt");
	for (i = 0; i < NCLI; i++) {
		kill(pid[i], SIGKILL);
		reap(pid[i]);
	}
	ok(book_wait(&E.sb[0], SHMK_EV_PEER_CRASHED, -1, NKILL + NCLI,
		     20000) == 0, "kills: the last ones noticed too");
	put64(E.scmd[0], C_STATS);
	book_wait(&E.sb[0], R_STATS, -1, 1, 10000);
	is(REP_C(book_last(&E.sb[0], R_STATS, -1)), 0,
	   "kills: no client slot left taken");
	put64(E.scmd[0], C_QUIT);
	is(reap(E.spid[0]), 0, "kills: server closed cleanly");
	close_server_pipes(0);
	finish("kills");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	t_server_restart();
	t_hot_restart();
	t_hot_new_dies();
	t_hot_old_dies();
	t_client_kills();
	return done_testing();
}
