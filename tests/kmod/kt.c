// SPDX-License-Identifier: GPL-2.0
/*
 * kt: TAP runner, ABI wrappers and process helpers for the shmk module
 * tests. See kt.h.
 */
#include "kt.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define KT_STATS_PATH	"/sys/kernel/debug/shmk/stats"
#define KT_ARENAS_PATH	"/sys/kernel/debug/shmk/arenas"
#define KT_PARAM_DIR	"/sys/module/shmk/parameters/"
#define KT_MAX_NAMES	512

/* Shared (MAP_SHARED) between the runner and every process of a case. */
struct kt_shared {
	unsigned int counter;
	int nnames;
	char skip[256];
	char names[KT_MAX_NAMES][SHMK_NAME_MAX];
};

static struct kt_shared *kt_sh;
static struct kt_shared kt_sh_fallback;

/* ---- diagnostics ------------------------------------------------------ */

void kt_diag(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("# %s\n", buf);
	fflush(stdout);
}

void kt_failed(const char *file, int line, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("# FAIL %s:%d [pid %d]: %s\n", file, line, (int)getpid(), buf);
	fflush(stdout);
}

int kt_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(kt_sh->skip, sizeof(kt_sh->skip), fmt, ap);
	va_end(ap);
	return KT_SKIP;
}

const char *kt_errname(int err)
{
	const char *s;

	if (err == 0)
		return "0";
	if (err > 0)
		return "positive";
	if (err < 0)
		err = -err;
	s = strerrorname_np(err);
	return s ? s : "?";
}

/* ---- module facts ----------------------------------------------------- */

long kt_page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

int kt_param_u64(const char *name, uint64_t *val)
{
	char path[256], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), KT_PARAM_DIR "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	*val = strtoull(buf, NULL, 0);
	return 0;
}

int kt_params(struct kt_params *p)
{
	struct shmk_version v;
	uint64_t x;
	int fd, r;

	memset(p, 0, sizeof(*p));
	fd = kt_open();
	if (fd >= 0) {
		r = kt_version(fd, &v);
		close(fd);
		if (r == 0) {
			p->max_arena_size = v.arena_size_max;
			p->max_arenas = v.arenas_max;
			p->max_members = v.member_max;
			p->event_queue_len = v.event_queue_len;
		}
	}
	if (kt_param_u64("max_arena_size", &x) == 0)
		p->max_arena_size = x;
	if (kt_param_u64("max_arenas", &x) == 0)
		p->max_arenas = (uint32_t)x;
	if (kt_param_u64("max_members", &x) == 0)
		p->max_members = (uint32_t)x;
	if (kt_param_u64("event_queue_len", &x) == 0)
		p->event_queue_len = (uint32_t)x;
	if (!p->max_arena_size || !p->max_arenas || !p->max_members ||
	    !p->event_queue_len)
		return -ENOENT;
	return 0;
}

static int kt_read_file(const char *path, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got < len - 1) {
		n = read(fd, buf + got, len - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return (int)n;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = 0;
	return (int)got;
}

int kt_stats(struct kt_stats *st)
{
	char buf[4096], key[64], *line, *save = NULL;
	long val;
	int r, seen = 0;

	r = kt_read_file(KT_STATS_PATH, buf, sizeof(buf));
	if (r < 0)
		return r;
	st->arenas = st->members = st->pages = st->waiters = -1;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%63s %ld", key, &val) != 2)
			continue;
		if (!strcmp(key, "arenas"))
			st->arenas = val, seen |= 1;
		else if (!strcmp(key, "members"))
			st->members = val, seen |= 2;
		else if (!strcmp(key, "pages"))
			st->pages = val, seen |= 4;
		else if (!strcmp(key, "waiters"))
			st->waiters = val, seen |= 8;
	}
	return seen == 15 ? 0 : -EPROTO;
}

int kt_arena_listed(const char *name)
{
	static char buf[65536];
	char *line, *save = NULL, *tok, *tsave;
	int r;

	r = kt_read_file(KT_ARENAS_PATH, buf, sizeof(buf));
	if (r < 0)
		return r;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		tsave = NULL;
		for (tok = strtok_r(line, " \t", &tsave); tok;
		     tok = strtok_r(NULL, " \t", &tsave)) {
			if (!strcmp(tok, name) ||
			    (!strncmp(tok, "name=", 5) &&
			     !strcmp(tok + 5, name)))
				return 1;
		}
	}
	return 0;
}

