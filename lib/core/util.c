// SPDX-License-Identifier: MIT
/*
 * Small helpers: /proc parsing, names, randomness; the USDT probes'
 * semaphores. (The clocks are inline, in shmk_int.h.)
 */
#include "shmk_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#ifndef SHMK_NO_SDT
/* Raised by a tracer attached to the probe (shmk_int.h, PROBE_ON()). */
#define SHMK_SEM_DEF(n) \
	unsigned short shmk_##n##_semaphore \
		__attribute__((section(".probes"), used));
SHMK_PROBES(SHMK_SEM_DEF)
#undef SHMK_SEM_DEF
#endif

/*
 * Read fields of /proc/<pid>/stat: start time (clock ticks after boot,
 * field 22), state (field 3) and exit code (field 52, only shown for a
 * zombie we may ptrace-read). -ESRCH if there is no such process.
 */
int shmk_proc_starttime(int pid, uint64_t *start, int *state, int *exit_code)
{
	char path[64], buf[1024];
	char *p, *save = NULL, *tok;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EIO;
	if (exit_code)
		*exit_code = -1;
	field = 3;
	for (tok = strtok_r(p + 2, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save), field++) {
		if (field == 3 && state)
			*state = tok[0];
		else if (field == 22 && start)
			*start = strtoull(tok, NULL, 10);
		else if (field == 52 && exit_code)
			*exit_code = (int)strtol(tok, NULL, 10);
	}
	return field > 22 ? 0 : -EIO;
}

/*
 * The ABI's name alphabet (uapi/linux/shmk.h), on both backends; says
 * what is wrong with a bad name (shmk_reason()).
 */
int shmk_name_ok(const char *name)
{
	size_t i, len;
	unsigned char c;

	if (!name) {
		shmk_reason("no arena name (NULL)");
		return -EINVAL;
	}
	len = strnlen(name, SHMK_NAME_MAX);
	if (len == 0) {
		shmk_reason("the arena name is empty: names are 1..%d bytes "
			    "of A-Z a-z 0-9 and %s", SHMK_NAME_MAX - 1,
			    SHMK_NAME_PUNCT);
		return -EINVAL;
	}
	if (len >= SHMK_NAME_MAX) {
		shmk_reason("the arena name '%.20s...' is longer than %d "
			    "bytes", name, SHMK_NAME_MAX - 1);
		return -EINVAL;
	}
	for (i = 0; i < len; i++) {
		c = (unsigned char)name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr(SHMK_NAME_PUNCT, c))) {
			if (c > ' ' && c < 0x7f)
				shmk_reason("the arena name '%s' has '%c' at "
					    "byte %zu: names are 1..%d bytes "
					    "of A-Z a-z 0-9 and %s", name, c,
					    i, SHMK_NAME_MAX - 1,
					    SHMK_NAME_PUNCT);
			else
				shmk_reason("the arena name has byte 0x%02x "
					    "at %zu: names are 1..%d bytes of "
					    "A-Z a-z 0-9 and %s", c, i,
					    SHMK_NAME_MAX - 1,
					    SHMK_NAME_PUNCT);
			return -EINVAL;
		}
	}
	return 0;
}

uint64_t shmk_random64(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
		v = shmk_now_ns() ^ ((uint64_t)getpid() << 32);
	return v;
}

#ifdef SHMK_TEST_HOOKS
/*
 * Test builds only: SHMK_TEST_CRASH_AFTER=n (or shmk__crash_after) kills
 * the process with SIGKILL at the n-th crash point whose name starts with
 * shmk__crash_filter (all points when NULL).
 */
#include <signal.h>

long shmk__crash_after;
const char *shmk__crash_filter;
long shmk__crash_seen;

void shmk__crashpoint(const char *where)
{
	if (shmk__crash_filter &&
	    strncmp(where, shmk__crash_filter, strlen(shmk__crash_filter)))
		return;
	__atomic_fetch_add(&shmk__crash_seen, 1, __ATOMIC_RELAXED);
	if (shmk__crash_after > 0 &&
	    __atomic_sub_fetch(&shmk__crash_after, 1, __ATOMIC_RELAXED) == 0)
		raise(SIGKILL);
}
#endif
