// SPDX-License-Identifier: MIT
/*
 * kmod backend: /dev/shmk (uapi/linux/shmk.h). One open file per
 * membership; the kernel does membership, wait/wake, exit events and the
 * robust list walk.
 */
#include "core/shmk_int.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct km {
	int fd;
	const struct shmk_ctrl *ctrl;
	size_t ctrl_size;
	uint64_t features;
	uint32_t members_offset, member_stride, member_max;
};

static struct km *KM(const struct shmk_arena *a)
{
	return a->bp;
}

static int km_ioctl(int fd, unsigned long cmd, void *arg)
{
	int r;

	do {
		r = ioctl(fd, cmd, arg);
	} while (r < 0 && errno == EINTR && cmd != SHMK_IOC_WAIT);
	return r < 0 ? -errno : r;
}

static void km_free(struct km *k, struct shmk_arena *a)
{
	if (a->base)
		munmap(a->base, a->size);
	a->base = NULL;
	if (k->ctrl)
		munmap((void *)k->ctrl, k->ctrl_size);
	if (k->fd >= 0)
		close(k->fd);
	free(k);
}

#define KM_PARAMS	"/sys/module/shmk/parameters/"

/* A parameter of the loaded module, or 0 if it cannot be read. */
static uint64_t km_param(const char *p)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), KM_PARAMS "%s", p);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtoull(buf, NULL, 10);
}

/*
 * Open /dev/shmk, saying why not: the module not loaded (-ENODEV, however
 * open() put it), no permission on the node. @why tells how the kmod
 * backend was chosen.
 */
static int km_open_dev(const char *why)
{
	struct stat st;
	int fd = open(SHMK_DEVICE_PATH, O_RDWR | O_CLOEXEC), r;

	if (fd >= 0)
		return fd;
	r = -errno;
	switch (r) {
	case -ENOENT:
		shmk_reason("the shmk module is not loaded (%s, but there is "
			    "no " SHMK_DEVICE_PATH "): modprobe shmk (or "
			    "SHMK_BACKEND=portable)", why);
		return -ENODEV;
	case -ENODEV:
	case -ENXIO:
		shmk_reason("the shmk module is not loaded (" SHMK_DEVICE_PATH
			    " exists, but no driver answers it): modprobe shmk "
			    "(or SHMK_BACKEND=portable)");
		return -ENODEV;
	case -EACCES:
	case -EPERM:
		if (stat(SHMK_DEVICE_PATH, &st) == 0)
			shmk_reason("no permission to open " SHMK_DEVICE_PATH
				    " (owner uid %u gid %u, mode %04o; this "
				    "process: euid %u egid %u): see the "
				    "admin guide for the shmk group rule",
				    (unsigned int)st.st_uid,
				    (unsigned int)st.st_gid,
				    (unsigned int)(st.st_mode & 07777),
				    (unsigned int)geteuid(),
				    (unsigned int)getegid());
		else
			shmk_reason("no permission to open " SHMK_DEVICE_PATH);
		return r;
	default:
		shmk_reason("cannot open " SHMK_DEVICE_PATH ": %s",
			    strerror(-r));
		return r;
	}
}