/* ---- ABI wrappers ----------------------------------------------------- */

int kt_open(void)
{
	int fd = open(SHMK_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

long kt_ioctl(int fd, unsigned long cmd, void *arg)
{
	long r = ioctl(fd, cmd, arg);

	return r < 0 ? -errno : r;
}

int kt_version(int fd, struct shmk_version *v)
{
	memset(v, 0, sizeof(*v));
	v->abi_version = SHMK_ABI_VERSION;
	return (int)kt_ioctl(fd, SHMK_IOC_VERSION, v);
}

int kt_attach(int fd, const char *name, uint64_t size, uint32_t flags,
	      uint32_t mode, struct shmk_attach *out)
{
	struct shmk_attach a;
	int r;

	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "%s", name);
	a.size = size;
	a.flags = flags;
	a.mode = mode;
	r = (int)kt_ioctl(fd, SHMK_IOC_ATTACH, &a);
	if (out)
		*out = a;
	return r;
}

int kt_detach(int fd)
{
	return (int)kt_ioctl(fd, SHMK_IOC_DETACH, NULL);
}

int kt_wait(int fd, uint64_t off, uint32_t expected, uint32_t flags,
	    int64_t timeout_ns)
{
	struct shmk_wait w;

	memset(&w, 0, sizeof(w));
	w.offset = off;
	w.expected = expected;
	w.flags = flags;
	w.timeout_ns = timeout_ns;
	return (int)kt_ioctl(fd, SHMK_IOC_WAIT, &w);
}

int kt_wake(int fd, uint64_t off, uint32_t count)
{
	struct shmk_wake k;

	memset(&k, 0, sizeof(k));
	k.offset = off;
	k.count = count;
	return (int)kt_ioctl(fd, SHMK_IOC_WAKE, &k);
}

int kt_set_robust(int fd, uint64_t head_off)
{
	struct shmk_robust rb;

	memset(&rb, 0, sizeof(rb));
	rb.head_offset = head_off;
	return (int)kt_ioctl(fd, SHMK_IOC_SET_ROBUST, &rb);
}

int kt_remove(int fd, const char *name)
{
	struct shmk_remove rm;

	memset(&rm, 0, sizeof(rm));
	snprintf(rm.name, sizeof(rm.name), "%s", name);
	return (int)kt_ioctl(fd, SHMK_IOC_REMOVE, &rm);
}

void *kt_mmap(int fd, size_t len, int prot, int flags, uint64_t off,
	      int *err)
{
	void *p = mmap(NULL, len, prot, flags, fd, (off_t)off);

	if (p == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	*err = 0;
	return p;
}

int kt_read_event(int fd, struct shmk_event *ev, bool nonblock)
{
	int fl = fcntl(fd, F_GETFL);
	ssize_t n;
	int e;

	if (fl < 0)
		return -errno;
	if (nonblock != !!(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, nonblock ? fl | O_NONBLOCK :
					      fl & ~O_NONBLOCK);
	n = read(fd, ev, sizeof(*ev));
	e = errno;
	if (nonblock != !!(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl);
	return n < 0 ? -e : (int)n;
}

int kt_poll_in(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	do {
		r = poll(&p, 1, ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r > 0 && (p.revents & POLLIN) ? 1 : 0;
}

/* ---- members ---------------------------------------------------------- */

int kt_join(struct kt_member *m, const char *name, uint64_t size,
	    uint32_t flags, uint32_t mode)
{
	int prot, err, r;
	void *p;

	memset(m, 0, sizeof(*m));
	m->fd = kt_open();
	if (m->fd < 0) {
		r = m->fd;
		m->fd = -1;
		return r;
	}
	r = kt_attach(m->fd, name, size, flags, mode, &m->at);
	if (r < 0)
		goto fail;
	p = kt_mmap(m->fd, m->at.ctrl_size, PROT_READ, MAP_SHARED,
		    m->at.ctrl_offset, &err);
	if (!p) {
		r = err;
		kt_diag("kt_join: mmap ctrl: %s", kt_errname(err));
		goto fail;
	}
	m->ctrl = p;
	prot = (flags & SHMK_ATTACH_RDONLY) ? PROT_READ :
					      PROT_READ | PROT_WRITE;
	p = kt_mmap(m->fd, m->at.user_size, prot, MAP_SHARED,
		    m->at.user_offset, &err);
	if (!p) {
		r = err;
		kt_diag("kt_join: mmap user: %s", kt_errname(err));
		goto fail;
	}
	m->user = p;
	return 0;
fail:
	kt_leave(m, false);
	return r;
}

void kt_leave(struct kt_member *m, bool detach)
{
	if (m->user)
		munmap((void *)m->user, m->at.user_size);
	if (m->ctrl)
		munmap((void *)m->ctrl, m->at.ctrl_size);
	m->user = NULL;
	m->ctrl = NULL;
	if (m->fd >= 0) {
		if (detach)
			kt_detach(m->fd);
		close(m->fd);
	}
	m->fd = -1;
}

const volatile struct shmk_ctrl_member *
kt_slot(const volatile struct shmk_ctrl *c, uint32_t id)
{
	const volatile char *base = (const volatile char *)c;

	return (const volatile struct shmk_ctrl_member *)
		(base + c->members_offset + (size_t)(id - 1) * c->member_stride);
}

int kt_ctrl_read(const volatile struct shmk_ctrl *c, struct shmk_ctrl *hdr,
		 uint32_t id, struct shmk_ctrl_member *slot)
{
	uint64_t e1, e2;
	int i;

	for (i = 0; i < 1000000; i++) {
		e1 = __atomic_load_n(&c->epoch, __ATOMIC_ACQUIRE);
		if (e1 & 1)
			continue;
		memcpy(hdr, (const void *)c, sizeof(*hdr));
		if (slot)
			memcpy(slot, (const void *)kt_slot(c, id),
			       sizeof(*slot));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		e2 = __atomic_load_n(&c->epoch, __ATOMIC_RELAXED);
		if (e1 == e2)
			return 0;
	}
	return -EAGAIN;
}

/* ---- names, processes, synchronisation -------------------------------- */

void kt_name(char name[SHMK_NAME_MAX], const char *tag)
{
	unsigned int n = __atomic_fetch_add(&kt_sh->counter, 1,
					    __ATOMIC_RELAXED);
	int slot;

	snprintf(name, SHMK_NAME_MAX, "kt.%d.%.24s.%u", (int)getpid(), tag, n);
	slot = __atomic_fetch_add(&kt_sh->nnames, 1, __ATOMIC_RELAXED);
	if (slot < KT_MAX_NAMES)
		memcpy(kt_sh->names[slot], name, SHMK_NAME_MAX);
}

pid_t kt_fork(int (*fn)(void *), void *arg)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0)
		_exit(fn(arg) & 0xff);
	return pid;
}

int kt_reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return KT_KILLED(WTERMSIG(st));
	return -EPROTO;
}

int kt_pipe_open(struct kt_pipe *p)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	p->r = fds[0];
	p->w = fds[1];
	return 0;
}

void kt_pipe_close(struct kt_pipe *p)
{
	if (p->r >= 0)
		close(p->r);
	if (p->w >= 0)
		close(p->w);
	p->r = p->w = -1;
}

int kt_post(int fd, const void *buf, size_t len)
{
	const char one = 1;
	const char *b = buf ? buf : &one;
	ssize_t n;

	if (!buf)
		len = 1;
	while (len) {
		n = write(fd, b, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

int kt_await(int fd, void *buf, size_t len, int ms)
{
	uint64_t deadline = kt_now_ns() + (uint64_t)ms * 1000000ull;
	char dummy, *b = buf ? buf : &dummy;
	ssize_t n;
	int r;

	if (!buf)
		len = 1;
	while (len) {
		uint64_t now = kt_now_ns();

		if (now >= deadline)
			return -ETIMEDOUT;
		r = kt_poll_in(fd, (int)((deadline - now) / 1000000 + 1));
		if (r < 0)
			return r;
		if (r == 0) {
			/* POLLHUP without POLLIN: the writer is gone. */
			struct pollfd p = { .fd = fd, .events = POLLIN };

			if (poll(&p, 1, 0) == 1 && (p.revents & POLLHUP))
				return -EPIPE;
			continue;
		}
		n = read(fd, b, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static char kt_proc_state(pid_t pid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (kt_read_file(path, buf, sizeof(buf)) <= 0)
		return 0;
	p = strrchr(buf, ')');
	if (!p || !p[1] || !p[2])
		return 0;
	return p[2];
}

/* 1 in syscall @nr (and for ioctl with command @cmd), 0 not, -1 unknown. */
static int kt_proc_syscall(pid_t pid, long nr, unsigned int cmd)
{
	char path[64], buf[256], *end;
	unsigned long a0, a1;
	long n;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	if (kt_read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	n = strtol(buf, &end, 10);
	if (end == buf)
		return 0;	/* "running" */
	if (n != nr)
		return 0;
	if (nr != SYS_ioctl)
		return 1;
	a0 = strtoul(end, &end, 16);
	a1 = strtoul(end, &end, 16);
	(void)a0;
	return (unsigned int)a1 == cmd;
}

bool kt_in_wait(pid_t pid)
{
	if (kt_proc_state(pid) != 'S')
		return false;
	return kt_proc_syscall(pid, SYS_ioctl, SHMK_IOC_WAIT) != 0;
}

bool kt_in_read(pid_t pid)
{
	if (kt_proc_state(pid) != 'S')
		return false;
	return kt_proc_syscall(pid, SYS_read, 0) != 0;
}

/*
 * The "is it asleep in the module yet" trick: a waker must not WAKE before
 * the waiter sleeps, or the wake finds nobody. There is no event to block
 * on for that, so poll (bounded, 1 ms steps) until /proc/<pid>/stat shows
 * state S and /proc/<pid>/syscall shows ioctl(.., SHMK_IOC_WAIT, ..), and
 * the module's debugfs "waiters" count (when present) has reached the
 * expected number, which only happens once the waiter is queued.
 */
int kt_await_waiting(const pid_t *pids, int n, long waiters)
{
	uint64_t deadline = kt_now_ns() + KT_TIMEOUT_MS * 1000000ull;
	struct kt_stats st;
	bool all;
	int i;

	while (kt_now_ns() < deadline) {
		all = true;
		for (i = 0; i < n && all; i++)
			all = kt_in_wait(pids[i]);
		if (all && waiters >= 0 && kt_stats(&st) == 0 &&
		    st.waiters < waiters)
			all = false;
		if (all)
			return 0;
		kt_pause();
	}
	kt_diag("kt_await_waiting: %d pid(s) never all asleep in WAIT "
		"(want %ld waiters)", n, waiters);
	return -ETIMEDOUT;
}

int kt_await_reading(pid_t pid)
{
	uint64_t deadline = kt_now_ns() + KT_TIMEOUT_MS * 1000000ull;

	while (kt_now_ns() < deadline) {
		if (kt_in_read(pid))
			return 0;
		kt_pause();
	}
	kt_diag("kt_await_reading: pid %d never asleep in read", (int)pid);
	return -ETIMEDOUT;
}

uint64_t kt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void kt_pause(void)
{
	struct timespec ts = { 0, 1000000 };

	nanosleep(&ts, NULL);
}

/* ---- the runner ------------------------------------------------------- */

static bool kt_stats_equal(const struct kt_stats *a, const struct kt_stats *b)
{
	return a->arenas == b->arenas && a->members == b->members &&
	       a->pages == b->pages && a->waiters == b->waiters;
}

/* Remove every name the case handed out (persistent leftovers). */
static void kt_cleanup_names(void)
{
	int fd = kt_open(), i, n;

	if (fd < 0)
		return;
	n = kt_sh->nnames < KT_MAX_NAMES ? kt_sh->nnames : KT_MAX_NAMES;
	for (i = 0; i < n; i++)
		kt_remove(fd, kt_sh->names[i]);
	close(fd);
}

static void kt_reap_all(pid_t pgid)
{
	kill(-pgid, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
}

int kt_main(int argc, char **argv, const struct kt_case *cases, size_t n)
{
	struct kt_stats before, after;
	const char *filter = argc > 1 ? argv[1] : NULL;
	unsigned int case_timeout = 25;
	size_t i, planned = 0, num = 0, failed = 0, skipped = 0;
	const char *env;
	bool have_stats;
	struct stat sb;

	setvbuf(stdout, NULL, _IOLBF, 0);
	env = getenv("KT_CASE_TIMEOUT");
	if (env && atoi(env) > 0)
		case_timeout = (unsigned int)atoi(env);
	kt_sh = mmap(NULL, sizeof(*kt_sh), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (kt_sh == MAP_FAILED)
		kt_sh = &kt_sh_fallback;
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	if (stat(KT_STATS_PATH, &sb) < 0 && geteuid() == 0)
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	have_stats = kt_stats(&before) == 0;
	if (!have_stats)
		kt_diag("no readable %s: leak checks per case disabled",
			KT_STATS_PATH);

	for (i = 0; i < n; i++)
		if (!filter || strstr(cases[i].name, filter))
			planned++;
	printf("1..%zu\n", planned);

	if (stat(SHMK_DEVICE_PATH, &sb) < 0) {
		for (i = 0; i < n; i++) {
			if (filter && !strstr(cases[i].name, filter))
				continue;
			printf("ok %zu - %s # SKIP %s missing (module not loaded)\n",
			       ++num, cases[i].name, SHMK_DEVICE_PATH);
		}
		return planned ? 77 : 0;
	}

	for (i = 0; i < n; i++) {
		const char *verdict = NULL;
		int st = 0, code;
		pid_t pid;

		if (filter && !strstr(cases[i].name, filter))
			continue;
		num++;
		if (have_stats && kt_stats(&before) < 0)
			have_stats = false;
		memset(kt_sh->skip, 0, sizeof(kt_sh->skip));
		kt_sh->nnames = 0;
		fflush(stdout);
		pid = fork();
		if (pid < 0) {
			printf("not ok %zu - %s # fork: %s\n", num,
			       cases[i].name, strerror(errno));
			failed++;
			continue;
		}
		if (pid == 0) {
			setpgid(0, 0);
			/* Orphaned helpers come back to the case to be reaped. */
			prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
			signal(SIGPIPE, SIG_IGN);
			alarm(case_timeout);
			code = cases[i].fn();
			fflush(stdout);
			_exit(code);
		}
		setpgid(pid, pid);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		kt_reap_all(pid);
		kt_cleanup_names();

		if (WIFSIGNALED(st)) {
			kt_diag("case process killed by signal %d (%s)",
				WTERMSIG(st),
				WTERMSIG(st) == SIGALRM ? "timeout" :
				strsignal(WTERMSIG(st)));
			code = KT_FAIL;
		} else {
			code = WEXITSTATUS(st);
		}

		/*
		 * The module may free an arena a little after the last
		 * file is released (RCU, work items): allow it a bounded
		 * moment before calling it a leak.
		 */
		if (have_stats) {
			uint64_t deadline = kt_now_ns() + 3000000000ull;

			while (kt_stats(&after) == 0 &&
			       !kt_stats_equal(&before, &after) &&
			       kt_now_ns() < deadline)
				kt_pause();
			if (!kt_stats_equal(&before, &after)) {
				kt_diag("leak: stats before arenas %ld members %ld pages %ld waiters %ld, after %ld %ld %ld %ld",
					before.arenas, before.members,
					before.pages, before.waiters,
					after.arenas, after.members,
					after.pages, after.waiters);
				verdict = "left state behind in the module";
				if (code != KT_FAIL)
					code = KT_FAIL;
			}
		}

		if (code == KT_PASS) {
			printf("ok %zu - %s\n", num, cases[i].name);
		} else if (code == KT_SKIP) {
			printf("ok %zu - %s # SKIP %s\n", num, cases[i].name,
			       kt_sh->skip[0] ? kt_sh->skip : "skipped");
			skipped++;
		} else {
			printf("not ok %zu - %s%s%s%s\n", num, cases[i].name,
			       verdict ? " (" : "", verdict ? verdict : "",
			       verdict ? ")" : "");
			failed++;
		}
	}
	kt_diag("%zu cases: %zu passed, %zu failed, %zu skipped", num,
		num - failed - skipped, failed, skipped);
	if (failed)
		return 1;
	if (num && skipped == num)
		return 77;
	return 0;
}
