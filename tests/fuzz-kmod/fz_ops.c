// SPDX-License-Identifier: GPL-2.0
/*
 * t_fuzz: the tables of a process, argument generators, and the ops on
 * /dev/shmk files: open, close, dup, fcntl, every ioctl (valid, boundary
 * and hostile arguments), read, poll, epoll and the other file operations.
 */
#include "fuzz.h"

#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <ucontext.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

struct fz_proc fz_p;
extern __thread enum fz_op fz_cur_op;

/* ---- tables (caller holds fz_p.lock) ---------------------------------- */

struct fz_fd *fz_fd_add(int fd, enum fz_fdkind kind)
{
	struct fz_fd *f;

	if (fz_p.nfds >= FZ_MAX_FDS)
		return NULL;
	f = &fz_p.fds[fz_p.nfds++];
	memset(f, 0, sizeof(*f));
	f->fd = fd;
	f->kind = kind;
	f->id = ++fz_p.next_id;
	return f;
}

struct fz_fd *fz_fd_pick(struct fz_ctx *c, enum fz_fdkind kind)
{
	int i, n = 0, idx[FZ_MAX_FDS];

	for (i = 0; i < fz_p.nfds; i++)
		if (kind == FZ_FD_NONE || fz_p.fds[i].kind == kind)
			idx[n++] = i;
	if (!n)
		return NULL;
	return &fz_p.fds[idx[fz_below(c, (uint64_t)n)]];
}

struct fz_fd *fz_fd_by_id(uint32_t id)
{
	int i;

	for (i = 0; i < fz_p.nfds; i++)
		if (fz_p.fds[i].id == id)
			return &fz_p.fds[i];
	return NULL;
}

void fz_fd_forget(struct fz_fd *f)
{
	int i = (int)(f - fz_p.fds);

	fz_p.fds[i] = fz_p.fds[--fz_p.nfds];
}

void fz_uring_free(struct fz_fd *f);

void fz_fd_close(struct fz_ctx *c, struct fz_fd *f)
{
	int fd = f->fd;

	if (f->kind == FZ_FD_URING)
		fz_uring_free(f);
	fz_fd_forget(f);
	FZ(c, FZ_C_OTHER, FZ_HOSTILE, fd, 0, close(fd));
}

struct fz_map *fz_map_add(void)
{
	struct fz_map *m;

	if (fz_p.nmaps >= FZ_MAX_MAPS)
		return NULL;
	m = &fz_p.maps[fz_p.nmaps++];
	memset(m, 0, sizeof(*m));
	return m;
}

void fz_map_del(struct fz_map *m)
{
	int i = (int)(m - fz_p.maps);

	fz_p.maps[i] = fz_p.maps[--fz_p.nmaps];
}

void fz_maps_cut(uintptr_t addr, size_t len)
{
	uintptr_t end = addr + len;
	int i;

	for (i = 0; i < fz_p.nmaps; i++) {
		struct fz_map *m = &fz_p.maps[i];
		uintptr_t ms = m->addr, me = m->addr + m->len;

		if (me <= addr || ms >= end)
			continue;
		if (ms >= addr && me <= end) {
			fz_map_del(m);
			i--;
			continue;
		}
		if (ms < addr && me > end) {
			/* A hole in the middle: keep the head, add the tail. */
			struct fz_map tail = *m, *t;

			m->len = addr - ms;
			tail.addr = end;
			tail.len = me - end;
			if (tail.kind == FZ_MAP_CTRL || tail.kind == FZ_MAP_USER)
				tail.off += end - ms;
			t = fz_map_add();
			if (t)
				*t = tail;
			continue;
		}
		if (ms < addr) {
			m->len = addr - ms;
		} else {
			m->off += end - ms;
			m->addr = end;
			m->len = me - end;
		}
	}
}

struct fz_map *fz_map_pick(struct fz_ctx *c, int kind, bool writable)
{
	int i, n = 0, idx[FZ_MAX_MAPS];

	for (i = 0; i < fz_p.nmaps; i++) {
		struct fz_map *m = &fz_p.maps[i];

		if (kind && (int)m->kind != kind)
			continue;
		if (writable && !(m->prot & PROT_WRITE))
			continue;
		idx[n++] = i;
	}
	if (!n)
		return NULL;
	return &fz_p.maps[idx[fz_below(c, (uint64_t)n)]];
}

bool fz_is_shmk(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) &&
	       (uint64_t)st.st_rdev == fz_sh->shmk_rdev;
}

static __thread char fz_big[65536];

unsigned int fz_arena_id(int fd)
{
	char path[64], buf[1024], *p;
	unsigned int id = 0;
	ssize_t n;
	int f;

	/* thread-self: a thread may have its own table (unshare). */
	snprintf(path, sizeof(path), "/proc/thread-self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return 0;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strstr(buf, "shmk-arena-id:");
	if (!p || sscanf(p + 14, "%u", &id) != 1)
		return 0;
	return id;
}

int fz_real_sizes(int fd, uint64_t *ctrl_size, uint64_t *user_size)
{
	char *buf = fz_big, *p, *line, *next;
	unsigned int id = fz_arena_id(fd);
	ssize_t n;
	int f;

	if (!id)
		return -1;
	f = open("/sys/kernel/debug/shmk/arenas", O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -1;
	n = 0;
	while ((size_t)n < sizeof(fz_big) - 1) {
		ssize_t k = read(f, buf + n, sizeof(fz_big) - 1 - (size_t)n);

		if (k <= 0)
			break;
		n += k;
	}
	close(f);
	buf[n] = 0;
	/* <id> <name> <ns> <user_size> <ctrl_size> <live> <flags> <uid> <gid> <mode> */
	for (line = buf; line && *line; line = next) {
		char *tok[64];
		int nt = 0;

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (line[0] == ' ' || (unsigned int)atoi(line) != id)
			continue;
		for (p = strtok(line, " "); p && nt < 64; p = strtok(NULL, " "))
			tok[nt++] = p;
		if (nt < 10)
			return -1;
		/* The name may hold spaces: count from the end. */
		*user_size = strtoull(tok[nt - 7], NULL, 0);
		*ctrl_size = strtoull(tok[nt - 6], NULL, 0);
		return 0;
	}
	return -1;
}

/* ---- argument generators ---------------------------------------------- */

/* The ABI's alphabet: letters, digits, SHMK_NAME_PUNCT; 1..63 bytes. */
static bool fz_name_ok(const char *name)
{
	size_t i, n = strnlen(name, SHMK_NAME_MAX);
	const char *punct =
#ifdef SHMK_NAME_PUNCT
		SHMK_NAME_PUNCT;
#else
		"._:@+-";
#endif

	if (!n || n == SHMK_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || strchr(punct, ch)))
			return false;
	}
	return true;
}

static enum fz_kind fz_name_raw(struct fz_ctx *c, char name[SHMK_NAME_MAX]);

enum fz_kind fz_name(struct fz_ctx *c, char name[SHMK_NAME_MAX])
{
	enum fz_kind k = fz_name_raw(c, name);

	/* Outside the alphabet: -EINVAL, whatever else the call holds. */
	return fz_name_ok(name) ? k : FZ_INVALID;
}

static enum fz_kind fz_name_raw(struct fz_ctx *c, char name[SHMK_NAME_MAX])
{
	uint64_t r = fz_below(c, 100);
	int i;

