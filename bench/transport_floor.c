// SPDX-License-Identifier: GPL-2.0
/*
 * The physical limits, measured on this machine in the same run:
 *
 *  - cache-line floor: two processes bounce one 64-byte line by spinning
 *    (request word and reply word share the line). No IPC that spins on
 *    shared memory can beat it.
 *  - futex floor: the same exchange, but the receiver always sleeps in
 *    FUTEX_WAIT and the sender always calls FUTEX_WAKE. No IPC that puts
 *    the receiver to sleep can beat it.
 *
 * Both carry only a 32-bit sequence number; they are measured at 64 B.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>

#include "bench.h"

struct line {
	uint32_t req;
	uint32_t rep;
} __attribute__((aligned(64)));

#define SEQ32(s)	((s) == PP_STOP ? 0xffffffffu : (uint32_t)(s))
#define SEQ64(v)	((v) == 0xffffffffu ? PP_STOP : (uint64_t)(v))

static int line_setup(struct pp_ctx *c)
{
	c->shm_len = 4096;
	c->shm = xmap_shared(c->shm_len);
	c->last = 0;
	return 0;
}

static int line_init(struct pp_ctx *c)
{
	(void)c;
	return 0;
}

static void line_fini(struct pp_ctx *c)
{
	(void)c;
}

static void line_teardown(struct pp_ctx *c)
{
	xunmap(c->shm, c->shm_len);
	c->shm = NULL;
}

/* B remembers the last request it answered in c->last (0 at start). */
static uint32_t *last_of(struct pp_ctx *c)
{
	return &c->last;
}

static int spin_ping(struct pp_ctx *c, uint64_t seq)
{
	struct line *l = c->shm;
	uint32_t s = SEQ32(seq);

	__atomic_store_n(&l->req, s, __ATOMIC_RELEASE);
	spin_until_eq32(&l->rep, s);
	return 0;
}

static int spin_serve(struct pp_ctx *c, uint64_t *seq)
{
	struct line *l = c->shm;
	uint32_t *last = last_of(c), v;
	unsigned int polls = 0;

	while ((v = __atomic_load_n(&l->req, __ATOMIC_ACQUIRE)) == *last) {
		cpu_relax();
		if (++polls % 64 == 0)
			sched_yield();
	}
	*last = v;
	*seq = SEQ64(v);
	__atomic_store_n(&l->rep, v, __ATOMIC_RELEASE);
	return 0;
}

static int futex_ping(struct pp_ctx *c, uint64_t seq)
{
	struct line *l = c->shm;
	uint32_t s = SEQ32(seq), v;
	int err;

	__atomic_store_n(&l->req, s, __ATOMIC_RELEASE);
	err = futex_wake32(&l->req, 1);
	if (err < 0)
		return err;
	while ((v = __atomic_load_n(&l->rep, __ATOMIC_ACQUIRE)) != s) {
		err = futex_wait32(&l->rep, v);
		if (err)
			return err;
	}
	return 0;
}

static int futex_serve(struct pp_ctx *c, uint64_t *seq)
{
	struct line *l = c->shm;
	uint32_t *last = last_of(c), v;
	int err;

	while ((v = __atomic_load_n(&l->req, __ATOMIC_ACQUIRE)) == *last) {
		err = futex_wait32(&l->req, v);
		if (err)
			return err;
	}
	*last = v;
	*seq = SEQ64(v);
	__atomic_store_n(&l->rep, v, __ATOMIC_RELEASE);
	err = futex_wake32(&l->rep, 1);
	return err < 0 ? err : 0;
}

const struct pp_transport tr_spin = {
	.name = "spin-floor", .label = "limit: cache-line bounce (spin)",
	.floor = 1, .modes = 1 << MODE_SPIN,
	.setup = line_setup, .init = line_init, .ping = spin_ping,
	.serve = spin_serve, .fini = line_fini, .teardown = line_teardown,
};

const struct pp_transport tr_futex = {
	.name = "futex-floor", .label = "limit: futex wait/wake",
	.floor = 1, .modes = 1 << MODE_BLOCK,
	.setup = line_setup, .init = line_init, .ping = futex_ping,
	.serve = futex_serve, .fini = line_fini, .teardown = line_teardown,
};
