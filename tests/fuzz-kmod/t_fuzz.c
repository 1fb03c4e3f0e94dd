// SPDX-License-Identifier: GPL-2.0
/*
 * t_fuzz: randomized system-call fuzzer for the shmk module (README.md).
 *
 * This file: the runner (environment, shared region, workers, reaping,
 * cleanup, the post-conditions and the TAP report) and the accounting of
 * every call (fz_acct(): errno histograms, findings, the op trace).
 *
 * Environment:
 *   SHMK_FUZZ_SEED     seed (default: from the clock; always printed)
 *   SHMK_FUZZ_CALLS    system calls in total, all processes (150000)
 *   SHMK_FUZZ_SECS     stop issuing calls after this long (30)
 *   SHMK_FUZZ_PROCS    worker processes (4)
 *   SHMK_FUZZ_OPS      weights: "name=W,name=W,-name" (see FZ_OPS)
 *   SHMK_FUZZ_VERBOSE  1: print every finding as it happens
 *   SHMK_FUZZ_NICE     nice value of every fuzz process (10)
 */
#include "fuzz.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>

struct fz_shared *fz_sh;

const char *const fz_op_names[FZ_NOPS] = {
#define FZ_NAME(n, w) #n,
	FZ_OPS(FZ_NAME)
#undef FZ_NAME
};

static const uint32_t fz_default_weights[FZ_NOPS] = {
#define FZ_W(n, w) w,
	FZ_OPS(FZ_W)
#undef FZ_W
};

const char *const fz_call_names[FZ_NCALLS] = {
#define FZ_CNAME(n) #n,
	FZ_CALLS(FZ_CNAME)
#undef FZ_CNAME
};

/* ---- small helpers -------------------------------------------------- */

uint64_t fz_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void fz_say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(1, buf, (size_t)n) < 0)
		return;
}

static __thread pid_t fz_tid_cache;
static pid_t fz_pid_cache;

/* After fork/clone in the child: the cached ids are the parent's. */
void fz_reset_ids(void);
void fz_reset_ids(void)
{
	fz_tid_cache = 0;
	fz_pid_cache = 0;
}

static pid_t fz_pid(void)
{
	if (!fz_pid_cache)
		fz_pid_cache = getpid();
	return fz_pid_cache;
}

static pid_t fz_tid(void)
{
	if (!fz_tid_cache)
		fz_tid_cache = (pid_t)syscall(SYS_gettid);
	return fz_tid_cache;
}

bool fz_should_stop(void)
{
	uint64_t now = fz_now(), zero = 0;

	if (atomic_load_explicit(&fz_sh->stop, memory_order_relaxed))
		return true;
	if (atomic_load_explicit(&fz_sh->calls, memory_order_relaxed) <
	    fz_sh->budget && now < fz_sh->deadline_ns)
		return false;
	/* The first to see the end: that is when the run's calls were made. */
	atomic_compare_exchange_strong(&fz_sh->stop_ns, &zero, now);
	return true;
}

/*
 * Every errno the ABI documents (Documentation/abi/) for the call, plus
 * what the fuzzer itself causes on purpose: EBADF and ENOTTY (another
 * thread or a CLONE_FILES sibling closed the descriptor or reused its
 * number), ENOMEM (memory pressure). Lists end with 0.
 */
static const int fz_allowed[FZ_NCALLS][16] = {
	[FZ_C_VERSION] = { EINVAL, EFAULT },
	[FZ_C_ATTACH] = { EINVAL, EFBIG, ENOENT, EEXIST, EBUSY, EPERM, EACCES,
			  ENOSPC, EINTR, EFAULT },
	[FZ_C_DETACH] = { EINVAL, ENOTCONN, EPERM },
	[FZ_C_WAIT] = { EAGAIN, ETIMEDOUT, EINTR, ENOTCONN, EINVAL, EPERM,
			EFAULT },
	[FZ_C_WAKE] = { EINVAL, ENOTCONN, EPERM, EFAULT },
	[FZ_C_SET_ROBUST] = { EINVAL, EPERM, ENOTCONN, EFAULT },
	[FZ_C_REMOVE] = { EINVAL, ENOENT, EPERM, EFAULT },
	[FZ_C_BADIOCTL] = { ENOTTY },
	/* mmap: the module's, then the VFS's own (file mode, mlock limit). */
	[FZ_C_MMAP] = { EINVAL, EPERM, ENOTCONN, EACCES, EAGAIN },
	[FZ_C_READ] = { EINVAL, EAGAIN, EINTR, ENOTCONN, EPERM, EFAULT },
	[FZ_C_POLL] = { EINTR, EFAULT, EINVAL },
	[FZ_C_OPEN] = { EMFILE, ENFILE },
};

static bool fz_errno_ok(enum fz_call call, int err)
{
	int i;

	if (call == FZ_C_OTHER)
		return true;
	if (err == EBADF || err == ENOMEM)
		return true;
	if (err == ENOTTY && call != FZ_C_MMAP && call != FZ_C_READ &&
	    call != FZ_C_POLL && call != FZ_C_OPEN)
		return true;
	/* The same for mmap of a reused number (no ->mmap, e.g. a socket). */
	if (err == ENODEV && call == FZ_C_MMAP)
		return true;
	for (i = 0; i < 16 && fz_allowed[call][i]; i++)
		if (fz_allowed[call][i] == err)
			return true;
	return false;
}