/* Why SHMK_IOC_ATTACH of arena @name failed with @r. */
static void km_attach_reason(const char *name, const struct shmk_attach *at,
			     int r)
{
	char b1[32], b2[32], b3[32];
	bool create = at->flags & SHMK_ATTACH_CREATE;
	bool rdonly = at->flags & SHMK_ATTACH_RDONLY;

	switch (r) {
	case -ENOENT:
		shmk_reason("no arena '%s' in this IPC namespace (kmod "
			    "backend)", name);
		break;
	case -EEXIST:
		shmk_reason("arena '%s' exists already (SHMK_OPEN_EXCL)",
			    name);
		break;
	case -EACCES:
		shmk_reason("arena '%s' exists, but its owner and mode do not "
			    "let euid %u egid %u %s it: its creator's mode "
			    "decides (shmk_arena_opts.mode, default 0600)",
			    name, (unsigned int)geteuid(),
			    (unsigned int)getegid(),
			    rdonly ? "read" : "read and write");
		break;
	case -EFBIG:
		shmk_reason("arena size %llu bytes (%s) is above the shmk "
			    "module's max_arena_size, %llu (%s, in " KM_PARAMS
			    ")", (unsigned long long)at->size,
			    shmk_fmt_bytes(at->size, b1, sizeof(b1)),
			    (unsigned long long)km_param("max_arena_size"),
			    shmk_fmt_bytes(km_param("max_arena_size"), b2,
					   sizeof(b2)));
		break;
	case -ENOSPC:
	case -EDQUOT:
		if (!create) {
			shmk_reason("every member slot of arena '%s' is live "
				    "(its creator chose how many: "
				    "shmk_arena_opts.max_members, at most the "
				    "module's max_members=%llu)", name,
				    (unsigned long long)km_param("max_members"));
			break;
		}
		shmk_reason("creating arena '%s' of %s would go over a limit "
			    "of the shmk module (max_arenas=%llu, "
			    "max_arenas_per_user=%llu, max_bytes_per_user=%s, "
			    "max_arenas_per_ns=%llu, max_bytes_per_ns=%s in "
			    KM_PARAMS "; debugfs shmk/users and "
			    "shmk/namespaces show what is charged); or it "
			    "exists and every member slot is live", name,
			    shmk_fmt_bytes(at->size, b1, sizeof(b1)),
			    (unsigned long long)km_param("max_arenas"),
			    (unsigned long long)km_param("max_arenas_per_user"),
			    shmk_fmt_bytes(km_param("max_bytes_per_user"), b2,
					   sizeof(b2)),
			    (unsigned long long)km_param("max_arenas_per_ns"),
			    shmk_fmt_bytes(km_param("max_bytes_per_ns"), b3,
					   sizeof(b3)));
		break;
	case -ENOMEM:
		shmk_reason("the shmk module could not allocate the %s of "
			    "arena '%s' (memory, or the memory cgroup's "
			    "limit)", shmk_fmt_bytes(at->size, b1, sizeof(b1)),
			    name);
		break;
	default:
		shmk_reason("%s arena '%s' through " SHMK_DEVICE_PATH ": %s",
			    create ? "creating or attaching to" :
			    "attaching to", name, strerror(-r));
	}
}

/* The VERSION handshake: the module must speak our ABI. */
static int km_handshake(struct km *k, struct shmk_version *ver)
{
	int r;

	memset(ver, 0, sizeof(*ver));
	ver->abi_version = SHMK_ABI_VERSION;
	r = km_ioctl(k->fd, SHMK_IOC_VERSION, ver);
	if (r < 0) {
		shmk_reason(SHMK_DEVICE_PATH " refused the version handshake "
			    "(%s): is it the shmk module?", strerror(-r));
		return r;
	}
	if (ver->kernel_abi_version != SHMK_ABI_VERSION) {
		shmk_reason("the shmk module speaks ABI version %u, this "
			    "library %u: install a module and a library of "
			    "one release", ver->kernel_abi_version,
			    SHMK_ABI_VERSION);
		return -EPROTO;
	}
	k->features = ver->features;
	return 0;
}

/* The ATTACH request for @name, @flags, and @o when creating. */
static void km_attach_args(struct shmk_attach *at, const struct km *k,
			   const struct shmk_version *ver, const char *name,
			   const struct shmk_arena_opts *o, unsigned int flags,
			   bool create)
{
	memset(at, 0, sizeof(*at));
	strncpy(at->name, name, SHMK_NAME_MAX - 1);
	if (create) {
		at->flags = SHMK_ATTACH_CREATE;
		if (flags & SHMK_OPEN_EXCL)
			at->flags |= SHMK_ATTACH_EXCL;
		if (flags & SHMK_OPEN_PERSISTENT)
			at->flags |= SHMK_ATTACH_PERSISTENT;
		at->size = o && o->size ? o->size : LM_DEF_SIZE;
		at->mode = o && o->mode ? o->mode : LM_DEF_MODE;
		/*
		 * As many slots as the library will use: the module hands
		 * out never-used ids first, and an id past the library's
		 * member_max could not join.
		 */
		if (k->features & SHMK_FEATURE_MAX_MEMBERS) {
			uint32_t mm = o && o->max_members ? o->max_members :
				LM_DEF_MEMBERS;

			if (mm > LM_MEMBERS_MAX)
				mm = LM_MEMBERS_MAX;
			at->max_members = mm < ver->member_max ? mm :
				ver->member_max;
		}
	}
	if (flags & SHMK_OPEN_RDONLY)
		at->flags |= SHMK_ATTACH_RDONLY;
}

