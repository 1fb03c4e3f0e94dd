// SPDX-License-Identifier: GPL-2.0
/*
 * Every failure of creating or attaching an arena says why in words
 * (shmk_arena_error(NULL)), and so do the failing calls on a handle
 * (shmk_arena_error(a)): one case per reason, with the error code it goes
 * with. Each backend this machine has is tested by name (the portable one
 * always, kmod when /dev/shmk exists), whatever SHMK_BACKEND says.
 *
 * Some cases need root (they drop to another uid, or mount a small tmpfs
 * in a mount namespace of their own); without it they are skipped, saying
 * so.
 */
#include "common.h"

#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define KIB	1024ULL
#define MIB	(1024 * KIB)
#define NOBODY	65534

static int seq;

struct be {
	const char *name;
	unsigned int flag;
};

static const struct be portable = { "portable", SHMK_OPEN_PORTABLE };
static const struct be kmod = { "kmod", SHMK_OPEN_KMOD };

static void fresh(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "t_errors.%s.%d.%d", tag, (int)getpid(), seq++);
}

/*
 * @r is @want and @why holds every string of the NULL-terminated list;
 * else say what is wrong (the reason is always shown, for the log).
 */
static int reason_ok(int r, int want, const char *why, ...)
{
	const char *sub;
	va_list ap;
	int good = r == want;

	diag("  %d (%s): \"%s\"", r, r < 0 ? strerror(-r) : "-", why);
	if (r != want)
		diag("  want %d (%s)", want, strerror(-want));
	va_start(ap, why);
	while ((sub = va_arg(ap, const char *))) {
		if (!strstr(why, sub)) {
			diag("  the reason lacks \"%s\"", sub);
			good = 0;
		}
	}
	va_end(ap);
	return good;
}

/* Drop to uid/gid @id, no supplementary groups: 0 or -1. */
static int become(uid_t id)
{
	if (setgroups(0, NULL) < 0 || setresgid(id, id, id) < 0 ||
	    setresuid(id, id, id) < 0)
		return -1;
	return 0;
}

/* A private mount namespace (root): 0, or -1 to skip. */
static int own_mounts(void)
{
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	return 0;
}

/* ---- backend choice ------------------------------------------------- */

static int child_bogus_env(void *p)
{
	struct shmk_arena *a;
	char n[64];
	int r;

	(void)p;
	fresh(n, sizeof(n), "env");
	setenv("SHMK_BACKEND", "bogus", 1);
	r = shmk_arena_create(n, NULL, 0, &a);
	return reason_ok(r, -EINVAL, shmk_arena_error(NULL), "SHMK_BACKEND",
			 "bogus", "kmod", "portable", NULL) ? 0 : 1;
}

/*
 * The kmod backend asked for, by flag and by SHMK_BACKEND, with no
 * /dev/shmk: if the module is loaded here, a tmpfs over /dev hides it.
 */
static int child_no_module(void *p)
{
	struct shmk_arena *a;
	char n[64];
	int r, bad = 0;

	(void)p;
	if (access("/dev/shmk", F_OK) == 0 &&
	    (own_mounts() < 0 ||
	     mount("tmpfs", "/dev", "tmpfs", 0, "size=64k") < 0))
		return 77;
	fresh(n, sizeof(n), "nomod");
	r = shmk_arena_create(n, NULL, SHMK_OPEN_KMOD, &a);
	bad |= !reason_ok(r, -ENODEV, shmk_arena_error(NULL),
			  "not loaded", "modprobe shmk",
			  "SHMK_BACKEND=portable", "SHMK_OPEN_KMOD", NULL);
	setenv("SHMK_BACKEND", "kmod", 1);
	r = shmk_arena_attach(n, 0, &a);
	bad |= !reason_ok(r, -ENODEV, shmk_arena_error(NULL),
			  "modprobe shmk", "SHMK_BACKEND=kmod", NULL);
	r = shmk_arena_remove(n, 0);
	bad |= !reason_ok(r, -ENODEV, shmk_arena_error(NULL),
			  "modprobe shmk", NULL);
	return bad;
}

