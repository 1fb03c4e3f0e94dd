// SPDX-License-Identifier: GPL-2.0
/*
 * t_torture: kill -9 torture of crash cleanup (issue 5).
 *
 * The driver creates an arena, publishes the shared state (torture.h),
 * starts a server and several clients (member.c, this binary re-executed
 * with --child) and then, round after round, waits a random time from a
 * seeded PRNG, SIGKILLs a random member (now and then the server, now and
 * then two clients at once), checks the invariants, restarts it. Every so
 * many rounds, and at the end, it kills everybody and checks that the
 * allocator accounts for every byte. After every kill:
 *  - the victim died of SIGKILL; every attached victim produced one exit
 *    event (crash, SIGKILL) and, before the driver got it, its reclaim was
 *    complete (shmk_alloc_member_used of the dead member is 0);
 *  - the survivors were told (server: PEER_CRASHED; clients: SERVER_GONE);
 *  - no lock word the members use is owned by a dead member;
 *  - every survivor makes progress (bounded wait on its counter);
 *  - members found no message lost, duplicated or reordered between live
 *    peers and no corrupt payload (their shared failure counters);
 *  - after the restart, every client gets echoes again.
 * TAP: one line per invariant family, the measurements as "#" lines.
 *
 * Environment: SHMK_TORTURE_KILLS (kills: rounds until at least that
 * many, default 20), _CLIENTS (4),
 * _SEED, _BOUND_MS (stuck bound, 30000), _DELAY_MS (longest random delay
 * before a kill, 30), _EARLY_US (longest delay of a kill while a member
 * starts; default 1.5 times the average start time), _WIPE (rounds between all-dead checkpoints), _SIZE
 * (arena bytes, 8 MiB), _MSG (0: core API only), _VERBOSE (1: a line per
 * kill), _STACKS (1: user stacks of stuck or late members), _SECS (soak:
 * run until that many seconds have passed; rounds unbounded unless _KILLS
 * is set too), _HOG ("cpu", "mem" or "cpu,mem": load to run under),
 * _HOG_MB (the memory hog's size). SHMK_BACKEND picks the backend.
 */
#include "torture.h"

#include <dirent.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define HOG_MAX		65	/* 64 CPU hogs at most, plus one memory hog */

enum dfam {
	D_EXIT, D_SURV, D_RECLAIM, D_LOCKSCAN, D_STUCK, D_RESTART,
	D_ACCOUNT, D_CHECK, D_GONE, NDF
};

struct vrec {
	int role;
	pid_t pid;
	int pidfd;
	uint64_t idgen;		/* known before the kill, or from its event */
	uint64_t conn_srv;	/* client: its server when killed */
	uint64_t srv;		/* the server then */
	uint32_t conn_mask;	/* server: clients connected to it then */
	uint64_t t_kill, t_zombie, t_event, t_reclaimed;
	uint64_t mu_event;	/* bytes it owned when its event arrived */
	struct shmk_event ev;
	bool got_event;
	bool closed;		/* idgen unknown, given up: no pid match */
};

struct rstate {
	pid_t pid;
	int pidfd;
	bool live;
	uint64_t idgen;
};

struct samp {
	double *x;
	size_t n, cap;
};

static struct {
	struct shmk_arena *a;
	struct tstate *st;
	uint64_t st_off;
	struct tctx c;
	uint64_t me;
	char name[64];
	uint64_t seed, rng, size;
	int nclients, nroles, rounds, wipe_every, delay_ms;
	int64_t bound, grace;
	uint64_t t_end;		/* soak: stop at this time (0: by rounds) */
	pid_t hogs[HOG_MAX];
	int nhogs;
	bool msg, verbose;
	struct rstate r[NROLE];
	struct vrec *v;
	size_t nv, capv;
	struct samp event, reclaim, surv_cli, surv_srv;
	int fail[NDF];
	unsigned long kills, kills_srv, kills_cli, kills_wipe, no_attach;
	unsigned long spawns, guessed, lockscans, checkpoints, premature;
	unsigned long overflows, rounds_done, targeted, targeted_hit;
	unsigned long died_holding, sweep_recov, early, late, unmatched;
	long early_us;
	uint64_t start_ns;	/* average time a member takes to start */
	uint64_t leaked, reserve_mine;
	const char *backend;
} D;

