// SPDX-License-Identifier: MIT
/*
 * pingpong_client: bounce one 64-byte buffer off pingpong_server N times
 * and print the round-trip times. The same buffer travels both ways: only
 * a reference moves, never the bytes.
 *
 *   pingpong_client [NAME] [N]
 */
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

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "pingpong";
	long n = argc > 2 ? atol(argv[2]) : 100000;
	struct shmk_session_info si;
	struct shmk_session *s;
	struct shmk_arena *a;
	struct shmk_msg m;
	uint64_t *rtt, *p, t0, sum = 0;
	shmk_ref_t ref;
	long i;
	int r;

	if (n < 1)
		n = 1;
	rtt = calloc((size_t)n, sizeof(*rtt));
	r = shmk_client_connect(name, NULL, 5000000000LL, &s);
	if (r || !rtt) {
		fprintf(stderr, "pingpong_client: %s: %s %s\n", name,
			strerror(-r), shmk_session_error(NULL));
		return 1;
	}
	a = shmk_session_arena(s);
	r = shmk_buf_create(a, 64, 0, 0, 0, &ref);	/* the one buffer */
	if (r) {
		fprintf(stderr, "buffer: %s\n", strerror(-r));
		return 1;
	}
	for (i = 0; i < n; i++) {
		shmk_buf_write(a, &ref, (void **)&p, NULL);
		*p = (uint64_t)i;		/* the payload, in place */
		t0 = now_ns();
		r = shmk_session_send(s, SHMK_PEER_SERVER, ref, (uint64_t)i,
				      SHMK_SEND_WAIT, 1000000000LL);
		do {
			r = r ? r : shmk_session_recv(s, &m, 1000000000LL);
		} while (r == 1 && m.type != SHMK_MSG_DATA);
		if (r != 1 || m.tag != (uint64_t)i) {
			fprintf(stderr, "round trip %ld failed: %d\n", i, r);
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
