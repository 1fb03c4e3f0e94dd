// SPDX-License-Identifier: GPL-2.0
/*
 * shmkbench: runs every case and writes results.csv and machine.txt into
 * the output directory; scripts/report.sh turns them into the report.
 *
 *   shmkbench [--quick] [--out DIR] [--only SECTIONS] [--transports LIST]
 *             [--placements LIST] [--sizes LIST] [--reps N] [--ms N]
 *             [--roudi-config FILE] [--verbose]
 *
 * SECTIONS: rtt,stream,fanin,alloc,crash (default: all).
 * Nothing here asserts a timing: every case either measures or says why
 * it could not (status column).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define MAX_SIZES	8
#define SPREAD_MAX	0.25	/* rep medians differing more: repeat case */
#define MAX_ATTEMPTS	3

struct opts {
	int quick;
	const char *out;
	const char *only;
	const char *transports;
	unsigned int placements;	/* bit per enum placement */
	size_t sizes[MAX_SIZES];
	int nsizes;
	int reps;
	uint64_t warm_ns, meas_ns;	/* ping-pong repetition */
	uint64_t st_warm_ns, st_meas_ns;	/* streaming repetition */
	int st_reps;
	const char *roudi_config;
	uint64_t budget_ns;	/* repeats of wide-spread cases stop after
				 * 60 % of it, so the run stays bounded */
};

static struct opts O;
static FILE *csv;
static int case_no;
static uint64_t run_start_ns;


/* ------------------------------------------------------------ CSV rows */
struct row {
	const char *section, *transport, *label, *backend, *mode, *param,
		*unit, *status;
	int placement;		/* -1: not applicable */
	size_t size;
	uint64_t n;
	double min, median, p99, max, mean, spread;
	int attempts;
	double load1, foreign;
	char note[256];
};

static void csv_field(const char *s)
{
	for (; s && *s; s++)
		fputc(*s == ',' || *s == '\n' ? ';' : *s, csv);
	fputc(',', csv);
}

static void csv_num(double v)
{
	if (v != v)	/* NaN: empty */
		fputc(',', csv);
	else
		fprintf(csv, "%.1f,", v);
}

static void row_init(struct row *r, const char *section)
{
	memset(r, 0, sizeof(*r));
	r->section = section;
	r->placement = -1;
	r->min = r->median = r->p99 = r->max = r->mean = r->spread = NAN;
	r->status = "ok";
	r->unit = "ns";
	r->param = "";
	r->mode = "";
	r->backend = "";
}

static void row_emit(const struct row *r)
{
	csv_field(r->section);
	csv_field(r->transport);
	csv_field(r->label);
	csv_field(r->backend);
	csv_field(r->mode);
	csv_field(r->placement >= 0 ? placement_name[r->placement] : "");
	fprintf(csv, "%zu,", r->size);
	csv_field(r->param);
	csv_field(r->unit);
	fprintf(csv, "%llu,", (unsigned long long)r->n);
	csv_num(r->min);
	csv_num(r->median);
	csv_num(r->p99);
	csv_num(r->max);
	csv_num(r->mean);
	if (r->spread != r->spread)
		fputc(',', csv);
	else
		fprintf(csv, "%.3f,", r->spread);
	fprintf(csv, "%d,%.2f,%.1f,", r->attempts, r->load1, r->foreign);
	csv_field(r->status);
	for (const char *s = r->note; *s; s++)
		fputc(*s == ',' || *s == '\n' ? ';' : *s, csv);
	fputc('\n', csv);
	fflush(csv);
}