void fz_finding(enum fz_call call, enum fz_op op, int err, uint64_t a0,
		uint64_t a1, const char *what)
{
	struct fz_finding *f;
	uint32_t i, n;

	n = atomic_load(&fz_sh->nfindings);
	if (n > FZ_NFINDINGS)
		n = FZ_NFINDINGS;
	for (i = 0; i < n; i++) {
		f = &fz_sh->findings[i];
		if (atomic_load(&f->ready) && f->call == call &&
		    f->op == op && f->err == err &&
		    !strncmp(f->what, what, sizeof(f->what) - 1)) {
			atomic_fetch_add(&f->count, 1);
			return;
		}
	}
	i = atomic_fetch_add(&fz_sh->nfindings, 1);
	if (i >= FZ_NFINDINGS)
		return;
	f = &fz_sh->findings[i];
	f->call = (uint16_t)call;
	f->op = (uint16_t)op;
	f->err = err;
	f->a0 = a0;
	f->a1 = a1;
	for (n = 0; n + 1 < sizeof(f->what) && what[n]; n++)
		f->what[n] = what[n];
	f->what[n] = 0;
	atomic_store(&f->count, 1);
	atomic_store(&f->ready, 1);
	if (fz_sh->verbose)
		fz_say("# finding: %s %s %s a0=0x%llx a1=0x%llx: %s",
		       fz_op_names[op], fz_call_names[call],
		       err ? strerrorname_np(err) : "success",
		       (unsigned long long)a0, (unsigned long long)a1, what);
}

/* Set by the op dispatcher so that fz_acct() knows the op. */
__thread enum fz_op fz_cur_op;

long fz_acct(struct fz_ctx *c, enum fz_call call, enum fz_kind kind, long r,
	     uint64_t a0, uint64_t a1)
{
	struct fz_trace *t;
	uint64_t i;
	int err = r < 0 ? (int)-r : 0;

	(void)c;
	atomic_fetch_add_explicit(&fz_sh->calls, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&fz_sh->w[fz_p.worker % FZ_WORKERS_MAX].calls,
				  1, memory_order_relaxed);
	atomic_fetch_add_explicit(&fz_sh->call_count[call], 1,
				  memory_order_relaxed);
	if (r >= 0)
		atomic_fetch_add_explicit(&fz_sh->call_ok[call], 1,
					  memory_order_relaxed);
	else
		atomic_fetch_add_explicit(
			&fz_sh->errs[call][err < FZ_NERR ? err : FZ_NERR - 1],
			1, memory_order_relaxed);

	if (kind == FZ_VALID && r < 0 && !fz_errno_ok(call, err))
		fz_finding(call, fz_cur_op, err, a0, a1,
			   "undocumented errno");
	if (kind == FZ_INVALID && r >= 0 && call != FZ_C_OTHER)
		fz_finding(call, fz_cur_op, 0, a0, a1,
			   "invalid argument accepted");

	i = atomic_fetch_add_explicit(&fz_sh->trace_head, 1,
				      memory_order_relaxed);
	t = &fz_sh->trace[i % FZ_TRACE];
	t->t_ns = fz_now();
	t->pid = fz_pid();
	t->tid = fz_tid();
	t->op = (uint16_t)fz_cur_op;
	t->call = (uint16_t)call;
	t->ret = r < INT32_MIN ? INT32_MIN : r > INT32_MAX ? INT32_MAX : (int32_t)r;
	t->a0 = a0;
	t->a1 = a1;
	return r;
}

/*
 * Pids from wait() and fork() are in the caller's active pid namespace:
 * only those of the runner's namespace are comparable with the pids that
 * watchers read in events.
 */
static bool fz_pid_ns_ok(void)
{
	struct stat st;

	return !fz_sh->pid_ns_ino ||
	       (stat("/proc/self/ns/pid", &st) == 0 &&
		(uint64_t)st.st_ino == fz_sh->pid_ns_ino);
}

void fz_acct_raw(enum fz_call call, enum fz_kind kind, long r)
{
	int err = r < 0 ? (int)-r : 0;

	atomic_fetch_add_explicit(&fz_sh->calls, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&fz_sh->w[fz_p.worker % FZ_WORKERS_MAX].calls,
				  1, memory_order_relaxed);
	atomic_fetch_add_explicit(&fz_sh->call_count[call], 1,
				  memory_order_relaxed);
	if (r >= 0)
		atomic_fetch_add_explicit(&fz_sh->call_ok[call], 1,
					  memory_order_relaxed);
	else
		atomic_fetch_add_explicit(
			&fz_sh->errs[call][err < FZ_NERR ? err : FZ_NERR - 1],
			1, memory_order_relaxed);
	if (kind == FZ_VALID && r < 0 && !fz_errno_ok(call, err))
		fz_finding(call, FZ_OP_clone, err, 0, 0, "undocumented errno");
	if (kind == FZ_INVALID && r >= 0)
		fz_finding(call, FZ_OP_clone, 0, 0, 0,
			   "invalid argument accepted");
}

void fz_log_birth(pid_t pid, uint64_t t_ns, uint32_t shape)
{
	uint32_t i;

	if (!fz_pid_ns_ok())
		return;
	i = atomic_fetch_add(&fz_sh->nbirth, 1);
	if (i >= FZ_PLOG)
		return;
	fz_sh->birth[i].t_ns = t_ns;
	fz_sh->birth[i].pid = pid;
	fz_sh->birth[i].status = -1;
	fz_sh->birth[i].shape = shape;
}

void fz_log_reap(pid_t pid, int status)
{
	uint32_t i;

	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		fz_finding(FZ_C_OTHER, FZ_OP_fork, 0, (uint64_t)pid, 0,
			   "child killed by its watchdog (hung)");
	if (!fz_pid_ns_ok())
		return;
	i = atomic_fetch_add(&fz_sh->nreap, 1);
	if (i >= FZ_PLOG)
		return;
	fz_sh->reap[i].t_ns = fz_now();
	fz_sh->reap[i].pid = pid;
	fz_sh->reap[i].status = status;
}

void fz_persist_add(const char *name)
{
	uint32_t i = atomic_fetch_add(&fz_sh->npersist, 1);

	if (i < 64)
		memcpy(fz_sh->persist[i], name, SHMK_NAME_MAX);
}

/* ---- module facts ------------------------------------------------- */

