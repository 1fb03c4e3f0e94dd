// SPDX-License-Identifier: GPL-2.0
/*
 * Arenas through the public API, several processes, on the backend that
 * SHMK_BACKEND selects: membership, events (clean exit, crash), wait/wake,
 * lifetime of names.
 */
#include "common.h"

#include <sys/stat.h>

static char name[64];

struct child_args {
	int fd;			/* pipe to the parent */
	int back;		/* pipe from the parent */
	uint64_t off;
	int mode;
};

/* Attach, report id/gen, then detach cleanly or die by SIGKILL. */
static int child_member(void *p)
{
	struct child_args *c = p;
	struct shmk_arena *a;
	struct shmk_arena_info info;
	uint64_t go;

	if (shmk_arena_attach(name, 0, &a))
		return 10;
	shmk_arena_info(a, &info);
	put64(c->fd, ((uint64_t)info.member_id << 32) | info.generation);
	if (get64(c->back, &go, 10000))
		return 11;
	if (c->mode == 1)
		raise(SIGKILL);
	if (c->mode == 2)
		exit(3);	/* without detaching: a crash */
	return shmk_arena_detach(a) ? 12 : 0;
}

/* Wait on a word until woken (exit 0) or anything else (exit 1). */
static int child_waiter(void *p)
{
	struct child_args *c = p;
	struct shmk_arena *a;
	int r;

	if (shmk_arena_attach(name, 0, &a))
		return 10;
	put64(c->fd, 1);
	r = shmk_arena_wait(a, c->off, 0, 10 * 1000000000LL,
			    SHMK_WAIT_NO_EVENTS);
	shmk_arena_detach(a);
	return r == 0 ? 0 : 20 + (-r & 0x3f);
}

static int child_rdonly(void *p)
{
	struct child_args *c = p;
	struct shmk_arena *a;
	uint64_t off, v;
	int r;

	if (shmk_arena_attach(name, SHMK_OPEN_RDONLY, &a))
		return 10;
	v = *(volatile uint64_t *)shmk_arena_ptr(a, c->off);
	r = shmk_alloc(a, 64, 0, 0, &off);
	shmk_arena_detach(a);
	if (v != 0x1234)
		return 11;
	return r == -EROFS ? 0 : 12;
}

static int child_create_and_die(void *p)
{
	struct shmk_arena *a;

	(void)p;
	if (shmk_arena_create(name, NULL, SHMK_OPEN_EXCL, &a))
		return 10;
	raise(SIGKILL);
	return 11;
}

static int child_bad_env(void *p)
{
	struct shmk_arena *a;

	(void)p;
	setenv("SHMK_BACKEND", "bogus", 1);
	return shmk_arena_create(name, NULL, 0, &a) == -EINVAL ? 0 : 1;
}