	memset(name, 0, SHMK_NAME_MAX);
	if (r < 85) {
		/* Favour the first names so that processes collide. */
		i = (int)(fz_pct(c, 70) ? fz_below(c, 5) : fz_below(c, FZ_NAMES));
		memcpy(name, fz_sh->names[i], SHMK_NAME_MAX);
		return FZ_VALID;
	}
	switch (r % 6) {
	case 0:
		return FZ_INVALID;			/* empty */
	case 1:
		memset(name, 'n', SHMK_NAME_MAX);	/* no NUL */
		return FZ_INVALID;
	case 2:
		snprintf(name, SHMK_NAME_MAX, "fz/%u", (unsigned int)fz_below(c, 4));
		return FZ_INVALID;
	case 3:
		for (i = 0; i < (int)fz_below(c, SHMK_NAME_MAX - 1) + 1; i++)
			name[i] = (char)(1 + fz_below(c, 255));
		return FZ_HOSTILE;			/* random bytes */
	case 4:
		snprintf(name, SHMK_NAME_MAX, "%s", fz_pct(c, 50) ? "." : "..");
		return FZ_HOSTILE;
	default:
		/* A pool name with garbage after its NUL. */
		i = (int)fz_below(c, FZ_NAMES);
		memcpy(name, fz_sh->names[i], SHMK_NAME_MAX);
		name[SHMK_NAME_MAX - 1] = 'x';
		name[SHMK_NAME_MAX - 2] = 'y';
		if (strnlen(name, SHMK_NAME_MAX) >= SHMK_NAME_MAX - 2)
			return FZ_INVALID;
		return FZ_VALID;
	}
}

/*
 * Per process: a read-only page, a read-write page, then an inaccessible
 * one (never in the map table, never unmapped), and a page that was
 * unmapped right after being mapped.
 */
static char *fz_bad_pages;
static char *fz_gone_page;

static void fz_bad_pages_init(void)
{
	char *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return;
	memset(p, 0xa5, 4096);
	memset(p + 4096, 0, 4096);
	mprotect(p, 4096, PROT_READ);
	mprotect(p + 2 * 4096, 4096, PROT_NONE);
	fz_bad_pages = p;
	p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED) {
		munmap(p, 4096);
		fz_gone_page = p;
	}
}

static __thread enum fz_kind fz_bad_kind;

enum fz_kind fz_bad_ptr_kind(void)
{
	return fz_bad_kind;
}

void *fz_bad_ptr(struct fz_ctx *c)
{
	uint64_t r = fz_below(c, 8);

	/* Readable (the read-only page, or a struct that may fit): hostile. */
	/*
	 * Readable (the read-only page, or a struct that may fit) or maybe
	 * mapped again since (the unmapped page): hostile.
	 */
	fz_bad_kind = r == 4 || r == 5 || r == 6 ? FZ_HOSTILE : FZ_INVALID;
	switch (r) {
	case 0:
		return NULL;
	case 1:
		return (void *)1;
	case 2:
		return (void *)0xffffffff81000000UL;	/* kernel */
	case 3:
		return (void *)0x0000800000000000UL;	/* non-canonical */
	case 4:
		return fz_bad_pages ? fz_bad_pages : NULL;	/* read-only */
	case 5:
		/* Straddles into the inaccessible page. */
		return fz_bad_pages ? fz_bad_pages + 2 * 4096 -
			8 * (1 + fz_below(c, 8)) : NULL;
	case 6:
		return fz_gone_page;
	default:
		return fz_bad_pages ? fz_bad_pages + 2 * 4096 : NULL;
	}
}

/* Read-write scratch inside the RW page: for structs right at the edge. */
static void *fz_edge_ptr(size_t size)
{
	return fz_bad_pages ? fz_bad_pages + 2 * 4096 - size : NULL;
}

uint64_t fz_word_off(struct fz_ctx *c, uint64_t user_size)
{
	uint64_t r = fz_below(c, 100);

	if (user_size < 8)
		user_size = 4096;
	if (r < 55)
		return 4 * fz_below(c, 32);		/* hot words */
	if (r < 70)
		return (1024 + 8 + 16 * fz_below(c, 16)) % (user_size - 4) & ~3ULL;
	if (r < 78)
		return user_size - 4;
	if (r < 90)
		return 4 * fz_below(c, user_size / 4);
	switch (r % 5) {
	case 0:
		return 1 + 4 * fz_below(c, 8);		/* misaligned */
	case 1:
		return user_size;
	case 2:
		return user_size + 4 * fz_below(c, 1024);
	case 3:
		return ~0ULL - 3;
	default:
		return 1ULL << (32 + fz_below(c, 31));
	}
}

/* ---- a one-shot per-thread timer: bounds a blocking call ------------ */

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

void fz_timer_arm(struct fz_ctx *c, long ns)
{
	struct itimerspec its;

	if (c->timer_ok == 0) {
		struct sigevent sev;

		memset(&sev, 0, sizeof(sev));
		sev.sigev_notify = SIGEV_THREAD_ID;
		sev.sigev_signo = SIGRTMIN + 2;
		sev.sigev_notify_thread_id = (pid_t)syscall(SYS_gettid);
		c->timer_ok = syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev,
				      &c->timer) == 0 ? 1 : -1;
	}
	if (c->timer_ok < 0)
		return;
	/*
	 * Periodic: a first expiry before the call even starts must not
	 * leave it blocked forever.
	 */
	memset(&its, 0, sizeof(its));
	its.it_value.tv_nsec = ns > 0 ? ns : 1;
	its.it_interval.tv_nsec = FZ_WAIT_MAX_NS;
	syscall(SYS_timer_settime, c->timer, 0, &its, NULL);
}

void fz_timer_disarm(struct fz_ctx *c)
{
	struct itimerspec its;

	if (c->timer_ok <= 0)
		return;
	memset(&its, 0, sizeof(its));
	syscall(SYS_timer_settime, c->timer, 0, &its, NULL);
}

/* ---- guarded memory access -------------------------------------------- */

static __thread sigjmp_buf fz_jb;
static __thread volatile sig_atomic_t fz_guarded;
static __thread void *fz_fault_addr;
volatile sig_atomic_t fz_dying;	/* a deliberate crash: no message */

void fz_fault_handler(int sig, siginfo_t *si, void *uc);
void fz_fault_handler(int sig, siginfo_t *si, void *uc)
{
	if (si->si_code <= 0) {
		/* Sent by kill() (op_kill): die of it as a default would. */
		signal(sig, SIG_DFL);
		kill(getpid(), sig);
		return;
	}
	if (fz_guarded) {
		fz_fault_addr = si->si_addr;
		fz_guarded = 0;
		siglongjmp(fz_jb, sig);
	}
	/* Not ours: say where, then die of it. */
	if (!fz_dying) {
		char buf[160];
		int n = snprintf(buf, sizeof(buf),
				 "# pid %d: unguarded %s at %p ip %llx during op %s\n",
				 (int)getpid(), sig == SIGBUS ? "SIGBUS" : "SIGSEGV",
				 si->si_addr,
				 (unsigned long long)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP],
				 fz_op_names[fz_cur_op % FZ_NOPS]);

		if (n > 0 && write(1, buf, (size_t)n) < 0)
			n = 0;
	}
	signal(sig, SIG_DFL);
}

