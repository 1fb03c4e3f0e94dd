// SPDX-License-Identifier: GPL-2.0
/*
 * t_abi: SHMK_IOC_VERSION handshake, ioctl number validation, user pointer
 * faults. Struct sizes are pinned at compile time in kt.h.
 */
#include "kt.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

static int version_call(struct shmk_version *v)
{
	int fd = kt_open(), r;

	if (fd < 0)
		return fd;
	r = (int)kt_ioctl(fd, SHMK_IOC_VERSION, v);
	close(fd);
	return r;
}

static int t_version_outputs(void)
{
	struct shmk_version v;
	struct kt_params p;
	uint64_t x;
	int i;

	memset(&v, 0, sizeof(v));
	v.abi_version = SHMK_ABI_VERSION;
	KT_RET(version_call(&v), 0);
	KT_EQ(v.kernel_abi_version, SHMK_ABI_VERSION);
	KT_EQ(v.abi_version, SHMK_ABI_VERSION);
	KT_EQ(v.flags, 0);
	KT_TRUE(v.features != 0);
	KT_EQ(v.ioctls, 0x7f);
	for (i = 0; i < 4; i++)
		KT_EQ(v.reserved[i], 0);
	KT_TRUE(v.member_max > 0);
	KT_TRUE(v.arenas_max > 0);
	KT_TRUE(v.arena_size_max > 0);
	KT_TRUE(v.event_queue_len > 0);

	/* The limits are the module parameters. */
	KT_RET(kt_param_u64("max_members", &x), 0);
	KT_EQ(v.member_max, x);
	KT_RET(kt_param_u64("max_arenas", &x), 0);
	KT_EQ(v.arenas_max, x);
	KT_RET(kt_param_u64("max_arena_size", &x), 0);
	KT_EQ(v.arena_size_max, x);
	KT_RET(kt_param_u64("event_queue_len", &x), 0);
	KT_EQ(v.event_queue_len, x);
	KT_RET(kt_params(&p), 0);
	return KT_PASS;
}

static int t_version_ioctl_mask(void)
{
	struct shmk_version v;
	unsigned long cmds[] = {
		SHMK_IOC_VERSION, SHMK_IOC_ATTACH, SHMK_IOC_DETACH,
		SHMK_IOC_WAIT, SHMK_IOC_WAKE, SHMK_IOC_SET_ROBUST,
		SHMK_IOC_REMOVE,
	};
	uint64_t want = 0;
	size_t i;

	for (i = 0; i < KT_ARRAY_SIZE(cmds); i++)
		want |= 1ull << _IOC_NR(cmds[i]);
	memset(&v, 0, sizeof(v));
	v.abi_version = SHMK_ABI_VERSION;
	KT_RET(version_call(&v), 0);
	KT_EQ(v.ioctls, want);
	return KT_PASS;
}

static int t_version_features(void)
{
	/* Everything the module is required to implement is advertised. */
	const uint64_t need = SHMK_FEATURE_WAIT_ABSTIME | SHMK_FEATURE_ROBUST |
			      SHMK_FEATURE_PERSISTENT | SHMK_FEATURE_RDONLY |
			      SHMK_FEATURE_EVENTS;
	struct shmk_version v;

	memset(&v, 0, sizeof(v));
	v.abi_version = SHMK_ABI_VERSION;
	KT_RET(version_call(&v), 0);
	if ((v.features & need) != need)
		kt_diag("features 0x%llx, missing 0x%llx",
			(unsigned long long)v.features,
			(unsigned long long)(need & ~v.features));
	KT_EQ(v.features & need, need);
	return KT_PASS;
}

static int t_version_bad_flags(void)
{
	struct shmk_version v;
	uint32_t bad[] = { 1u, 2u, 0x80000000u };
	size_t i;

	for (i = 0; i < KT_ARRAY_SIZE(bad); i++) {
		memset(&v, 0, sizeof(v));
		v.abi_version = SHMK_ABI_VERSION;
		v.flags = bad[i];
		KT_RET(version_call(&v), -EINVAL);
	}
	return KT_PASS;
}