static int fz_read_file(const char *path, char *buf, size_t len)
{
	ssize_t n, got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while ((size_t)got < len - 1) {
		n = read(fd, buf + got, len - 1 - (size_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	buf[got] = 0;
	return (int)got;
}

static uint64_t fz_param(const char *name, uint64_t dflt)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), "/sys/module/shmk/parameters/%s", name);
	if (fz_read_file(path, buf, sizeof(buf)) <= 0)
		return dflt;
	return strtoull(buf, NULL, 0);
}

struct fz_stats {
	long arenas, members, pages, waiters;
};

static int fz_stats(struct fz_stats *st)
{
	char buf[1024], key[32], *line, *save = NULL;
	long v;

	st->arenas = st->members = st->pages = st->waiters = -1;
	if (fz_read_file("/sys/kernel/debug/shmk/stats", buf, sizeof(buf)) <= 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%31s %ld", key, &v) != 2)
			continue;
		if (!strcmp(key, "arenas"))
			st->arenas = v;
		else if (!strcmp(key, "members"))
			st->members = v;
		else if (!strcmp(key, "pages"))
			st->pages = v;
		else if (!strcmp(key, "waiters"))
			st->waiters = v;
	}
	return 0;
}

static bool fz_stats_zero(const struct fz_stats *s)
{
	return !s->arenas && !s->members && !s->pages && !s->waiters;
}