int fz_guard(void (*fn)(void *), void *arg)
{
	int sig = sigsetjmp(fz_jb, 1);

	if (sig) {
		int i;

		if (sig == SIGBUS)
			atomic_fetch_add(&fz_sh->sigbus, 1);
		else
			atomic_fetch_add(&fz_sh->sigsegv, 1);
		/* Which tracked mapping (the caller holds the lock). */
		for (i = 0; i < fz_p.nmaps; i++) {
			struct fz_map *m = &fz_p.maps[i];
			uintptr_t a = (uintptr_t)fz_fault_addr;

			if (a < m->addr || a >= m->addr + m->len)
				continue;
			/*
			 * Beyond the end of a grown shared anonymous or other
			 * file mapping is SIGBUS by design: only arena pages
			 * are findings.
			 */
			if (m->kind != FZ_MAP_CTRL && m->kind != FZ_MAP_USER)
				break;
			fz_finding(FZ_C_MMAP, fz_cur_op, 0,
				   ((uint64_t)m->kind << 56) | (m->off + (a - m->addr)),
				   ((uint64_t)m->prot << 56) | m->len,
				   sig == SIGBUS ? "SIGBUS on a tracked mapping" :
				   "SIGSEGV on a tracked mapping");
			break;
		}
		if (i == fz_p.nmaps)
			fz_finding(FZ_C_MMAP, fz_cur_op, 0, (uintptr_t)fz_fault_addr,
				   0, sig == SIGBUS ? "SIGBUS outside tracked mappings" :
				   "SIGSEGV outside tracked mappings");
		return sig;
	}
	fz_guarded = 1;
	fn(arg);
	fz_guarded = 0;
	return 0;
}

/* ---- picking a /dev/shmk file ----------------------------------------- */

/* A snapshot of a table entry, taken under the lock. */
struct fz_pick {
	int fd;
	uint32_t id;
	enum fz_fdkind kind;
	bool attached, known, rdonly;
	uint32_t member_id;
	uint64_t ctrl_size, user_offset, user_size;
};

enum { FZ_ANY = 0, FZ_ATTACHED, FZ_FRESH };

/* A /dev/shmk file in state @pref (mostly), else any. Lock held. */
static struct fz_fd *fz_fd_pick_pref(struct fz_ctx *c, int pref)
{
	int i, n = 0, idx[FZ_MAX_FDS];

	for (i = 0; pref && i < fz_p.nfds; i++) {
		struct fz_fd *f = &fz_p.fds[i];

		if (f->kind != FZ_FD_SHMK)
			continue;
		if (pref == FZ_ATTACHED ? f->attached : f->mine && !f->attached)
			idx[n++] = i;
	}
	if (n && fz_pct(c, 80))
		return &fz_p.fds[idx[fz_below(c, (uint64_t)n)]];
	return fz_fd_pick(c, FZ_FD_SHMK);
}

static bool fz_pick_fd_pref(struct fz_ctx *c, struct fz_pick *p,
			    int shmk_pct, int pref)
{
	struct fz_fd *f;

	pthread_mutex_lock(&fz_p.lock);
	f = fz_pct(c, (unsigned int)shmk_pct) ? fz_fd_pick_pref(c, pref) : NULL;
	if (!f)
		f = fz_fd_pick(c, FZ_FD_NONE);
	if (f) {
		p->fd = f->fd;
		p->id = f->id;
		p->kind = f->kind;
		p->attached = f->attached;
		p->known = f->known;
		p->rdonly = f->rdonly;
		p->member_id = f->member_id;
		p->ctrl_size = f->ctrl_size;
		p->user_offset = f->user_offset;
		p->user_size = f->user_size;
	}
	pthread_mutex_unlock(&fz_p.lock);
	if (!f) {
		/* Nothing open: a bad descriptor number now and then. */
		memset(p, 0, sizeof(*p));
		p->fd = fz_pct(c, 50) ? -1 : 900 + (int)fz_below(c, 50);
		p->kind = FZ_FD_NONE;
	}
	return f != NULL;
}

static bool fz_pick_fd(struct fz_ctx *c, struct fz_pick *p, int shmk_pct)
{
	return fz_pick_fd_pref(c, p, shmk_pct, FZ_ANY);
}

/* Kind of a call on @p: valid only on a /dev/shmk file. */
static enum fz_kind fz_on(const struct fz_pick *p, enum fz_kind k)
{
	return p->kind == FZ_FD_SHMK ? k : FZ_HOSTILE;
}

static long fz_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg);
}

/* ---- ops --------------------------------------------------------------- */

void op_open(struct fz_ctx *c)
{
	int flags, fd;
	uint64_t r = fz_below(c, 100);
	struct fz_fd *f;

	if (r < 80)
		flags = O_RDWR;
	else if (r < 90)
		flags = O_RDONLY;
	else if (r < 95)
		flags = O_WRONLY;
	else
		flags = O_PATH;
	if (fz_pct(c, 50))
		flags |= O_CLOEXEC;
	if (fz_pct(c, 25))
		flags |= O_NONBLOCK;

	pthread_mutex_lock(&fz_p.lock);
	if (fz_p.nfds >= FZ_MAX_FDS) {
		f = fz_fd_pick(c, FZ_FD_NONE);
		if (f)
			fz_fd_close(c, f);
	}
	fd = (int)FZ(c, FZ_C_OPEN, FZ_VALID, flags, 0,
		     open(SHMK_DEVICE_PATH, flags));
	if (fd >= 0) {
		f = fz_fd_add(fd, (flags & O_PATH) ? FZ_FD_OTHER : FZ_FD_SHMK);
		if (!f)
			close(fd);
		else
			f->mine = true;
	}
	pthread_mutex_unlock(&fz_p.lock);
}

void op_close(struct fz_ctx *c)
{
	struct fz_fd *f;

	pthread_mutex_lock(&fz_p.lock);
	f = fz_fd_pick(c, fz_pct(c, 70) ? FZ_FD_SHMK : FZ_FD_NONE);
	if (f)
		fz_fd_close(c, f);
	pthread_mutex_unlock(&fz_p.lock);
}

void op_dup(struct fz_ctx *c)
{
	struct fz_fd *f, *g, copy;
	int nfd;

	pthread_mutex_lock(&fz_p.lock);
	f = fz_fd_pick(c, fz_pct(c, 80) ? FZ_FD_SHMK : FZ_FD_NONE);
	if (!f || f->kind == FZ_FD_URING)
		goto out;
	copy = *f;
	g = fz_pct(c, 30) ? fz_fd_pick(c, FZ_FD_NONE) : NULL;
	if (g && g != f && g->kind != FZ_FD_URING) {
		/* dup3 onto another tracked descriptor: it is closed first. */
		int target = g->fd;

		nfd = (int)FZ(c, FZ_C_OTHER, FZ_HOSTILE, copy.fd, target,
			      dup3(copy.fd, target, fz_pct(c, 50) ? O_CLOEXEC : 0));
		if (nfd >= 0) {
			uint32_t id = g->id;

			*g = copy;
			g->fd = target;
			g->id = id;
		}
		goto out;
	}
	if (fz_p.nfds >= FZ_MAX_FDS)
		goto out;
	nfd = (int)FZ(c, FZ_C_OTHER, FZ_HOSTILE, copy.fd, 0,
		      fz_pct(c, 50) ? dup(copy.fd) :
		      fcntl(copy.fd, F_DUPFD_CLOEXEC, 0));
	if (nfd >= 0) {
		g = fz_fd_add(nfd, copy.kind);
		if (g) {
			uint32_t id = g->id;

			*g = copy;
			g->fd = nfd;
			g->id = id;
			g->ring = NULL;
		} else {
			close(nfd);
		}
	}
out:
	pthread_mutex_unlock(&fz_p.lock);
}

