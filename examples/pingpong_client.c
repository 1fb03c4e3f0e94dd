// SPDX-License-Identifier: MIT
/*
 * pingpong_client: bounce one 64-byte buffer off pingpong_server N times
 * and print the round-trip times. The same buffer travels both ways: only
 * a reference moves, never the bytes.
 *
 *   pingpong_client [NAME] [N]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shmk_msg.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static const char usage[] =
	"usage: pingpong_client [NAME] [N]\n"
	"Bounce one 64-byte buffer N times (default 100000) off the\n"
	"pingpong_server of arena NAME (default 'pingpong') and print the\n"
	"round-trip times. Start the server first.\n";

/* A library error: what failed, the error, and the library's reason. */
static int fail(const char *what, int r, const char *why)
{
	fprintf(stderr, "pingpong_client: %s: %s%s%s\n", what, strerror(-r),
		why && *why ? ": " : "", why ? why : "");
	return 1;
}

/* A positive count, else exit 2 (a bad argument). */
static long count(const char *arg)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < 1) {
		fprintf(stderr, "pingpong_client: N must be a positive "
			"number, not '%s'\n%s", arg, usage);
		exit(2);
	}
	return v;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *name = "pingpong";
	long n = 100000;
	struct shmk_session_info si;
	struct shmk_session *s;
	struct shmk_arena *a;
	struct shmk_msg m;
	uint64_t *rtt, *p, t0, sum = 0;
	shmk_ref_t ref;
	long i;
	int r;

	if (argc > 1 && (!strcmp(argv[1], "--help") ||
			 !strcmp(argv[1], "-h"))) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc > 3 || (argc > 1 && argv[1][0] == '-')) {
		fprintf(stderr, "pingpong_client: unexpected argument '%s'\n%s",
			argv[argc > 3 ? 3 : 1], usage);
		return 2;
	}
	if (argc > 1)
		name = argv[1];
	if (argc > 2)
		n = count(argv[2]);
	rtt = calloc((size_t)n, sizeof(*rtt));
	if (!rtt)
		return fail("memory for the times", -ENOMEM, NULL);
	r = shmk_client_connect(name, NULL, 5000000000LL, &s);
	if (r)
		return fail(name, r, shmk_session_error(NULL));
	a = shmk_session_arena(s);
	r = shmk_buf_create(a, 64, 0, 0, 0, &ref);	/* the one buffer */
	if (r)
		return fail("buffer", r, shmk_arena_error(a));
	for (i = 0; i < n; i++) {
		shmk_buf_write(a, &ref, (void **)&p, NULL);
		*p = (uint64_t)i;		/* the payload, in place */
		t0 = now_ns();
		r = shmk_session_send(s, SHMK_PEER_SERVER, ref, (uint64_t)i,
				      SHMK_SEND_WAIT, 1000000000LL);
		do {
			r = r ? r : shmk_session_recv(s, &m, 1000000000LL);
		} while (r == 1 && m.type != SHMK_MSG_DATA);
		if (r < 0)
			return fail("round trip", r, shmk_session_error(s));
		if (m.tag != (uint64_t)i) {
			fprintf(stderr, "pingpong_client: round trip %ld: the "
				"answer to %llu\n", i,
				(unsigned long long)m.tag);
			return 1;
		}
		rtt[i] = now_ns() - t0;
		ref = m.ref;			/* the same buffer, back */
	}
	shmk_session_info(s, &si);
	qsort(rtt, (size_t)n, sizeof(*rtt), cmp);
	for (i = 0; i < n; i++)
		sum += rtt[i];
	printf("%ld round trips of a 64-byte buffer: min %.2f us, median "
	       "%.2f us, p99 %.2f us, mean %.2f us\n", n, rtt[0] / 1e3,
	       rtt[n / 2] / 1e3, rtt[n * 99 / 100] / 1e3,
	       (double)sum / (double)n / 1e3);
	printf("syscalls to wake or sleep on this side: %llu wakes, %llu "
	       "sleeps\n", (unsigned long long)si.wakes,
	       (unsigned long long)si.sleeps);
	shmk_buf_drop(a, ref);
	free(rtt);
	return shmk_session_close(s) ? 1 : 0;
}