static int t_version_abi_zero(void)
{
	struct shmk_version v;

	memset(&v, 0, sizeof(v));
	KT_RET(version_call(&v), -EINVAL);
	return KT_PASS;
}

static int t_version_reserved(void)
{
	struct shmk_version v;
	int i;

	for (i = 0; i < 4; i++) {
		memset(&v, 0, sizeof(v));
		v.abi_version = SHMK_ABI_VERSION;
		v.reserved[i] = 1ull << (i * 13);
		KT_RET(version_call(&v), -EINVAL);
	}
	return KT_PASS;
}

static int version_in_child(void *arg)
{
	struct shmk_version v;
	int fd = *(int *)arg;

	KT_RET(kt_version(fd, &v), 0);
	KT_EQ(v.kernel_abi_version, SHMK_ABI_VERSION);
	return KT_PASS;
}

/* VERSION works on an attached fd and on one inherited by a child. */
static int t_version_any_fd(void)
{
	struct shmk_version v;
	char name[SHMK_NAME_MAX];
	int fd;

	kt_name(name, "ver");
	fd = kt_open();
	KT_TRUE(fd >= 0);
	KT_RET(kt_attach(fd, name, 4096, SHMK_ATTACH_CREATE, 0600, NULL), 0);
	KT_RET(kt_version(fd, &v), 0);
	KT_EQ(v.kernel_abi_version, SHMK_ABI_VERSION);
	KT_EQ(kt_reap(kt_fork(version_in_child, &fd)), KT_PASS);
	KT_RET(kt_detach(fd), 0);
	KT_RET(kt_version(fd, &v), 0);
	close(fd);
	return KT_PASS;
}

static int t_unknown_ioctl(void)
{
	unsigned long bad[] = {
		_IO(SHMK_IOC_MAGIC, 0x07),
		_IOWR(SHMK_IOC_MAGIC, 0x07, struct shmk_version),
		_IO(SHMK_IOC_MAGIC, 0x3f),
		_IOWR(SHMK_IOC_MAGIC ^ 1, 0x00, struct shmk_version),
		_IO('T', 0x01),
	};
	char buf[512];
	size_t i;
	int fd = kt_open();

	KT_TRUE(fd >= 0);
	for (i = 0; i < KT_ARRAY_SIZE(bad); i++) {
		memset(buf, 0, sizeof(buf));
		if (kt_ioctl(fd, bad[i], buf) != -ENOTTY)
			kt_diag("cmd 0x%lx", bad[i]);
		KT_RET(kt_ioctl(fd, bad[i], buf), -ENOTTY);
	}
	close(fd);
	return KT_PASS;
}

/* A known ioctl number with a different size (or direction) is unknown. */
static int t_wrong_size_ioctl(void)
{
	unsigned long bad[] = {
		_IOWR(SHMK_IOC_MAGIC, 0x00, __u64),
		_IOWR(SHMK_IOC_MAGIC, 0x00, char[88]),
		_IOWR(SHMK_IOC_MAGIC, 0x01, char[136]),
		_IOWR(SHMK_IOC_MAGIC, 0x01, char[152]),
		_IOW(SHMK_IOC_MAGIC, 0x02, int),
		_IOW(SHMK_IOC_MAGIC, 0x03, char[32]),
		_IOW(SHMK_IOC_MAGIC, 0x04, char[16]),
		_IOW(SHMK_IOC_MAGIC, 0x05, char[32]),
		_IOW(SHMK_IOC_MAGIC, 0x06, char[72]),
	};
	char name[SHMK_NAME_MAX], buf[512];
	size_t i;
	int fd = kt_open();

	KT_TRUE(fd >= 0);
	/* Attached, so that a size mix-up cannot hide behind -ENOTCONN. */
	kt_name(name, "size");
	KT_RET(kt_attach(fd, name, 4096, SHMK_ATTACH_CREATE, 0600, NULL), 0);
	for (i = 0; i < KT_ARRAY_SIZE(bad); i++) {
		memset(buf, 0, sizeof(buf));
		if (kt_ioctl(fd, bad[i], buf) != -ENOTTY)
			kt_diag("cmd 0x%lx (nr %lu size %lu)", bad[i],
				(unsigned long)_IOC_NR(bad[i]),
				(unsigned long)_IOC_SIZE(bad[i]));
		KT_RET(kt_ioctl(fd, bad[i], buf), -ENOTTY);
	}
	/* Still attached and healthy. */
	KT_RET(kt_wake(fd, 0, 1), 0);
	KT_RET(kt_detach(fd), 0);
	close(fd);
	return KT_PASS;
}