void op_fcntl(struct fz_ctx *c)
{
	struct fz_pick p;
	int fl;

	fz_pick_fd(c, &p, 80);
	switch (fz_below(c, 4)) {
	case 0:
		fl = (int)FZ(c, FZ_C_OTHER, FZ_HOSTILE, p.fd, F_GETFL,
			     fcntl(p.fd, F_GETFL));
		if (fl >= 0)
			FZ(c, FZ_C_OTHER, FZ_HOSTILE, p.fd, F_SETFL,
			   fcntl(p.fd, F_SETFL, fl ^ O_NONBLOCK));
		break;
	case 1:
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, p.fd, F_SETFD,
		   fcntl(p.fd, F_SETFD, fz_pct(c, 50) ? FD_CLOEXEC : 0));
		break;
	case 2:
		/* O_ASYNC: the module has no ->fasync. */
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, p.fd, F_SETFL,
		   fcntl(p.fd, F_SETFL, fz_pct(c, 50) ? O_ASYNC : 0));
		break;
	default:
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, p.fd, F_SETOWN,
		   fcntl(p.fd, F_SETOWN, getpid()));
		break;
	}
}

void op_version(struct fz_ctx *c)
{
	struct shmk_version v, *vp = &v;
	enum fz_kind k = FZ_VALID;
	struct fz_pick p;
	long r;
	int i;

	fz_pick_fd(c, &p, 90);
	memset(&v, 0, sizeof(v));
	v.abi_version = SHMK_ABI_VERSION;
	switch (fz_below(c, 12)) {
	case 0:
		v.abi_version = 0;
		k = FZ_INVALID;
		break;
	case 1:
		v.flags = 1U << fz_below(c, 32);
		k = FZ_INVALID;
		break;
	case 2:
		v.reserved[fz_below(c, 4)] = fz_rand(c) | 1;
		k = FZ_INVALID;
		break;
	case 3:
		vp = fz_bad_ptr(c);
		k = FZ_INVALID;	/* read-only pages cannot take the result */
		break;
	case 4:
		v.abi_version = (uint32_t)fz_rand(c) | 1;	/* any non-0 */
		break;
	case 5:
		vp = fz_edge_ptr(sizeof(v));
		if (vp)
			memcpy(vp, &v, sizeof(v));
		else
			vp = &v;
		break;
	default:
		break;
	}
	r = FZ(c, FZ_C_VERSION, fz_on(&p, k), v.abi_version, v.flags,
	       fz_ioctl(p.fd, SHMK_IOC_VERSION, vp));
	if (r == 0 && vp == &v && p.kind == FZ_FD_SHMK) {
		bool bad = v.kernel_abi_version != SHMK_ABI_VERSION ||
			   !v.member_max || !v.arena_size_max ||
			   !v.arenas_max || !v.event_queue_len ||
			   (v.ioctls & 0x7f) != 0x7f;

		for (i = 0; i < 4; i++)
			bad |= v.reserved[i] != 0;
		if (bad)
			fz_finding(FZ_C_VERSION, FZ_OP_version, 0,
				   v.kernel_abi_version, v.ioctls,
				   "VERSION output out of spec");
	}
}

/* Sizes for a new arena: small mostly, boundaries sometimes. */
static uint64_t fz_arena_size(struct fz_ctx *c, enum fz_kind *k)
{
	uint64_t r = fz_below(c, 100), max = fz_sh->max_arena_size;
	uint64_t big = max < (32ULL << 20) ? max : (32ULL << 20);

	if (r < 70)
		return 4096 * (1 + fz_below(c, 16)) - (fz_pct(c, 20) ? fz_below(c, 4095) : 0);
	if (r < 85)
		return (64ULL << 10) + fz_below(c, 1ULL << 20);
	if (r < 87)
		return big;
	*k = FZ_HOSTILE;
	if (r < 92)
		return 0;
	if (r < 96)
		return max + 1 + fz_below(c, 4096);
	return ~0ULL - fz_below(c, 4096);
}

static void fz_check_attach(const struct shmk_attach *a, uint64_t size)
{
	if (!a->member_id || a->member_id > a->max_members ||
	    !a->generation || a->ctrl_offset != 0 || !a->ctrl_size ||
	    (a->ctrl_size & 4095) || a->user_offset != a->ctrl_size ||
	    !a->user_size || (a->user_size & 4095) || a->pad || a->reserved ||
	    ((a->out_flags & SHMK_ATTACHED_CREATED) && a->user_size < size))
		fz_finding(FZ_C_ATTACH, FZ_OP_attach, 0, a->member_id,
			   a->user_size, "ATTACH output out of spec");
}

bool fz_mmap_regions(struct fz_ctx *c, struct fz_fd *f);

void op_attach(struct fz_ctx *c)
{
	struct shmk_attach a, *ap = &a;
	enum fz_kind k, nk;
	struct fz_pick p;
	struct fz_fd *f;
	uint64_t r;
	long ret;

	fz_pick_fd_pref(c, &p, 92, FZ_FRESH);
	memset(&a, 0, sizeof(a));
	k = fz_name(c, a.name);
	r = fz_below(c, 100);
	if (r < 45)
		a.flags = SHMK_ATTACH_CREATE;
	else if (r < 60)
		a.flags = 0;
	else if (r < 70)
		a.flags = SHMK_ATTACH_CREATE | SHMK_ATTACH_EXCL;
	else if (r < 78)
		a.flags = SHMK_ATTACH_CREATE | SHMK_ATTACH_PERSISTENT;
	else if (r < 88)
		a.flags = SHMK_ATTACH_RDONLY |
			  (fz_pct(c, 50) ? SHMK_ATTACH_CREATE : 0);
	else
		a.flags = SHMK_ATTACH_CREATE | SHMK_ATTACH_EXCL |
			  SHMK_ATTACH_PERSISTENT;
	/*
	 * No persistent arena outside the runner's IPC namespace: nobody
	 * could REMOVE it once the namespace is gone (arena.c limitation).
	 */
	if (fz_p.ns_private)
		a.flags &= ~SHMK_ATTACH_PERSISTENT;
	nk = FZ_VALID;
	a.size = fz_arena_size(c, &nk);
	if (nk != FZ_VALID && k == FZ_VALID)
		k = nk;
	switch (fz_below(c, 8)) {
	case 0:
		a.mode = 0600;
		break;
	case 1:
		a.mode = 0644;
		break;
	case 2:
		a.mode = 0;
		break;
	case 3:
		a.mode = 0400;
		break;
	default:
		a.mode = 0666;
		break;
	}
	if (fz_pct(c, 20))
		a.max_members = (uint32_t)(1 + fz_below(c, fz_sh->max_members));

	/* Now and then one definitely invalid field. */
	if (fz_pct(c, 12)) {
		switch (fz_below(c, 8)) {
		case 0:
			a.flags |= 1U << (4 + fz_below(c, 28));
			break;
		case 1:
			a.flags = (a.flags & ~SHMK_ATTACH_CREATE) |
				  SHMK_ATTACH_EXCL;
			break;
		case 2:
			a.flags = SHMK_ATTACH_PERSISTENT;
			break;
		case 3:
			a.mode = 01000U << fz_below(c, 20);
			break;
		case 4:
			a.pad = (uint32_t)fz_rand(c) | 1;
			break;
		case 5:
			a.reserved = fz_rand(c) | 1;
			break;
		case 6:
			a.max_members = fz_sh->max_members + 1 +
					(uint32_t)fz_below(c, 1000);
			break;
		default:
			memset(a.name, 0, sizeof(a.name));
			break;
		}
		k = FZ_INVALID;
	}
	if (fz_pct(c, 4)) {
		ap = fz_bad_ptr(c);
		/*
		 * The result is written back before anything happens
		 * (attach.rst): a read-only page fails with no effect. A
		 * struct that may fit the writable page is hostile.
		 */
		k = ap == fz_bad_ptr_ro() ? FZ_INVALID : fz_bad_ptr_kind();
	}
	ret = FZ(c, FZ_C_ATTACH, fz_on(&p, k), a.flags, a.size,
		 fz_ioctl(p.fd, SHMK_IOC_ATTACH, ap));
	if (ret == 0 && ap == &a)
		fz_check_attach(&a, a.size);
	if (ret < 0 || ap != &a)
		return;
	if ((a.flags & SHMK_ATTACH_PERSISTENT) &&
	    (a.out_flags & SHMK_ATTACHED_CREATED))
		fz_persist_add(a.name);
	pthread_mutex_lock(&fz_p.lock);
	f = fz_fd_by_id(p.id);
	if (f && f->fd == p.fd) {
		f->attached = true;
		f->known = true;
		f->rdonly = a.flags & SHMK_ATTACH_RDONLY;
		f->member_id = a.member_id;
		f->ctrl_size = a.ctrl_size;
		f->user_offset = a.user_offset;
		f->user_size = a.user_size;
		if (fz_pct(c, 70))
			fz_mmap_regions(c, f);
	}
	pthread_mutex_unlock(&fz_p.lock);
}