static uint64_t fz_ns_ino(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* ---- kernel log ------------------------------------------------------ */

static const char *const fz_report_pats[] = {
	"BUG:", "WARNING:", "Oops", "general protection", "KASAN", "UBSAN",
	"lockdep", "possible circular locking", "blocked for more than",
	"kernel BUG", "Call Trace", "DEBUG_LOCKS_WARN_ON", "detected stalls",
	"soft lockup", "hard LOCKUP", "Kernel panic", "list_add corruption",
	"list_del corruption", "refcount_t:", "kmemleak:", "stack-protector",
	"double fault", "Bad page",
};

/*
 * Reads /dev/kmsg from its start; returns the timestamp (us) of the record
 * holding @marker, or 0. With @scan, counts and prints records after the
 * marker's timestamp that look like kernel reports.
 */
static uint64_t fz_kmsg(const char *marker, uint64_t since_us, int *reports,
			uint64_t *first_us)
{
	char rec[2048];
	uint64_t found = 0, ts;
	ssize_t n;
	int fd, shown = 0;
	size_t i;

	fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	for (;;) {
		char *semi, *msg;
		unsigned int lvl;
		unsigned long long seq, us;

		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records */
		if (n <= 0)
			break;
		rec[n] = 0;
		semi = strchr(rec, ';');
		if (!semi || sscanf(rec, "%u,%llu,%llu", &lvl, &seq, &us) != 3)
			continue;
		msg = semi + 1;
		ts = us;
		if (marker && strstr(msg, marker))
			found = ts;
		if (!reports || ts < since_us)
			continue;
		for (i = 0; i < sizeof(fz_report_pats) / sizeof(*fz_report_pats);
		     i++) {
			if (!strstr(msg, fz_report_pats[i]))
				continue;
			if (!*reports && first_us)
				*first_us = ts;
			(*reports)++;
			if (shown++ < 30) {
				char *nl = strchr(msg, '\n');

				if (nl)
					*nl = 0;
				printf("# kernel [%llu.%06llu] %s\n",
				       (unsigned long long)(ts / 1000000),
				       (unsigned long long)(ts % 1000000), msg);
			}
			break;
		}
	}
	close(fd);
	return found;
}

/* Trace entries near @t_ns (the moment of a report). */
static void fz_trace_dump(uint64_t t_ns, uint64_t before_ns, int max)
{
	uint64_t head = atomic_load(&fz_sh->trace_head), i, lo;
	int shown = 0;

	lo = head > FZ_TRACE ? head - FZ_TRACE : 0;
	for (i = lo; i < head && shown < max; i++) {
		struct fz_trace *t = &fz_sh->trace[i % FZ_TRACE];

		if (t->t_ns + before_ns < t_ns || t->t_ns > t_ns + 2000000)
			continue;
		printf("#   t=%llu.%06llu pid %d tid %d %s/%s -> %d a0=0x%llx a1=0x%llx\n",
		       (unsigned long long)(t->t_ns / 1000000000ULL),
		       (unsigned long long)(t->t_ns / 1000 % 1000000),
		       t->pid, t->tid, fz_op_names[t->op % FZ_NOPS],
		       fz_call_names[t->call % FZ_NCALLS], t->ret,
		       (unsigned long long)t->a0, (unsigned long long)t->a1);
		shown++;
	}
}

/* ---- the death oracle ------------------------------------------------ */

/*
 * Every exit event a watcher read (how, status, end time, attach time) is
 * matched with the process that attached: the one with that pid whose
 * birth..reap interval holds the attach time. Checked:
 *  - the membership ended no later than the process was reaped (a crash is
 *    reported "at once": before wait() returns);
 *  - an EXIT or SIGNAL ending carries the process's real exit code or
 *    signal, as wait() saw it.
 */
static int fz_cmp_plog(const void *a, const void *b)
{
	const struct fz_plog *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->t_ns < y->t_ns ? -1 : x->t_ns > y->t_ns;
}

/*
 * "before or just after its parent is told" (events.rst): an end this
 * soon after the reap is on time; later is a finding.
 */
#define FZ_LATE_NS	100000000ULL

struct fz_oracle {
	uint64_t checked, late, just_after, cause, unmatched, max_after_ns;
};

static void fz_oracle(struct fz_oracle *o)
{
	uint32_t nb = atomic_load(&fz_sh->nbirth), nr = atomic_load(&fz_sh->nreap);
	uint32_t nd = atomic_load(&fz_sh->ndeath), i, j;
	struct fz_plog *b = fz_sh->birth, *r = fz_sh->reap;
	int shown_late = 0, shown_cause = 0;

	memset(o, 0, sizeof(*o));
	nb = nb < FZ_PLOG ? nb : FZ_PLOG;
	nr = nr < FZ_PLOG ? nr : FZ_PLOG;
	nd = nd < FZ_DLOG ? nd : FZ_DLOG;
	qsort(b, nb, sizeof(*b), fz_cmp_plog);
	qsort(r, nr, sizeof(*r), fz_cmp_plog);
	for (i = 0; i < nd; i++) {
		const struct fz_dlog *d = &fz_sh->death[i];
		const struct fz_plog *born = NULL, *reaped = NULL;
		uint64_t at = d->attach_ns ? d->attach_ns : d->time_ns;

		/* The last birth of the pid before the attach... */
		for (j = 0; j < nb; j++) {
			if (b[j].pid == d->pid && b[j].t_ns <= at)
				born = &b[j];
		}
		if (!born) {
			o->unmatched++;
			continue;
		}
		/* ...and the first reap after that birth. */
		for (j = 0; j < nr; j++) {
			if (r[j].pid == d->pid && r[j].t_ns >= born->t_ns) {
				reaped = &r[j];
				break;
			}
		}
		if (!reaped || reaped->t_ns < at) {
			o->unmatched++;
			continue;
		}
		o->checked++;
		if (d->time_ns > reaped->t_ns &&
		    d->time_ns - reaped->t_ns > o->max_after_ns)
			o->max_after_ns = d->time_ns - reaped->t_ns;
		if (d->time_ns > reaped->t_ns &&
		    d->time_ns - reaped->t_ns <= FZ_LATE_NS)
			o->just_after++;
		if (d->time_ns > reaped->t_ns + FZ_LATE_NS) {
			o->late++;
			if (shown_late++ < 5)
				printf("# oracle: member %u gen %u of arena %u (pid %d, shape 0x%x) ended how=%u status=%d %.3f ms after its process was reaped (wait status 0x%x)\n",
				       d->member_id, d->generation, d->arena_id,
				       d->pid, born->shape, d->how, d->status,
				       (double)(d->time_ns - reaped->t_ns) / 1e6,
				       reaped->status);
		}
		if ((d->how == SHMK_END_SIGNAL &&
		     !(WIFSIGNALED(reaped->status) &&
		       WTERMSIG(reaped->status) == d->status)) ||
		    (d->how == SHMK_END_EXIT &&
		     !(WIFEXITED(reaped->status) &&
		       WEXITSTATUS(reaped->status) == d->status))) {
			o->cause++;
			if (shown_cause++ < 5)
				printf("# oracle: pid %d (shape 0x%x) member %u of arena %u: event how=%u status=%d, but wait() said 0x%x (%s %d)\n",
				       d->pid, born->shape, d->member_id,
				       d->arena_id, d->how, d->status,
				       reaped->status,
				       WIFSIGNALED(reaped->status) ? "signal" : "exit",
				       WIFSIGNALED(reaped->status) ?
				       WTERMSIG(reaped->status) :
				       WEXITSTATUS(reaped->status));
		}
	}
}

/* ---- the runner -------------------------------------------------------- */

static volatile sig_atomic_t fz_alarm_hit;

static void fz_on_alarm(int sig)
{
	(void)sig;
	fz_alarm_hit = 1;
}

/* Write @val into a sysctl file; returns its old value, or -1. */
static int fz_sysctl_set(const char *path, int val)
{
	char buf[32];
	int old, fd;

	if (fz_read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	old = atoi(buf);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	snprintf(buf, sizeof(buf), "%d\n", val);
	if (write(fd, buf, strlen(buf)) < 0)
		old = -1;
	close(fd);
	return old;
}

/* A periodic SIGALRM every @secs seconds (0: off). */
static void fz_tick(unsigned int secs)
{
	struct itimerval it = { { secs, 0 }, { secs, 0 } };

	setitimer(ITIMER_REAL, &it, NULL);
}

static uint64_t fz_env_u64(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : dflt;
}

static void fz_weights(const char *spec)
{
	char buf[1024], *tok, *save = NULL;
	int i;

	memcpy(fz_sh->weights, fz_default_weights, sizeof(fz_sh->weights));
	if (spec) {
		snprintf(buf, sizeof(buf), "%s", spec);
		for (tok = strtok_r(buf, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			bool off = *tok == '-';
			char *eq = strchr(tok, '=');
			const char *name = off ? tok + 1 : tok;
			size_t len = eq ? (size_t)(eq - name) : strlen(name);

			for (i = 0; i < FZ_NOPS; i++) {
				/* A prefix selects a family: "-uring". */
				if (strncmp(fz_op_names[i], name, len) ||
				    (fz_op_names[i][len] && fz_op_names[i][len] != '_'))
					continue;
				fz_sh->weights[i] = off ? 0 :
					eq ? (uint32_t)strtoul(eq + 1, NULL, 0) :
					fz_sh->weights[i];
			}
		}
	}
	fz_sh->wsum = 0;
	for (i = 0; i < FZ_NOPS; i++)
		fz_sh->wsum += fz_sh->weights[i];
}

static void fz_pool_names(void)
{
	static const char *const pool[FZ_NAMES] = {
		"fz.0", "fz.1", "fz.2", "fz.3", "fz.4", "f",
		"fz:@+-._Az09",
		/* 63 bytes: the longest name */
		"fz.long.0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQR",
		"fz space",		/* outside [A-Za-z0-9._:@+-] */
		"fz.\xc3\xa9\x01",	/* non-ASCII, control char */
	};
	int i;

	for (i = 0; i < FZ_NAMES; i++)
		snprintf(fz_sh->names[i], SHMK_NAME_MAX, "%s", pool[i]);
}

static int fz_map_shared(void)
{
	int fd = (int)syscall(SYS_memfd_create, "shmk-fuzz", 0);
	void *p;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, sizeof(struct fz_shared)) < 0)
		return -errno;
	if (dup2(fd, FZ_SHARED_FD) < 0)
		return -errno;
	close(fd);
	p = mmap(NULL, sizeof(struct fz_shared), PROT_READ | PROT_WRITE,
		 MAP_SHARED, FZ_SHARED_FD, 0);
	if (p == MAP_FAILED)
		return -errno;
	fz_sh = p;
	return 0;
}

/* REMOVE what may be left: the pool, recorded persistent names, debugfs. */
static int fz_remove_all(void)
{
	char buf[65536], *line, *save = NULL, *tok, *tsave;
	struct shmk_remove rm;
	int fd = open(SHMK_DEVICE_PATH, O_RDWR | O_CLOEXEC), i, n = 0;
	uint32_t np = atomic_load(&fz_sh->npersist);

	if (fd < 0)
		return -1;
	for (i = 0; i < FZ_NAMES + 64; i++) {
		memset(&rm, 0, sizeof(rm));
		if (i < FZ_NAMES)
			memcpy(rm.name, fz_sh->names[i], SHMK_NAME_MAX);
		else if ((uint32_t)(i - FZ_NAMES) < np && i - FZ_NAMES < 64)
			memcpy(rm.name, fz_sh->persist[i - FZ_NAMES],
			       SHMK_NAME_MAX);
		else
			continue;
		rm.name[SHMK_NAME_MAX - 1] = 0;
		if (ioctl(fd, SHMK_IOC_REMOVE, &rm) == 0)
			n++;
	}
	/* Names the module still lists (second field of each arena line). */
	if (fz_read_file("/sys/kernel/debug/shmk/arenas", buf, sizeof(buf)) > 0) {
		for (line = strtok_r(buf, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			if (line[0] == ' ')
				continue;
			tsave = NULL;
			tok = strtok_r(line, " ", &tsave);
			tok = tok ? strtok_r(NULL, " ", &tsave) : NULL;
			if (!tok)
				continue;
			memset(&rm, 0, sizeof(rm));
			snprintf(rm.name, sizeof(rm.name), "%s", tok);
			if (ioctl(fd, SHMK_IOC_REMOVE, &rm) == 0)
				n++;
		}
	}
	close(fd);
	return n;
}

/* Where a process is: state, system call, kernel stack (root only). */
static void fz_show_proc(int pid)
{
	char path[64], buf[2048], *p;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (fz_read_file(path, buf, sizeof(buf)) > 0) {
		p = strchr(buf, '\n');
		if (p)
			*p = 0;
		printf("#   %.160s\n", buf);
	}
	/* Every task: the stuck one may not be the leader. */
	{
		struct dirent *de;
		DIR *d;

		snprintf(path, sizeof(path), "/proc/%d/task", pid);
		d = opendir(path);
		while (d && (de = readdir(d))) {
			char tp[384], comm[64] = "";

			if (de->d_name[0] == '.')
				continue;
			snprintf(tp, sizeof(tp), "/proc/%d/task/%s/comm", pid,
				 de->d_name);
			fz_read_file(tp, comm, sizeof(comm));
			p = strchr(comm, '\n');
			if (p)
				*p = 0;
			snprintf(tp, sizeof(tp), "/proc/%d/task/%s/syscall", pid,
				 de->d_name);
			if (fz_read_file(tp, buf, sizeof(buf)) > 0)
				printf("#    task %s (%s) syscall: %s", de->d_name,
				       comm, buf);
			snprintf(tp, sizeof(tp), "/proc/%d/task/%s/stack", pid,
				 de->d_name);
			n = fz_read_file(tp, buf, sizeof(buf));
			for (p = strtok(n > 0 ? buf : NULL, "\n"); p;
			     p = strtok(NULL, "\n"))
				printf("#      %s\n", p);
		}
		if (d)
			closedir(d);
	}
}

/* SIGKILL every process of our process group but us. */
static int fz_kill_group(void)
{
	pid_t me = getpid(), pg = getpgrp();
	struct dirent *de;
	DIR *d = opendir("/proc");
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[64], buf[512], *p;
		int pid = atoi(de->d_name), pgrp = 0, ppid = 0;
		char state = 0;

		if (pid <= 0 || pid == me)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		if (fz_read_file(path, buf, sizeof(buf)) <= 0)
			continue;
		p = strrchr(buf, ')');
		if (!p || sscanf(p + 2, "%c %d %d", &state, &ppid, &pgrp) != 3)
			continue;
		if (pgrp != pg || state == 'Z')
			continue;
		fz_show_proc(pid);
		kill(pid, SIGKILL);
		n++;
	}
	closedir(d);
	return n;
}

static int fz_worker_index(pid_t pid)
{
	uint32_t i;

	for (i = 0; i < fz_sh->nworkers; i++)
		if (fz_sh->w[i].pid == pid)
			return (int)i;
	return -1;
}

static void fz_worker_main(int i)
{
	struct fz_ctx c;
	uint64_t secs = (fz_sh->deadline_ns - fz_now()) / 1000000000ULL;

	memset(&c, 0, sizeof(c));
	fz_reset_ids();
	fz_seed(&c, fz_sh->seed * 1000003ULL + (uint64_t)i);
	c.budget = UINT64_MAX;
	fz_proc_init(0, i);
	/*
	 * The watchdog: a worker that does not end by then hung. The
	 * runner's SIGALRM handler must not be inherited, or it never kills.
	 */
	signal(SIGALRM, SIG_DFL);
	alarm((unsigned int)secs + 60);
	fz_install_handlers();
	fz_watch_open(&c);
	fz_loop(&c);
	fz_proc_end(&c);
	_exit(0);
}

static const char *fz_status_text(int st, char *buf, size_t len)
{
	if (WIFEXITED(st))
		snprintf(buf, len, "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "signal %d (%s)", WTERMSIG(st),
			 WTERMSIG(st) == SIGALRM ? "watchdog" :
			 sigabbrev_np(WTERMSIG(st)) ?: "?");
	else
		snprintf(buf, len, "status 0x%x", st);
	return buf;
}

int main(int argc, char **argv)
{
	uint64_t seed, calls, secs, t0, t_end, first_us = 0, mark_us, hard;
	uint64_t next_progress;
	int trace_was;
	struct fz_stats before, after;
	struct fz_oracle orc;
	unsigned int procs, i, left, orphans = 0, hung = 0, test = 0;
	int st, reports = 0, removed, r;
	char marker[96], sbuf[64];
	bool stats_ok, drained;
	struct sigaction sa;
	pid_t pid;

	if (argc > 1 && !strcmp(argv[1], "--mini"))
		return fz_mini_main(argc, argv);

	setvbuf(stdout, NULL, _IOLBF, 0);
	seed = fz_env_u64("SHMK_FUZZ_SEED", 0);
	if (!seed)
		seed = fz_mix(fz_now() ^ ((uint64_t)getpid() << 32)) & 0xffffffffULL;
	/* Defaults: the short run of make check (20-40 s under TCG). */
	calls = fz_env_u64("SHMK_FUZZ_CALLS", 150000);
	secs = fz_env_u64("SHMK_FUZZ_SECS", 30);
	procs = (unsigned int)fz_env_u64("SHMK_FUZZ_PROCS", 4);
	if (procs < 1)
		procs = 1;
	if (procs > FZ_WORKERS_MAX)
		procs = FZ_WORKERS_MAX;

	if (access(SHMK_DEVICE_PATH, R_OK | W_OK)) {
		printf("1..0 # SKIP %s missing (module not loaded)\n",
		       SHMK_DEVICE_PATH);
		return 77;
	}
	r = fz_map_shared();
	if (r < 0) {
		printf("1..0 # SKIP shared region: %s\n", strerror(-r));
		return 77;
	}
	/* Plan: one line per worker, then the run's checks. */
	printf("1..%u\n", procs + 6);
	printf("# shmk fuzz: SHMK_FUZZ_SEED=%llu SHMK_FUZZ_CALLS=%llu SHMK_FUZZ_SECS=%llu SHMK_FUZZ_PROCS=%u\n",
	       (unsigned long long)seed, (unsigned long long)calls,
	       (unsigned long long)secs, procs);

	fz_sh->seed = seed;
	fz_sh->budget = calls;
	fz_sh->nworkers = procs;
	fz_sh->verbose = (int)fz_env_u64("SHMK_FUZZ_VERBOSE", 0);
	fz_sh->max_arena_size = fz_param("max_arena_size", 256ULL << 20);
	fz_sh->max_arenas = (uint32_t)fz_param("max_arenas", 64);
	fz_sh->max_members = (uint32_t)fz_param("max_members", 64);
	fz_sh->event_queue_len = (uint32_t)fz_param("event_queue_len", 128);
	fz_sh->ipc_ns_ino = fz_ns_ino("/proc/self/ns/ipc");
	fz_sh->pid_ns_ino = fz_ns_ino("/proc/self/ns/pid");
	fz_sh->child_secs = (uint32_t)fz_env_u64("SHMK_FUZZ_CHILD_SECS", 30);
	{
		struct stat st;

		if (stat(SHMK_DEVICE_PATH, &st) == 0)
			fz_sh->shmk_rdev = (uint64_t)st.st_rdev;
	}
	if (readlink("/proc/self/exe", fz_sh->exe, sizeof(fz_sh->exe) - 1) < 0)
		snprintf(fz_sh->exe, sizeof(fz_sh->exe), "%s", argv[0]);
	fz_pool_names();
	fz_weights(getenv("SHMK_FUZZ_OPS"));
	printf("# module: max_arena_size %llu max_arenas %u max_members %u event_queue_len %u\n",
	       (unsigned long long)fz_sh->max_arena_size, fz_sh->max_arenas,
	       fz_sh->max_members, fz_sh->event_queue_len);

	if (fz_stats(&before) < 0)
		printf("# no debugfs stats: the stats check will fail\n");
	else
		printf("# stats before: arenas %ld members %ld pages %ld waiters %ld\n",
		       before.arenas, before.members, before.pages,
		       before.waiters);

	/* A marker in the kernel log: reports after it are ours. */
	snprintf(marker, sizeof(marker), "shmk-fuzz: start seed=%llu pid=%d",
		 (unsigned long long)seed, (int)getpid());
	{
		int kfd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);

		/* With its newline, or the record is not final yet. */
		char line[128];

		snprintf(line, sizeof(line), "%s\n", marker);
		if (kfd >= 0) {
			if (write(kfd, line, strlen(line)) < 0)
				printf("# /dev/kmsg: %s\n", strerror(errno));
			close(kfd);
		}
	}
	mark_us = fz_kmsg(marker, 0, NULL, NULL);

	/*
	 * Nice 10: hundreds of runnable fuzz processes on one slow CPU (the
	 * debug VM, KASAN) starve ksoftirqd, RCU callbacks back up behind
	 * them and every synchronize_rcu() (free_ipc, rmmod) waits minutes
	 * (README "Findings"). Kernel housekeeping at nice 0 keeps up.
	 */
	if (setpriority(PRIO_PROCESS, 0, (int)fz_env_u64("SHMK_FUZZ_NICE", 10)))
		printf("# setpriority: %s\n", strerror(errno));
	/* Deliberate crashes: no "segfault at" line each on the console. */
	trace_was = fz_sysctl_set("/proc/sys/debug/exception-trace", 0);
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fz_on_alarm;
	sigaction(SIGALRM, &sa, NULL);	/* no SA_RESTART: waitpid -> EINTR */
	signal(SIGPIPE, SIG_IGN);

	t0 = fz_now();
	fz_sh->start_ns = t0;
	fz_sh->deadline_ns = t0 + secs * 1000000000ULL;
	fflush(stdout);
	for (i = 0; i < procs; i++) {
		uint64_t tb = fz_now();

		pid = fork();
		if (pid == 0)
			fz_worker_main((int)i);
		if (pid < 0) {
			printf("# fork of worker %u: %s\n", i, strerror(errno));
			fz_sh->nworkers = i;
			break;
		}
		fz_sh->w[i].pid = pid;
		fz_log_birth(pid, tb, FZ_SHAPE_FORK);
	}
	procs = fz_sh->nworkers;

	/*
	 * Reap. Workers stop issuing calls at the deadline and have their
	 * own watchdog 60 s later; give them 90 s, then SIGKILL what is left
	 * (and count it as hung). Orphans come back to us (subreaper).
	 */
	left = procs;
	hard = t0 + (secs + 90) * 1000000000ULL;
	/*
	 * A periodic tick (progress lines, the bounds), its flag checked on
	 * every turn: a tick that lands between two waitpid() calls is not
	 * lost, the next one interrupts the wait.
	 */
	fz_tick(10);
	next_progress = t0 + 60000000000ULL;
	while (left) {
		uint64_t now = fz_now();

		if (fz_alarm_hit) {
			fz_alarm_hit = 0;
			if (now >= next_progress && now < hard) {
				uint64_t n = atomic_load(&fz_sh->calls);

				printf("# progress: %llu calls in %.0f s (%.0f calls/s), %u workers running\n",
				       (unsigned long long)n, (double)(now - t0) / 1e9,
				       (double)n * 1e9 / (double)(now - t0), left);
				next_progress = now + 60000000000ULL;
			}
			if (now >= hard) {
				printf("# workers still running past their bound: killing\n");
				atomic_store(&fz_sh->stop, 1);
				hung += (unsigned int)fz_kill_group() ? 1 : 0;
				hard = now + 30000000000ULL;
			}
		}
		pid = waitpid(-1, &st, __WALL);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			break;
		fz_log_reap(pid, st);
		r = fz_worker_index(pid);
		if (r < 0) {
			orphans++;
			continue;
		}
		fz_sh->w[r].status = st;
		fz_sh->w[r].end_ns = fz_now();
		left--;
	}
	atomic_store(&fz_sh->stop, 1);
	t_end = fz_now();
	/* Descendants still running: their watchdog is child_secs. */
	hard = fz_now() + (fz_sh->child_secs + 10) * 1000000000ULL;
	for (;;) {
		if (fz_alarm_hit) {
			fz_alarm_hit = 0;
			if (fz_now() >= hard) {
				printf("# descendants still running %u s after the workers: killing\n",
				       fz_sh->child_secs + 10);
				if (fz_kill_group())
					hung++;
				hard = fz_now() + 30000000000ULL;
			}
		}
		pid = waitpid(-1, &st, __WALL);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			break;
		fz_log_reap(pid, st);
		orphans++;
	}
	fz_tick(0);
	if (trace_was >= 0)
		fz_sysctl_set("/proc/sys/debug/exception-trace", trace_was);

	/* Worker lines. */
	for (i = 0; i < procs; i++) {
		struct fz_worker_st *w = &fz_sh->w[i];
		bool ok = WIFEXITED(w->status) && WEXITSTATUS(w->status) == 0;

		if (!ok)
			hung += WIFSIGNALED(w->status) &&
				(WTERMSIG(w->status) == SIGALRM ||
				 WTERMSIG(w->status) == SIGKILL);
		printf("%sok %u - worker %u (pid %d): %llu calls, %llu ops, %u children, %u threads, %u execs, %s\n",
		       ok ? "" : "not ", ++test, i, w->pid,
		       (unsigned long long)atomic_load(&w->calls),
		       (unsigned long long)atomic_load(&w->ops),
		       atomic_load(&w->kids), atomic_load(&w->threads),
		       atomic_load(&w->execs),
		       fz_status_text(w->status, sbuf, sizeof(sbuf)));
	}

	/* Cleanup: persistent arenas, then wait for deferred frees (io_uring). */
	removed = fz_remove_all();
	drained = false;
	for (i = 0; i < 3000; i++) {
		if (fz_stats(&after) == 0 && fz_stats_zero(&after)) {
			drained = true;
			break;
		}
		usleep(10000);
	}
	stats_ok = drained;

	{
		uint64_t stop_ns = atomic_load(&fz_sh->stop_ns);
		double dt = (double)((stop_ns ? stop_ns : t_end) - t0) / 1e9;
		uint64_t n = atomic_load(&fz_sh->calls);

		printf("# reaping took %.1f s more\n",
		       (double)(t_end - (stop_ns ? stop_ns : t_end)) / 1e9);
		printf("# %llu calls in %.1f s: %.0f calls/s; %llu processes, %llu threads, %llu execs, %llu kills, %u orphans reaped\n",
		       (unsigned long long)n, dt, dt > 0 ? (double)n / dt : 0.0,
		       (unsigned long long)atomic_load(&fz_sh->procs),
		       (unsigned long long)atomic_load(&fz_sh->threads),
		       (unsigned long long)atomic_load(&fz_sh->execs),
		       (unsigned long long)atomic_load(&fz_sh->kills), orphans);
	}
	printf("%sok %u - no process hung past its bound%s\n",
	       hung ? "not " : "", ++test,
	       hung ? " (watchdog fired or killed at the end)" : "");

	/* Errno check. */
	{
		uint32_t n = atomic_load(&fz_sh->nfindings), k, undoc = 0,
			 accepted = 0, other = 0;

		n = n < FZ_NFINDINGS ? n : FZ_NFINDINGS;
		for (k = 0; k < n; k++) {
			struct fz_finding *f = &fz_sh->findings[k];

			if (!atomic_load(&f->ready))
				continue;
			if (!strcmp(f->what, "undocumented errno"))
				undoc++;
			else if (!strcmp(f->what, "invalid argument accepted"))
				accepted++;
			else
				other++;
			printf("# finding: %s via op %s: %s, %s, %u times (first a0=0x%llx a1=0x%llx)\n",
			       fz_call_names[f->call % FZ_NCALLS],
			       fz_op_names[f->op % FZ_NOPS],
			       f->err ? strerrorname_np(f->err) : "success",
			       f->what, atomic_load(&f->count),
			       (unsigned long long)f->a0,
			       (unsigned long long)f->a1);
		}
		/* Undocumented errnos are findings to report, not failures. */
		printf("%sok %u - every errno of a valid call is documented%s\n",
		       undoc ? "not " : "", ++test,
		       undoc ? " # TODO findings above" : "");
		printf("%sok %u - no invalid argument accepted\n",
		       accepted ? "not " : "", ++test);
		(void)other;
	}

	fz_oracle(&orc);
	printf("# oracle: %llu exit events matched to their process (%llu not matched), %llu ended within %llu ms after the reap (latest %.3f ms), %llu later, %llu with a wrong cause\n",
	       (unsigned long long)orc.checked,
	       (unsigned long long)orc.unmatched,
	       (unsigned long long)orc.just_after,
	       FZ_LATE_NS / 1000000ULL, (double)orc.max_after_ns / 1e6,
	       (unsigned long long)orc.late, (unsigned long long)orc.cause);
	/* Known gaps of the module (README "Findings"): a TODO, not a failure. */
	printf("%sok %u - every death reported before the reap, with its cause%s\n",
	       orc.late || orc.cause ? "not " : "", ++test,
	       orc.late || orc.cause ? " # TODO process shapes of issue 10" : "");

	if (!stats_ok)
		printf("# stats after (persistent arenas removed: %d): arenas %ld members %ld pages %ld waiters %ld\n",
		       removed, after.arenas, after.members, after.pages,
		       after.waiters);
	printf("%sok %u - stats back to zero (arenas, members, pages, waiters)\n",
	       stats_ok ? "" : "not ", ++test);

	fz_kmsg(NULL, mark_us, &reports, &first_us);
	if (reports && mark_us) {
		/* kmsg time and CLOCK_MONOTONIC run together; dump ops near it. */
		uint64_t m_ns = (first_us - mark_us) * 1000ULL + t0;

		printf("# ops within 200 ms before the first report:\n");
		fz_trace_dump(m_ns, 200000000ULL, 80);
	}
	printf("%sok %u - no kernel report in the log during the run%s\n",
	       reports ? "not " : "", ++test,
	       mark_us ? "" : " (start marker not found: not checked)");

	/* Per-op and per-call counts. */
	{
		char line[4096];
		size_t len = 0;
		int k, e;

		for (k = 0; k < FZ_NOPS; k++) {
			uint64_t v = atomic_load(&fz_sh->op_count[k]);

			if (!v)
				continue;
			len += (size_t)snprintf(line + len, sizeof(line) - len,
						" %s=%llu", fz_op_names[k],
						(unsigned long long)v);
			if (len > 200) {
				printf("# ops:%s\n", line);
				len = 0;
			}
		}
		if (len)
			printf("# ops:%s\n", line);
		for (k = 0; k < FZ_NCALLS; k++) {
			len = (size_t)snprintf(line, sizeof(line),
					       "# call %s: %llu, ok %llu;",
					       fz_call_names[k],
					       (unsigned long long)atomic_load(&fz_sh->call_count[k]),
					       (unsigned long long)atomic_load(&fz_sh->call_ok[k]));
			for (e = 1; e < FZ_NERR; e++) {
				uint32_t v = atomic_load(&fz_sh->errs[k][e]);

				if (v && len < sizeof(line) - 40)
					len += (size_t)snprintf(line + len,
						sizeof(line) - len, " %s=%u",
						strerrorname_np(e) ?: "?", v);
			}
			printf("%s\n", line);
		}
		printf("# robust lists set %llu, locks taken %llu, fds sent %llu received %llu, unshares %llu, setuids %llu\n",
		       (unsigned long long)atomic_load(&fz_sh->robust_set),
		       (unsigned long long)atomic_load(&fz_sh->lock_taken),
		       (unsigned long long)atomic_load(&fz_sh->scm_sent),
		       (unsigned long long)atomic_load(&fz_sh->scm_recv),
		       (unsigned long long)atomic_load(&fz_sh->unshares),
		       (unsigned long long)atomic_load(&fz_sh->setuids));
		printf("# io_uring rings %llu (SQPOLL %llu, %s), sqes %llu, cqes %llu; events read %llu (overflow records %llu)\n",
		       (unsigned long long)atomic_load(&fz_sh->uring_rings),
		       (unsigned long long)atomic_load(&fz_sh->uring_sqpoll),
		       atomic_load(&fz_sh->uring_enosys) ? "io_uring_setup ENOSYS: not in this kernel" : "available",
		       (unsigned long long)atomic_load(&fz_sh->uring_sqes),
		       (unsigned long long)atomic_load(&fz_sh->uring_cqes),
		       (unsigned long long)atomic_load(&fz_sh->events_read),
		       (unsigned long long)atomic_load(&fz_sh->overflow_events));
		printf("# faults on tracked mappings: SIGSEGV %llu SIGBUS %llu; arena mappings inherited by a child (MADV_DOFORK) %llu, accesses through them that faulted %llu\n",
		       (unsigned long long)atomic_load(&fz_sh->sigsegv),
		       (unsigned long long)atomic_load(&fz_sh->sigbus),
		       (unsigned long long)atomic_load(&fz_sh->inherited_maps),
		       (unsigned long long)atomic_load(&fz_sh->inherited_sigbus));
	}
	printf("# seed %llu: rerun with SHMK_FUZZ_SEED=%llu SHMK_FUZZ_CALLS=%llu SHMK_FUZZ_PROCS=%u\n",
	       (unsigned long long)seed, (unsigned long long)seed,
	       (unsigned long long)calls, procs);
	fflush(stdout);
	return 0;
}