/* Bad user pointers are -EFAULT, never a crash. */
static int t_bad_pointers(void)
{
	char name[SHMK_NAME_MAX];
	void *bad = (void *)16;
	int fd = kt_open();

	KT_TRUE(fd >= 0);
	KT_RET(kt_ioctl(fd, SHMK_IOC_VERSION, NULL), -EFAULT);
	KT_RET(kt_ioctl(fd, SHMK_IOC_VERSION, bad), -EFAULT);
	KT_RET(kt_ioctl(fd, SHMK_IOC_ATTACH, bad), -EFAULT);
	KT_RET(kt_ioctl(fd, SHMK_IOC_REMOVE, bad), -EFAULT);
	kt_name(name, "fault");
	KT_RET(kt_attach(fd, name, 4096, SHMK_ATTACH_CREATE, 0600, NULL), 0);
	KT_RET(kt_ioctl(fd, SHMK_IOC_WAIT, bad), -EFAULT);
	KT_RET(kt_ioctl(fd, SHMK_IOC_WAKE, bad), -EFAULT);
	KT_RET(kt_ioctl(fd, SHMK_IOC_SET_ROBUST, bad), -EFAULT);
	KT_RET(kt_wake(fd, 0, 1), 0);
	KT_RET(kt_detach(fd), 0);
	close(fd);
	return KT_PASS;
}

/* Module parameters are published read-only in sysfs and are sane. */
static int t_params(void)
{
	struct kt_params p;
	long pg = kt_page_size();

	KT_RET(kt_params(&p), 0);
	kt_diag("max_arena_size %llu max_arenas %u max_members %u event_queue_len %u",
		(unsigned long long)p.max_arena_size, p.max_arenas,
		p.max_members, p.event_queue_len);
	KT_TRUE(p.max_arena_size >= (uint64_t)pg);
	KT_TRUE(p.max_members >= 2);
	KT_TRUE(p.max_members <= SHMK_LOCK_OWNER_MASK);
	return KT_PASS;
}

static int read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, got = 0;

	if (fd < 0)
		return -errno;
	while ((size_t)got < len - 1) {
		n = read(fd, buf + got, len - 1 - (size_t)got);
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	buf[got] = 0;
	return (int)got;
}

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* FEATURE_FDINFO: the file's fdinfo names its arena once attached. */
static int t_fdinfo(void)
{
	struct shmk_version v;
	char name[SHMK_NAME_MAX], path[64], buf[4096];
	int fd = kt_open();

	KT_TRUE(fd >= 0);
	KT_RET(kt_version(fd, &v), 0);
	if (!(v.features & SHMK_FEATURE_FDINFO))
		return kt_skip("SHMK_FEATURE_FDINFO not advertised");
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	kt_name(name, "fdinfo");
	KT_TRUE(read_text(path, buf, sizeof(buf)) > 0);
	KT_TRUE(strstr(buf, name) == NULL);
	KT_RET(kt_attach(fd, name, 4096, SHMK_ATTACH_CREATE, 0600, NULL), 0);
	KT_TRUE(read_text(path, buf, sizeof(buf)) > 0);
	if (!strstr(buf, name))
		kt_diag("fdinfo: %s", buf);
	KT_TRUE(strstr(buf, name) != NULL);
	KT_RET(kt_detach(fd), 0);
	KT_TRUE(read_text(path, buf, sizeof(buf)) > 0);
	close(fd);
	return KT_PASS;
}

#define TRACING "/sys/kernel/tracing/"

