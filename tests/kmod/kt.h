/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kt: the small harness shared by the shmk module tests (tests/kmod/t_*).
 *
 * Every test program is a table of cases. kt_main() runs each case in its
 * own forked process (its own process group, under an alarm), prints one
 * TAP line per case, then checks that the case left no arena, member, page
 * or waiter behind (debugfs stats) and fails the case if it did.
 *
 * A case returns KT_PASS, KT_FAIL (use the KT_* check macros, which print a
 * diagnostic and return KT_FAIL) or kt_skip(reason).
 *
 * Helper processes started by a case use kt_fork(); they exit with a small
 * code that the case reads back with kt_reap(). Processes are synchronised
 * with pipes (kt_post/kt_await), waitpid and the module's own WAIT/WAKE,
 * never with sleeps.
 */
#ifndef KT_H
#define KT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>
#include <linux/shmk.h>

/* The ABI is pinned: these sizes are the contract with the module. */
_Static_assert(sizeof(struct shmk_version) == 80, "shmk_version size");
_Static_assert(sizeof(struct shmk_attach) == 144, "shmk_attach size");
_Static_assert(sizeof(struct shmk_wait) == 40, "shmk_wait size");
_Static_assert(sizeof(struct shmk_wake) == 24, "shmk_wake size");
_Static_assert(sizeof(struct shmk_robust_head) == 24, "robust_head size");
_Static_assert(sizeof(struct shmk_robust_entry) == 8, "robust_entry size");
_Static_assert(sizeof(struct shmk_robust) == 24, "shmk_robust size");
_Static_assert(sizeof(struct shmk_remove) == 80, "shmk_remove size");
_Static_assert(sizeof(struct shmk_event) == 56, "shmk_event size");
_Static_assert(sizeof(struct shmk_ctrl_member) == 48, "ctrl_member size");
_Static_assert(sizeof(struct shmk_ctrl) == 208, "shmk_ctrl size");
_Static_assert(offsetof(struct shmk_attach, member_id) == 80, "attach out");
_Static_assert(offsetof(struct shmk_ctrl, name) == 80, "ctrl name");
_Static_assert(offsetof(struct shmk_event, time_ns) == 32, "event time");

enum { KT_PASS = 0, KT_FAIL = 1, KT_SKIP = 77 };

struct kt_case {
	const char *name;
	int (*fn)(void);
};

#define KT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Run the table; returns the process exit status (0, 1 or 77). */
int kt_main(int argc, char **argv, const struct kt_case *cases, size_t n);