static void test_membership(struct shmk_arena *a)
{
	struct shmk_arena_info info;
	struct child_args c;
	struct shmk_event ev = { 0 };
	int tofs[2], back[2], mode;
	uint64_t idgen;
	pid_t pid;

	static const char *what[] = { "clean detach", "SIGKILL",
				      "exit without detach" };

	shmk_arena_info(a, &info);
	for (mode = 0; mode < 3; mode++) {
		if (pipe(tofs) || pipe(back))
			return;
		c.fd = tofs[1];
		c.back = back[0];
		c.mode = mode;
		pid = spawn(child_member, &c);
		if (!tap_ok(get64(tofs[0], &idgen, 10000) == 0,
			    "%s: child attached", what[mode])) {
			kill(pid, SIGKILL);
			reap(pid);
			continue;
		}
		tap_ok((uint32_t)(idgen >> 32) != info.member_id &&
		       (uint32_t)idgen != 0,
		       "%s: child has its own id and a generation", what[mode]);
		tap_ok(shmk_arena_member_alive(a, (uint32_t)(idgen >> 32),
					       (uint32_t)idgen) == 1,
		       "%s: child is alive while attached", what[mode]);
		put64(back[1], 1);
		tap_ok(wait_exit(a, (uint32_t)(idgen >> 32), (uint32_t)idgen, &ev, 10000) == 0,
		       "%s: exit event delivered", what[mode]);
		ok_eq(ev.generation, (uint32_t)idgen, "event generation");
		ok_eq(ev.pid, pid, "event pid");
		tap_ok(ev.time_ns != 0, "%s: event has a time", what[mode]);
		if (mode == 0) {
			ok_eq(ev.how, SHMK_END_DETACH, "clean: how = DETACH");
			ok_eq(ev.flags & SHMK_EVENT_F_CRASH, 0,
			      "clean: no crash flag");
		} else if (mode == 1) {
			ok_eq(ev.how, SHMK_END_SIGNAL, "kill: how = SIGNAL");
			ok_eq(ev.status, SIGKILL, "kill: status = SIGKILL");
			ok_eq(!!(ev.flags & SHMK_EVENT_F_CRASH), 1,
			      "kill: crash flag");
		} else {
			ok_eq(ev.how, SHMK_END_EXIT, "exit: how = EXIT");
			ok_eq(ev.status, 3, "exit: status = 3");
			ok_eq(!!(ev.flags & SHMK_EVENT_F_CRASH), 1,
			      "exit: crash flag");
		}
		tap_ok(shmk_arena_member_alive(a, (uint32_t)(idgen >> 32),
					       (uint32_t)idgen) == 0,
		       "%s: child no longer alive", what[mode]);
		reap(pid);
		close(tofs[0]);
		close(tofs[1]);
		close(back[0]);
		close(back[1]);
	}
}

static void test_wait_wake(struct shmk_arena *a)
{
	struct child_args c;
	uint64_t off, v, end;
	int tofs[2], r, woke = 0;
	pid_t pid;

	shmk_arena_root(a, 3, &off);
	*(volatile uint32_t *)shmk_arena_ptr(a, off) = 0;
	ok_eq(shmk_arena_wait(a, off, 1, 1000000, 0), -EAGAIN,
	      "wait on a word that differs: -EAGAIN");
	ok_eq(shmk_arena_wait(a, off, 0, 20 * 1000000LL, 0), -ETIMEDOUT,
	      "wait times out");
	ok_eq(shmk_arena_wait(a, off + 1, 0, 0, 0), -EINVAL,
	      "unaligned wait: -EINVAL");
	ok_eq(shmk_arena_wait(a, 1ULL << 50, 0, 0, 0), -EINVAL,
	      "out of range wait: -EINVAL");
	ok_eq(shmk_arena_wake(a, off, 0), -EINVAL, "wake of 0: -EINVAL");
	ok_eq(shmk_arena_wake(a, off, 1), 0, "wake with no waiter: 0");

	if (pipe(tofs))
		return;
	c.fd = tofs[1];
	c.off = off;
	pid = spawn(child_waiter, &c);
	get64(tofs[0], &v, 10000);
	/* wake until somebody was actually asleep on it */
	end = now_ms() + 10000;
	while (now_ms() < end) {
		r = shmk_arena_wake(a, off, SHMK_WAKE_ALL);
		if (r == 1) {
			woke = 1;
			break;
		}
		sched_yield();
	}
	tap_ok(woke, "wake found the other process asleep and woke it");
	ok_eq(reap(pid), 0, "the sleeper returned 0 (woken)");
	close(tofs[0]);
	close(tofs[1]);
}