void op_detach(struct fz_ctx *c)
{
	struct fz_pick p;
	unsigned long arg = 0;
	enum fz_kind k = FZ_VALID;

	fz_pick_fd_pref(c, &p, 95, FZ_ATTACHED);
	if (fz_pct(c, 5)) {
		arg = fz_rand(c) | 1;
		k = FZ_INVALID;
	}
	FZ(c, FZ_C_DETACH, fz_on(&p, k), arg, 0,
	   ioctl(p.fd, SHMK_IOC_DETACH, arg));
}

/* The value of a word, read through a mapping of the same file if any. */
struct fz_peek {
	const volatile uint32_t *w;
	uint32_t v;
};

static void fz_peek_fn(void *arg)
{
	struct fz_peek *pk = arg;

	pk->v = *pk->w;
}

static bool fz_peek_word(uint32_t fd_id, uint64_t off, uint32_t *val)
{
	struct fz_peek pk;
	bool ok = false;
	int i;

	pthread_mutex_lock(&fz_p.lock);
	for (i = 0; i < fz_p.nmaps; i++) {
		struct fz_map *m = &fz_p.maps[i];

		if (m->kind != FZ_MAP_USER || m->fd_id != fd_id ||
		    !(m->prot & PROT_READ) || off < m->off || m->len < 4 ||
		    off - m->off > m->len - 4)
			continue;
		pk.w = (const volatile uint32_t *)(m->addr + (off - m->off));
		ok = fz_guard(fz_peek_fn, &pk) == 0;
		*val = pk.v;
		break;
	}
	pthread_mutex_unlock(&fz_p.lock);
	return ok;
}

/*
 * Offset kind: misaligned is invalid; beyond the user region as we know
 * it is hostile, checked against the real size if the call succeeds
 * (fz_check_off()).
 */
static enum fz_kind fz_off_kind(const struct fz_pick *p, uint64_t off)
{
	if (off & 3)
		return FZ_INVALID;
	if (!p->known || off > p->user_size - 4 || p->user_size < 4)
		return FZ_HOSTILE;
	return FZ_VALID;
}

/*
 * A call that succeeded with @off, @need bytes: inside the user region?
 * Judged only if @fd held the same arena before the call (@id_before)
 * and after: another process may close and reuse the number meanwhile.
 */
static void fz_check_off(int fd, unsigned int id_before, enum fz_call call,
			 uint64_t off, uint64_t need, const char *what)
{
	uint64_t cs, us;

	if (id_before && fz_real_sizes(fd, &cs, &us) == 0 &&
	    fz_arena_id(fd) == id_before && (us < need || off > us - need))
		fz_finding(call, fz_cur_op, 0, off, us, what);
}

void op_wait(struct fz_ctx *c)
{
	struct shmk_wait w, *wp = &w;
	enum fz_kind k;
	struct fz_pick p;
	unsigned int id;
	bool timer = false;
	uint32_t v;
	long r;

	fz_pick_fd_pref(c, &p, 95, FZ_ATTACHED);
	memset(&w, 0, sizeof(w));
	w.offset = fz_word_off(c, p.known ? p.user_size : 4096);
	k = fz_off_kind(&p, w.offset);
	if (fz_pct(c, 75) && fz_peek_word(p.id, w.offset, &v))
		w.expected = v;
	else
		w.expected = fz_pct(c, 60) ? 0 : (uint32_t)fz_rand(c);
	w.flags = (uint32_t)fz_below(c, 4);
	if (w.flags & SHMK_WAIT_ABSTIME) {
		uint64_t now = fz_now();

		w.timeout_ns = fz_pct(c, 80) ?
			(int64_t)(now + fz_below(c, FZ_WAIT_MAX_NS)) :
			(int64_t)fz_below(c, now);	/* in the past */
	} else {
		w.timeout_ns = (int64_t)fz_below(c, FZ_WAIT_MAX_NS);
	}
	if (fz_pct(c, 5)) {
		/* Forever, or nearly: bounded by this thread's timer. */
		w.timeout_ns = fz_pct(c, 50) ? -1 - (int64_t)fz_below(c, 100) :
			       INT64_MAX;
		timer = true;
		if (k == FZ_VALID)
			k = FZ_HOSTILE;
	}
	if (fz_pct(c, 6)) {
		switch (fz_below(c, 4)) {
		case 0:
			w.flags |= 1U << (2 + fz_below(c, 30));
			break;
		case 1:
			w.reserved[fz_below(c, 2)] = fz_rand(c) | 1;
			break;
		case 2:
			w.offset |= 1 + fz_below(c, 3);
			break;
		default:
			wp = fz_bad_ptr(c);
			break;
		}
		k = wp != &w ? fz_bad_ptr_kind() : FZ_INVALID;
	}
	id = k == FZ_HOSTILE && wp == &w ? fz_arena_id(p.fd) : 0;
	if (timer)
		fz_timer_arm(c, (long)fz_below(c, FZ_WAIT_MAX_NS));
	r = FZ(c, FZ_C_WAIT, fz_on(&p, k), w.offset, w.flags,
	       fz_ioctl(p.fd, SHMK_IOC_WAIT, wp));
	if (timer)
		fz_timer_disarm(c);
	if (r > SHMK_WAIT_EVENT)
		fz_finding(FZ_C_WAIT, FZ_OP_wait, 0, (uint64_t)r, w.offset,
			   "WAIT returned an undocumented value");
	if (r >= 0 && id)
		fz_check_off(p.fd, id, FZ_C_WAIT, w.offset, 4,
			     "WAIT accepted an offset out of range");
}