__attribute__((format(printf, 2, 3)))
static void dfail(enum dfam f, const char *fmt, ...)
{
	va_list ap;

	if (D.fail[f]++ >= 10)
		return;		/* ten of each family are enough */
	fprintf(stderr, "# FAIL [driver] ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static long envnum(const char *k, long def)
{
	const char *v = getenv(k);

	return v && *v ? strtol(v, NULL, 0) : def;
}

/* ---- samples -------------------------------------------------------------- */

static void samp_add(struct samp *s, double x)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 256;
		double *n = realloc(s->x, nc * sizeof(*n));

		if (!n)
			return;
		s->x = n;
		s->cap = nc;
	}
	s->x[s->n++] = x;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least @pct % at or below it. */
static double samp_pct(const struct samp *s, unsigned int pct)
{
	size_t k = (s->n * pct + 99) / 100;

	return s->x[k ? k - 1 : 0];
}

static void samp_print(const char *what, struct samp *s)
{
	double med, max;

	if (!s->n) {
		printf("# %s: no sample\n", what);
		return;
	}
	qsort(s->x, s->n, sizeof(double), dcmp);
	med = s->n % 2 ? s->x[s->n / 2] :
		(s->x[s->n / 2 - 1] + s->x[s->n / 2]) / 2;
	max = s->x[s->n - 1];
	printf("# %s: median %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms "
	       "(n=%zu)\n", what, med, samp_pct(s, 90), samp_pct(s, 99), max,
	       s->n);
}

/* ---- waiting -------------------------------------------------------------- */

static void driver_events(void);

static bool pidfd_dead(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return fd >= 0 && poll(&p, 1, 0) == 1;
}

/*
 * Wait until counter @c is at least @from + @need, at most @bound ns; the
 * member bumps it and wakes us because we set its watch flag. Stops early
 * (-ECHILD) if the process behind @pidfd ends.
 */
static int wait_ctr(struct ctr *c, uint32_t from, uint32_t need,
		    int64_t bound, int pidfd)
{
	uint64_t end = now_ns() + (uint64_t)bound, t;
	uint32_t v;
	int r;

	__atomic_store_n(&c->watch, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		v = __atomic_load_n(&c->v, __ATOMIC_SEQ_CST);
		if (v - from >= need) {
			r = 0;
			break;
		}
		t = now_ns();
		if (t >= end) {
			r = -ETIMEDOUT;
			break;
		}
		if (pidfd_dead(pidfd)) {
			r = -ECHILD;
			break;
		}
		r = shmk_arena_wait(D.a, shmk_arena_off(D.a, &c->v), v,
				    end - t < 50 * MS ? (int64_t)(end - t) :
				    50 * MS, 0);
		if (r == SHMK_WAIT_EVENT)
			driver_events();
	}
	__atomic_store_n(&c->watch, 0, __ATOMIC_SEQ_CST);
	return r;
}

static void dump_stuck(pid_t pid);

/*
 * Wait (bounded) for a condition members signal through st->notify. If it
 * takes more than 2 s, show where member @late is (it is not a failure).
 */
static int wait_notify(bool (*pred)(const void *), const void *arg,
		       pid_t late)
{
	uint64_t start = now_ns(), end = start + (uint64_t)D.bound, t;
	struct ctr *c = &D.st->notify;
	bool told = false;
	uint32_t v;
	int r;

	__atomic_store_n(&c->watch, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		v = __atomic_load_n(&c->v, __ATOMIC_SEQ_CST);
		if (pred(arg)) {
			r = 0;
			break;
		}
		t = now_ns();
		if (t >= end) {
			r = -ETIMEDOUT;
			break;
		}
		if (!told && late > 0 && t - start > 2 * (uint64_t)SEC) {
			told = true;
			D.late++;
			fprintf(stderr, "# member pid %d is %.1f s late with its "
				"event:\n", (int)late, (double)(t - start) / 1e9);
			dump_stuck(late);
		}
		r = shmk_arena_wait(D.a, shmk_arena_off(D.a, &c->v), v,
				    end - t < 50 * MS ? (int64_t)(end - t) :
				    50 * MS, 0);
		if (r == SHMK_WAIT_EVENT)
			driver_events();
	}
	__atomic_store_n(&c->watch, 0, __ATOMIC_SEQ_CST);
	return r;
}

/* ---- soak load ------------------------------------------------------------ */

/* MemAvailable from /proc/meminfo, in bytes; 0 when unknown. */
static uint64_t mem_available(void)
{
	char line[128];
	unsigned long long kb = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb << 10;
}

/*
 * One hog: a busy loop (@bytes 0), or a loop that maps, touches and unmaps
 * @bytes, so that members run preempted and under memory pressure. A hog
 * dies with the driver. Started before the arena exists: a hog holds no
 * file of it, or the arena would outlive its last member.
 */
static pid_t hog_start(uint64_t bytes)
{
	pid_t parent = getpid(), p = fork();
	volatile uint64_t spin = 0;

	if (p != 0)
		return p;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	if (nice(5) < 0)
		_exit(1);	/* below the members: load, not starvation */
	for (;;) {
		char *m;
		uint64_t off;

		if (!bytes) {
			spin++;
			continue;
		}
		m = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			_exit(1);
		for (off = 0; off < bytes; off += 4096)
			m[off] = (char)off;
		munmap(m, bytes);
	}
}

static int hogs_start(const char *what, uint64_t mem_bytes, long *ncpu)
{
	bool cpu = strstr(what, "cpu") != NULL, mem = strstr(what, "mem");
	long i, n = sysconf(_SC_NPROCESSORS_ONLN);
	pid_t p;

	if (!cpu && !mem)
		return -EINVAL;
	*ncpu = cpu ? (n < 1 ? 1 : n > HOG_MAX - 1 ? HOG_MAX - 1 : n) : 0;
	for (i = 0; i < *ncpu + (mem ? 1 : 0); i++) {
		p = hog_start(i < *ncpu ? 0 : mem_bytes);
		if (p < 0)
			return -errno;
		D.hogs[D.nhogs++] = p;
	}
	return 0;
}

static void hogs_stop(void)
{
	int i;

	for (i = 0; i < D.nhogs; i++)
		kill(D.hogs[i], SIGKILL);
	for (i = 0; i < D.nhogs; i++)
		waitpid(D.hogs[i], NULL, 0);
	D.nhogs = 0;
}

/* ---- membership events ---------------------------------------------------- */

/* The exit of one victim: is its reclaim complete? */
static void victim_ended(struct vrec *v, const struct shmk_event *e)
{
	uint32_t id = e->member_id, gen = e->generation;
	uint64_t end, mu = 0;
	int r;

	v->got_event = true;
	v->ev = *e;
	v->idgen = idgen_of(id, gen);
	v->t_event = now_ns();
	samp_add(&D.event, (double)(v->t_event - v->t_kill) / 1e6);
	if (shmk_alloc_member_used(D.a, id, &v->mu_event))
		v->mu_event = 0;
	/* 0 once done (by anybody); -EINPROGRESS while a live helper works */
	end = v->t_event + (uint64_t)D.bound;
	while ((r = shmk_alloc_reclaim(D.a, id, gen)) == -EINPROGRESS &&
	       now_ns() < end)
		sched_yield();
	v->t_reclaimed = v->mu_event ? now_ns() : v->t_event;
	if (r)
		dfail(D_RECLAIM, "reclaim of member %u/%u: %d", id, gen, r);
	if (v->mu_event) {
		D.premature++;
		dfail(D_RECLAIM, "exit event of member %u/%u returned while "
		      "it still owned %" PRIu64 " bytes (reclaim unfinished)",
		      id, gen, v->mu_event);
	}
	if (shmk_alloc_member_used(D.a, id, &mu) == 0 && mu)
		dfail(D_RECLAIM, "member %u/%u still owns %" PRIu64 " bytes "
		      "after its reclaim", id, gen, mu);
	samp_add(&D.reclaim, (double)(v->t_reclaimed - v->t_kill) / 1e6);
}

static void on_event(const struct shmk_event *e)
{
	uint64_t ig = idgen_of(e->member_id, e->generation);
	size_t i;
	int r;

	if (e->type == SHMK_EVENT_OVERFLOW) {
		D.overflows++;
		return;
	}
	if (e->type != SHMK_EVENT_EXIT)
		return;
	for (i = D.nv; i-- > 0;) {
		struct vrec *v = &D.v[i];

		if (v->got_event)
			continue;
		if (v->idgen == ig || (!v->idgen && !v->closed &&
					v->pid == e->pid)) {
			victim_ended(v, e);
			return;
		}
	}
	for (r = 0; r < D.nroles; r++) {
		if (D.r[r].live && D.r[r].idgen == ig) {
			dfail(D_EXIT, "role %d (member %u/%u, pid %d) ended "
			      "without being killed: how %u status %d", r,
			      e->member_id, e->generation, e->pid, e->how,
			      e->status);
			D.r[r].live = false;
			return;
		}
	}
	/*
	 * A victim killed while it started, counted as never attached once
	 * the grace passed, whose exit event came after all; or a member
	 * the driver stopped while it started. Counted, not timed.
	 */
	for (i = D.nv; i-- > 0;) {
		if (D.v[i].got_event && D.v[i].idgen == ig) {
			dfail(D_EXIT, "a second exit event for member %u/%u "
			      "(pid %d, how %u, status %d)", e->member_id,
			      e->generation, e->pid, e->how, e->status);
			return;
		}
	}
	if (e->how != SHMK_END_SIGNAL)
		return;	/* a detach, a member's own exit */
	D.unmatched++;
	if (D.verbose)
		fprintf(stderr, "# exit event of member %u/%u (pid %d, how %u, "
			"status %d) matches no victim\n", e->member_id,
			e->generation, e->pid, e->how, e->status);
}

static void driver_events(void)
{
	struct shmk_event ev[32];
	int n, i;

	while ((n = shmk_arena_events(D.a, ev, 32)) > 0)
		for (i = 0; i < n; i++)
			on_event(&ev[i]);
}

/* ---- members -------------------------------------------------------------- */

static int pidfd_of(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

static void reap_quietly(struct rstate *r)
{
	int status;

	kill(r->pid, SIGKILL);
	waitpid(r->pid, &status, 0);
	if (r->pidfd >= 0)
		close(r->pidfd);
	r->pidfd = -1;
	r->live = false;
}

/* Fork and exec role @k; do not wait for it. */
static int launch(int k)
{
	struct role *sr = &D.st->r[k];
	struct rstate *r = &D.r[k];
	char a_role[16], a_seed[32], a_msg[8], a_n[16], a_b[32], a_pp[16];
	pid_t pid;

	st64(&sr->idgen, 0);
	st64(&sr->conn_srv, 0);
	snprintf(a_role, sizeof(a_role), "%d", k);
	snprintf(a_seed, sizeof(a_seed), "%#" PRIx64, rnd(&D.rng));
	snprintf(a_msg, sizeof(a_msg), "%d", D.msg);
	snprintf(a_n, sizeof(a_n), "%d", D.nroles);
	snprintf(a_b, sizeof(a_b), "%" PRId64, D.bound / MS);
	snprintf(a_pp, sizeof(a_pp), "%d", (int)getpid());
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		dfail(D_RESTART, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		execl("/proc/self/exe", "t_torture", "--child", a_role,
		      D.name, a_seed, a_msg, a_n, a_b, a_pp, (char *)NULL);
		_exit(127);
	}
	r->pid = pid;
	r->pidfd = pidfd_of(pid);
	r->live = false;
	return 0;
}

/* Start role @k; 0 once it is attached (and connected) and published. */
static int spawn(int k)
{
	struct role *sr = &D.st->r[k];
	struct rstate *r = &D.r[k];
	uint32_t from = ld32(&sr->up.v);
	uint64_t t0 = now_ns(), dt;
	int rc, status = 0;
	pid_t pid;

	if (launch(k))
		return -1;
	pid = r->pid;
	rc = wait_ctr(&sr->up, from, 1, D.bound, r->pidfd);
	if (rc == 0) {	/* how long a start takes: early kills aim inside */
		dt = now_ns() - t0;
		D.start_ns = D.start_ns ? (D.start_ns * 7 + dt) / 8 : dt;
	}
	if (rc) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		dfail(D_RESTART, "role %d (pid %d) did not come up: %s, "
		      "status %#x", k, (int)pid, rc == -ECHILD ? "it ended" :
		      "timed out", status);
		if (r->pidfd >= 0)
			close(r->pidfd);
		r->pidfd = -1;
		return -1;
	}
	r->live = true;
	r->idgen = ld64(&sr->idgen);
	D.spawns++;
	return 0;
}

static int start_all(void)
{
	int k;

	for (k = 0; k < D.nroles; k++)
		if (!D.r[k].live && spawn(k) && spawn(k))
			return -1;
	return 0;
}

/* ---- checks --------------------------------------------------------------- */

static bool seen_pred(const void *arg)
{
	uint64_t ig = *(const uint64_t *)arg;

	return ld64(&D.st->seen[IG_ID(ig)].idgen) == ig;
}

struct gone_arg {
	int role;
	uint64_t srv;
};

static bool gone_pred(const void *arg)
{
	const struct gone_arg *g = arg;

	return ld64(&D.st->r[g->role].gone_srv) == g->srv;
}

static bool any_member_live(void)
{
	int k;

	for (k = 0; k < D.nroles; k++)
		if (D.r[k].live)
			return true;
	return false;
}

/* Were the survivors told, and how long after the kill? */
static void check_survivors(struct vrec *v)
{
	struct gone_arg g;
	int k;

	if (!v->got_event || IG_ID(v->idgen) > MAXID)
		return;
	if (D.msg && v->role > 0) {
		if (!v->conn_srv || v->conn_srv != v->srv || !D.r[0].live ||
		    D.r[0].idgen != v->srv)
			return;
		if (wait_notify(seen_pred, &v->idgen, D.r[0].pid))
			dfail(D_SURV, "the server never reported client %u/%u "
			      "crashed", IG_ID(v->idgen), IG_GEN(v->idgen));
		else
			samp_add(&D.surv_cli, (double)(ld64(&D.st->seen[
				IG_ID(v->idgen)].t_ns) - v->t_kill) / 1e6);
		return;
	}
	if (D.msg) {
		for (k = 1; k < D.nroles; k++) {
			if (!(v->conn_mask & (1U << k)) || !D.r[k].live)
				continue;
			g.role = k;
			g.srv = v->idgen;
			if (wait_notify(gone_pred, &g, D.r[k].pid))
				dfail(D_SURV, "client %d never saw server %u/%u "
				      "gone", k, IG_ID(v->idgen),
				      IG_GEN(v->idgen));
			else
				samp_add(&D.surv_srv,
					 (double)(ld64(&D.st->r[k].gone_ns) -
						  v->t_kill) / 1e6);
		}
		return;
	}
	if (!any_member_live())
		return;
	if (wait_notify(seen_pred, &v->idgen, 0))
		dfail(D_SURV, "no surviving member saw member %u/%u end",
		      IG_ID(v->idgen), IG_GEN(v->idgen));
	else
		samp_add(v->role ? &D.surv_cli : &D.surv_srv,
			 (double)(ld64(&D.st->seen[IG_ID(v->idgen)].t_ns) -
				  v->t_kill) / 1e6);
}

static bool id_live(uint32_t id)
{
	int k;

	if (id == IG_ID(D.me))
		return true;
	for (k = 0; k < D.nroles; k++)
		if (D.r[k].live && IG_ID(D.r[k].idgen) == id)
			return true;
	return false;
}

static uint32_t *lock_word(int i)
{
	return i < NCELL ? &D.st->cell[i].lock.word : &D.st->board.lock.word;
}

/* Which lock words carry OWNER_DIED now (bit i: lock i). */
static uint32_t died_mask(void)
{
	uint32_t m = 0;
	int i;

	for (i = 0; i <= NCELL; i++)
		if (__atomic_load_n(lock_word(i), __ATOMIC_ACQUIRE) &
		    SHMK_LOCK_OWNER_DIED)
			m |= 1U << i;
	return m;
}

/* No lock word we use may name a member that is not alive. */
static void lock_scan(const char *when)
{
	uint32_t w, owner;
	int i;

	for (i = 0; i <= NCELL; i++) {
		D.lockscans++;
		w = __atomic_load_n(lock_word(i), __ATOMIC_ACQUIRE);
		owner = w & SHMK_LOCK_OWNER_MASK;
		if (!owner)
			continue;
		if (owner == SHMK_LOCK_OWNER_MASK)
			dfail(D_LOCKSCAN, "%s: lock %d is not recoverable "
			      "(word %#x)", when, i, w);
		else if (!id_live(owner))
			dfail(D_LOCKSCAN, "%s: lock %d owned by member %u, "
			      "which is not alive (word %#x)", when, i, owner,
			      w);
	}
}

/*
 * Where is a stuck member? Each thread's syscall and kernel stack; with
 * SHMK_TORTURE_STACKS=1 its user stack too (and gdb's, where there is gdb).
 */
static void dump_stuck(pid_t pid)
{
	char path[384], buf[256], cmd[160];
	struct dirent *de;
	FILE *f;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/syscall",
			 (int)pid, de->d_name);
		f = fopen(path, "r");
		if (f && fgets(buf, sizeof(buf), f))
			fprintf(stderr, "#   pid %d thread %s: syscall %s",
				(int)pid, de->d_name, buf);
		if (f)
			fclose(f);
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stack",
			 (int)pid, de->d_name);
		f = fopen(path, "r");
		while (f && fgets(buf, sizeof(buf), f))
			fprintf(stderr, "#     %s", buf);
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	if (!envnum("SHMK_TORTURE_STACKS", 0))
		return;
	/*
	 * Its main thread prints its user stack (member.c, on_usr1). This
	 * interrupts what it waits in, so it may also end the wait: opt-in.
	 */
	syscall(SYS_tgkill, pid, pid, SIGUSR1);
	if (access("/usr/bin/gdb", X_OK) == 0) {
		snprintf(cmd, sizeof(cmd), "gdb -p %d -batch -ex 'thread "
			 "apply all bt' 2>/dev/null | grep '^#' >&2", (int)pid);
		if (system(cmd) < 0)
			fprintf(stderr, "#   gdb did not run\n");
	}
}

