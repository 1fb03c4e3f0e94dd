// SPDX-License-Identifier: GPL-2.0
/*
 * t_ns: IPC namespace isolation for the whole life of a namespace.
 *
 * An arena belongs to the IPC namespace it was created in. When that
 * namespace dies its inode number is recycled by the next namespace the
 * kernel makes; the arena must stay out of reach of every other namespace
 * all the same. The attacker here is what issue 10 describes: uid 65534 in
 * a user namespace of its own, looping unshare(CLONE_NEWIPC) until its new
 * namespace has the dead one's inode number, trying ATTACH and REMOVE by
 * name each time. The tests check that the inode number does come back
 * (else the attack was not tried) and that the arena never does.
 *
 * A persistent arena of a dead namespace is freed (as SysV IPC objects
 * are); a live one whose namespace died stays usable by its members and
 * goes with the last of them.
 */
#include "kt.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define ATTACKER_UID	65534
/*
 * Inode numbers are handed out lowest free first, and a namespace's
 * number is freed a grace period after its death (a work item, behind
 * whatever else is being freed). The attacker keeps the namespaces it
 * makes below the victim's number alive (an open /proc/self/ns/ipc), so
 * its numbers climb through the free ones; past the victim's it makes
 * and drops one per millisecond (no event says the number is free) until
 * it gets the victim's, then tries ATTACK_AFTER more. At most ATTACK_MAX
 * namespaces held, ATTACK_MS in all.
 */
#define ATTACK_AFTER	16
#define ATTACK_MAX	2000
#define ATTACK_MS	15000

/* The inode number of the caller's IPC namespace, or 0. */
static unsigned long ipc_ns_inode(void)
{
	struct stat st;

	if (stat("/proc/self/ns/ipc", &st) < 0)
		return 0;
	return (unsigned long)st.st_ino;
}

/* Shared between a case and its children through pipes only. */
struct nsrun {
	char name[SHMK_NAME_MAX];
	unsigned long victim_ino;	/* the namespace that dies */
	uint32_t flags;			/* the victim's ATTACH flags */
	struct kt_pipe ready;		/* child -> case: one message each */
	struct kt_pipe go;		/* case -> child */
};

/*
 * The victim, root in a new IPC namespace: creates @name 0600 with a
 * marker in word 0, reports its namespace's inode number, then either
 * exits (persistent arena left behind) or moves itself into another new
 * namespace and stays a member until told to check and leave.
 */
static int victim_main(void *arg)
{
	struct nsrun *r = arg;
	struct kt_member m;
	unsigned long ino;

	KT_EQ(unshare(CLONE_NEWIPC), 0);
	ino = ipc_ns_inode();
	KT_TRUE(ino != 0);
	KT_RET(kt_join(&m, r->name, 4096, r->flags, 0600), 0);
	*kt_word(&m, 0) = 0x5eed;
	if (r->flags & SHMK_ATTACH_PERSISTENT) {
		kt_leave(&m, true);
		KT_RET(kt_post(r->ready.w, &ino, sizeof(ino)), 0);
		return KT_PASS;
	}
	/* Leave the namespace behind; it dies, the arena does not. */
	KT_EQ(unshare(CLONE_NEWIPC), 0);
	KT_RET(kt_post(r->ready.w, &ino, sizeof(ino)), 0);
	KT_RET(kt_await(r->go.r, NULL, 0, 20000), 0);
	KT_EQ(*kt_word(&m, 0), 0x5eed);
	KT_EQ(m.ctrl->members_live, 1);
	kt_leave(&m, true);
	return KT_PASS;
}

/* The attacker's side of a case. */
struct attacker {
	struct nsrun *r;
	struct kt_pipe up;		/* attacker -> case */
	struct kt_pipe down;		/* case -> attacker: victim's inode */
	pid_t pid;
};

/*
 * The attacker: uid 65534 with a user namespace of its own (in which it
 * may make IPC namespaces, and has CAP_IPC_OWNER over them), made before
 * the victim's namespace dies so that it does not take the recycled
 * inode number itself. Then new IPC namespaces (see ATTACK_AFTER), trying
 * ATTACH and REMOVE in each. KT_FAIL if the name was ever found, KT_SKIP
 * without user namespaces; how many of its namespaces had the victim's
 * inode number goes back up.
 */
