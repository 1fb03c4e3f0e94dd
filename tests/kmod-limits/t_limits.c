// SPDX-License-Identifier: GPL-2.0
/*
 * t_limits: per-user and per-namespace limits, and the arenas reserved
 * for CAP_IPC_OWNER, so that no unprivileged user can lock others out.
 *
 * The limits are module parameters; this program reads them and needs
 * small ones to stay within the VM's memory (make check-vm loads the
 * module for it with LIMIT_ARGS of the top Makefile):
 *   max_arenas=12 reserved_arenas=3 max_arenas_per_ns=6
 *   max_arenas_per_user=4 max_bytes_per_user=1M max_bytes_per_ns=2M
 * Other values are refused (skip, saying which) rather than guessed at.
 *
 * Unprivileged users are forked children that drop to uids 1001.. (no
 * capabilities left after setresuid); arenas are persistent so that they
 * stay charged after their creator exits, which is the lock-out of issue
 * 10: a user creating all it may and leaving.
 */
#include "kt.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

static const struct {
	const char *name;
	uint64_t want;
} expected[] = {
	{ "max_arenas", 12 },
	{ "reserved_arenas", 3 },
	{ "max_arenas_per_ns", 6 },
	{ "max_arenas_per_user", 4 },
	{ "max_bytes_per_user", 1 << 20 },
	{ "max_bytes_per_ns", 2 << 20 },
};

#define SMALL		4096		/* a 2-page arena with its control page */
#define ARENA_256K	(256 << 10)	/* 3 fit in max_bytes_per_user */
#define ARENA_512K	(512 << 10)	/* 1 per user, 3 per namespace */

/* What a child does as another user: create @n arenas, report results. */
struct job {
	uid_t uid;
	bool new_ipc_ns;		/* unshare(CLONE_NEWIPC) first (as root) */
	uint64_t size;
	int n;
	int hold_r, hold_w;		/* see run_job(); -1 if unused */
	int rets[16];			/* filled by the child, sent back */
	char names[16][SHMK_NAME_MAX];
};

static int job_main(void *arg)
{
	struct job *j = arg;
	struct kt_pipe *back = (struct kt_pipe *)(j + 1);
	struct kt_member m;
	int i;

	if (j->new_ipc_ns)
		KT_EQ(unshare(CLONE_NEWIPC), 0);
	if (j->uid && (setresgid(j->uid, j->uid, j->uid) < 0 ||
		       setresuid(j->uid, j->uid, j->uid) < 0))
		return KT_FAIL;
	for (i = 0; i < j->n; i++) {
		j->rets[i] = kt_join(&m, j->names[i], j->size,
				     SHMK_ATTACH_CREATE | SHMK_ATTACH_EXCL |
				     SHMK_ATTACH_PERSISTENT, 0600);
		if (!j->rets[i])
			kt_leave(&m, true);
	}
	KT_RET(kt_post(back->w, j->rets, sizeof(j->rets)), 0);
	if (j->hold_r >= 0) {
		/* Keep the namespace alive until the case closes @hold. */
		close(j->hold_w);
		KT_RET(kt_await(j->hold_r, NULL, 0, 20000), -EPIPE);
	}
	return KT_PASS;
}

/*
 * Runs @j in a child as j->uid; its results in j->rets. A child in a new
 * IPC namespace stays there (blocked on @hold) until the caller closes
 * @hold, so that its namespace and arenas live on meanwhile; else it
 * exits at once and @hold is unused.
 */
static int run_job(struct job *j, const char *tag, struct kt_pipe *hold,
		   pid_t *pidp)
{
	struct {
		struct job j;
		struct kt_pipe back;
	} *x;
	pid_t pid;
	int i;

	x = calloc(1, sizeof(*x));
	KT_TRUE(x != NULL);
	for (i = 0; i < j->n; i++)
		kt_name(j->names[i], tag);
	j->hold_r = j->hold_w = -1;
	if (hold && j->new_ipc_ns) {
		j->hold_r = hold->r;
		j->hold_w = hold->w;
	}
	x->j = *j;
	KT_RET(kt_pipe_open(&x->back), 0);
	pid = kt_fork(job_main, x);
	KT_TRUE(pid > 0);
	KT_RET(kt_await(x->back.r, j->rets, sizeof(j->rets), KT_TIMEOUT_MS),
	       0);
	if (hold && j->new_ipc_ns) {
		*pidp = pid;
	} else {
		KT_EQ(kt_reap(pid), KT_PASS);
	}
	kt_pipe_close(&x->back);
	free(x);
	return KT_PASS;
}