/* A waiter learns at once that a peer died (SHMK_WAIT_EVENT). */
static void test_wait_event(struct shmk_arena *a)
{
	struct child_args c;
	struct shmk_event ev = { 0 };
	int tofs[2], back[2];
	uint64_t off, idgen;
	pid_t pid;
	int r;

	shmk_arena_root(a, 4, &off);
	while (shmk_arena_events(a, &ev, 1) > 0)
		;	/* start with nothing pending */
	if (pipe(tofs) || pipe(back))
		return;
	c.fd = tofs[1];
	c.back = back[0];
	c.mode = 1;
	pid = spawn(child_member, &c);
	get64(tofs[0], &idgen, 10000);
	put64(back[1], 1);	/* it kills itself now */
	r = shmk_arena_wait(a, off, 0, 10 * 1000000000LL, 0);
	ok_eq(r, SHMK_WAIT_EVENT, "a blocked wait returns SHMK_WAIT_EVENT when a peer dies");
	tap_ok(wait_exit(a, (uint32_t)(idgen >> 32), (uint32_t)idgen, &ev, 10000) == 0 &&
	       (ev.flags & SHMK_EVENT_F_CRASH),
	       "and the crash event is there");
	ok_eq(shmk_arena_wait(a, off, 0, 1000000, 0), -ETIMEDOUT,
	      "once read, waits sleep again");
	reap(pid);
	close(tofs[0]);
	close(tofs[1]);
	close(back[0]);
	close(back[1]);
}

static void test_lifetime(void)
{
	char path[128];
	struct shmk_arena *a, *b;
	struct shmk_arena_opts o;
	struct child_args c;
	uint64_t off;
	pid_t pid;

	memset(&o, 0, sizeof(o));
	mkname(name, sizeof(name), "t_arena.life");
	snprintf(path, sizeof(path), "/dev/shm/shmk.%s", name);
	ok_eq(shmk_arena_attach(name, 0, &a), -ENOENT,
	      "attach to a missing arena: -ENOENT");
	ok_eq(shmk_arena_create(name, NULL, 0, &a), 0, "create");
	ok_eq(shmk_arena_create(name, NULL, SHMK_OPEN_EXCL, &b), -EEXIST,
	      "exclusive create of an existing arena: -EEXIST");
	ok_eq(shmk_arena_detach(a), 0, "last member detaches");
	ok_eq(shmk_arena_attach(name, 0, &a), -ENOENT,
	      "the arena went with its last member");
	if (backend_env() && !strcmp(backend_env(), "portable"))
		tap_ok(access(path, F_OK) < 0, "no object left in /dev/shm");

	/* a crashed last member leaves nothing that blocks a new create */
	pid = spawn(child_create_and_die, NULL);
	ok_eq(reap(pid), 128 + SIGKILL, "creator killed");
	ok_eq(shmk_arena_create(name, NULL, SHMK_OPEN_EXCL, &a), 0,
	      "exclusive create after the last member crashed");
	shmk_arena_detach(a);

	/* persistent arenas outlive their members until removed */
	o.size = 256 * 1024;
	ok_eq(shmk_arena_create(name, &o, SHMK_OPEN_PERSISTENT, &a), 0,
	      "create persistent");
	shmk_arena_root(a, 0, &off);
	*(volatile uint64_t *)shmk_arena_ptr(a, off) = 0x1234;
	shmk_arena_detach(a);
	ok_eq(shmk_arena_attach(name, 0, &a), 0,
	      "persistent arena still there after its last member left");
	ok_eq(*(volatile uint64_t *)shmk_arena_ptr(a, off), 0x1234,
	      "with its contents");
	c.off = off;
	pid = spawn(child_rdonly, &c);
	ok_eq(reap(pid), 0, "read-only member reads, cannot allocate");
	ok_eq(shmk_arena_remove(name, 0), 0, "remove");
	ok_eq(shmk_arena_attach(name, 0, &b), -ENOENT,
	      "removed: no new members");
	shmk_arena_detach(a);
	ok_eq(shmk_arena_remove(name, 0), -ENOENT, "remove again: -ENOENT");
}