void op_wake(struct fz_ctx *c)
{
	struct shmk_wake k, *kp = &k;
	enum fz_kind kind;
	struct fz_pick p;
	unsigned int id;
	long r;

	fz_pick_fd_pref(c, &p, 95, FZ_ATTACHED);
	memset(&k, 0, sizeof(k));
	k.offset = fz_word_off(c, p.known ? p.user_size : 4096);
	kind = fz_off_kind(&p, k.offset);
	switch (fz_below(c, 6)) {
	case 0:
	case 1:
		k.count = 1;
		break;
	case 2:
		k.count = SHMK_WAKE_ALL;
		break;
	case 3:
		k.count = 2 + (uint32_t)fz_below(c, 20);
		break;
	case 4:
		k.count = (uint32_t)fz_rand(c) | 1;
		break;
	default:
		k.count = 0;
		kind = FZ_INVALID;
		break;
	}
	if (fz_pct(c, 5)) {
		switch (fz_below(c, 3)) {
		case 0:
			k.flags = (uint32_t)fz_rand(c) | 1;
			break;
		case 1:
			k.reserved = fz_rand(c) | 1;
			break;
		default:
			kp = fz_bad_ptr(c);
			break;
		}
		kind = kp != &k ? fz_bad_ptr_kind() : FZ_INVALID;
	}
	id = kind == FZ_HOSTILE && kp == &k ? fz_arena_id(p.fd) : 0;
	r = FZ(c, FZ_C_WAKE, fz_on(&p, kind), k.offset, k.count,
	       fz_ioctl(p.fd, SHMK_IOC_WAKE, kp));
	if (r >= 0 && id)
		fz_check_off(p.fd, id, FZ_C_WAKE, k.offset, 4,
			     "WAKE accepted an offset out of range");
	if (r > 0 && kp == &k && (uint64_t)r > k.count)
		fz_finding(FZ_C_WAKE, FZ_OP_wake, 0, (uint64_t)r, k.count,
			   "WAKE woke more than count");
}

void op_robust(struct fz_ctx *c)
{
	struct shmk_robust rb, *rp = &rb;
	enum fz_kind k = FZ_VALID;
	struct fz_pick p;
	unsigned int id;
	uint64_t us;
	long r;

	fz_pick_fd_pref(c, &p, 95, FZ_ATTACHED);
	us = p.known ? p.user_size : 4096;
	memset(&rb, 0, sizeof(rb));
	switch (fz_below(c, 10)) {
	case 0:
		rb.head_offset = SHMK_ROBUST_NONE;
		break;
	case 1:
		rb.head_offset = us - sizeof(struct shmk_robust_head);
		break;
	case 2:
		rb.head_offset = us - 16;	/* head does not fit */
		k = FZ_HOSTILE;	/* checked against the real size below */
		break;
	case 3:
		rb.head_offset = 8 * fz_below(c, 8) + 1 + fz_below(c, 7);
		k = FZ_INVALID;
		break;
	case 4:
		rb.head_offset = us + 8 * fz_below(c, 1000);
		k = FZ_HOSTILE;
		break;
	case 5:
		rb.head_offset = 8 * fz_below(c, us / 8 - 3);
		break;
	default:
		rb.head_offset = us >= 2048 ? 1024 : 0;
		break;
	}
	if (fz_pct(c, 5)) {
		switch (fz_below(c, 4)) {
		case 0:
			rb.flags = (uint32_t)fz_rand(c) | 1;
			break;
		case 1:
			rb.pad = (uint32_t)fz_rand(c) | 1;
			break;
		case 2:
			rb.reserved = fz_rand(c) | 1;
			break;
		default:
			rp = fz_bad_ptr(c);
			break;
		}
		k = rp != &rb ? fz_bad_ptr_kind() : FZ_INVALID;
	}
	id = k == FZ_HOSTILE && rp == &rb ? fz_arena_id(p.fd) : 0;
	r = FZ(c, FZ_C_SET_ROBUST, fz_on(&p, k), rb.head_offset, 0,
	       fz_ioctl(p.fd, SHMK_IOC_SET_ROBUST, rp));
	if (r == 0)
		atomic_fetch_add(&fz_sh->robust_set, 1);
	if (r == 0 && id && rb.head_offset != SHMK_ROBUST_NONE)
		fz_check_off(p.fd, id, FZ_C_SET_ROBUST, rb.head_offset,
			     sizeof(struct shmk_robust_head),
			     "SET_ROBUST accepted a head out of range");
}

void op_remove(struct fz_ctx *c)
{
	struct shmk_remove rm, *rp = &rm;
	enum fz_kind k;
	struct fz_pick p;

	fz_pick_fd(c, &p, 90);
	memset(&rm, 0, sizeof(rm));
	k = fz_name(c, rm.name);
	if (fz_pct(c, 8)) {
		switch (fz_below(c, 4)) {
		case 0:
			rm.flags = (uint32_t)fz_rand(c) | 1;
			break;
		case 1:
			rm.pad = (uint32_t)fz_rand(c) | 1;
			break;
		case 2:
			rm.reserved = fz_rand(c) | 1;
			break;
		default:
			rp = fz_bad_ptr(c);
			break;
		}
		k = rp != &rm ? fz_bad_ptr_kind() : FZ_INVALID;
	}
	FZ(c, FZ_C_REMOVE, fz_on(&p, k), rm.flags, 0,
	   fz_ioctl(p.fd, SHMK_IOC_REMOVE, rp));
}

void op_badioctl(struct fz_ctx *c)
{
	static const unsigned long real[] = {
		SHMK_IOC_VERSION, SHMK_IOC_ATTACH, SHMK_IOC_DETACH,
		SHMK_IOC_WAIT, SHMK_IOC_WAKE, SHMK_IOC_SET_ROBUST,
		SHMK_IOC_REMOVE,
	};
	/* Generic ones the VFS handles itself: harmless on this file. */
	static const unsigned long vfs[] = {
		FIONBIO, FIOASYNC, FIOCLEX, FIONCLEX, FIONREAD, FIOQSIZE,
	};
	unsigned char buf[512];
	enum fz_kind k = FZ_INVALID;
	struct fz_pick p;
	unsigned long cmd;
	void *arg = buf;
	unsigned int i;
	int tries = 0;

	fz_pick_fd(c, &p, 95);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)fz_rand(c);
	do {
		switch (fz_below(c, 5)) {
		case 0:	/* a real number with another size or direction */
			cmd = real[fz_below(c, 7)];
			cmd = _IOC((_IOC_DIR(cmd) + 1 + fz_below(c, 3)) & 3,
				   SHMK_IOC_MAGIC, _IOC_NR(cmd),
				   fz_pct(c, 50) ? _IOC_SIZE(cmd) :
				   fz_below(c, 512));
			break;
		case 1:	/* an unknown number */
			cmd = _IOC(fz_below(c, 4), SHMK_IOC_MAGIC,
				   7 + fz_below(c, 249), fz_below(c, 512));
			break;
		case 2:
			cmd = real[fz_below(c, 7)] ^ (1UL << (16 + fz_below(c, 14)));
			break;
		case 3:
			cmd = vfs[fz_below(c, 6)];
			k = FZ_HOSTILE;
			break;
		default:	/* another magic */
			cmd = _IOC(fz_below(c, 4), 0xB0 + fz_below(c, 7),
				   fz_below(c, 256), fz_below(c, 512));
			break;
		}
		for (i = 0; i < 7; i++)
			if (cmd == real[i])
				cmd = 0;
	} while (!cmd && ++tries < 4);
	if (!cmd)
		return;
	if (fz_pct(c, 20))
		arg = fz_bad_ptr(c);
	FZ(c, k == FZ_INVALID ? FZ_C_BADIOCTL : FZ_C_OTHER, fz_on(&p, k),
	   cmd, 0, fz_ioctl(p.fd, cmd, arg));
}