/*
 * Map the control region (read-only) and the user region of the arena
 * just attached, and check the control region's layout before any use.
 */
static int km_map(struct shmk_arena *a, struct km *k,
		  const struct shmk_attach *at, const char *name,
		  unsigned int flags)
{
	void *p;

	p = mmap(NULL, at->ctrl_size, PROT_READ, MAP_SHARED, k->fd,
		 (off_t)at->ctrl_offset);
	if (p == MAP_FAILED)
		return -errno;
	k->ctrl = p;
	k->ctrl_size = at->ctrl_size;
	p = mmap(NULL, at->user_size, PROT_READ |
		 ((flags & SHMK_OPEN_RDONLY) ? 0 : PROT_WRITE), MAP_SHARED,
		 k->fd, (off_t)at->user_offset);
	if (p == MAP_FAILED)
		return -errno;
	a->base = p;
	a->size = at->user_size;

	/* Trust nothing: the control page layout is checked before use. */
	k->members_offset = k->ctrl->members_offset;
	k->member_stride = k->ctrl->member_stride;
	k->member_max = k->ctrl->member_max;
	if (k->ctrl->magic != SHMK_CTRL_MAGIC ||
	    k->ctrl->abi_version != SHMK_ABI_VERSION ||
	    k->member_stride < sizeof(struct shmk_ctrl_member) ||
	    k->member_max == 0 || k->member_max > 1U << 20 ||
	    k->members_offset > k->ctrl_size ||
	    (uint64_t)k->member_max * k->member_stride >
	    k->ctrl_size - k->members_offset ||
	    a->id == 0 || a->id > k->member_max) {
		shmk_reason("the control region of arena '%s' does not have "
			    "the layout of ABI version %u", name,
			    SHMK_ABI_VERSION);
		return -EPROTO;
	}
	a->be_member_max = k->member_max;
	return 0;
}

static int km_open(struct shmk_arena *a, const char *name,
		   const struct shmk_arena_opts *o, unsigned int flags,
		   bool create)
{
	struct epoll_event e = { .events = EPOLLIN };
	struct shmk_version ver;
	struct shmk_attach at;
	struct km *k;
	int r;

	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->fd = km_open_dev(a->be_why ? a->be_why : "kmod backend");
	if (k->fd < 0) {
		r = k->fd;
		free(k);
		return r;
	}
	r = km_handshake(k, &ver);
	if (r)
		goto fail;
	km_attach_args(&at, k, &ver, name, o, flags, create);
	r = km_ioctl(k->fd, SHMK_IOC_ATTACH, &at);
	if (r < 0) {
		km_attach_reason(name, &at, r);
		goto fail;
	}
	a->id = at.member_id;
	a->gen = at.generation;
	a->trace_id = at.arena_id;
	a->created = !!(at.out_flags & SHMK_ATTACHED_CREATED);
	r = km_map(a, k, &at, name, flags);
	if (r)
		goto fail_detach;
	if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, k->fd, &e) < 0) {
		r = -errno;
		goto fail_detach;
	}
	a->bp = k;
	return 0;

fail_detach:
	km_ioctl(k->fd, SHMK_IOC_DETACH, NULL);
fail:
	km_free(k, a);
	return r;
}

static void km_close(struct shmk_arena *a, bool clean)
{
	struct km *k = KM(a);

	if (!k)
		return;
	/* Error paths inside the library also detach: nothing crashed. */
	(void)clean;
	km_ioctl(k->fd, SHMK_IOC_DETACH, NULL);
	km_free(k, a);
	a->bp = NULL;
}