static void test_backend_choice(void)
{
	struct shmk_arena *a;
	char n[64];
	int r;

	fresh(n, sizeof(n), "two");
	r = shmk_arena_create(n, NULL, SHMK_OPEN_KMOD | SHMK_OPEN_PORTABLE,
			      &a);
	tap_ok(reason_ok(r, -EINVAL, shmk_arena_error(NULL),
			 "SHMK_OPEN_KMOD and SHMK_OPEN_PORTABLE", NULL),
	       "two backend flags: -EINVAL, says choose one");
	ok_eq(reap(spawn(child_bogus_env, NULL)), 0,
	      "SHMK_BACKEND=bogus: -EINVAL, names the variable and its values");
	r = reap(spawn(child_no_module, NULL));
	if (r == 77)
		tap_skip("kmod without the module: /dev/shmk cannot be hidden "
			 "here (needs root for a mount namespace)");
	else
		ok_eq(r, 0, "kmod without /dev/shmk: -ENODEV, says how to "
		      "load the module (flag, SHMK_BACKEND, remove)");
}

/* ---- names, flags, options -------------------------------------- */

static void test_args(void)
{
	struct shmk_arena_opts o;
	struct shmk_arena *a;
	char longname[80];
	int r;

	r = shmk_arena_create("a/b", NULL, SHMK_OPEN_PORTABLE, &a);
	tap_ok(reason_ok(r, -EINVAL, shmk_arena_error(NULL), "'a/b'", "'/'",
			 "byte 1", "._:@+-", NULL),
	       "a '/' in the name: -EINVAL, says which byte and the alphabet");
	r = shmk_arena_attach("caf\xc3\xa9", SHMK_OPEN_PORTABLE, &a);
	tap_ok(reason_ok(r, -EINVAL, shmk_arena_error(NULL), "0xc3",
			 "at 3", NULL),
	       "a byte above 0x7f: -EINVAL, shown in hex");
	r = shmk_arena_create("", NULL, SHMK_OPEN_PORTABLE, &a);
	tap_ok(reason_ok(r, -EINVAL, shmk_arena_error(NULL), "empty", NULL),
	       "empty name: -EINVAL");
	memset(longname, 'x', 70);
	longname[70] = '\0';
	r = shmk_arena_create(longname, NULL, SHMK_OPEN_PORTABLE, &a);
	tap_ok(reason_ok(r, -EINVAL, shmk_arena_error(NULL), "longer than 63",
			 NULL), "70-byte name: -EINVAL, says the limit");
	r = shmk_arena_attach(NULL, 0, &a);
	tap_ok(reason_ok(r, -EINVAL, shmk_arena_error(NULL), "NULL", NULL),
	       "NULL name: -EINVAL");
	r = shmk_arena_attach("x", SHMK_OPEN_EXCL, &a);
	tap_ok(reason_ok(r, -EINVAL, shmk_arena_error(NULL), "SHMK_OPEN_EXCL",
			 "shmk_arena_create", NULL),
	       "SHMK_OPEN_EXCL on attach: -EINVAL, says it is for create");
	r = shmk_arena_create("x", NULL, 1U << 20, &a);
	tap_ok(reason_ok(r, -EINVAL, shmk_arena_error(NULL), "unknown flags",
			 "0x100000", NULL), "unknown flag: -EINVAL, shows it");
	memset(&o, 0, sizeof(o));
	o.reserved[1] = 7;
	r = shmk_arena_create("x", &o, SHMK_OPEN_PORTABLE, &a);
	tap_ok(reason_ok(r, -EINVAL, shmk_arena_error(NULL), "reserved[1]",
			 NULL), "reserved option set: -EINVAL, says which");
	memset(&o, 0, sizeof(o));
	o.max_members = 5000;
	r = shmk_arena_create("x", &o, SHMK_OPEN_PORTABLE, &a);
	tap_ok(reason_ok(r, -EINVAL, shmk_arena_error(NULL), "max_members 5000",
			 "4095", NULL), "max_members 5000: -EINVAL, says the limit");
	memset(&o, 0, sizeof(o));
	o.mode = 01777;
	r = shmk_arena_create("x", &o, SHMK_OPEN_PORTABLE, &a);
	tap_ok(reason_ok(r, -EINVAL, shmk_arena_error(NULL), "01777", "0777",
			 NULL), "mode 01777: -EINVAL");
	r = shmk_arena_create("x", NULL, SHMK_OPEN_PORTABLE, NULL);
	tap_ok(reason_ok(r, -EINVAL, shmk_arena_error(NULL), "out is NULL",
			 NULL), "NULL out: -EINVAL");
}