static void stuck_check(const char *when)
{
	uint32_t from;
	int k, r;

	for (k = 0; k < D.nroles; k++) {
		if (!D.r[k].live)
			continue;
		from = ld32(&D.st->r[k].prog.v);
		r = wait_ctr(&D.st->r[k].prog, from, 2, D.bound, D.r[k].pidfd);
		if (r == -ECHILD) {
			driver_events();
			if (D.r[k].live)
				dfail(D_STUCK, "%s: role %d ended by itself",
				      when, k);
			D.r[k].live = false;
		} else if (r) {
			dfail(D_STUCK, "%s: role %d (member %u/%u) made no "
			      "progress in %" PRId64 " ms", when, k,
			      IG_ID(D.r[k].idgen), IG_GEN(D.r[k].idgen),
			      D.bound / MS);
			dump_stuck(D.r[k].pid);
		}
	}
}

static void echo_check(const char *when)
{
	uint32_t from;
	int k;

	if (!D.msg || !D.r[0].live)
		return;
	for (k = 1; k < D.nroles; k++) {
		if (!D.r[k].live)
			continue;
		from = ld32(&D.st->r[k].echoes.v);
		if (wait_ctr(&D.st->r[k].echoes, from, 1, D.bound,
			     D.r[k].pidfd)) {
			dfail(D_STUCK, "%s: client %d (member %u/%u) got no "
			      "echo in %" PRId64 " ms", when, k,
			      IG_ID(D.r[k].idgen), IG_GEN(D.r[k].idgen),
			      D.bound / MS);
			dump_stuck(D.r[0].pid);
			dump_stuck(D.r[k].pid);
		}
	}
}