static int robust_victim(void *arg)
{
	const char *nm = arg;
	struct kt_member m;

	if (kt_join(&m, nm, 0, 0, 0) < 0)
		return 100;
	/* An empty robust list: walked on death, nothing to recover. */
	*(volatile uint64_t *)(m.user + 64) = 64;
	*(volatile uint64_t *)(m.user + 72) = 8;
	*(volatile uint64_t *)(m.user + 80) = SHMK_ROBUST_NONE;
	if (kt_set_robust(m.fd, 64) < 0)
		return 101;
	raise(SIGKILL);
	return 102;
}

/*
 * Tracepoints: with the module's trace events enabled, attach, wait, wake
 * and a death with a robust list show up in the trace buffer (events of
 * several distinct kinds, the attach one naming the arena).
 */
static int t_tracepoints(void)
{
	static char buf[1 << 20];
	char name[SHMK_NAME_MAX], kinds[16][48], *p, *q;
	struct kt_member m;
	int n, nkinds = 0, i, r;

	if (access(TRACING "events/shmk/enable", W_OK) < 0)
		return kt_skip("no " TRACING "events/shmk (tracefs?)");
	KT_RET(write_text(TRACING "trace", ""), 0);
	KT_RET(write_text(TRACING "events/shmk/enable", "1"), 0);
	kt_name(name, "trace");
	r = kt_join(&m, name, 4096, SHMK_ATTACH_CREATE, 0600);
	if (r == 0) {
		kt_wait(m.fd, 0, 0, 0, 1000);
		kt_wake(m.fd, 0, 1);
		kt_reap(kt_fork(robust_victim, name));
		kt_leave(&m, true);
	}
	write_text(TRACING "events/shmk/enable", "0");
	KT_RET(r, 0);
	n = read_text(TRACING "trace", buf, sizeof(buf));
	KT_TRUE(n > 0);
	KT_TRUE(strstr(buf, name) != NULL);
	for (p = buf; (p = strstr(p, " shmk_")); p = q) {
		p++;
		q = p;
		while (*q && *q != ':' && *q != ' ' && *q != '\n')
			q++;
		if (*q != ':' || q - p >= 48)
			continue;
		for (i = 0; i < nkinds; i++)
			if (!strncmp(kinds[i], p, (size_t)(q - p)) &&
			    !kinds[i][q - p])
				break;
		if (i == nkinds && nkinds < 16) {
			memcpy(kinds[nkinds], p, (size_t)(q - p));
			kinds[nkinds][q - p] = 0;
			nkinds++;
		}
	}
	for (i = 0; i < nkinds; i++)
		kt_diag("trace event seen: %s", kinds[i]);
	KT_TRUE(nkinds >= 4);
	KT_RET(write_text(TRACING "trace", ""), 0);
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "version: outputs match the module and its parameters",
	  t_version_outputs },
	{ "version: ioctls mask has exactly the 7 ioctl numbers",
	  t_version_ioctl_mask },
	{ "version: features advertise abstime/robust/persistent/rdonly/events",
	  t_version_features },
	{ "version: nonzero flags -> EINVAL", t_version_bad_flags },
	{ "version: abi_version 0 -> EINVAL", t_version_abi_zero },
	{ "version: each nonzero reserved word -> EINVAL",
	  t_version_reserved },
	{ "version: works attached, detached and on an inherited fd",
	  t_version_any_fd },
	{ "unknown ioctl numbers -> ENOTTY", t_unknown_ioctl },
	{ "known ioctl numbers with a wrong size -> ENOTTY",
	  t_wrong_size_ioctl },
	{ "bad user pointers -> EFAULT", t_bad_pointers },
	{ "module parameters readable and sane", t_params },
	{ "fdinfo names the arena (SHMK_FEATURE_FDINFO)", t_fdinfo },
	{ "tracepoints: attach/wait/wake/death events recorded",
	  t_tracepoints },
};

int main(int argc, char **argv)
{
	return kt_main(argc, argv, cases, KT_ARRAY_SIZE(cases));
}