static void fz_check_events(const struct shmk_event *ev, long n)
{
	long i;

	for (i = 0; i < n; i++) {
		const struct shmk_event *e = &ev[i];
		bool bad;

		if (e->type == SHMK_EVENT_OVERFLOW) {
			atomic_fetch_add(&fz_sh->overflow_events, 1);
			bad = !e->lost;
		} else {
			bad = e->type != SHMK_EVENT_EXIT || !e->how ||
			      e->how > SHMK_END_CLOSE || !e->member_id ||
			      !e->generation ||
			      (e->flags & ~SHMK_EVENT_F_CRASH) ||
			      !!(e->flags & SHMK_EVENT_F_CRASH) !=
			      (e->how != SHMK_END_DETACH);
		}
		bad |= e->pad || e->reserved;
		if (bad)
			fz_finding(FZ_C_READ, FZ_OP_read, 0, e->type, e->how,
				   "event record out of spec");
	}
	atomic_fetch_add(&fz_sh->events_read, (uint64_t)n);
}

void op_read(struct fz_ctx *c)
{
	struct shmk_event ev[8];
	enum fz_kind k = FZ_VALID;
	struct fz_pick p;
	void *buf = ev;
	size_t len = sizeof(ev[0]) * (1 + fz_below(c, 8));
	bool timer = false, before;
	long r;
	int fl;

	fz_pick_fd_pref(c, &p, 95, FZ_ATTACHED);
	switch (fz_below(c, 14)) {
	case 0:
		len = fz_below(c, sizeof(ev[0]));	/* short */
		k = len ? FZ_INVALID : FZ_HOSTILE;
		break;
	case 1:
		len += 1 + fz_below(c, sizeof(ev[0]) - 1);	/* partial */
		len = len > sizeof(ev) ? sizeof(ev) : len;
		break;
	case 2:
		buf = fz_bad_ptr(c);
		k = FZ_HOSTILE;
		break;
	case 3:
		buf = fz_edge_ptr(sizeof(ev[0]));	/* 2nd record faults */
		len = 2 * sizeof(ev[0]);
		k = FZ_HOSTILE;
		break;
	case 4:
		/* Into an arena mapping (user: fine, control: read-only). */
		{
			struct fz_map *m;

			pthread_mutex_lock(&fz_p.lock);
			m = fz_map_pick(c, 0, false);
			if (m && m->len >= len && (m->kind == FZ_MAP_CTRL ||
						   m->kind == FZ_MAP_USER)) {
				buf = (void *)(m->addr + m->len - len);
				k = FZ_HOSTILE;
			}
			pthread_mutex_unlock(&fz_p.lock);
		}
		break;
	case 5:
		/* A huge count over a small buffer: records until the fault. */
		len = 1ULL << (20 + fz_below(c, 40));
		buf = fz_edge_ptr(sizeof(ev[0]) * (1 + fz_below(c, 2)));
		k = FZ_HOSTILE;
		break;
	default:
		break;
	}
	fl = fcntl(p.fd, F_GETFL);
	if (fl >= 0 && !(fl & O_NONBLOCK)) {
		/* Blocking: bounded by this thread's timer (EINTR). */
		fz_timer_arm(c, (long)fz_below(c, FZ_WAIT_MAX_NS));
		timer = true;
	}
	before = fz_is_shmk(p.fd);
	r = read(p.fd, buf, len);
	/* A number another process closed and reused is not the module's. */
	if ((r >= 0 ? k == FZ_INVALID : k == FZ_VALID) &&
	    (!before || !fz_is_shmk(p.fd)))
		k = FZ_HOSTILE;
	r = fz_acct(c, FZ_C_READ, fz_on(&p, k), r < 0 ? -errno : r, len,
		    (uintptr_t)buf);
	if (timer)
		fz_timer_disarm(c);
	if (r > 0 && buf == ev && before && fz_is_shmk(p.fd)) {
		if (r % (long)sizeof(ev[0]))
			fz_finding(FZ_C_READ, FZ_OP_read, 0, (uint64_t)r, len,
				   "read of a partial record");
		fz_check_events(ev, r / (long)sizeof(ev[0]));
	}
	if (r > (long)len && fz_is_shmk(p.fd))
		fz_finding(FZ_C_READ, FZ_OP_read, 0, (uint64_t)r, len,
			   "read returned more than asked");
}

void op_poll(struct fz_ctx *c)
{
	struct pollfd pf[3];
	struct fz_pick p;
	int n = 1 + (int)fz_below(c, 3), i, ms = (int)fz_below(c, 11);
	long r;

	for (i = 0; i < n; i++) {
		fz_pick_fd(c, &p, 85);
		pf[i].fd = p.fd;
		pf[i].events = (short)(POLLIN | (fz_pct(c, 30) ? POLLOUT | POLLPRI : 0));
		pf[i].revents = 0;
	}
	switch (fz_below(c, 3)) {
	case 0: {
		struct timespec ts = { 0, (long)ms * 1000000L };
		sigset_t set;

		sigemptyset(&set);
		r = FZ(c, FZ_C_POLL, FZ_VALID, n, ms,
		       ppoll(pf, (nfds_t)n, &ts, &set));
		break;
	}
	case 1: {
		fd_set rd, ex;
		struct timeval tv = { 0, ms * 1000 };
		int maxfd = -1;

		FD_ZERO(&rd);
		FD_ZERO(&ex);
		for (i = 0; i < n; i++) {
			if (pf[i].fd < 0 || pf[i].fd >= FD_SETSIZE)
				continue;
			FD_SET(pf[i].fd, &rd);
			FD_SET(pf[i].fd, &ex);
			maxfd = pf[i].fd > maxfd ? pf[i].fd : maxfd;
		}
		r = FZ(c, FZ_C_OTHER, FZ_HOSTILE, maxfd, ms,
		       select(maxfd + 1, &rd, NULL, &ex, &tv));
		break;
	}
	default:
		r = FZ(c, FZ_C_POLL, FZ_VALID, n, ms, poll(pf, (nfds_t)n, ms));
		break;
	}
	(void)r;
}

