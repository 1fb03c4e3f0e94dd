// SPDX-License-Identifier: GPL-2.0
/*
 * t_stall: no global lock is held across work that grows with an arena's
 * size. While one process creates the biggest arena the module allows
 * (its pages are allocated and zeroed one by one), another, in another
 * arena, must be able to attach, see a member die, detach and read
 * debugfs, all before that creation returns.
 *
 * "Before it returns" is observed, not timed: the creator raises a flag
 * in shared memory before its ATTACH and drops it after, and counts its
 * rounds; the module's page counter (debugfs stats) shows the allocation
 * under way. An operation counts if the allocation was under way when it
 * started and the same ATTACH had not returned when it ended. The latencies
 * (idle and during the creation) are printed as a figure, never asserted.
 */
#include "kt.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

/* At most this big: the VM has 1 GiB. */
#define STALL_MAX_SIZE	(256ULL << 20)
#define ROUNDS		8

struct shared {
	volatile int in_attach;		/* the creator is inside ATTACH */
	volatile int rounds_done;
	volatile int stop;
	char name[SHMK_NAME_MAX];
	uint64_t size;
};

static int creator_main(void *arg)
{
	struct shared *sh = arg;
	struct shmk_attach at;
	int fd, r, i;

	for (i = 0; i < ROUNDS && !sh->stop; i++) {
		fd = kt_open();
		KT_TRUE(fd >= 0);
		__atomic_store_n(&sh->in_attach, 1, __ATOMIC_SEQ_CST);
		r = kt_attach(fd, sh->name, sh->size,
			      SHMK_ATTACH_CREATE | SHMK_ATTACH_EXCL, 0600, &at);
		__atomic_store_n(&sh->in_attach, 0, __ATOMIC_SEQ_CST);
		KT_RET(r, 0);
		KT_RET(kt_detach(fd), 0);
		close(fd);
		__atomic_add_fetch(&sh->rounds_done, 1, __ATOMIC_SEQ_CST);
	}
	return KT_PASS;
}

static int victim_main(void *arg)
{
	struct kt_member m;

	KT_RET(kt_join(&m, arg, 0, 0, 0), 0);
	pause();
	return KT_PASS;
}

/*
 * Attach to @name, see a member of it killed (its EXIT event), read
 * debugfs arenas, detach. The wall time in ns, or 0 on failure.
 */
static uint64_t small_ops(const char *name)
{
	struct shmk_event ev;
	struct kt_member m;
	uint64_t t0 = kt_now_ns();
	pid_t pid;

	if (kt_join(&m, name, 4096, SHMK_ATTACH_CREATE, 0600))
		return 0;
	pid = kt_fork(victim_main, (void *)name);
	while (m.ctrl->members_live < 2 && kt_now_ns() - t0 < 5000000000ULL)
		kt_pause();
	kill(pid, SIGKILL);
	if (kt_read_event(m.fd, &ev, false) != sizeof(ev) ||
	    ev.how != SHMK_END_SIGNAL) {
		kt_reap(pid);
		kt_leave(&m, true);
		return 0;
	}
	kt_reap(pid);
	kt_arena_listed(name);
	kt_leave(&m, true);
	return kt_now_ns() - t0;
}

static int t_create_does_not_stall_others(void)
{
	char small[SHMK_NAME_MAX];
	struct kt_stats st, base;
	struct kt_params p;
	struct shared *sh;
	uint64_t idle = 0, during = 0, t, full;
	long started;
	int seen = 0, tries = 0, round;
	pid_t pid;

	KT_RET(kt_params(&p), 0);
	KT_RET(kt_stats(&base), 0);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	KT_TRUE(sh != MAP_FAILED);
	memset(sh, 0, sizeof(*sh));
	kt_name(sh->name, "big");
	kt_name(small, "small");
	sh->size = p.max_arena_size < STALL_MAX_SIZE ? p.max_arena_size :
						       STALL_MAX_SIZE;
	full = sh->size / kt_page_size();
	/* Below a few MiB the allocation is too quick to be caught. */
	if (full < 4096)
		return kt_skip("max_arena_size %llu is too small to watch",
			       (unsigned long long)p.max_arena_size);

	idle = small_ops(small);
	KT_TRUE(idle != 0);

	pid = kt_fork(creator_main, sh);
	while (!seen && sh->rounds_done < ROUNDS) {
		/* The big allocation under way: a tenth of it done. */
		KT_RET(kt_stats(&st), 0);
		started = st.pages - base.pages;
		if (!sh->in_attach || started < (long)full / 10 ||
		    started > (long)full * 9 / 10) {
			kt_pause();
			continue;
		}
		round = sh->rounds_done;
		tries++;
		t = small_ops(small);
		KT_TRUE(t != 0);
		during = t;
		KT_RET(kt_stats(&st), 0);
		/* Still the same creation, not yet returned. */
		if (sh->in_attach && sh->rounds_done == round &&
		    st.pages - base.pages < (long)full)
			seen = 1;
	}
	sh->stop = 1;
	KT_EQ(kt_reap(pid), KT_PASS);
	kt_diag("figure: attach + a member's death + debugfs read + detach: %.2f ms idle, %.2f ms started during a %llu MiB creation (%d tries, %s)",
		idle / 1e6, during / 1e6,
		(unsigned long long)(sh->size >> 20), tries,
		seen ? "ended before it" : "never ended before it");
	KT_TRUE(seen);
	munmap(sh, sizeof(*sh));
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "a big arena's creation does not stall attach/death/detach/debugfs elsewhere",
	  t_create_does_not_stall_others },
};

int main(int argc, char **argv)
{
	return kt_main(argc, argv, cases, KT_ARRAY_SIZE(cases));
}