/* ---- per backend -------------------------------------------------- */

struct acc_args {
	const struct be *be;
	const char *name;
};

static int child_denied(void *p)
{
	struct acc_args *c = p;
	struct shmk_arena *a;
	char who[32];
	int r, good;

	if (become(NOBODY) < 0)
		return 77;
	r = shmk_arena_attach(c->name, c->be->flag, &a);
	snprintf(who, sizeof(who), "euid %d", NOBODY);
	if (c->be->flag == SHMK_OPEN_PORTABLE)
		good = reason_ok(r, -EACCES, shmk_arena_error(NULL), who,
				 "owner uid 0", "mode 0600", c->name, NULL);
	else
		good = reason_ok(r, -EACCES, shmk_arena_error(NULL), who,
				 "mode", c->name, NULL);
	return good ? 0 : 1;
}

static void test_access(const struct be *be)
{
	struct shmk_arena_opts o;
	struct shmk_arena *a, *b;
	struct acc_args c = { be, NULL };
	char n[64];
	int r;

	fresh(n, sizeof(n), "acc");
	c.name = n;
	memset(&o, 0, sizeof(o));
	if (geteuid() == 0) {
		r = shmk_arena_create(n, NULL, be->flag | SHMK_OPEN_EXCL, &a);
		if (!tap_ok(r == 0, "%s: create %s", be->name, n))
			return;
		r = reap(spawn(child_denied, &c));
		if (r == 77)
			tap_skip("%s: cannot drop to uid %d", be->name, NOBODY);
		else
			ok_eq(r, 0, "access denied to another uid: -EACCES, "
			      "names the uids and the mode");
		shmk_arena_detach(a);
		return;
	}
	/* not root: the owner itself, with write-only permission */
	o.mode = 0200;
	r = shmk_arena_create(n, &o, be->flag | SHMK_OPEN_EXCL, &a);
	if (!tap_ok(r == 0, "%s: create %s mode 0200", be->name, n))
		return;
	r = shmk_arena_attach(n, be->flag, &b);
	tap_ok(reason_ok(r, -EACCES, shmk_arena_error(NULL), "euid", NULL),
	       "%s: mode 0200 denies the owner: -EACCES", be->name);
	shmk_arena_detach(a);
}

