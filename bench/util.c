// SPDX-License-Identifier: GPL-2.0
/* shmkbench: clock, histogram, CPU placement, futex and I/O helpers. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

int bench_verbose;

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void logmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------- histogram */
static unsigned int hist_index(uint64_t v)
{
	unsigned int msb, shift, idx;

	if (v < 2 * HIST_SUB)
		return (unsigned int)v;
	msb = 63u - (unsigned int)__builtin_clzll(v);
	shift = msb - HIST_SUB_BITS;
	idx = 2 * HIST_SUB + (shift - 1) * HIST_SUB +
	      (unsigned int)((v >> shift) - HIST_SUB);
	return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

/* Midpoint of bucket @idx. */
static uint64_t hist_value(unsigned int idx)
{
	unsigned int shift, sub;

	if (idx < 2 * HIST_SUB)
		return idx;
	shift = (idx - 2 * HIST_SUB) / HIST_SUB + 1;
	sub = (idx - 2 * HIST_SUB) % HIST_SUB + HIST_SUB;
	return ((uint64_t)sub << shift) + ((1ull << shift) >> 1);
}

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void hist_add(struct hist *h, uint64_t v)
{
	h->count[hist_index(v)]++;
	h->n++;
	h->sum += (double)v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned int i;

	if (!src->n)
		return;
	for (i = 0; i < HIST_BUCKETS; i++)
		dst->count[i] += src->count[i];
	dst->n += src->n;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0, v;
	unsigned int i;

	if (!h->n)
		return 0;
	rank = (uint64_t)(q * (double)(h->n - 1)) + 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen >= rank) {
			v = hist_value(i);
			/* A bucket midpoint can lie outside the observed range. */
			if (v < h->min)
				v = h->min;
			if (v > h->max)
				v = h->max;
			return v;
		}
	}
	return h->max;
}

/* ------------------------------------------------------------ placement */
const char *const placement_name[PL_COUNT] = {
	[PL_PINNED2] = "pinned-2cpu",
	[PL_ONECPU] = "same-cpu",
	[PL_UNPINNED] = "unpinned",
};

static cpu_set_t allowed;
static int allowed_n = -1;
static int cpu_first = -1, cpu_second = -1;

static void cpus_init(void)
{
	int i;

	if (allowed_n >= 0)
		return;
	CPU_ZERO(&allowed);
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0) {
		allowed_n = 1;
		cpu_first = 0;
		return;
	}
	allowed_n = CPU_COUNT(&allowed);
	for (i = 0; i < CPU_SETSIZE; i++) {
		if (!CPU_ISSET(i, &allowed))
			continue;
		if (cpu_first < 0)
			cpu_first = i;
		else if (cpu_second < 0)
			cpu_second = i;
	}
}

int cpus_allowed(void)
{
	cpus_init();
	return allowed_n;
}

int placement_parse(const char *s)
{
	int i;

	for (i = 0; i < PL_COUNT; i++)
		if (!strcmp(s, placement_name[i]))
			return i;
	if (!strcmp(s, "pinned"))
		return PL_PINNED2;
	if (!strcmp(s, "one"))
		return PL_ONECPU;
	return -1;
}

int placement_apply(enum placement pl, int role)
{
	cpu_set_t set;

	cpus_init();
	CPU_ZERO(&set);
	switch (pl) {
	case PL_PINNED2:
		if (cpu_second < 0)
			return -ENODEV;
		CPU_SET(role ? cpu_second : cpu_first, &set);
		break;
	case PL_ONECPU:
		CPU_SET(cpu_first, &set);
		break;
	default:
		set = allowed;
		break;
	}
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		return -errno;
	return 0;
}

/* -------------------------------------------------------------- helpers */
void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

void spin_until_eq32(const uint32_t *w, uint32_t want)
{
	unsigned int polls = 0;

	while (__atomic_load_n(w, __ATOMIC_ACQUIRE) != want) {
		cpu_relax();
		if (++polls % 64 == 0)
			sched_yield();
	}
}

int futex_wait32(uint32_t *w, uint32_t expected)
{
	long r = syscall(SYS_futex, w, FUTEX_WAIT, expected, NULL, NULL, 0);

	if (r < 0 && errno != EAGAIN && errno != EINTR)
		return -errno;
	return 0;
}

int futex_wake32(uint32_t *w, int n)
{
	long r = syscall(SYS_futex, w, FUTEX_WAKE, n, NULL, NULL, 0);

	return r < 0 ? -errno : (int)r;
}

int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void *xmap_shared(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		logmsg("shmkbench: mmap %zu: %s\n", len, strerror(errno));
		exit(2);
	}
	return p;
}

void xunmap(void *p, size_t len)
{
	if (p)
		munmap(p, len);
}