/* Members' failure counters seen so far, to name the round they grew in. */
static uint64_t bad_seen[NFAM];

static void bad_check(unsigned long round)
{
	static const char *const nm[NFAM] = {
		"lock", "message", "content", "stuck", "api",
	};
	int f;
	uint64_t b;

	for (f = 0; f < NFAM; f++) {
		b = ld64(&D.st->bad[f]);
		if (b != bad_seen[f])
			fprintf(stderr, "# round %lu: members report %" PRIu64
				" new %s failure(s)\n", round, b - bad_seen[f],
				nm[f]);
		bad_seen[f] = b;
	}
}

/* ---- kills ---------------------------------------------------------------- */

static struct vrec *vrec_new(void)
{
	if (D.nv == D.capv) {
		size_t nc = D.capv ? D.capv * 2 : 256;
		struct vrec *n = realloc(D.v, nc * sizeof(*n));

		if (!n)
			return NULL;
		D.v = n;
		D.capv = nc;
	}
	memset(&D.v[D.nv], 0, sizeof(D.v[0]));
	return &D.v[D.nv++];
}

static void wait_zombie(struct vrec *v)
{
	struct pollfd p = { .fd = v->pidfd, .events = POLLIN };
	uint64_t end = v->t_kill + (uint64_t)D.bound;
	siginfo_t si;

	if (v->pidfd >= 0) {
		if (poll(&p, 1, (int)(D.bound / MS)) != 1)
			dfail(D_EXIT, "pid %d still runs %" PRId64 " ms after "
			      "SIGKILL", (int)v->pid, D.bound / MS);
	} else {
		for (;;) {	/* no pidfd: look without reaping */
			memset(&si, 0, sizeof(si));
			if (waitid(P_PID, (id_t)v->pid, &si,
				   WEXITED | WNOHANG | WNOWAIT) || si.si_pid ||
			    now_ns() > end)
				break;
			sched_yield();
		}
	}
	v->t_zombie = now_ns();
}