static void test_lifecycle(const struct be *be)
{
	struct shmk_arena_opts o;
	struct shmk_arena *a, *b, *c;
	char n[64];
	int r;

	fresh(n, sizeof(n), "life");
	r = shmk_arena_attach(n, be->flag, &a);
	tap_ok(reason_ok(r, -ENOENT, shmk_arena_error(NULL), "no arena", n,
			 NULL), "%s: attach to no arena: -ENOENT, names it",
	       be->name);

	memset(&o, 0, sizeof(o));
	o.max_members = 2;
	o.size = 256 * KIB;
	r = shmk_arena_create(n, &o, be->flag | SHMK_OPEN_EXCL, &a);
	if (!tap_ok(r == 0, "%s: create %s with 2 member slots", be->name, n))
		return;
	tap_ok(shmk_arena_error(NULL)[0] == '\0',
	       "%s: no reason after a success", be->name);
	r = shmk_arena_create(n, NULL, be->flag | SHMK_OPEN_EXCL, &b);
	tap_ok(reason_ok(r, -EEXIST, shmk_arena_error(NULL), "exists", n,
			 "SHMK_OPEN_EXCL", NULL),
	       "%s: exclusive create of an existing arena: -EEXIST", be->name);
	r = shmk_arena_attach(n, be->flag, &b);
	if (!tap_ok(r == 0, "%s: second member joins", be->name)) {
		shmk_arena_detach(a);
		return;
	}
	r = shmk_arena_attach(n, be->flag, &c);
	tap_ok(reason_ok(r, be->flag == SHMK_OPEN_KMOD ? -ENOSPC : -EUSERS,
			 shmk_arena_error(NULL), "every member slot", n,
			 "max_members", NULL),
	       "%s: a third member, no slot: %s, says the slots are live",
	       be->name, be->flag == SHMK_OPEN_KMOD ? "-ENOSPC" : "-EUSERS");
	shmk_arena_detach(b);
	shmk_arena_detach(a);

	fresh(n, sizeof(n), "small");
	memset(&o, 0, sizeof(o));
	o.size = 16 * KIB;
	o.max_members = 64;
	r = shmk_arena_create(n, &o, be->flag | SHMK_OPEN_EXCL, &a);
	tap_ok(reason_ok(r, -ENOSPC, shmk_arena_error(NULL), "too small",
			 "64 member slots", "max_members", NULL),
	       "%s: 16 KiB for 64 members: -ENOSPC, says what does not fit",
	       be->name);
	if (r == 0)
		shmk_arena_detach(a);
}

/* The handle's own reasons, thread-local. */
struct other {
	struct shmk_arena *a;
	const char *seen;
};

static void *other_thread(void *p)
{
	struct other *o = p;

	o->seen = shmk_arena_error(o->a);
	return NULL;
}

static void test_handle(const struct be *be)
{
	struct shmk_arena *a;
	struct other ot;
	pthread_t t;
	uint64_t off;
	char n[64];
	int r;

	fresh(n, sizeof(n), "handle");
	r = shmk_arena_create(n, NULL, be->flag | SHMK_OPEN_EXCL, &a);
	if (!tap_ok(r == 0, "%s: create %s", be->name, n))
		return;
	tap_ok(shmk_arena_error(a)[0] == '\0', "%s: a new handle has no reason",
	       be->name);
	r = shmk_arena_wait(a, 6, 0, 0, 0);
	tap_ok(reason_ok(r, -EINVAL, shmk_arena_error(a), "0x6",
			 "not 4-byte aligned", NULL),
	       "%s: wait on a misaligned word: -EINVAL, says so", be->name);
	r = shmk_arena_wake(a, 1ULL << 40, 1);
	tap_ok(reason_ok(r, -EINVAL, shmk_arena_error(a), "beyond the user "
			 "region", NULL),
	       "%s: wake beyond the region: -EINVAL, gives its size", be->name);
	r = shmk_arena_root(a, 99, &off);
	tap_ok(reason_ok(r, -EINVAL, shmk_arena_error(a), "root slot 99",
			 "0..15", NULL), "%s: root slot 99: -EINVAL", be->name);
	ot.a = a;
	ot.seen = "unset";
	pthread_create(&t, NULL, other_thread, &ot);
	pthread_join(t, NULL);
	tap_ok(ot.seen && ot.seen[0] == '\0',
	       "%s: another thread does not see this thread's reason",
	       be->name);
	r = shmk_alloc(a, 16, SHMK_ALLOC_ZERO, 0, &off);
	if (tap_ok(r == 0, "%s: a lock in the arena", be->name)) {
		shmk_lock_init(a, off);
		shmk_lock_acquire(a, off, -1);
		r = shmk_arena_detach(a);
		tap_ok(reason_ok(r, -EBUSY, shmk_arena_error(a), "holds a lock",
				 NULL), "%s: detach holding a lock: -EBUSY, "
		       "says release it", be->name);
		shmk_lock_release(a, off);
		shmk_free(a, off);
	}
	ok_eq(shmk_arena_detach(a), 0, "detach");
}

/* ---- backend specifics ------------------------------------------- */