/* The first @ok results are 0, the rest -ENOSPC. */
static int expect_results(const struct job *j, int ok)
{
	int i;

	for (i = 0; i < j->n; i++) {
		if (j->rets[i] != (i < ok ? 0 : -ENOSPC)) {
			kt_diag("uid %u create %d of %d: %s, want %s", j->uid,
				i + 1, j->n, kt_errname(j->rets[i]),
				i < ok ? "0" : "ENOSPC");
			return KT_FAIL;
		}
	}
	return KT_PASS;
}

/* debugfs users: the arenas and bytes charged to @uid (0, 0 if none). */
static int user_charge(uid_t uid, long *arenas, long *bytes)
{
	char buf[8192], *line, *save = NULL;
	unsigned long u;
	long a, b;
	size_t len;
	FILE *f;

	*arenas = *bytes = 0;
	f = fopen("/sys/kernel/debug/shmk/users", "r");
	if (!f)
		return -errno;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%lu %ld %ld", &u, &a, &b) == 3 && u == uid) {
			*arenas = a;
			*bytes = b;
		}
	}
	return 0;
}

/* Root, in this namespace, creates one small persistent arena. */
static int root_create(int want)
{
	char name[SHMK_NAME_MAX];
	struct kt_member m;

	kt_name(name, "root");
	KT_RET(kt_join(&m, name, SMALL, SHMK_ATTACH_CREATE |
		       SHMK_ATTACH_PERSISTENT, 0600), want);
	if (!want)
		kt_leave(&m, true);
	return KT_PASS;
}

/*
 * The lock-out of issue 10: a user creates all it may and exits; root
 * and other users still can.
 */
static int t_per_user_count(void)
{
	struct job a = { .uid = 1001, .size = SMALL, .n = 6 };
	struct job b = { .uid = 1002, .size = SMALL, .n = 1 };
	long arenas, bytes;

	KT_DO(run_job(&a, "u1", NULL, NULL));
	KT_DO(expect_results(&a, 4));
	KT_RET(user_charge(1001, &arenas, &bytes), 0);
	KT_EQ(arenas, 4);
	KT_EQ(bytes, 4 * 2 * kt_page_size());
	KT_DO(run_job(&b, "u2", NULL, NULL));
	KT_DO(expect_results(&b, 1));
	KT_DO(root_create(0));
	return KT_PASS;
}

/* 3 x (256 KiB + a control page) fit in 1 MiB, a 4th does not. */
static int t_per_user_bytes(void)
{
	struct job a = { .uid = 1001, .size = ARENA_256K, .n = 4 };
	struct kt_stats s0, s1;
	long arenas, bytes;

	KT_RET(kt_stats(&s0), 0);
	KT_DO(run_job(&a, "ub", NULL, NULL));
	KT_DO(expect_results(&a, 3));
	KT_RET(user_charge(1001, &arenas, &bytes), 0);
	KT_EQ(arenas, 3);
	KT_EQ(bytes, 3 * (ARENA_256K + kt_page_size()));
	/* The refused creation left no page behind. */
	KT_RET(kt_stats(&s1), 0);
	KT_EQ(s1.arenas, s0.arenas + 3);
	KT_EQ(s1.pages, s0.pages + 3 * (ARENA_256K / kt_page_size() + 1));
	return KT_PASS;
}

/*
 * Several users in one IPC namespace share its limit (6 arenas); the
 * initial namespace is not affected by it.
 */
static int t_per_ns_count(void)
{
	struct job a = { .uid = 1001, .new_ipc_ns = true, .size = SMALL,
			 .n = 4 };
	struct job b = { .uid = 1002, .size = SMALL, .n = 4 };
	struct job c = { .uid = 1002, .size = SMALL, .n = 1 };
	struct kt_pipe hold;
	pid_t holder = -1;

	/* a: a namespace of its own, 4 arenas, kept alive by the holder. */
	KT_RET(kt_pipe_open(&hold), 0);
	KT_DO(run_job(&a, "n1", &hold, &holder));
	KT_DO(expect_results(&a, 4));
	/* b: joins a's namespace through /proc, gets the 2 left. */
	{
		char path[64];
		struct job *bj = &b;
		pid_t pid;
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/ns/ipc", (int)holder);
		fd = open(path, O_RDONLY);
		KT_TRUE(fd >= 0);
		pid = fork();
		if (pid == 0) {
			if (setns(fd, CLONE_NEWIPC) < 0)
				_exit(KT_FAIL);
			bj->new_ipc_ns = false;
			_exit(run_job(bj, "n2", NULL, NULL) ||
			      expect_results(bj, 2));
		}
		KT_TRUE(pid > 0);
		KT_EQ(kt_reap(pid), KT_PASS);
		close(fd);
	}
	/* c: the same user in the initial namespace is not limited by it. */
	KT_DO(run_job(&c, "n3", NULL, NULL));
	KT_DO(expect_results(&c, 1));
	kt_pipe_close(&hold);
	KT_EQ(kt_reap(holder), KT_PASS);
	return KT_PASS;
}