/* SIGKILL the members in roles[], all at once; handle their ends. */
static void kill_batch(const int *roles, int n, bool wipe)
{
	uint64_t srv = D.r[0].live ? D.r[0].idgen : 0, end;
	size_t first = D.nv;
	struct vrec *v;
	uint32_t died0;
	bool all;
	int k, j, status;

	died0 = died_mask();
	for (k = 0; k < n; k++) {
		int r = roles[k];

		v = vrec_new();
		if (!v)
			return;
		v->role = r;
		v->pid = D.r[r].pid;
		v->pidfd = D.r[r].pidfd;
		v->idgen = ld64(&D.st->r[r].idgen);
		v->conn_srv = r ? ld64(&D.st->r[r].conn_srv) : 0;
		v->srv = srv;
		for (j = 1; r == 0 && v->idgen && j < D.nroles; j++)
			if (D.r[j].live &&
			    ld64(&D.st->r[j].conn_srv) == v->idgen)
				v->conn_mask |= 1U << j;
		v->t_kill = now_ns();
		kill(v->pid, SIGKILL);
		D.r[r].live = false;
		D.r[r].pidfd = -1;
		D.kills++;
		if (wipe)
			D.kills_wipe++;
		if (r)
			D.kills_cli++;
		else
			D.kills_srv++;
	}
	for (k = 0; k < n; k++)
		wait_zombie(&D.v[first + k]);
	end = now_ns() + (uint64_t)D.bound;
	for (;;) {
		struct pollfd p = { .fd = shmk_arena_event_fd(D.a),
				    .events = POLLIN };

		driver_events();
		all = true;
		for (k = 0; k < n; k++) {
			v = &D.v[first + k];
			if (!v->got_event && (v->idgen ||
					      now_ns() < v->t_zombie +
					      (uint64_t)D.grace))
				all = false;
		}
		if (all || now_ns() > end)
			break;
		poll(&p, 1, 20);
	}
	for (k = 0; k < n; k++) {
		v = &D.v[first + k];
		if (!v->got_event) {
			if (v->idgen)
				dfail(D_EXIT, "no exit event for member %u/%u "
				      "(role %d) in %" PRId64 " ms",
				      IG_ID(v->idgen), IG_GEN(v->idgen),
				      v->role, D.bound / MS);
			else {
				D.no_attach++;
				/*
				 * Its pid may come back in another member:
				 * from now on it matches no event.
				 */
				v->closed = true;
			}
		} else if (!(v->ev.flags & SHMK_EVENT_F_CRASH)) {
			dfail(D_EXIT, "exit of %u/%u not flagged a crash",
			      v->ev.member_id, v->ev.generation);
		} else if (v->ev.flags & SHMK_EVENT_F_GUESSED) {
			D.guessed++;
		} else if (v->ev.how != SHMK_END_SIGNAL ||
			   v->ev.status != SIGKILL) {
			dfail(D_EXIT, "exit of %u/%u: how %u status %d, want "
			      "SIGKILL", v->ev.member_id, v->ev.generation,
			      v->ev.how, v->ev.status);
		}
		status = 0;
		if (waitpid(v->pid, &status, 0) != v->pid ||
		    !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			dfail(D_EXIT, "role %d pid %d: wait status %#x, want "
			      "killed by SIGKILL", v->role, (int)v->pid,
			      status);
		if (v->pidfd >= 0)
			close(v->pidfd);
		v->pidfd = -1;
		st64(&D.st->r[v->role].idgen, 0);
		st64(&D.st->r[v->role].conn_srv, 0);
	}
	/* locks it held are OWNER_DIED now (unless taken over already) */
	D.died_holding += (unsigned long)__builtin_popcount(died_mask() &
							    ~died0);
	for (k = 0; k < n; k++)
		check_survivors(&D.v[first + k]);
	lock_scan("after a kill");
	if (D.verbose) {
		for (k = 0; k < n; k++) {
			v = &D.v[first + k];
			fprintf(stderr, "# kill %lu: %s %d member %u/%u: "
				"dead %.3f ms, event %.3f ms, reclaimed %.3f "
				"ms%s\n", D.kills,
				v->role ? "client" : "server", v->role,
				IG_ID(v->idgen), IG_GEN(v->idgen),
				(double)(v->t_zombie - v->t_kill) / 1e6,
				v->got_event ? (double)(v->t_event -
							v->t_kill) / 1e6 : -1.0,
				v->got_event ? (double)(v->t_reclaimed -
							v->t_kill) / 1e6 : -1.0,
				v->got_event ? "" : " (not attached yet)");
		}
	}
}

/* ---- every byte ------------------------------------------------------------ */

static void account(const char *when, uint32_t blocks_mine)
{
	struct shmk_alloc_stats s;
	uint64_t du = 0, mu, sum;
	char msg[256];
	uint32_t id;
	int r;

	D.checkpoints++;
	r = shmk_alloc_stats(D.a, &s);
	if (r) {
		dfail(D_ACCOUNT, "%s: alloc_stats: %d", when, r);
		return;
	}
	shmk_alloc_member_used(D.a, IG_ID(D.me), &du);
	sum = s.free_bytes + s.reserve_bytes + du;
	if (sum != s.heap_bytes || s.used_bytes != du ||
	    s.blocks != blocks_mine || s.buffers || s.chunk_bytes ||
	    s.reserve_bytes > D.reserve_mine) {
		dfail(D_ACCOUNT, "%s: heap %" PRIu64 " != free %" PRIu64
		      " + reserves %" PRIu64 " (own %" PRIu64 ") + the "
		      "driver's %" PRIu64 "; used %" PRIu64 " in %u blocks "
		      "(want %u), %u buffers, chunk pages %" PRIu64, when,
		      s.heap_bytes, s.free_bytes, s.reserve_bytes,
		      D.reserve_mine, du, s.used_bytes, s.blocks, blocks_mine,
		      s.buffers, s.chunk_bytes);
	}
	D.leaked += s.heap_bytes > sum ? s.heap_bytes - sum : sum - s.heap_bytes;
	D.leaked += s.reserve_bytes > D.reserve_mine ?
		s.reserve_bytes - D.reserve_mine : 0;
	/* no small block lives: a chunk page left is a page lost to the pool */
	D.leaked += s.chunk_bytes;
	for (id = 1; id <= MAXID; id++) {
		if (id == IG_ID(D.me))
			continue;
		if (shmk_alloc_member_used(D.a, id, &mu) == 0 && mu)
			dfail(D_ACCOUNT, "%s: dead member %u still owns %"
			      PRIu64 " bytes", when, id, mu);
	}
	r = shmk_arena_check(D.a, SHMK_CHECK_REFS, msg, sizeof(msg));
	if (r)
		dfail(D_CHECK, "%s: arena_check(SHMK_CHECK_REFS): %d %s",
		      when, r, msg);
}

/*
 * Nobody but the driver is left: take every cell lock once. A lock whose
 * owner died must come with EOWNERDEAD; repair the cell, make it
 * consistent. Afterwards every lock word must be 0.
 */
static void lock_sweep(void)
{
	struct cell *cl;
	uint64_t off;
	int i, r;

	for (i = 0; i < NCELL; i++) {
		cl = &D.st->cell[i];
		off = shmk_arena_off(D.a, &cl->lock);
		r = shmk_lock_acquire(D.a, off, D.bound);
		if (r == -EOWNERDEAD) {
			D.sweep_recov++;
			if (cl->a != cl->b)
				cl->b = cl->a;
			r = shmk_lock_consistent(D.a, off);
			if (r)
				dfail(D_LOCKSCAN, "cell %d: lock_consistent: "
				      "%d", i, r);
		} else if (r) {
			dfail(D_LOCKSCAN, "cell %d: lock_acquire with nobody "
			      "else alive: %d", i, r);
			continue;
		} else if (cl->a != cl->b) {
			dfail(D_LOCKSCAN, "cell %d torn though its lock came "
			      "without EOWNERDEAD", i);
			cl->b = cl->a;
		}
		r = shmk_lock_release(D.a, off);
		if (r)
			dfail(D_LOCKSCAN, "cell %d: lock_release: %d", i, r);
	}
}

/* Kill everybody (clients first, then the server); check every byte. */
static void wipe(bool final)
{
	int roles[NROLE], n = 0, k;

	for (k = 1; k < D.nroles; k++)
		if (D.r[k].live)
			roles[n++] = k;
	if (n)
		kill_batch(roles, n, true);
	stuck_check("all clients killed");
	if (D.r[0].live) {
		roles[0] = 0;
		kill_batch(roles, 1, true);
	}
	driver_events();
	account(final ? "end, everybody killed" : "checkpoint, everybody "
		"killed", 1);
	lock_sweep();
	board_clear_all(&D.c);
	lock_scan("nobody left");
	if (final)
		return;
	if (start_all())
		return;
	echo_check("after the checkpoint");
}

/* ---- main ----------------------------------------------------------------- */

/*
 * A targeted moment: watch the lock words until the victim owns one (at
 * most 500 ms), so that kills land inside critical sections too.
 */
static void await_lock_owner(int role)
{
	uint32_t id = IG_ID(ld64(&D.st->r[role].idgen)), w;
	uint64_t end = now_ns() + 500 * MS;
	int i;

	if (!id)
		return;
	D.targeted++;
	while (now_ns() < end) {
		for (i = 0; i <= NCELL; i++) {
			w = __atomic_load_n(lock_word(i), __ATOMIC_ACQUIRE);
			if ((w & SHMK_LOCK_OWNER_MASK) == id) {
				D.targeted_hit++;
				return;
			}
		}
		sched_yield();
	}
}

/*
 * Kill a member while it starts: exec, attach, connect or server start.
 * It may die before it attached: then no exit event is due.
 */
static void early_kill(int k)
{
	struct timespec ts;
	uint64_t us;

	if (launch(k))
		return;
	D.early++;
	us = rnd_below(&D.rng, D.early_us ? (uint64_t)D.early_us :
		       D.start_ns * 3 / 2000 + 1);
	ts.tv_sec = (time_t)(us / 1000000);
	ts.tv_nsec = (long)(us % 1000000) * 1000;
	nanosleep(&ts, NULL);
	kill_batch(&k, 1, false);
}

static void one_round(unsigned long round)
{
	int roles[2], n = 1, k;
	uint64_t us;
	struct timespec ts;

	if (D.nclients && rnd_below(&D.rng, 6)) {
		roles[0] = 1 + (int)rnd_below(&D.rng, (uint64_t)D.nclients);
		if (D.nclients > 1 && rnd_below(&D.rng, 10) == 0) {
			roles[1] = 1 + (int)rnd_below(&D.rng,
						      (uint64_t)D.nclients - 1);
			if (roles[1] >= roles[0])
				roles[1]++;
			n = 2;
		}
	} else {
		roles[0] = 0;
	}
	/* a random moment: sometimes early (attaching, connecting) */
	us = rnd_below(&D.rng, 4) ? rnd_below(&D.rng,
					      (uint64_t)D.delay_ms * 1000) :
		rnd_below(&D.rng, 2000);
	ts.tv_sec = (time_t)(us / 1000000);
	ts.tv_nsec = (long)(us % 1000000) * 1000;
	nanosleep(&ts, NULL);
	if (rnd_below(&D.rng, 3) == 0)
		await_lock_owner(roles[0]);
	kill_batch(roles, n, false);
	stuck_check("survivors of a kill");
	for (k = 0; k < D.nroles; k++) {
		if (D.r[k].live)
			continue;
		if (rnd_below(&D.rng, 8) == 0)
			early_kill(k);
		if (spawn(k))
			spawn(k);
	}
	echo_check("after a restart");
	bad_check(round);
}

static void tap(int *n, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void tap(int *n, bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", ++*n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static int report(bool gone_ok)
{
	struct tstats *s = &D.st->s;
	uint64_t *b = D.st->bad;
	bool pub_ok;
	int n = 0, failed = 0, f;

	pub_ok = s->pub_gap <= s->pub_skipped;
	tap(&n, !D.fail[D_EXIT], "kill -9: every victim died of SIGKILL; each "
	    "attached one gave one crash exit event (%lu kills)", D.kills);
	tap(&n, !D.fail[D_SURV], "survivors told at once: the server saw each "
	    "connected client crash, clients saw the server go");
	tap(&n, !D.fail[D_RECLAIM], "reclaimed exactly once before the exit "
	    "event: dead members own 0 bytes");
	tap(&n, !D.fail[D_LOCKSCAN] && !b[F_LOCK], "no lock left owned by a "
	    "dead member (%lu lock words scanned); no torn state behind a "
	    "clean acquire", D.lockscans);
	tap(&n, !D.fail[D_STUCK] && !b[F_STUCK], "no survivor stuck: each "
	    "made progress within %" PRId64 " ms after every kill",
	    D.bound / MS);
	tap(&n, !b[F_MSG] && pub_ok, "messages between live peers neither "
	    "lost nor duplicated (echo, publish, board)");
	tap(&n, !b[F_CONTENT], "payloads intact; writes to shared buffers "
	    "copy (%" PRIu64 " copy-on-write checks)", s->cow_checks);
	tap(&n, !b[F_API], "no library call failed unexpectedly");
	tap(&n, !D.fail[D_RESTART], "every killed member was restarted "
	    "(%lu restarts)", D.spawns - (unsigned long)D.nroles);
	tap(&n, !D.fail[D_ACCOUNT] && !D.leaked, "every byte accounted for "
	    "when all were dead: free + reserve + live == heap (%lu "
	    "checkpoints, %" PRIu64 " bytes leaked)", D.checkpoints,
	    D.leaked);
	tap(&n, !D.fail[D_CHECK], "shmk_arena_check(SHMK_CHECK_REFS) passes at "
	    "every checkpoint");
	tap(&n, gone_ok && !D.fail[D_GONE], "the arena is gone once its last "
	    "member left");
	printf("1..%d\n", n);
	for (f = 0; f < NDF; f++)
		failed += D.fail[f];
	for (f = 0; f < NFAM; f++)
		failed += b[f] ? 1 : 0;
	if (!pub_ok)
		printf("# publications missing between live peers: %" PRIu64
		       ", skipped by the server: %" PRIu64 "\n", s->pub_gap,
		       s->pub_skipped);
	return failed || !gone_ok;
}

static void summary(void)
{
	struct tstats *s = &D.st->s;

	printf("# seed %#" PRIx64 " (SHMK_TORTURE_SEED=%#" PRIx64
	       " replays the driver's choices)\n", D.seed, D.seed);
	printf("# backend %s, %d clients, sessions %s, arena %" PRIu64
	       " KiB, bound %" PRId64 " ms; a member starts in %.3f ms\n",
	       D.backend, D.nclients, D.msg ? "on" : "off", D.size >> 10,
	       D.bound / MS, (double)D.start_ns / 1e6);
	printf("# kills: %lu in %lu rounds (%lu clients, %lu servers; %lu at "
	       "checkpoints; %lu while starting, %lu of them before "
	       "attaching)\n", D.kills, D.rounds_done, D.kills_cli,
	       D.kills_srv, D.kills_wipe, D.early, D.no_attach);
	if (D.unmatched)
		printf("# exit events that matched no victim: %lu (victims "
		       "killed while starting whose event came after the %"
		       PRId64 " ms grace, or members stopped while starting)\n",
		       D.unmatched, D.grace / MS);
	printf("# recoveries: %lu restarts; %" PRIu64 " locks taken over "
	       "with EOWNERDEAD (%" PRIu64 " torn cells repaired, %" PRIu64
	       " board repairs); %lu exit events with a guessed status\n",
	       D.spawns - (unsigned long)D.nroles, s->lock_recov, s->torn_repaired, s->board_repairs,
	       D.guessed);
	printf("# targeted kills: %lu rounds waited for the victim to hold a "
	       "lock, %lu caught it holding one; %lu kills left a lock "
	       "OWNER_DIED, %lu taken over by the driver's sweeps\n",
	       D.targeted, D.targeted_hit, D.died_holding, D.sweep_recov);
	samp_print("kill -> exit event (in the driver)", &D.event);
	samp_print("kill -> reclaimed (exit event in the driver, reclaim done)",
		   &D.reclaim);
	samp_print(D.msg ? "kill -> server's PEER_CRASHED (client killed)" :
		   "kill -> a survivor's exit event (client role killed)",
		   &D.surv_cli);
	samp_print(D.msg ? "kill -> client's SERVER_GONE (server killed)" :
		   "kill -> a survivor's exit event (server role killed)",
		   &D.surv_srv);
	printf("# leaked bytes: %" PRIu64 " (%lu all-dead checkpoints)\n",
	       D.leaked, D.checkpoints);
	printf("# failures members reported: lock %" PRIu64 ", message %"
	       PRIu64 ", content %" PRIu64 ", stuck %" PRIu64 ", api %" PRIu64
	       "\n", D.st->bad[F_LOCK], D.st->bad[F_MSG],
	       D.st->bad[F_CONTENT], D.st->bad[F_STUCK], D.st->bad[F_API]);
	if (D.late)
		printf("# %lu survivor events came more than 2 s after the "
		       "kill (stacks on stderr)\n", D.late);
	printf("# messages: requests %" PRIu64 " ok, %" PRIu64 " lost with "
	       "their dead sender, %" PRIu64 " to a dead server; echoes %"
	       PRIu64 " ok, %" PRIu64 " lost with a dead server, %" PRIu64
	       " stale\n", s->req_ok, s->req_lost_dead, s->req_stale,
	       s->echo_ok, s->echo_lost_dead, s->echo_stale);
	printf("# publish: %" PRIu64 " sent, %" PRIu64 " deliveries, %" PRIu64
	       " checked, %" PRIu64 " missing (server skipped %" PRIu64
	       "), %" PRIu64 " lost with a dead server\n", s->pub_sent,
	       s->pub_deliv, s->pub_ok, s->pub_gap, s->pub_skipped,
	       s->pub_gap_dead);
	printf("# board: %" PRIu64 " ok, %" PRIu64 " lost with a dead sender, %"
	       PRIu64 " cleared for a dead receiver, %" PRIu64 " full\n",
	       s->board_ok, s->board_lost_dead, s->board_cleared,
	       s->board_full);
	printf("# memory: raw blocks %" PRIu64 " held and freed; %" PRIu64
	       " found the arena full and waited, %" PRIu64 " of them got "
	       "memory; %" PRIu64 " allocations timed out\n", s->hog_ok,
	       s->alloc_waits, s->alloc_waited_ok, s->alloc_timeouts);
	printf("# cells: %" PRIu64 " locked updates; %" PRIu64 " sends "
	       "retried, %" PRIu64 " failed for lack of room; %" PRIu64
	       " + %lu event overflows; %" PRIu64 " receives found the "
	       "holdings table full\n", s->cell_ops, s->send_retries,
	       s->send_fail, s->overflow, D.overflows, s->recv_full);
}

int main(int argc, char **argv)
{
	struct shmk_arena_opts o;
	struct shmk_arena_info ai;
	struct shmk_arena *again = NULL;
	struct tstate *copy;
	uint64_t roff;
	bool gone_ok = false;
	unsigned long round;
	uint64_t t0, hog_bytes = 0;
	long secs, hog_cpus = 0;
	const char *hog;
	double wall;
	int r;

	if (argc > 1 && strcmp(argv[1], "--child") == 0)
		return child_main(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	D.rounds = (int)envnum("SHMK_TORTURE_KILLS", 20);	/* kills */
	D.nclients = (int)envnum("SHMK_TORTURE_CLIENTS", 4);
	D.bound = envnum("SHMK_TORTURE_BOUND_MS", 30000) * MS;
	D.delay_ms = (int)envnum("SHMK_TORTURE_DELAY_MS", 30);
	D.size = (uint64_t)envnum("SHMK_TORTURE_SIZE", 8 << 20);
	D.verbose = envnum("SHMK_TORTURE_VERBOSE", 0) != 0;
#ifdef TORTURE_MSG
	D.msg = envnum("SHMK_TORTURE_MSG", 1) != 0;
#endif
	secs = envnum("SHMK_TORTURE_SECS", 0);
	if (secs > 0 && !getenv("SHMK_TORTURE_KILLS"))
		D.rounds = INT32_MAX;	/* soak: the clock ends it */
	D.seed = (uint64_t)envnum("SHMK_TORTURE_SEED", 0);
	if (!D.seed)
		D.seed = (now_ns() ^ ((uint64_t)getpid() << 32)) & 0xffffffffffULL;
	D.rng = D.seed | 1;
	if (D.rounds < 0 || D.nclients < 1 || D.nclients > MAXCLI ||
	    D.bound <= 0 || D.delay_ms < 1) {
		fprintf(stderr, "t_torture: bad SHMK_TORTURE_* setting\n");
		return 2;
	}
	D.wipe_every = (int)envnum("SHMK_TORTURE_WIPE",
				   secs > 0 ? 100 : D.rounds / 13 > 10 ?
				   D.rounds / 13 : 10);
	hog = getenv("SHMK_TORTURE_HOG");
	if (hog && *hog) {
		hog_bytes = (uint64_t)envnum("SHMK_TORTURE_HOG_MB", 0) << 20;
		if (!hog_bytes)
			hog_bytes = mem_available() / 4;
		if (!hog_bytes || hog_bytes > (1ULL << 30))
			hog_bytes = 1ULL << 30;
		r = hogs_start(hog, hog_bytes, &hog_cpus);
		if (r) {
			hogs_stop();
			fprintf(stderr, "t_torture: SHMK_TORTURE_HOG=%s: %s "
				"(want cpu, mem or cpu,mem)\n", hog,
				strerror(-r));
			return 2;
		}
	}
	t0 = now_ns();
	if (secs > 0)
		D.t_end = t0 + (uint64_t)secs * 1000000000ULL;
	D.grace = 100 * MS;
	D.early_us = envnum("SHMK_TORTURE_EARLY_US", 0);
	D.nroles = 1 + D.nclients;
	printf("# seed %#" PRIx64 "\n", D.seed);
	snprintf(D.name, sizeof(D.name), "torture.%d.%u", (int)getpid(),
		 (unsigned int)(now_ns() / 1000 % 1000000));
	memset(&o, 0, sizeof(o));
	o.size = D.size;
	o.max_members = MAXID;
	o.refs_per_member = 1024;
	r = shmk_arena_create(D.name, &o, SHMK_OPEN_EXCL, &D.a);
	if (r) {
		printf("not ok 1 - arena_create: %d\n1..1\n", r);
		return 1;
	}
	shmk_arena_info(D.a, &ai);
	D.backend = ai.backend;
	D.me = idgen_of(ai.member_id, ai.generation);
	D.reserve_mine = ai.reserve_bytes;
	r = shmk_alloc(D.a, sizeof(struct tstate),
		       SHMK_ALLOC_LONG | SHMK_ALLOC_ZERO, 0, &D.st_off);
	if (r || shmk_arena_root(D.a, ROOT_STATE, &roff)) {
		printf("not ok 1 - state block: %d\n1..1\n", r);
		return 1;
	}
	D.st = shmk_arena_ptr(D.a, D.st_off);
	D.c.a = D.a;
	D.c.st = D.st;
	D.c.me = D.me;
	D.c.role = -1;
	for (r = 0; r < NCELL; r++)
		shmk_lock_init(D.a, shmk_arena_off(D.a, &D.st->cell[r].lock));
	shmk_lock_init(D.a, shmk_arena_off(D.a, &D.st->board.lock));
	D.st->nroles = (uint32_t)D.nroles;
	D.st->msg = D.msg;
	__atomic_store_n(&D.st->magic, T_MAGIC, __ATOMIC_RELEASE);
	st64(shmk_arena_ptr(D.a, roff), D.st_off);
	for (r = 0; r < NROLE; r++)
		D.r[r].pidfd = -1;

	if (start_all() == 0) {
		stuck_check("start");
		echo_check("start");
		/* until that many kills (a round kills one or two) */
		for (round = 1; D.kills < (unsigned long)D.rounds &&
		     (!D.t_end || now_ns() < D.t_end); round++) {
			one_round(round);
			D.rounds_done = round;
			if (round % (unsigned long)D.wipe_every == 0 &&
			    D.kills < (unsigned long)D.rounds)
				wipe(false);
			if (!D.verbose && round % 100 == 0 && D.t_end)
				fprintf(stderr, "# %lu rounds, %lu kills, "
					"%.0f s\n", round, D.kills,
					(double)(now_ns() - t0) / 1e9);
			else if (!D.verbose && round % 100 == 0)
				fprintf(stderr, "# %lu rounds, %lu/%d kills\n",
					round, D.kills, D.rounds);
			for (r = 0; r < D.nroles; r++)
				if (!D.r[r].live)
					break;
			if (r < D.nroles) {
				dfail(D_RESTART, "a member cannot be "
				      "restarted: stopping after %lu rounds",
				      round);
				break;
			}
		}
	}
	hogs_stop();
	wall = (double)(now_ns() - t0) / 1e9;
	wipe(true);
	bad_check(D.rounds_done);
	for (r = 0; r < NROLE; r++)
		if (D.r[r].live || D.r[r].pidfd >= 0)
			reap_quietly(&D.r[r]);
	/* report() reads the counters from a private copy from now on */
	copy = malloc(sizeof(*copy));
	if (!copy)
		return 1;
	memcpy(copy, D.st, sizeof(*copy));
	D.st = copy;
	/* the last member frees the arena: nothing left behind */
	r = shmk_free(D.a, D.st_off);
	if (r)
		dfail(D_ACCOUNT, "free of the state block: %d", r);
	account("end, state block freed", 0);
	r = shmk_arena_detach(D.a);
	if (r)
		dfail(D_GONE, "detach: %d", r);
	r = shmk_arena_attach(D.name, 0, &again);
	gone_ok = r == -ENOENT;
	if (!gone_ok) {
		dfail(D_GONE, "attach after the last member left: %d, want "
		      "-ENOENT", r);
		if (r == 0)
			shmk_arena_detach(again);
	}
	summary();
	printf("# wall time %.1f s (%.1f kills/s)%s", wall,
	       wall > 0 ? (double)D.kills / wall : 0.0,
	       secs > 0 ? "; soak" : "");
	if (hog && *hog)
		printf("; under load: %ld CPU hogs%s, memory hog %s", hog_cpus,
		       hog_cpus ? " (nice 5)" : "", strstr(hog, "mem") ?
		       "on" : "off");
	if (hog && strstr(hog, "mem"))
		printf(" (%" PRIu64 " MiB mapped, touched, unmapped in a loop)",
		       hog_bytes >> 20);
	printf("\n");
	return report(gone_ok);
}