void op_epoll(struct fz_ctx *c)
{
	struct epoll_event ev, out[4];
	struct fz_fd *e, *f;
	int efd, tfd;

	pthread_mutex_lock(&fz_p.lock);
	e = fz_fd_pick(c, FZ_FD_EPOLL);
	if (!e || fz_pct(c, 20)) {
		if (fz_p.nfds >= FZ_MAX_FDS) {
			pthread_mutex_unlock(&fz_p.lock);
			return;
		}
		efd = (int)FZ(c, FZ_C_OTHER, FZ_HOSTILE, 0, 0,
			      epoll_create1(fz_pct(c, 50) ? EPOLL_CLOEXEC : 0));
		e = efd >= 0 ? fz_fd_add(efd, FZ_FD_EPOLL) : NULL;
		if (!e) {
			if (efd >= 0)
				close(efd);
			pthread_mutex_unlock(&fz_p.lock);
			return;
		}
	}
	efd = e->fd;
	f = fz_fd_pick(c, fz_pct(c, 80) ? FZ_FD_SHMK : FZ_FD_NONE);
	tfd = f ? f->fd : -1;
	pthread_mutex_unlock(&fz_p.lock);

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | (fz_pct(c, 30) ? EPOLLET : 0) |
		    (fz_pct(c, 20) ? EPOLLONESHOT : 0) |
		    (fz_pct(c, 10) ? EPOLLEXCLUSIVE : 0);
	ev.data.fd = tfd;
	if (tfd >= 0)
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, efd, tfd,
		   epoll_ctl(efd, fz_pct(c, 70) ? EPOLL_CTL_ADD :
			     fz_pct(c, 50) ? EPOLL_CTL_MOD : EPOLL_CTL_DEL,
			     tfd, &ev));
	FZ(c, FZ_C_POLL, FZ_VALID, efd, 0,
	   epoll_wait(efd, out, 4, (int)fz_below(c, 6)));
}

/* The remaining file operations, mostly refused; fdinfo and debugfs. */
void op_fops(struct fz_ctx *c)
{
	char buf[4096], path[64];
	struct iovec iov[2];
	struct fz_pick p;
	struct stat st;
	int fd;

	fz_pick_fd(c, &p, 90);
	/* The number may be a socket now: nothing here may block for good. */
	fz_timer_arm(c, FZ_WAIT_MAX_NS);
	switch (fz_below(c, 14)) {
	case 0:
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, p.fd, 0,
		   write(p.fd, buf, 1 + fz_below(c, 100)));
		break;
	case 1:
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, p.fd, 0,
		   lseek(p.fd, (off_t)fz_below(c, 100), SEEK_SET));
		break;
	case 2:
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, p.fd, 0,
		   pread(p.fd, buf, sizeof(struct shmk_event), 0));
		break;
	case 3:
		iov[0].iov_base = buf;
		iov[0].iov_len = fz_pct(c, 50) ? 30 : sizeof(struct shmk_event);
		iov[1].iov_base = buf + 1024;
		iov[1].iov_len = sizeof(struct shmk_event);
		fd = fcntl(p.fd, F_GETFL);
		if (fd >= 0 && (fd & O_NONBLOCK))
			FZ(c, FZ_C_OTHER, FZ_HOSTILE, p.fd, 0,
			   readv(p.fd, iov, 2));
		break;
	case 4:
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, p.fd, 0, fstat(p.fd, &st));
		break;
	case 5:
	case 6:
		/*
		 * fdinfo: shmk_show_fdinfo() against concurrent ends. Like
		 * every transient descriptor, opened under the lock (see
		 * fz_close_strays()).
		 */
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", p.fd);
		pthread_mutex_lock(&fz_p.lock);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			FZ(c, FZ_C_OTHER, FZ_HOSTILE, p.fd, 0,
			   read(fd, buf, sizeof(buf)));
			close(fd);
		}
		pthread_mutex_unlock(&fz_p.lock);
		break;
	case 7:
		pthread_mutex_lock(&fz_p.lock);
		fd = open(fz_pct(c, 50) ? "/sys/kernel/debug/shmk/arenas" :
			  "/sys/kernel/debug/shmk/stats", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			while (FZ(c, FZ_C_OTHER, FZ_HOSTILE, fd, 0,
				  read(fd, buf, sizeof(buf))) > 0)
				;
			close(fd);
		}
		pthread_mutex_unlock(&fz_p.lock);
		break;
	case 8:
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, p.fd, 0,
		   ftruncate(p.fd, (off_t)fz_below(c, 1 << 20)));
		break;
	case 9:
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, p.fd, 0,
		   fallocate(p.fd, fz_pct(c, 50) ? 0 :
			     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			     0, 4096));
		break;
	case 10:
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, p.fd, 0,
		   posix_fadvise(p.fd, 0, 4096 * (off_t)fz_below(c, 16),
				 (int)fz_below(c, 6)) ? -1 : 0);
		break;
	case 11:
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, p.fd, 0,
		   flock(p.fd, (fz_pct(c, 50) ? LOCK_EX : LOCK_UN) | LOCK_NB));
		break;
	case 12: {
		int pfd[2];

		/* splice/sendfile: the module has no splice_read. */
		pthread_mutex_lock(&fz_p.lock);
		if (fz_is_shmk(p.fd) && pipe2(pfd, O_CLOEXEC | O_NONBLOCK) == 0) {
			FZ(c, FZ_C_OTHER, FZ_HOSTILE, p.fd, 0,
			   splice(p.fd, NULL, pfd[1], NULL, 56,
				  SPLICE_F_NONBLOCK));
			FZ(c, FZ_C_OTHER, FZ_HOSTILE, p.fd, 0,
			   sendfile(pfd[1], p.fd, NULL, 56));
			close(pfd[0]);
			close(pfd[1]);
		}
		pthread_mutex_unlock(&fz_p.lock);
		break;
	}
	default:
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, p.fd, 0, fsync(p.fd));
		break;
	}
	fz_timer_disarm(c);
}

/* Learn the sizes of a file's arena from its control page (if we own it). */
void op_learn(struct fz_ctx *c)
{
	const volatile struct shmk_ctrl *ctrl;
	struct fz_fd *f;
	uint64_t cs, us, e1, e2;
	uint32_t mm, live, i;
	void *pg;

	pthread_mutex_lock(&fz_p.lock);
	f = fz_fd_pick(c, FZ_FD_SHMK);
	if (!f || !fz_is_shmk(f->fd))
		goto out;
	pg = (void *)FZ(c, FZ_C_MMAP, FZ_VALID, f->fd, 0,
			mmap(NULL, 4096, PROT_READ, MAP_SHARED, f->fd, 0));
	if ((long)pg < 0)
		goto out;
	ctrl = pg;
	/* The seqcount: bounded retries. */
	for (i = 0; i < 1000; i++) {
		e1 = __atomic_load_n(&ctrl->epoch, __ATOMIC_ACQUIRE);
		cs = ctrl->ctrl_size;
		us = ctrl->user_size;
		mm = ctrl->member_max;
		live = ctrl->members_live;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		e2 = __atomic_load_n(&ctrl->epoch, __ATOMIC_RELAXED);
		if (!(e1 & 1) && e1 == e2)
			break;
	}
	if (ctrl->magic != SHMK_CTRL_MAGIC || ctrl->abi_version != SHMK_ABI_VERSION ||
	    !cs || (cs & 4095) || !us || (us & 4095) || !mm || live > mm ||
	    ctrl->members_offset < sizeof(struct shmk_ctrl) ||
	    ctrl->member_stride < sizeof(struct shmk_ctrl_member))
		fz_finding(FZ_C_MMAP, FZ_OP_learn, 0, cs, us,
			   "control region out of spec");
	else if (i < 1000) {
		f->known = true;
		f->attached = true;	/* only the owner may map */
		f->ctrl_size = cs;
		f->user_offset = cs;
		f->user_size = us;
	}
	FZ(c, FZ_C_OTHER, FZ_HOSTILE, pg, 4096, munmap(pg, 4096));
out:
	pthread_mutex_unlock(&fz_p.lock);
}

void *fz_bad_ptr_ro(void)
{
	return fz_bad_pages;
}

void fz_ops_init(void)
{
	fz_bad_pages_init();
}