static void test_args(void)
{
	struct shmk_arena *a;
	struct shmk_arena_opts o;
	pid_t pid;

	memset(&o, 0, sizeof(o));
	ok_eq(shmk_arena_create("a/b", NULL, 0, &a), -EINVAL,
	      "name with '/': -EINVAL");
	ok_eq(shmk_arena_create("", NULL, 0, &a), -EINVAL, "empty name");
	ok_eq(shmk_arena_create("two words", NULL, 0, &a), -EINVAL,
	      "a space in the name");
	ok_eq(shmk_arena_create("line\nbreak", NULL, 0, &a), -EINVAL,
	      "a newline in the name");
	ok_eq(shmk_arena_create("a/b", NULL, 0, &a), -EINVAL, "a '/' in the name");
	ok_eq(shmk_arena_create(name, NULL,
				SHMK_OPEN_KMOD | SHMK_OPEN_PORTABLE, &a),
	      -EINVAL, "two backends: -EINVAL");
	ok_eq(shmk_arena_attach(name, SHMK_OPEN_EXCL, &a), -EINVAL,
	      "EXCL on attach: -EINVAL");
	o.reserved[2] = 1;
	ok_eq(shmk_arena_create(name, &o, 0, &a), -EINVAL,
	      "reserved option set: -EINVAL");
	pid = spawn(child_bad_env, NULL);
	ok_eq(reap(pid), 0, "SHMK_BACKEND=bogus: -EINVAL");
}

/* 64, or the module's max_members if that is less (kmod). */
static unsigned int default_members(const char *backend)
{
	unsigned int n = 64, m;
	FILE *f;

	if (strcmp(backend, "kmod"))
		return n;
	f = fopen("/sys/module/shmk/parameters/max_members", "r");
	if (f) {
		if (fscanf(f, "%u", &m) == 1 && m < n)
			n = m;
		fclose(f);
	}
	return n;
}

int main(void)
{
	struct shmk_arena *a;
	struct shmk_arena_info info;
	uint64_t off;
	int r, saved;

	watchdog(120);
	mkname(name, sizeof(name), "t_arena");
	errno = 1234;
	r = shmk_arena_create(name, NULL, SHMK_OPEN_EXCL, &a);
	saved = errno;
	if (!tap_ok(r == 0, "create arena %s", name)) {
		diag("create: %s", strerror(-r));
		return tap_done();
	}
	ok_eq(saved, 1234, "errno untouched");
	shmk_arena_info(a, &info);
	tap_ok(info.member_id >= 1 && info.generation != 0,
	       "member id %u, generation %u", info.member_id, info.generation);
	if (backend_env())
		tap_ok(!strcmp(info.backend, backend_env()),
		       "backend is %s", info.backend);
	tap_ok(info.heap_offset < info.size && info.heap_size > 0,
	       "heap inside the user region");
	/* the defaults shmk.h documents (the module may allow fewer ids) */
	ok_eq(info.member_max, default_members(info.backend),
	      "default max_members 64");
	ok_eq(info.refs_per_member, 256, "default refs_per_member 256");
	ok_eq(info.reserve_bytes, 4096, "default reserve_bytes 4096");
	ok_eq(info.size, 1 << 20, "default size 1 MiB");
	ok_eq(shmk_arena_off(a, shmk_arena_ptr(a, 4096)), 4096,
	      "ptr/off round trip");
	ok_eq((long long)(intptr_t)shmk_arena_ptr(a, info.size), 0,
	      "pointer past the end is NULL");
	ok_eq(shmk_arena_root(a, SHMK_ROOTS, &off), -EINVAL, "root index bound");
	tap_ok(shmk_arena_event_fd(a) >= 0, "event fd");
	ok_eq(shmk_arena_events(a, NULL, 0), 0, "no events yet");

	test_membership(a);
	test_wait_wake(a);
	test_wait_event(a);
	test_args();
	ok_eq(shmk_arena_detach(a), 0, "detach");
	test_lifetime();
	return tap_done();
}