static int attacker_main(void *arg)
{
	struct attacker *a = arg;
	struct shmk_attach at;
	struct rlimit nofile = { ATTACK_MAX + 64, ATTACK_MAX + 64 };
	unsigned long victim;
	int i, fd, reused = 0, ret, ok = 1, after = 0;
	uint64_t end;

	KT_EQ(setrlimit(RLIMIT_NOFILE, &nofile), 0);
	if (setresgid(ATTACKER_UID, ATTACKER_UID, ATTACKER_UID) < 0 ||
	    setresuid(ATTACKER_UID, ATTACKER_UID, ATTACKER_UID) < 0) {
		kt_diag("cannot become uid %d", ATTACKER_UID);
		return KT_FAIL;
	}
	if (unshare(CLONE_NEWUSER) < 0) {
		kt_diag("no unprivileged user namespaces here: %s",
			strerror(errno));
		ok = 0;
	}
	KT_RET(kt_post(a->up.w, &ok, sizeof(ok)), 0);
	if (!ok)
		return KT_SKIP;
	KT_RET(kt_await(a->down.r, &victim, sizeof(victim), 20000), 0);
	fd = kt_open();
	KT_TRUE(fd >= 0);
	end = kt_now_ns() + ATTACK_MS * 1000000ULL;
	for (i = 0; after < ATTACK_AFTER && i < ATTACK_MAX * 8 &&
	     kt_now_ns() < end; i++) {
		if (unshare(CLONE_NEWIPC) < 0) {
			kt_diag("try %d: unshare(CLONE_NEWIPC): %s", i,
				strerror(errno));
			return KT_FAIL;
		}
		if (ipc_ns_inode() < victim) {
			/* Held until exit: see ATTACK_MAX. */
			KT_TRUE(open("/proc/self/ns/ipc", O_RDONLY) >= 0);
		} else if (ipc_ns_inode() > victim && !reused) {
			kt_pause();
		}
		if (ipc_ns_inode() == victim)
			reused++;
		if (reused)
			after++;
		ret = kt_attach(fd, a->r->name, 0, SHMK_ATTACH_RDONLY, 0, &at);
		if (ret != -ENOENT) {
			kt_diag("try %d: ATTACH %s in a namespace with inode %lu: %s",
				i, a->r->name, ipc_ns_inode(), kt_errname(ret));
			return KT_FAIL;
		}
		KT_RET(kt_remove(fd, a->r->name), -ENOENT);
	}
	close(fd);
	kt_diag("%d namespaces tried", i);
	KT_RET(kt_post(a->up.w, &reused, sizeof(reused)), 0);
	return KT_PASS;
}

/* Starts the attacker up to its user namespace. */
static int attacker_start(struct attacker *a, struct nsrun *r)
{
	int ok = 0;

	memset(a, 0, sizeof(*a));
	a->r = r;
	KT_RET(kt_pipe_open(&a->up), 0);
	KT_RET(kt_pipe_open(&a->down), 0);
	a->pid = kt_fork(attacker_main, a);
	KT_TRUE(a->pid > 0);
	KT_RET(kt_await(a->up.r, &ok, sizeof(ok), KT_TIMEOUT_MS), 0);
	if (!ok) {
		kt_reap(a->pid);
		return kt_skip("no unprivileged user namespaces");
	}
	return KT_PASS;
}

/* Lets it loop against r->victim_ino; its verdict. */
static int attack(struct attacker *a)
{
	int reused = 0, rc;

	KT_RET(kt_post(a->down.w, &a->r->victim_ino,
		       sizeof(a->r->victim_ino)), 0);
	rc = kt_await(a->up.r, &reused, sizeof(reused), ATTACK_MS + 5000);
	KT_EQ(kt_reap(a->pid), KT_PASS);
	KT_RET(rc, 0);
	kt_diag("%d attacker namespaces had the dead one's inode %lu",
		reused, a->r->victim_ino);
	/* Without reuse the attack was not tried: say so, do not pass. */
	if (!reused)
		return kt_skip("the kernel never reused inode %lu",
			       a->r->victim_ino);
	return KT_PASS;
}

static int nsrun_open(struct nsrun *r, const char *tag, uint32_t flags)
{
	memset(r, 0, sizeof(*r));
	kt_name(r->name, tag);
	r->flags = flags;
	KT_RET(kt_pipe_open(&r->ready), 0);
	KT_RET(kt_pipe_open(&r->go), 0);
	return KT_PASS;
}

/* A line "<ino> <arenas> <bytes> <state>" of debugfs namespaces, or 0. */
static int ns_listed(unsigned long ino, long *arenas, char state[8])
{
	char buf[16384], *line, *save = NULL, st[8];
	unsigned long i;
	long n, bytes;
	FILE *f;
	size_t len;

	f = fopen("/sys/kernel/debug/shmk/namespaces", "r");
	if (!f)
		return -errno;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%lu %ld %ld %7s", &i, &n, &bytes, st) == 4 &&
		    i == ino) {
			*arenas = n;
			memcpy(state, st, sizeof(st));
			return 1;
		}
	}
	return 0;
}

/*
 * Root's persistent 0600 arena, its namespace dead: never reachable from
 * the attacker's namespaces, even those with the same inode number; and
 * freed (stats back to where they were).
 */
static int t_dead_persistent(void)
{
	struct kt_stats s0, s1;
	struct attacker a;
	struct nsrun r;
	long n;
	char st[8];
	pid_t pid;

	KT_RET(kt_stats(&s0), 0);
	KT_DO(nsrun_open(&r, "nsp", SHMK_ATTACH_CREATE | SHMK_ATTACH_EXCL |
			 SHMK_ATTACH_PERSISTENT));
	KT_DO(attacker_start(&a, &r));
	pid = kt_fork(victim_main, &r);
	KT_RET(kt_await(r.ready.r, &r.victim_ino, sizeof(r.victim_ino),
			KT_TIMEOUT_MS), 0);
	KT_EQ(kt_reap(pid), KT_PASS);
	KT_DO(attack(&a));
	/* Reading the stats frees what dead namespaces left. */
	KT_RET(kt_stats(&s1), 0);
	KT_EQ(s1.arenas, s0.arenas);
	KT_EQ(s1.pages, s0.pages);
	KT_EQ(ns_listed(r.victim_ino, &n, st), 0);
	return KT_PASS;
}