static void note(struct row *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void note(struct row *r, const char *fmt, ...)
{
	size_t len = strlen(r->note);
	va_list ap;

	if (len && len < sizeof(r->note) - 2) {
		r->note[len++] = ';';
		r->note[len++] = ' ';
		r->note[len] = 0;
	}
	va_start(ap, fmt);
	vsnprintf(r->note + len, sizeof(r->note) - len, fmt, ap);
	va_end(ap);
}

static int may_repeat(struct row *r)
{
	if (now_ns() - run_start_ns < O.budget_ns / 10 * 6)
		return 1;
	if (r)
		note(r, "not repeated: time budget");
	return 0;
}

/* ------------------------------------------------ load and foreign CPU */
static double loadavg1(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

/* Busy jiffies of the whole machine (everything but idle and iowait). */
static uint64_t busy_jiffies(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	if (!f)
		return 0;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		memset(v, 0, sizeof(v));
	fclose(f);
	return v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
}

/*
 * Measures how much CPU other processes used while a case ran: machine
 * busy time minus the CPU time of the case's own workers (from wait4),
 * as a percentage of all CPUs over the case's wall time.
 */
struct foreign {
	uint64_t t0, busy0;
	double ours_s, busy_s, wall_s;	/* summed over measured windows */
};

static void foreign_init(struct foreign *f)
{
	memset(f, 0, sizeof(*f));
}

static void foreign_start(struct foreign *f)
{
	f->t0 = now_ns();
	f->busy0 = busy_jiffies();
}

static void foreign_stop(struct foreign *f)
{
	f->wall_s += (double)(now_ns() - f->t0) / 1e9;
	f->busy_s += (double)(busy_jiffies() - f->busy0) /
		     (double)sysconf(_SC_CLK_TCK);
}

static void foreign_add(struct foreign *f, const struct rusage *ru)
{
	f->ours_s += (double)ru->ru_utime.tv_sec +
		     (double)ru->ru_utime.tv_usec / 1e6 +
		     (double)ru->ru_stime.tv_sec +
		     (double)ru->ru_stime.tv_usec / 1e6;
}

static double foreign_pct(const struct foreign *f)
{
	double pct;

	if (f->wall_s <= 0)
		return 0;
	pct = 100.0 * (f->busy_s - f->ours_s) / (f->wall_s * cpus_allowed());
	return pct < 0 ? 0 : pct;
}

/* ----------------------------------------------------- worker processes */
static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/*
 * Wait for @n workers, killing all of them at @deadline. Returns 0, or
 * -ETIMEDOUT, or -ECHILD if one died of a signal or exited non-zero
 * (its own status is then also in the shared result).
 */
static int reap(pid_t *pids, int n, uint64_t deadline, struct foreign *fg)
{
	int i, ret = 0, status;
	struct rusage ru;

	for (i = 0; i < n; i++) {
		int pfd = pidfd_open_(pids[i]);

		if (pfd >= 0) {
			struct pollfd p = { .fd = pfd, .events = POLLIN };
			uint64_t t = now_ns();
			int ms = t >= deadline ? 0 :
				 (int)((deadline - t) / 1000000) + 1;

			if (poll(&p, 1, ms) == 0) {
				int j;

				for (j = 0; j < n; j++)
					kill(pids[j], SIGKILL);
				ret = -ETIMEDOUT;
			}
			close(pfd);
		}
		if (wait4(pids[i], &status, 0, &ru) < 0)
			continue;
		if (fg)
			foreign_add(fg, &ru);
		if (!ret && (!WIFEXITED(status) || WEXITSTATUS(status)))
			ret = -ECHILD;
	}
	return ret;
}

/*
 * The start of every repetition: a leader (A, the consumer) and its
 * followers (B, the producers), with a pipe each way between them. The
 * leader pins itself and inits first; each follower pins itself, waits
 * for the leader's byte, inits and answers, so that the leader starts
 * measuring only once everybody is ready.
 */
static int lead_followers(int to, int from, int n)
{
	int i, err = 0;
	char b = 'l';

	for (i = 0; i < n; i++)
		if (write(to, &b, 1) != 1)
			err = -EPIPE;
	for (i = 0; !err && i < n; i++)
		if (read(from, &b, 1) != 1)
			err = -EPIPE;
	return err;
}

static int follow_leader(int pl, int from)
{
	int err = placement_apply(pl, 1);
	char b;

	/* No byte: the leader failed before its init. */
	if (!err && read(from, &b, 1) != 1)
		err = -EPIPE;
	return err;
}

static int follower_ready(int to)
{
	char b = 'f';

	return write(to, &b, 1) == 1 ? 0 : -EPIPE;
}

/*
 * fork() for the workers of one repetition: worker 0 leads, workers 1 to
 * @nfollow follow, with a pipe each way between the leader and the
 * others. Returns in each worker its index, with @io its ends of the
 * pipes (to the other side, from it); in the driver, once its own ends
 * are closed, @nfollow + 1 (@pids: the workers), or -errno without pipes.
 */
static int spawn_workers(int nfollow, pid_t *pids, int io[2])
{
	int down[2], up[2], i;

	if (pipe2(down, O_CLOEXEC))
		return -errno;
	if (pipe2(up, O_CLOEXEC)) {
		i = -errno;
		close(down[0]);
		close(down[1]);
		return i;
	}
	fflush(NULL);
	for (i = 0; i <= nfollow; i++) {
		pids[i] = fork();
		if (pids[i] != 0)
			continue;
		if (i == 0) {		/* writes down, reads up */
			close(down[0]);
			close(up[1]);
			io[0] = down[1];
			io[1] = up[0];
		} else {
			close(down[1]);
			close(up[0]);
			io[0] = up[1];
			io[1] = down[0];
		}
		return i;
	}
	close(down[0]);
	close(down[1]);
	close(up[0]);
	close(up[1]);
	return nfollow + 1;
}

/* The CSV row's statistics from histogram @h. */
static void row_from_hist(struct row *r, const struct hist *h)
{
	r->n = h->n;
	r->min = (double)h->min;
	r->median = (double)hist_quantile(h, 0.5);
	r->p99 = (double)hist_quantile(h, 0.99);
	r->max = (double)h->max;
}

/* A fresh name for the arena (or whatever else) of one repetition. */
static void case_name(char *buf, size_t len)
{
	snprintf(buf, len, "shmkbench-%d-%d", (int)getpid(), ++case_no);
}

/* ----------------------------------------------------------- ping-pong */
struct pp_shared {
	int a_err, b_err, a_stage, b_stage;
	uint64_t iters;
	uint64_t nvcsw, nivcsw;	/* A's context switches while measuring */
	struct hist h;
};

enum { ST_INIT = 1, ST_SYNC, ST_RUN, ST_DONE };

static void pp_worker_a(const struct pp_transport *t, struct pp_ctx *c,
			struct pp_shared *sh, int pl, int to_b, int from_b)
{
	uint64_t seq = 1, t0, t1, warm_end, meas_end;
	uint64_t min_warm = 5, min_meas = 20, n = 0;
	struct rusage ru0, ru1;
	int err;

	c->role = 0;
	sh->a_stage = ST_INIT;
	err = placement_apply(pl, 0);
	if (!err)
		err = t->init(c);
	if (!err)
		err = lead_followers(to_b, from_b, 1);
	if (err)
		goto out;
	sh->a_stage = ST_RUN;
	t0 = now_ns();
	warm_end = t0 + O.warm_ns;
	while (seq <= min_warm || now_ns() < warm_end) {
		err = t->ping(c, seq++);
		if (err)
			goto out;
	}
	hist_init(&sh->h);
	getrusage(RUSAGE_SELF, &ru0);
	t0 = now_ns();
	meas_end = t0 + O.meas_ns;
	while (n < min_meas || t0 < meas_end) {
		err = t->ping(c, seq++);
		if (err)
			goto out;
		t1 = now_ns();
		hist_add(&sh->h, t1 - t0);
		t0 = t1;
		n++;
	}
	getrusage(RUSAGE_SELF, &ru1);
	sh->iters = n;
	sh->nvcsw = (uint64_t)(ru1.ru_nvcsw - ru0.ru_nvcsw);
	sh->nivcsw = (uint64_t)(ru1.ru_nivcsw - ru0.ru_nivcsw);
	err = t->ping(c, PP_STOP);
	sh->a_stage = ST_DONE;
out:
	sh->a_err = err;
	t->fini(c);
	exit(err ? 1 : 0);
}

static void pp_worker_b(const struct pp_transport *t, struct pp_ctx *c,
			struct pp_shared *sh, int pl, int to_a, int from_a)
{
	uint64_t seq = 0;
	int err;

	c->role = 1;
	sh->b_stage = ST_INIT;
	err = follow_leader(pl, from_a);
	if (!err)
		err = t->init(c);
	if (!err)
		err = follower_ready(to_a);
	if (err)
		goto out;
	sh->b_stage = ST_RUN;
	do {
		err = t->serve(c, &seq);
	} while (!err && seq != PP_STOP);
	sh->b_stage = ST_DONE;
out:
	sh->b_err = err;
	t->fini(c);
	exit(err ? 1 : 0);
}

/* One repetition; fills @h. 0 or -errno (with a note). */
static int st_rep(const struct st_transport *t, size_t size, int nprod,
		  int pl, double *rate, struct foreign *fg, struct row *r);

static int pp_rep(const struct pp_transport *t, size_t size, int mode,
		  int pl, struct hist *h, struct foreign *fg, struct row *r,
		  uint64_t csw[2])
{
	struct pp_shared *sh = xmap_shared(sizeof(*sh));
	struct pp_ctx c;
	int err, i, io[2];
	pid_t pid[2];
	uint64_t budget;

	memset(&c, 0, sizeof(c));
	for (i = 0; i < 8; i++)
		c.fd[i] = -1;
	c.size = size;
	c.mode = mode;
	case_name(c.name, sizeof(c.name));
	err = t->setup(&c);
	if (err) {
		note(r, "setup: %s", strerror(-err));
		xunmap(sh, sizeof(*sh));
		return err;
	}
	i = spawn_workers(1, pid, io);
	if (i == 0)
		pp_worker_a(t, &c, sh, pl, io[0], io[1]);
	if (i == 1)
		pp_worker_b(t, &c, sh, pl, io[0], io[1]);
	t->teardown(&c);
	if (i < 0) {
		xunmap(sh, sizeof(*sh));
		return i;
	}
	/* Generous: a 4 MiB copy can take milliseconds on a busy machine. */
	budget = O.warm_ns + O.meas_ns + 30000000000ull;
	err = reap(pid, 2, now_ns() + budget, fg);
	if (err == -ETIMEDOUT) {
		note(r, "timed out (A stage %d; B stage %d)", sh->a_stage,
		     sh->b_stage);
	} else if (err || sh->a_err || sh->b_err) {
		note(r, "worker error A=%s B=%s",
		     sh->a_err ? strerror(-sh->a_err) : "ok",
		     sh->b_err ? strerror(-sh->b_err) : "ok");
		err = sh->a_err ? sh->a_err : sh->b_err ? sh->b_err : -ECHILD;
	} else {
		memcpy(h, &sh->h, sizeof(*h));
		csw[0] += sh->nvcsw;
		csw[1] += sh->nivcsw;
	}
	xunmap(sh, sizeof(*sh));
	return err;
}

static const char *mode_name(int mode)
{
	return mode == MODE_SPIN ? "spin" : "block";
}

/* Without libshmk, "shmk" is the raw build already: no second copy. */
static int shmk_raw_duplicate(void)
{
	return !strcmp(shmk_impl_backend(), "raw-futex");
}

static int want(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	if (!list)
		return 1;
	while ((p = strstr(p, name))) {
		if ((p == list || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
			return 1;
		p += n;
	}
	return 0;
}

/*
 * The case engine. All cases of one section and placement are measured
 * interleaved: repetition 1 of every case, then repetition 2 of every
 * case, and so on. Load on a shared machine drifts over minutes; this way
 * the cases that a ratio compares were measured at nearly the same time.
 * A case whose repetitions disagree by more than SPREAD_MAX is measured
 * again (with the other such cases, interleaved too).
 */
#define MAX_REPS	16

struct bcase {
	const struct pp_transport *pt;	/* round trip, or */
	const struct st_transport *stt;	/* streaming / fan-in */
	const char *shmk_backend;	/* select before each repetition */
	int mode, pl, nprod;
	size_t size;
	const char *why;		/* unavailable: why not */
	int active, done, err, attempts;
	struct hist all, best;		/* round trip: this and best attempt */
	double val[MAX_REPS];		/* per repetition: median or rate */
	double bval[MAX_REPS];
	int nval, nbval;
	uint64_t csw[2], bcsw[2];
	double best_spread;
	struct foreign fg;
	struct row r;
};

static void bcase_select(const struct bcase *c)
{
	if (c->shmk_backend)
		shmk_select_backend(c->shmk_backend);
}

static struct bcase *bcase_add(struct bcase **v, int *n, int *cap)
{
	struct bcase *c;

	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 64;
		*v = realloc(*v, sizeof(**v) * (size_t)*cap);
		if (!*v) {
			logmsg("shmkbench: out of memory\n");
			exit(2);
		}
	}
	c = &(*v)[(*n)++];
	memset(c, 0, sizeof(*c));
	c->best_spread = 1e9;
	foreign_init(&c->fg);
	return c;
}

/* transport_shmk.c: per-mode label of the shmk rows (NULL: t->label). */
const char *shmk_rtt_label(int mode);

static void bcase_init_rtt(struct bcase *c, const struct pp_transport *t,
			   const char *shmk_backend, int mode, size_t size,
			   int pl)
{
	c->pt = t;
	c->shmk_backend = shmk_backend;
	c->mode = mode;
	c->size = size;
	c->pl = pl;
	row_init(&c->r, "rtt");
	c->r.transport = t->name;
	c->r.label = t->label;
	c->r.mode = mode_name(mode);
	c->r.placement = pl;
	c->r.size = size;
	c->r.backend = "";
	if (t == &tr_shmk) {
		bcase_select(c);
		c->r.backend = shmk_impl_backend();
		shmk_select_backend("portable");
		if (shmk_rtt_label(mode))
			c->r.label = shmk_rtt_label(mode);
	} else if (t == &tr_shmk_raw) {
		c->r.backend = shmk_raw_impl_backend();
	}
	c->why = t->unavailable ? t->unavailable() : NULL;
}

static void bcase_init_st(struct bcase *c, const char *section,
			  const struct st_transport *t,
			  const char *shmk_backend, size_t size, int nprod,
			  int pl)
{
	static char params[STREAM_MAX_PROD + 1][4];

	c->stt = t;
	c->shmk_backend = shmk_backend;
	c->mode = MODE_BLOCK;
	c->size = size;
	c->nprod = nprod;
	c->pl = pl;
	row_init(&c->r, section);
	c->r.transport = t->name;
	c->r.label = t->label;
	c->r.mode = "block";
	c->r.placement = pl;
	c->r.size = size;
	c->r.unit = "msg/s";
	snprintf(params[nprod], sizeof(params[nprod]), "%d", nprod);
	c->r.param = params[nprod];
	c->r.backend = "";
	if (t == &st_shmk) {
		bcase_select(c);
		c->r.backend = shmk_impl_backend();
		shmk_select_backend("portable");
	} else if (t == &st_shmk_raw) {
		c->r.backend = shmk_raw_impl_backend();
	}
	c->why = t->unavailable ? t->unavailable() : NULL;
}

static int bcase_rep(struct bcase *c, struct hist *tmp)
{
	double rate = 0;
	int err;

	if (!c->nval && c->attempts == 1)
		c->r.load1 = loadavg1();
	bcase_select(c);
	foreign_start(&c->fg);
	if (c->pt) {
		err = pp_rep(c->pt, c->size, c->mode, c->pl, tmp, &c->fg,
			     &c->r, c->csw);
		if (!err) {
			hist_merge(&c->all, tmp);
			c->val[c->nval++] = (double)hist_quantile(tmp, 0.5);
		}
	} else {
		err = st_rep(c->stt, c->size, c->nprod, c->pl, &rate, &c->fg,
			     &c->r);
		if (!err)
			c->val[c->nval++] = rate;
	}
	foreign_stop(&c->fg);
	shmk_select_backend("portable");
	return err;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void bcase_log(const struct bcase *c)
{
	const struct row *r = &c->r;

	if (c->pt)
		logmsg("rtt %-12s %-5s %-11s %8zu B: %s median %.0f ns p99 "
		       "%.0f (spread %.0f%%)%s%s\n", c->pt->name, r->mode,
		       placement_name[c->pl], c->size, r->status, r->median,
		       r->p99, r->spread == r->spread ? r->spread * 100 : 0.0,
		       r->note[0] ? ", " : "", r->note);
	else
		logmsg("%s %-8s %-11s %6zu B x%d: %s median %.0f msg/s "
		       "(%.2f GB/s)%s%s\n", r->section, c->stt->name,
		       placement_name[c->pl], c->size, c->nprod, r->status,
		       r->median, r->median * (double)c->size / 1e9,
		       r->note[0] ? ", " : "", r->note);
}

static void bcase_emit(struct bcase *c)
{
	struct row *r = &c->r;

	if (c->why) {
		r->status = "unavailable";
		r->load1 = loadavg1();
		note(r, "%s", c->why);
	} else if (c->err) {
		r->status = c->err == -ETIMEDOUT ? "timeout" : "error";
		r->foreign = foreign_pct(&c->fg);
	} else {
		r->attempts = c->attempts;
		r->spread = c->best_spread;
		r->foreign = foreign_pct(&c->fg);
		if (c->pt) {
			row_from_hist(r, &c->best);
			r->mean = c->best.sum / (double)c->best.n;
			note(r, "A switched %.2f voluntary + %.2f involuntary "
			     "per round trip",
			     (double)c->bcsw[0] / (double)c->best.n,
			     (double)c->bcsw[1] / (double)c->best.n);
		} else {
			int k = c->nbval;

			r->n = (uint64_t)k;
			r->min = c->bval[0];
			r->max = c->bval[k - 1];
			r->median = k % 2 ? c->bval[k / 2] :
				(c->bval[k / 2 - 1] + c->bval[k / 2]) / 2;
		}
		if (c->best_spread > SPREAD_MAX && c->nbval >= 2)
			note(r, "spread still wide after %d attempts",
			     c->attempts);
	}
	row_emit(r);
	bcase_log(c);
}

static void run_cases(struct bcase *cs, int n, int reps)
{
	struct hist *tmp = malloc(sizeof(*tmp));
	int attempt, rep, i, left;

	if (reps > MAX_REPS)
		reps = MAX_REPS;
	for (attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
		left = 0;
		for (i = 0; i < n; i++) {
			struct bcase *c = &cs[i];

			c->active = !c->why && !c->done && !c->err;
			if (!c->active)
				continue;
			left++;
			c->attempts = attempt;
			hist_init(&c->all);
			c->nval = 0;
			c->csw[0] = c->csw[1] = 0;
		}
		if (!left)
			break;
		if (attempt > 1)
			logmsg("  measuring %d case(s) again: repetitions "
			       "disagreed by more than %.0f%%\n", left,
			       SPREAD_MAX * 100);
		for (rep = 0; rep < reps; rep++)
			for (i = 0; i < n; i++)
				if (cs[i].active && !cs[i].err)
					cs[i].err = bcase_rep(&cs[i], tmp);
		left = 0;
		for (i = 0; i < n; i++) {
			struct bcase *c = &cs[i];
			double spread;

			if (!c->active || c->err)
				continue;
			qsort(c->val, (size_t)c->nval, sizeof(double),
			      cmp_double);
			spread = c->val[0] > 0 ?
				 c->val[c->nval - 1] / c->val[0] - 1 : 0;
			if (spread < c->best_spread) {
				c->best_spread = spread;
				c->best = c->all;
				memcpy(c->bval, c->val, sizeof(c->val));
				c->nbval = c->nval;
				c->bcsw[0] = c->csw[0];
				c->bcsw[1] = c->csw[1];
			}
			if (reps < 2 || spread <= SPREAD_MAX)
				c->done = 1;
			else
				left++;
		}
		if (left && attempt < MAX_ATTEMPTS && !may_repeat(NULL)) {
			for (i = 0; i < n; i++)
				if (cs[i].active && !cs[i].done && !cs[i].err)
					note(&cs[i].r,
					     "not repeated: time budget");
			break;
		}
	}
	for (i = 0; i < n; i++)
		bcase_emit(&cs[i]);
	free(tmp);
}

/* The shmk rows run on the portable backend, and on kmod where it works. */
static const char *const shmk_backends[2] = { "portable", "kmod" };

static int shmk_nbackends(void)
{
	int nb = 1;

	if (!access("/dev/shmk", R_OK | W_OK) && !shmk_select_backend("kmod"))
		nb = 2;
	shmk_select_backend("portable");
	return nb;
}

/* Transport @name asked for; @raw: the shmk-raw copy, not when shmk is. */
static int transport_wanted(const char *name, int raw)
{
	return want(O.transports, name) && !(raw && shmk_raw_duplicate());
}

/*
 * A section: for each placement asked for (and possible here; @say names
 * the section when it tells which is not), the cases @add adds, given
 * @arg and the number of shmk backends, measured together.
 */
static void run_section(const char *say, int reps,
			void (*add)(struct bcase **cs, int *n, int *cap,
				    int pl, int nb, int arg),
			int arg)
{
	struct bcase *cs = NULL;
	int nb = shmk_nbackends(), pl, n, cap = 0;

	for (pl = 0; pl < PL_COUNT; pl++) {
		if (!(O.placements & (1u << pl)))
			continue;
		if (pl == PL_PINNED2 && cpus_allowed() < 2) {
			if (say)
				logmsg("%s: only one CPU: no %s placement\n",
				       say, placement_name[pl]);
			continue;
		}
		n = 0;
		add(&cs, &n, &cap, pl, nb, arg);
		run_cases(cs, n, reps);
	}
	free(cs);
}

static void add_rtt_cases(struct bcase **cs, int *n, int *cap, int pl,
			  int nb, int arg)
{
	const struct pp_transport *all[] = {
		&tr_spin, &tr_futex, &tr_shmk, &tr_shmk_raw, &tr_uds, &tr_pipe,
		&tr_tcp, &tr_iceoryx, &tr_boost,
	};
	int b, mode, s;
	size_t k;

	(void)arg;
	for (k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
		const struct pp_transport *t = all[k];
		int shmk = t == &tr_shmk;

		if (!transport_wanted(t->name, t == &tr_shmk_raw))
			continue;
		for (b = 0; b < (shmk ? nb : 1); b++)
			for (mode = 0; mode < 2; mode++) {
				if (!(t->modes & (1 << mode)))
					continue;
				for (s = 0; s < O.nsizes; s++) {
					if (t->floor && s)
						break;
					bcase_init_rtt(bcase_add(cs, n, cap), t,
						       shmk ? shmk_backends[b] :
						       NULL, mode, t->floor ?
						       64 : O.sizes[s], pl);
				}
			}
	}
}

static void section_rtt(void)
{
	run_section("rtt", O.reps, add_rtt_cases, 0);
}

/* ------------------------------------------------- streaming / fan-in */
struct st_shared {
	uint32_t stop;		/* consumer: window measured, producers end */
	int cons_err, prod_err[STREAM_MAX_PROD];
	uint64_t window_msgs, window_ns, total, stops, bad_order;
};

struct st_count {
	struct st_shared *sh;
	uint64_t next[STREAM_MAX_PROD];
	uint64_t total, stops;
};

static void st_cb(void *arg, int prod, uint64_t seq)
{
	struct st_count *k = arg;

	if (seq == PP_STOP) {
		k->stops++;
		return;
	}
	if (seq != k->next[prod])
		k->sh->bad_order++;
	k->next[prod] = seq + 1;
	k->total++;
}

static void st_consumer(const struct st_transport *t, struct st_ctx *c,
			struct st_shared *sh, int pl, int to_p, int from_p)
{
	struct st_count k;
	uint64_t first = 0, wstart = 0, wend = 0, cnt0 = 0, now;
	int err, i, got;

	memset(&k, 0, sizeof(k));
	k.sh = sh;
	for (i = 0; i < STREAM_MAX_PROD; i++)
		k.next[i] = 1;
	c->idx = -1;
	err = placement_apply(pl, 0);
	if (!err)
		err = t->init(c);
	if (err)
		goto out;
	err = lead_followers(to_p, from_p, c->nprod);
	while (!err && k.stops < (uint64_t)c->nprod) {
		got = t->recv(c, st_cb, &k);
		if (got < 0) {
			err = got;
			break;
		}
		now = now_ns();
		if (!first && k.total) {
			first = now;
			continue;
		}
		if (!first)
			continue;
		if (!wstart && now - first >= O.st_warm_ns) {
			wstart = now;
			cnt0 = k.total;
		} else if (wstart && !wend &&
			   (now - wstart >= O.st_meas_ns || k.stops)) {
			wend = now;
			sh->window_msgs = k.total - cnt0;
			sh->window_ns = wend - wstart;
			__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
		}
	}
	sh->total = k.total;
	sh->stops = k.stops;
	if (!err && !wend)
		err = -ENODATA;	/* producers stopped before the window */
out:
	sh->cons_err = err;
	t->fini(c);
	exit(err ? 1 : 0);
}

static void st_producer(const struct st_transport *t, struct st_ctx *c,
			struct st_shared *sh, int pl, int idx, int to_c,
			int from_c)
{
	uint64_t seq = 1, end;
	int err;

	c->idx = idx;
	err = follow_leader(pl, from_c);
	if (!err)
		err = t->init(c);
	if (!err)
		err = follower_ready(to_c);
	if (err)
		goto out;
	/*
	 * Run until the consumer has measured its window (it raises
	 * sh->stop), so that a consumer that got the CPU late still sees a
	 * steady stream; the deadline is only a safety net.
	 */
	end = now_ns() + 20 * (O.st_warm_ns + O.st_meas_ns) + 5000000000ull;
	for (;;) {
		err = t->send(c, seq++);
		if (err)
			break;
		if (seq % 64 == 0 &&
		    (__atomic_load_n(&sh->stop, __ATOMIC_RELAXED) ||
		     now_ns() > end))
			break;
	}
	if (!err)
		err = t->send(c, PP_STOP);
out:
	sh->prod_err[idx] = err;
	t->fini(c);
	exit(err ? 1 : 0);
}

static int st_rep(const struct st_transport *t, size_t size, int nprod,
		  int pl, double *rate, struct foreign *fg, struct row *r)
{
	struct st_shared *sh = xmap_shared(sizeof(*sh));
	pid_t pid[STREAM_MAX_PROD + 1];
	struct st_ctx c;
	int err, i, io[2];

	memset(&c, 0, sizeof(c));
	c.size = size;
	c.nprod = nprod;
	case_name(c.name, sizeof(c.name));
	err = t->setup(&c);
	if (err) {
		note(r, "setup: %s", strerror(-err));
		xunmap(sh, sizeof(*sh));
		return err;
	}
	i = spawn_workers(nprod, pid, io);
	if (i == 0)
		st_consumer(t, &c, sh, pl, io[0], io[1]);
	if (i > 0 && i <= nprod)
		st_producer(t, &c, sh, pl, i - 1, io[0], io[1]);
	t->teardown(&c);
	if (i < 0) {
		xunmap(sh, sizeof(*sh));
		return i;
	}
	err = reap(pid, nprod + 1, now_ns() + 20 * (O.st_warm_ns +
		   O.st_meas_ns) + 30000000000ull, fg);
	if (!err && !sh->cons_err && sh->bad_order) {
		note(r, "%llu messages out of order",
		     (unsigned long long)sh->bad_order);
		err = -EBADMSG;
	}
	if (err == -ETIMEDOUT) {
		note(r, "timed out");
	} else if (err || sh->cons_err) {
		int perr = 0;

		for (i = 0; i < nprod; i++)
			if (sh->prod_err[i])
				perr = sh->prod_err[i];
		note(r, "worker error consumer=%s producer=%s",
		     sh->cons_err ? strerror(-sh->cons_err) : "ok",
		     perr ? strerror(-perr) : "ok");
		if (!err)
			err = sh->cons_err ? sh->cons_err : -ECHILD;
	} else {
		*rate = (double)sh->window_msgs * 1e9 / (double)sh->window_ns;
	}
	xunmap(sh, sizeof(*sh));
	return err;
}

/* @fanin: the fan-in section, else streaming. */
static void add_st_cases(struct bcase **cs, int *n, int *cap, int pl, int nb,
			 int fanin)
{
	const struct st_transport *all[] = {
		&st_shmk, &st_shmk_raw, &st_uds, &st_pipe,
	};
	static const size_t st_sizes[] = { 64, 4096 };
	static const int clients[] = { 1, 2, 4, 8 };
	int s, b;
	size_t k;

	for (k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
		const struct st_transport *t = all[k];
		int shmk = t == &st_shmk;

		if (!transport_wanted(t->name, t == &st_shmk_raw))
			continue;
		for (b = 0; b < (shmk ? nb : 1); b++)
			for (s = 0; s < (fanin ? 4 : 2); s++)
				bcase_init_st(bcase_add(cs, n, cap),
					      fanin ? "fanin" : "stream", t,
					      shmk ? shmk_backends[b] : NULL,
					      fanin ? 64 : st_sizes[s],
					      fanin ? clients[s] : 1, pl);
	}
}

static void section_stream(int fanin)
{
	/* These sections never said which placement they leave out. */
	run_section(NULL, O.st_reps, add_st_cases, fanin);
}

/* --------------------------------------------------------- allocator */
struct al_shared {
	struct alloc_result res[2];
	int err[2];
	struct alloc_sync sync;
};

static void alloc_row(const char *what, const char *param, int kind,
		      int nproc)
{
	const char *why = shmk_alloc_unavailable();
	struct al_shared *sh;
	struct foreign fg;
	struct hist h;
	struct row r;
	pid_t pid[2];
	int i, err;
	uint64_t dur = O.quick ? 100000000ull : 400000000ull;

	row_init(&r, "alloc");
	r.transport = what;
	r.label = kind ? "shmk_buf_clone + shmk_buf_drop (64 B buffer)" :
			 "shmk_alloc + shmk_free (64 B)";
	r.backend = why ? "" : shmk_impl_backend();
	r.param = param;
	r.size = 64;
	r.placement = nproc == 2 ? PL_PINNED2 : -1;
	r.load1 = loadavg1();
	if (why) {
		r.status = "unavailable";
		note(&r, "%s", why);
		row_emit(&r);
		logmsg("alloc %s %s: %s\n", what, param, why);
		return;
	}
	sh = xmap_shared(sizeof(*sh));
	snprintf(sh->sync.name, sizeof(sh->sync.name), "shmkbench-al2-%d-%d",
		 (int)getpid(), ++case_no);
	foreign_init(&fg);
	foreign_start(&fg);
	fflush(NULL);
	for (i = 0; i < nproc; i++) {
		pid[i] = fork();
		if (pid[i] == 0) {
			if (nproc == 2)
				placement_apply(PL_PINNED2, i);
			/* both processes start together: see shmk_alloc_bench */
			sh->err[i] = shmk_alloc_bench(kind, nproc == 2 ? i : -1,
						      &sh->sync, 64, dur,
						      &sh->res[i]);
			_exit(sh->err[i] ? 1 : 0);
		}
	}
	err = reap(pid, nproc, now_ns() + dur + 30000000000ull, &fg);
	foreign_stop(&fg);
	r.foreign = foreign_pct(&fg);
	hist_init(&h);
	for (i = 0; i < nproc; i++) {
		if (sh->err[i] && !err)
			err = sh->err[i];
		hist_merge(&h, &sh->res[i].h);
		r.mean = (r.mean == r.mean ? r.mean : 0) + sh->res[i].ops_per_s;
	}
	if (err) {
		r.status = err == -ETIMEDOUT ? "timeout" : "error";
		note(&r, "%s", strerror(-err));
		r.mean = NAN;
	} else {
		row_from_hist(&r, &h);
		r.n = h.n * 256;	/* pairs: the histogram counts batches */
		note(&r, "ns per pair from batches of 256; mean column = "
		     "aggregate pairs/s");
		r.attempts = 1;
	}
	row_emit(&r);
	logmsg("alloc %s %s %s: %s median %.1f ns/pair\n", r.backend, what,
	       param, r.status, r.median);
	xunmap(sh, sizeof(*sh));
}

static void section_alloc(void)
{
	alloc_row("alloc-free", "1proc", 0, 1);
	alloc_row("alloc-free", "2proc", 0, 2);
	alloc_row("buf-clone-drop", "1proc", 1, 1);
	alloc_row("buf-clone-drop", "2proc", 1, 2);
}

/* ---------------------------------------------------- crash recovery */
static void crash_rows(int with_floor)
{
	int n = O.quick ? 5 : 20, i, err = 0;
	struct hist ev, rc, pf;
	const char *why = shmk_crash_unavailable();
	struct row r;

	hist_init(&ev);
	hist_init(&rc);
	hist_init(&pf);
	for (i = 0; with_floor && i < n; i++) {
		uint64_t e;

		err = pidfd_crash_once(&e);
		if (err)
			break;
		hist_add(&pf, e);
	}
	if (!with_floor)
		goto shmk_rows;
	row_init(&r, "crash");
	r.transport = "pidfd-floor";
	r.label = "limit: kill -9 to pidfd readable (portable backend's "
		  "death signal)";
	r.param = "to-event";
	r.load1 = loadavg1();
	if (err) {
		r.status = "error";
		note(&r, "%s", strerror(-err));
	} else {
		row_from_hist(&r, &pf);
	}
	row_emit(&r);
	logmsg("crash pidfd floor: %s median %.0f ns\n", r.status, r.median);
shmk_rows:
	err = 0;
	if (!why) {
		/* In a child: the driver never becomes an arena member. */
		struct cr_shared {
			struct hist ev, rc;
			int err;
		} *sh = xmap_shared(sizeof(*sh));
		pid_t pid;

		hist_init(&sh->ev);
		hist_init(&sh->rc);
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			sh->err = shmk_crash_bench(n, &sh->ev, &sh->rc);
			_exit(sh->err ? 1 : 0);
		}
		err = reap(&pid, 1, now_ns() + 120000000000ull, NULL);
		if (sh->err)
			err = sh->err;
		ev = sh->ev;
		rc = sh->rc;
		xunmap(sh, sizeof(*sh));
	}
	for (i = 0; i < 2; i++) {
		struct hist *h = i ? &rc : &ev;

		row_init(&r, "crash");
		r.transport = "shmk";
		r.label = i ? "shmk: kill -9 to full reclamation" :
			      "shmk: kill -9 to survivor's exit event";
		r.backend = why ? "" : shmk_impl_backend();
		r.param = i ? "to-reclaim" : "to-event";
		r.load1 = loadavg1();
		if (why) {
			r.status = "unavailable";
			note(&r, "%s", why);
		} else if (err) {
			r.status = "error";
			note(&r, "%s", strerror(-err));
		} else {
			row_from_hist(&r, h);
		}
		row_emit(&r);
		if (!why && !err)
			note(&r, "the library reclaims before it reports the "
			     "exit: both times end at the same point");
		logmsg("crash shmk %s %s: %s median %.0f ns%s%s\n", r.backend,
		       r.param, r.status, r.median, r.note[0] ? ": " : "",
		       r.note);
	}
}

/* ------------------------------------------------------ machine notes */
static void cat_first(FILE *out, const char *key, const char *path,
		      const char *prefix)
{
	char line[512], *v;
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (prefix && strncmp(line, prefix, strlen(prefix)))
			continue;
		line[strcspn(line, "\n")] = 0;
		v = prefix ? strchr(line, ':') + 1 : line;
		while (*v == ' ' || *v == '\t')
			v++;
		fprintf(out, "%s: %s\n", key, v);
		break;
	}
	fclose(f);
}

/* Processes using more than 10 % of a CPU over @ms, as text. */
static void heavy_procs(char *buf, size_t len, int ms)
{
	struct p {
		int pid;
		unsigned long long t;
		char comm[32];
	} *a = calloc(4096, sizeof(*a));
	int na = 0, i, k, pid;
	DIR *d;
	struct dirent *e;
	size_t used = 0;
	long tck = sysconf(_SC_CLK_TCK);

	buf[0] = 0;
	if (!a)
		return;
	for (k = 0; k < 2; k++) {
		d = opendir("/proc");
		if (!d)
			break;
		while ((e = readdir(d))) {
			char path[64], line[1024], *c;
			unsigned long long ut, st;
			FILE *f;

			pid = atoi(e->d_name);
			if (pid <= 0)
				continue;
			snprintf(path, sizeof(path), "/proc/%d/stat", pid);
			f = fopen(path, "r");
			if (!f)
				continue;
			if (!fgets(line, sizeof(line), f)) {
				fclose(f);
				continue;
			}
			fclose(f);
			c = strrchr(line, ')');
			if (!c || sscanf(c + 2,
				"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				&ut, &st) != 2)
				continue;
			if (k == 0) {
				if (na >= 4096)
					continue;
				a[na].pid = pid;
				a[na].t = ut + st;
				snprintf(a[na].comm, sizeof(a[na].comm), "%.*s",
					 (int)(c - strchr(line, '(') - 1),
					 strchr(line, '(') + 1);
				na++;
				continue;
			}
			for (i = 0; i < na; i++) {
				double pct;

				if (a[i].pid != pid)
					continue;
				pct = 100.0 * (double)(ut + st - a[i].t) /
				      (double)tck / (ms / 1000.0);
				if (pct >= 10 && used < len - 64)
					used += (size_t)snprintf(buf + used,
						len - used, "%s%s[%d] %.0f%%",
						used ? "; " : "", a[i].comm,
						pid, pct);
			}
		}
		closedir(d);
		if (k == 0) {
			struct timespec ts = { ms / 1000,
					       (ms % 1000) * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
	if (!buf[0])
		snprintf(buf, len, "none");
	free(a);
}

static uint64_t clock_overhead(void)
{
	struct hist h;
	uint64_t t0, t1;
	int i;

	hist_init(&h);
	t0 = now_ns();
	for (i = 0; i < 100000; i++) {
		t1 = now_ns();
		hist_add(&h, t1 - t0);
		t0 = t1;
	}
	return hist_quantile(&h, 0.5);
}

static void machine_notes(const char *path, int start)
{
	FILE *f = fopen(path, start ? "w" : "a");
	struct utsname u;
	char heavy[1024];
	struct timespec ts;

	if (!f)
		return;
	if (start) {
		uname(&u);
		cat_first(f, "cpu_model", "/proc/cpuinfo", "model name");
		fprintf(f, "cpus_online: %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
		fprintf(f, "cpus_allowed: %d\n", cpus_allowed());
		fprintf(f, "kernel: %s %s %s\n", u.sysname, u.release,
			u.machine);
		cat_first(f, "memory", "/proc/meminfo", "MemTotal");
		cat_first(f, "clocksource",
			  "/sys/devices/system/clocksource/clocksource0/"
			  "current_clocksource", NULL);
		fprintf(f, "clock_read_ns: %llu\n",
			(unsigned long long)clock_overhead());
		fprintf(f, "compiler: gcc %s\n", __VERSION__);
		fprintf(f, "shmk_impl: %s\n", shmk_impl_label());
		if (!shmk_raw_duplicate())
			fprintf(f, "shmk_raw_impl: %s\n", shmk_raw_impl_label());
		fprintf(f, "shmk_backend: %s%s\n", shmk_impl_backend(),
			access("/dev/shmk", F_OK) ?
			" (no /dev/shmk on this host: portable backend only)" :
			" (+ kmod: /dev/shmk present)");
		fprintf(f, "quick: %d\n", O.quick);
		fprintf(f, "reps: %d\n", O.reps);
		fprintf(f, "rep_ms: %llu warm + %llu measured\n",
			(unsigned long long)(O.warm_ns / 1000000),
			(unsigned long long)(O.meas_ns / 1000000));
		fprintf(f, "spread_max: %.0f%%\n", SPREAD_MAX * 100);
		fprintf(f, "warm_ms: %llu\n",
			(unsigned long long)(O.warm_ns / 1000000));
		fprintf(f, "budget_s: %llu\n",
			(unsigned long long)(O.budget_ns / 1000000000));
		fprintf(f, "load_start: %.2f\n", loadavg1());
		heavy_procs(heavy, sizeof(heavy), 500);
		fprintf(f, "heavy_start: %s\n", heavy);
		clock_gettime(CLOCK_REALTIME, &ts);
		fprintf(f, "started: %lld\n", (long long)ts.tv_sec);
	} else {
		fprintf(f, "load_end: %.2f\n", loadavg1());
		heavy_procs(heavy, sizeof(heavy), 500);
		fprintf(f, "heavy_end: %s\n", heavy);
		fprintf(f, "duration_s: %.1f\n",
			(double)(now_ns() - run_start_ns) / 1e9);
	}
	fclose(f);
}

/* ---------------------------------------------------------------- main */
static void parse_sizes(const char *s)
{
	char *dup = strdup(s), *tok, *save = NULL;

	O.nsizes = 0;
	for (tok = strtok_r(dup, ",", &save); tok && O.nsizes < MAX_SIZES;
	     tok = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long long v = strtoull(tok, &end, 10);

		if (*end == 'K' || *end == 'k')
			v <<= 10;
		else if (*end == 'M' || *end == 'm')
			v <<= 20;
		if (v < 16) {
			logmsg("shmkbench: size %s too small (min 16)\n", tok);
			exit(2);
		}
		O.sizes[O.nsizes++] = (size_t)v;
	}
	free(dup);
}

static void usage(void)
{
	logmsg("usage: shmkbench [--quick] [--out DIR] [--only rtt,stream,"
	       "fanin,alloc,crash]\n"
	       "  [--transports LIST] [--placements pinned-2cpu,same-cpu,"
	       "unpinned]\n"
	       "  [--sizes 64,4K,1M] [--reps N] [--ms N] [--roudi-config F] "
	       "[--verbose]\n");
	exit(2);
}

static void on_signal(int sig)
{
	iceoryx_roudi_stop();
	signal(sig, SIG_DFL);
	raise(sig);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "out", required_argument, NULL, 'o' },
		{ "only", required_argument, NULL, 'O' },
		{ "transports", required_argument, NULL, 't' },
		{ "placements", required_argument, NULL, 'p' },
		{ "sizes", required_argument, NULL, 's' },
		{ "reps", required_argument, NULL, 'r' },
		{ "ms", required_argument, NULL, 'm' },
		{ "roudi-config", required_argument, NULL, 'R' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	const char *placements = NULL, *sizes = NULL;
	char path[4096];
	int c, i, reps = 0, ms = 0;

	O.out = "results";
	while ((c = getopt_long(argc, argv, "qo:O:t:p:s:r:m:R:v", lo,
				NULL)) != -1) {
		switch (c) {
		case 'q': O.quick = 1; break;
		case 'o': O.out = optarg; break;
		case 'O': O.only = optarg; break;
		case 't': O.transports = optarg; break;
		case 'p': placements = optarg; break;
		case 's': sizes = optarg; break;
		case 'r': reps = atoi(optarg); break;
		case 'm': ms = atoi(optarg); break;
		case 'R': O.roudi_config = optarg; break;
		case 'v': bench_verbose = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (O.quick) {
		O.reps = 2;
		O.warm_ns = 5000000;
		O.meas_ns = 25000000;
		O.st_reps = 1;
		O.st_warm_ns = 10000000;
		O.st_meas_ns = 40000000;
		O.placements = 1u << PL_PINNED2;
		O.budget_ns = 40000000000ull;
		parse_sizes("64,4K,1M");
	} else {
		O.reps = 5;
		O.warm_ns = 15000000;
		O.meas_ns = 120000000;
		O.st_reps = 3;
		O.st_warm_ns = 20000000;
		O.st_meas_ns = 100000000;
		O.placements = (1u << PL_COUNT) - 1;
		O.budget_ns = 420000000000ull;
		parse_sizes("64,512,4K,64K,1M,4M");
	}
	if (reps > 0)
		O.reps = O.st_reps = reps;
	if (ms > 0)
		O.meas_ns = O.st_meas_ns = (uint64_t)ms * 1000000;
	if (sizes)
		parse_sizes(sizes);
	if (placements) {
		char *dup = strdup(placements), *tok, *save = NULL;

		O.placements = 0;
		for (tok = strtok_r(dup, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			int pl = placement_parse(tok);

			if (pl < 0)
				usage();
			O.placements |= 1u << pl;
		}
		free(dup);
	}
	if (cpus_allowed() < 2 && O.placements == 1u << PL_PINNED2)
		O.placements = 1u << PL_UNPINNED;

	mkdir(O.out, 0755);
	snprintf(path, sizeof(path), "%s/results.csv", O.out);
	csv = fopen(path, "w");
	if (!csv) {
		logmsg("shmkbench: %s: %s\n", path, strerror(errno));
		return 2;
	}
	fprintf(csv, "section,transport,label,backend,mode,placement,size,"
		"param,unit,n,min,median,p99,max,mean,spread,attempts,load1,"
		"foreign_cpu_pct,status,note\n");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	run_start_ns = now_ns();
	snprintf(path, sizeof(path), "%s/machine.txt", O.out);
	machine_notes(path, 1);

	if (want(O.only, "rtt") && want(O.transports, "iceoryx") &&
	    !tr_iceoryx.unavailable()) {
		const char *e;

		snprintf(path, sizeof(path), "%s/roudi.log", O.out);
		e = iceoryx_roudi_start(O.roudi_config, path);

		if (e)
			logmsg("iceoryx: %s\n", e);
	}
	snprintf(path, sizeof(path), "%s/machine.txt", O.out);
	if (want(O.only, "rtt"))
		section_rtt();
	iceoryx_roudi_stop();
	if (want(O.only, "stream"))
		section_stream(0);
	if (want(O.only, "fanin"))
		section_stream(1);
	/* Allocator and recovery: portable, and kmod too where it exists. */
	for (i = 0; i < 2; i++) {
		if (shmk_select_backend(i ? "kmod" : "portable"))
			continue;
		if (want(O.only, "alloc"))
			section_alloc();
		if (want(O.only, "crash"))
			crash_rows(i == 0);
	}
	shmk_select_backend("portable");
	machine_notes(path, 0);
	fclose(csv);
	logmsg("shmkbench: done in %.1f s\n",
	       (double)(now_ns() - run_start_ns) / 1e9);
	return 0;
}