static int shm_path(char *buf, size_t len, const char *name)
{
	return snprintf(buf, len, "/dev/shm/shmk.%s", name);
}

static void test_portable_objects(void)
{
	char n[64], path[128], zero[4096] = { 0 };
	struct shmk_arena *a, *b;
	struct stat st;
	int fd, r;

	/* something else under our name */
	fresh(n, sizeof(n), "alien");
	shm_path(path, sizeof(path), n);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (tap_ok(fd >= 0 && write(fd, zero, sizeof(zero)) == sizeof(zero),
		   "portable: a foreign file %s", path)) {
		r = shmk_arena_attach(n, SHMK_OPEN_PORTABLE, &a);
		tap_ok(reason_ok(r, -EPROTO, shmk_arena_error(NULL),
				 "not a shmk arena object", path, NULL),
		       "portable: attach to a foreign file: -EPROTO, says so");
	}
	if (fd >= 0)
		close(fd);
	unlink(path);

	/* one of ours, its size changed behind its back */
	fresh(n, sizeof(n), "corrupt");
	shm_path(path, sizeof(path), n);
	r = shmk_arena_create(n, NULL, SHMK_OPEN_PORTABLE | SHMK_OPEN_EXCL, &a);
	if (!tap_ok(r == 0, "portable: create %s", n))
		return;
	fd = open(path, O_RDWR);
	if (tap_ok(fd >= 0 && fstat(fd, &st) == 0 &&
		   ftruncate(fd, st.st_size + 4096) == 0,
		   "portable: the object grown by a page")) {
		r = shmk_arena_attach(n, SHMK_OPEN_PORTABLE, &b);
		tap_ok(reason_ok(r, -EUCLEAN, shmk_arena_error(NULL), "corrupt",
				 path, NULL),
		       "portable: attach to a corrupt object: -EUCLEAN");
		if (r == 0)
			shmk_arena_detach(b);
	}
	if (fd >= 0)
		close(fd);
	shmk_arena_detach(a);
	unlink(path);
}

/*
 * The tmpfs behind /dev/shm: the real one cannot hold 1 TiB; in a mount
 * namespace of its own, a 1 MiB tmpfs, partly filled.
 */