/* Diagnostics: printed as "# ..." lines on stdout (line-buffered). */
void kt_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kt_failed(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Record the skip reason for the current case and return KT_SKIP. */
int kt_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *kt_errname(int err);	/* "EINVAL" for 22 or -22 */

#define KT_TRUE(cond)							\
	do {								\
		if (!(cond)) {						\
			kt_failed(__FILE__, __LINE__, "%s", #cond);	\
			return KT_FAIL;					\
		}							\
	} while (0)

#define KT_EQ(a, b)							\
	do {								\
		long long _kt_a = (long long)(a);			\
		long long _kt_b = (long long)(b);			\
		if (_kt_a != _kt_b) {					\
			kt_failed(__FILE__, __LINE__,			\
				  "%s == %s: got %lld (0x%llx), want %lld (0x%llx)", \
				  #a, #b, _kt_a, (unsigned long long)_kt_a, \
				  _kt_b, (unsigned long long)_kt_b);	\
			return KT_FAIL;					\
		}							\
	} while (0)

/* @expr returns 0/positive or -errno; expect exactly @want (0 or -Exxx). */
#define KT_RET(expr, want)						\
	do {								\
		long long _kt_r = (long long)(expr);			\
		long long _kt_w = (long long)(want);			\
		if (_kt_r != _kt_w) {					\
			kt_failed(__FILE__, __LINE__,			\
				  "%s: got %lld (%s), want %lld (%s)",	\
				  #expr, _kt_r, kt_errname((int)_kt_r),	\
				  _kt_w, kt_errname((int)_kt_w));	\
			return KT_FAIL;					\
		}							\
	} while (0)

/* Propagate a sub-check's failure (a helper returning KT_*). */
#define KT_DO(expr)							\
	do {								\
		int _kt_s = (expr);					\
		if (_kt_s != KT_PASS)					\
			return _kt_s;					\
	} while (0)

/* ---- module facts ---------------------------------------------------- */
struct kt_params {
	uint64_t max_arena_size;
	uint32_t max_arenas;
	uint32_t max_members;
	uint32_t event_queue_len;
};
/* From /sys/module/shmk/parameters, falling back to SHMK_IOC_VERSION. */
int kt_params(struct kt_params *p);
/* Reads one parameter file; -errno if missing. */
int kt_param_u64(const char *name, uint64_t *val);

struct kt_stats {
	long arenas, members, pages, waiters;
};
/* /sys/kernel/debug/shmk/stats; -ENOENT if there is no such file. */
int kt_stats(struct kt_stats *st);
/*
 * 1 if /sys/kernel/debug/shmk/arenas has a line naming @name (a token equal
 * to it, or "name=<it>"), 0 if not.
 */
int kt_arena_listed(const char *name);

long kt_page_size(void);

/* ---- raw ABI wrappers: return value >= 0 or -errno ------------------- */
int kt_open(void);				/* /dev/shmk O_RDWR|O_CLOEXEC */
long kt_ioctl(int fd, unsigned long cmd, void *arg);
int kt_version(int fd, struct shmk_version *v);
int kt_attach(int fd, const char *name, uint64_t size, uint32_t flags,
	      uint32_t mode, struct shmk_attach *out);
int kt_detach(int fd);
int kt_wait(int fd, uint64_t off, uint32_t expected, uint32_t flags,
	    int64_t timeout_ns);
int kt_wake(int fd, uint64_t off, uint32_t count);
int kt_set_robust(int fd, uint64_t head_off);
int kt_remove(int fd, const char *name);
/* mmap wrapper: returns the address, or NULL with *err = -errno. */
void *kt_mmap(int fd, size_t len, int prot, int flags, uint64_t off,
	      int *err);
/* One event read (nonblocking if @nonblock): 56 or -errno. */
int kt_read_event(int fd, struct shmk_event *ev, bool nonblock);
/* Wait up to @ms for POLLIN on @fd; 1 ready, 0 timeout, -errno. */
int kt_poll_in(int fd, int ms);

/* ---- a member: open + attach + map ----------------------------------- */
struct kt_member {
	int fd;
	struct shmk_attach at;
	const volatile struct shmk_ctrl *ctrl;	/* NULL if not mapped */
	volatile unsigned char *user;		/* NULL if not mapped */
};
/*
 * Opens /dev/shmk, attaches and maps both regions (the user region
 * read-only for SHMK_ATTACH_RDONLY). Returns 0 or -errno (m->fd is -1 then).
 */
int kt_join(struct kt_member *m, const char *name, uint64_t size,
	    uint32_t flags, uint32_t mode);
/* Unmaps; then DETACH if @detach; then closes. */
void kt_leave(struct kt_member *m, bool detach);
static inline volatile uint32_t *kt_word(struct kt_member *m, uint64_t off)
{
	return (volatile uint32_t *)(m->user + off);
}
/* Member slot @id (1-based) of a mapped control region. */
const volatile struct shmk_ctrl_member *
kt_slot(const volatile struct shmk_ctrl *c, uint32_t id);
/*
 * Consistent copy of the control header and of slot @id (if @slot) using
 * the epoch seqcount; -EAGAIN if the epoch never settled.
 */
int kt_ctrl_read(const volatile struct shmk_ctrl *c, struct shmk_ctrl *hdr,
		 uint32_t id, struct shmk_ctrl_member *slot);

/* ---- names, processes, synchronisation ------------------------------- */
/*
 * A fresh arena name "kt.<pid>.<tag>.<n>" recorded for cleanup: after each
 * case the runner REMOVEs every name handed out (persistent leftovers).
 */
void kt_name(char name[SHMK_NAME_MAX], const char *tag);

/* fork(); the child runs fn(arg) and _exit()s with its return value. */
pid_t kt_fork(int (*fn)(void *), void *arg);
/* waitpid: exit code 0..255, or 1000 + signal number if killed. */
int kt_reap(pid_t pid);
#define KT_KILLED(sig) (1000 + (sig))

struct kt_pipe {
	int r, w;
};
int kt_pipe_open(struct kt_pipe *p);	/* O_CLOEXEC */
void kt_pipe_close(struct kt_pipe *p);
/* Write @len bytes (default a single byte when @buf is NULL). */
int kt_post(int fd, const void *buf, size_t len);
/*
 * Read exactly @len bytes within @ms (NULL @buf: one byte thrown away).
 * 0, -ETIMEDOUT, -EPIPE on end of file.
 */
int kt_await(int fd, void *buf, size_t len, int ms);

/*
 * True when @pid is asleep inside ioctl(SHMK_IOC_WAIT) (or, for
 * kt_in_read(), inside read()): /proc/<pid>/stat says 'S' and
 * /proc/<pid>/syscall names the syscall (and, for ioctl, the command).
 */
bool kt_in_wait(pid_t pid);
bool kt_in_read(pid_t pid);
/*
 * Bounded wait (KT_TIMEOUT_MS) until every pid in @pids is asleep in SHMK_IOC_WAIT
 * and, when debugfs stats exist and @waiters >= 0, the module counts at
 * least @waiters waiters. 0 or -ETIMEDOUT.
 */
int kt_await_waiting(const pid_t *pids, int n, long waiters);
int kt_await_reading(pid_t pid);

uint64_t kt_now_ns(void);	/* CLOCK_MONOTONIC */
/* Tiny bounded-poll pause (1 ms) for the loops above; never used to sync. */
void kt_pause(void);

#define KT_TIMEOUT_MS 5000	/* bound of every blocking helper */

#endif /* KT_H */