/*
 * Root's live non-persistent arena whose creator moved itself into
 * another namespace: the old namespace dies, the arena lives on for its
 * member only, listed under a dead namespace until the member leaves.
 */
static int t_dead_live(void)
{
	struct kt_stats s0, s1;
	struct attacker a;
	struct nsrun r;
	long n = 0;
	char st[8] = "";
	pid_t pid;

	KT_RET(kt_stats(&s0), 0);
	KT_DO(nsrun_open(&r, "nsl", SHMK_ATTACH_CREATE | SHMK_ATTACH_EXCL));
	KT_DO(attacker_start(&a, &r));
	pid = kt_fork(victim_main, &r);
	KT_RET(kt_await(r.ready.r, &r.victim_ino, sizeof(r.victim_ino),
			KT_TIMEOUT_MS), 0);
	KT_DO(attack(&a));
	KT_RET(kt_stats(&s1), 0);
	KT_EQ(s1.arenas, s0.arenas + 1);
	KT_EQ(ns_listed(r.victim_ino, &n, st), 1);
	KT_EQ(n, 1);
	KT_TRUE(!strcmp(st, "dead"));
	KT_RET(kt_post(r.go.w, NULL, 0), 0);
	KT_EQ(kt_reap(pid), KT_PASS);
	KT_RET(kt_stats(&s1), 0);
	KT_EQ(s1.arenas, s0.arenas);
	KT_EQ(s1.pages, s0.pages);
	return KT_PASS;
}

/* A namespace kept alive by a second process keeps its arenas named. */
static int holder_main(void *arg)
{
	struct nsrun *r = arg;
	struct kt_member m;
	unsigned long ino;

	KT_EQ(unshare(CLONE_NEWIPC), 0);
	ino = ipc_ns_inode();
	KT_RET(kt_join(&m, r->name, 4096, SHMK_ATTACH_CREATE |
		       SHMK_ATTACH_PERSISTENT, 0600), 0);
	*kt_word(&m, 0) = 0x77;
	kt_leave(&m, true);
	KT_RET(kt_post(r->ready.w, &ino, sizeof(ino)), 0);
	/* Nobody is attached now; the namespace lives while we do. */
	KT_RET(kt_await(r->go.r, NULL, 0, 20000), 0);
	KT_RET(kt_join(&m, r->name, 0, 0, 0), 0);
	KT_EQ(*kt_word(&m, 0), 0x77);
	kt_leave(&m, true);
	KT_RET(kt_remove(kt_open(), r->name), 0);
	return KT_PASS;
}

static int t_live_namespace_keeps(void)
{
	struct kt_stats s0, s1;
	struct nsrun r;
	long n = 0;
	char st[8] = "";
	pid_t pid;

	KT_RET(kt_stats(&s0), 0);
	KT_DO(nsrun_open(&r, "nsk", 0));
	pid = kt_fork(holder_main, &r);
	KT_RET(kt_await(r.ready.r, &r.victim_ino, sizeof(r.victim_ino),
			KT_TIMEOUT_MS), 0);
	/* A gc pass (stats read) must not take a live namespace's arena. */
	KT_RET(kt_stats(&s1), 0);
	KT_EQ(s1.arenas, s0.arenas + 1);
	KT_EQ(ns_listed(r.victim_ino, &n, st), 1);
	KT_TRUE(!strcmp(st, "live"));
	KT_RET(kt_post(r.go.w, NULL, 0), 0);
	KT_EQ(kt_reap(pid), KT_PASS);
	KT_RET(kt_stats(&s1), 0);
	KT_EQ(s1.arenas, s0.arenas);
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "dead namespace, persistent root arena: unreachable, freed",
	  t_dead_persistent },
	{ "dead namespace, live arena of a moved creator: unreachable",
	  t_dead_live },
	{ "live namespace with nobody attached keeps its persistent arena",
	  t_live_namespace_keeps },
};

int main(int argc, char **argv)
{
	struct stat st;
	mode_t saved = 0;
	bool changed = false;
	int rc;

	/* The attacker is unprivileged: it needs the node open to all. */
	if (stat(SHMK_DEVICE_PATH, &st) == 0 && (st.st_mode & 0666) != 0666) {
		saved = st.st_mode & 07777;
		if (chmod(SHMK_DEVICE_PATH, 0666) == 0)
			changed = true;
	}
	rc = kt_main(argc, argv, cases, KT_ARRAY_SIZE(cases));
	if (changed)
		chmod(SHMK_DEVICE_PATH, saved);
	return rc;
}