static int child_small_shm(void *p)
{
	struct shmk_arena_opts o;
	struct shmk_arena *a;
	char n[64], buf[4096] = { 0 };
	int fd, i, bad = 0, r;

	(void)p;
	if (own_mounts() < 0 ||
	    mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=1m,mode=1777") < 0)
		return 77;
	memset(&o, 0, sizeof(o));
	fresh(n, sizeof(n), "tmpfs");
	o.size = 2 * MIB;
	r = shmk_arena_create(n, &o, SHMK_OPEN_PORTABLE, &a);
	bad |= !reason_ok(r, -EFBIG, shmk_arena_error(NULL), "/dev/shm",
			  "a tmpfs of 1 MiB", "never fit", NULL);
	fd = open("/dev/shm/filler", O_RDWR | O_CREAT, 0600);
	for (i = 0; fd >= 0 && i < 150; i++)	/* 600 KiB */
		if (write(fd, buf, sizeof(buf)) != sizeof(buf))
			bad |= 2;
	if (fd < 0)
		bad |= 2;
	o.size = 512 * KIB;
	r = shmk_arena_create(n, &o, SHMK_OPEN_PORTABLE, &a);
	bad |= !reason_ok(r, -ENOSPC, shmk_arena_error(NULL), "/dev/shm",
			  "free of 1 MiB", NULL) ? 4 : 0;
	o.size = 256 * KIB;
	r = shmk_arena_create(n, &o, SHMK_OPEN_PORTABLE, &a);
	if (r == 0)
		shmk_arena_detach(a);
	else
		bad |= 8;
	return bad;
}

static void test_tmpfs(void)
{
	struct shmk_arena_opts o;
	struct shmk_arena *a;
	struct statvfs sv;
	char n[64];
	int r;

	memset(&o, 0, sizeof(o));
	o.size = 1ULL << 40;
	fresh(n, sizeof(n), "tib");
	if (statvfs("/dev/shm", &sv) == 0 && sv.f_blocks &&
	    (uint64_t)sv.f_blocks * sv.f_frsize < o.size) {
		r = shmk_arena_create(n, &o, SHMK_OPEN_PORTABLE, &a);
		tap_ok(reason_ok(r, -EFBIG, shmk_arena_error(NULL), "TiB",
				 "/dev/shm", NULL),
		       "portable: 1 TiB on a smaller /dev/shm: -EFBIG, gives "
		       "its size");
		if (r == 0)
			shmk_arena_detach(a);
	} else {
		tap_skip("portable: /dev/shm holds 1 TiB here");
	}
	r = reap(spawn(child_small_shm, NULL));
	if (r == 77)
		tap_skip("portable: no mount namespace for a small tmpfs "
			 "(needs root)");
	else
		ok_eq(r, 0, "portable: on a 1 MiB /dev/shm: 2 MiB -EFBIG, "
		      "512 KiB with 424 KiB free -ENOSPC (sizes named), "
		      "256 KiB fits");
}

static unsigned long long kparam(const char *p)
{
	char path[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/shmk/parameters/%s", p);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/* As another user (no CAP_IPC_OWNER): create until a limit says no. */
static int child_limits(void *p)
{
	struct shmk_arena *held[128];
	struct shmk_arena_opts o;
	char n[64];
	int i, r = 0, good;

	(void)p;
	if (become(NOBODY) < 0)
		return 77;
	memset(&o, 0, sizeof(o));
	o.size = 64 * KIB;
	o.max_members = 4;
	for (i = 0; i < 128; i++) {
		fresh(n, sizeof(n), "lim");
		r = shmk_arena_create(n, &o, SHMK_OPEN_KMOD, &held[i]);
		if (r)
			break;
	}
	good = reason_ok(r, -ENOSPC, shmk_arena_error(NULL), "limit",
			 "max_arenas_per_user=", "max_bytes_per_ns=",
			 "/sys/module/shmk/parameters",
			 "every member slot is live", NULL);
	diag("  after %d arenas", i);
	while (i-- > 0)
		shmk_arena_detach(held[i]);
	return good ? 0 : 1;
}

static void test_kmod_limits(void)
{
	struct shmk_arena_opts o;
	struct shmk_arena *a;
	unsigned long long max = kparam("max_arena_size");
	char n[64], want[64];
	int r;

	fresh(n, sizeof(n), "big");
	memset(&o, 0, sizeof(o));
	o.size = max + 4096;
	if (!max) {
		tap_skip("kmod: max_arena_size unreadable");
	} else {
		snprintf(want, sizeof(want), "max_arena_size, %llu", max);
		r = shmk_arena_create(n, &o, SHMK_OPEN_KMOD, &a);
		tap_ok(reason_ok(r, -EFBIG, shmk_arena_error(NULL), want,
				 NULL),
		       "kmod: above max_arena_size: -EFBIG, names the "
		       "parameter");
		if (r == 0)
			shmk_arena_detach(a);
	}
	if (geteuid() != 0) {
		tap_skip("kmod: the per-user limit needs root (to drop to "
			 "another uid)");
		return;
	}
	r = reap(spawn(child_limits, NULL));
	if (r == 77)
		tap_skip("kmod: cannot drop to uid %d", NOBODY);
	else
		ok_eq(r, 0, "kmod: over a per-user limit: -ENOSPC, lists the "
		      "module's limits");
}

static void test_backend(const struct be *be)
{
	test_lifecycle(be);
	test_access(be);
	test_handle(be);
}

int main(void)
{
	watchdog(120);
	test_backend_choice();
	test_args();
	test_backend(&portable);
	test_portable_objects();
	test_tmpfs();
	if (access("/dev/shmk", F_OK) == 0) {
		test_backend(&kmod);
		test_kmod_limits();
	} else {
		tap_skip("kmod: no /dev/shmk here (the VM suite runs these)");
	}
	return tap_done();
}