static int km_wait(struct shmk_arena *a, uint64_t off, uint32_t expected,
		   const struct timespec *abs, unsigned int flags)
{
	struct shmk_wait w;
	int r;

	memset(&w, 0, sizeof(w));
	w.offset = off;
	w.expected = expected;
	w.flags = flags & SHMK_WAIT_NO_EVENTS;
	if (abs) {
		w.flags |= SHMK_WAIT_ABSTIME;
		w.timeout_ns = (int64_t)abs->tv_sec * 1000000000LL +
			abs->tv_nsec;
	} else {
		w.timeout_ns = -1;
	}
	PROBE_A(wait, a, off, expected, w.timeout_ns);
	r = km_ioctl(KM(a)->fd, SHMK_IOC_WAIT, &w);
	PROBE_A(wait_done, a, off, r);
	return r;
}

static int km_wake(struct shmk_arena *a, uint64_t off, uint32_t n)
{
	struct shmk_wake k;

	memset(&k, 0, sizeof(k));
	k.offset = off;
	k.count = n;
	PROBE_A(wake, a, off, n);
	return km_ioctl(KM(a)->fd, SHMK_IOC_WAKE, &k);
}

static int km_set_robust(struct shmk_arena *a, uint64_t head_off)
{
	struct shmk_robust r;

	memset(&r, 0, sizeof(r));
	r.head_offset = head_off;
	return km_ioctl(KM(a)->fd, SHMK_IOC_SET_ROBUST, &r);
}

/* Read every pending event into the local queue; never blocks. */
static int km_pump(struct shmk_arena *a)
{
	struct shmk_event ev[16];
	struct pollfd pf = { .fd = KM(a)->fd, .events = POLLIN };
	ssize_t n;
	int i;

	while (poll(&pf, 1, 0) > 0 && (pf.revents & POLLIN)) {
		n = read(pf.fd, ev, sizeof(ev));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -errno;
		}
		if (n == 0 || n % (ssize_t)sizeof(ev[0]))
			return -EPROTO;
		for (i = 0; i < n / (ssize_t)sizeof(ev[0]); i++)
			shmk_ev_push(a, &ev[i]);
	}
	return 0;
}

/* Seqcount read of a member slot of the control page. */
static int km_member(struct shmk_arena *a, uint32_t id, uint32_t *gen)
{
	struct km *k = KM(a);
	const struct shmk_ctrl_member *m;
	uint64_t e1, e2;
	uint32_t state, g;
	int tries;

	if (id == 0 || id > k->member_max)
		return 0;
	m = (const void *)((const uint8_t *)k->ctrl + k->members_offset +
			   (uint64_t)(id - 1) * k->member_stride);
	for (tries = 0; tries < 100000; tries++) {
		e1 = ld_acq(&k->ctrl->epoch);
		if (e1 & 1) {
			sched_yield();
			continue;
		}
		/* acquire loads: the second epoch read stays after them */
		state = ld_acq(&m->state);
		g = ld_acq(&m->generation);
		e2 = ld_acq(&k->ctrl->epoch);
		if (e1 == e2) {
			*gen = g;
			return state == SHMK_MEMBER_LIVE;
		}
	}
	return -EBUSY;
}

static int km_remove(const char *name, unsigned int flags)
{
	struct shmk_remove rm;
	int fd, r;

	(void)flags;
	fd = km_open_dev("kmod backend");
	if (fd < 0)
		return fd;
	memset(&rm, 0, sizeof(rm));
	strncpy(rm.name, name, SHMK_NAME_MAX - 1);
	r = km_ioctl(fd, SHMK_IOC_REMOVE, &rm);
	close(fd);
	return r < 0 ? r : 0;
}

const struct shmk_be_ops shmk_be_kmod = {
	.name = "kmod",
	.open = km_open,
	.close = km_close,
	.wait = km_wait,
	.wake = km_wake,
	.set_robust = km_set_robust,
	.pump = km_pump,
	.member = km_member,
	.remove = km_remove,
	/*
	 * No .watch: the module announces no arena creations (events go to
	 * members of an arena only), so a client waiting for an arena to
	 * appear retries with a backoff (lib/session.c).
	 */
};