/* 3 users x (512 KiB + a page) fit in a namespace's 2 MiB, a 4th not. */
static int t_per_ns_bytes(void)
{
	struct job a = { .uid = 1001, .new_ipc_ns = true, .size = ARENA_512K,
			 .n = 1 };
	struct kt_pipe hold;
	pid_t holder = -1, pid;
	char path[64];
	int fd, i;

	KT_RET(kt_pipe_open(&hold), 0);
	KT_DO(run_job(&a, "nb", &hold, &holder));
	KT_DO(expect_results(&a, 1));
	snprintf(path, sizeof(path), "/proc/%d/ns/ipc", (int)holder);
	fd = open(path, O_RDONLY);
	KT_TRUE(fd >= 0);
	for (i = 0; i < 3; i++) {
		pid = fork();
		if (pid == 0) {
			struct job j = { .uid = 1002 + i, .size = ARENA_512K,
					 .n = 1 };

			if (setns(fd, CLONE_NEWIPC) < 0)
				_exit(KT_FAIL);
			_exit(run_job(&j, "nb", NULL, NULL) ||
			      expect_results(&j, i < 2 ? 1 : 0));
		}
		KT_TRUE(pid > 0);
		KT_EQ(kt_reap(pid), KT_PASS);
	}
	close(fd);
	kt_pipe_close(&hold);
	KT_EQ(kt_reap(holder), KT_PASS);
	return KT_PASS;
}

/*
 * Unprivileged users together get max_arenas - reserved_arenas (9);
 * root gets the 3 reserved ones, and nobody a 13th.
 */
static int t_reserve(void)
{
	struct job a = { .uid = 1001, .new_ipc_ns = true, .size = SMALL,
			 .n = 4 };
	struct job b = { .uid = 1002, .new_ipc_ns = true, .size = SMALL,
			 .n = 2 };
	struct job c = { .uid = 1003, .size = SMALL, .n = 4 };
	struct kt_pipe hold;
	pid_t ha = -1, hb = -1;
	int i;

	KT_RET(kt_pipe_open(&hold), 0);
	KT_DO(run_job(&a, "r1", &hold, &ha));	/* 4, namespace 1 */
	KT_DO(expect_results(&a, 4));
	KT_DO(run_job(&b, "r2", &hold, &hb));	/* 2, namespace 2 */
	KT_DO(expect_results(&b, 2));
	KT_DO(run_job(&c, "r3", NULL, NULL));	/* 3 of 4: 9 in all */
	KT_DO(expect_results(&c, 3));
	for (i = 0; i < 3; i++)
		KT_DO(root_create(0));
	KT_DO(root_create(-ENOSPC));
	kt_pipe_close(&hold);
	KT_EQ(kt_reap(ha), KT_PASS);
	KT_EQ(kt_reap(hb), KT_PASS);
	return KT_PASS;
}

/* Removing an arena gives its charge back. */
static int t_uncharge(void)
{
	struct job a = { .uid = 1001, .size = SMALL, .n = 4 };
	struct job b = { .uid = 1001, .size = SMALL, .n = 1 };
	long arenas, bytes;
	int fd;

	KT_DO(run_job(&a, "uc", NULL, NULL));
	KT_DO(expect_results(&a, 4));
	fd = kt_open();
	KT_TRUE(fd >= 0);
	KT_RET(kt_remove(fd, a.names[0]), 0);
	close(fd);
	KT_RET(user_charge(1001, &arenas, &bytes), 0);
	KT_EQ(arenas, 3);
	KT_DO(run_job(&b, "uc", NULL, NULL));
	KT_DO(expect_results(&b, 1));
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "per user: 4 arenas, then ENOSPC; others and root unaffected",
	  t_per_user_count },
	{ "per user: bytes (3 x 256 KiB in 1 MiB), a refused create leaves nothing",
	  t_per_user_bytes },
	{ "per namespace: its users share 6 arenas; other namespaces free",
	  t_per_ns_count },
	{ "per namespace: bytes (3 x 512 KiB in 2 MiB)", t_per_ns_bytes },
	{ "reserve: 9 for users, 3 more for root, then ENOSPC for all",
	  t_reserve },
	{ "remove gives the charge back", t_uncharge },
};

int main(int argc, char **argv)
{
	struct stat st;
	mode_t saved = 0;
	bool changed = false;
	uint64_t v;
	size_t i;
	int rc;

	for (i = 0; i < KT_ARRAY_SIZE(expected); i++) {
		if (kt_param_u64(expected[i].name, &v) < 0 ||
		    v != expected[i].want) {
			printf("1..0 # SKIP module not loaded with %s=%llu (see the top Makefile's LIMIT_ARGS)\n",
			       expected[i].name,
			       (unsigned long long)expected[i].want);
			return KT_SKIP;
		}
	}
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
