/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tests/fuzz-lib: libFuzzer harnesses of every place libshmk reads arena
 * contents that another member wrote (README.md).
 *
 * Every harness is the same small interpreter (fz.c) with its own choice
 * of operations and of the arena regions its corruptions aim at. An input
 * is a program: a few bytes of arena options, then operations, each an
 * opcode byte and its arguments. Operations run the real API on handles
 * of a real arena of the portable backend (a /dev/shm object, attached
 * through shmk_arena_attach() like any member would), scribble over the
 * arena as a misbehaving peer would (through a mapping of their own of the
 * backend object), or fork a peer that attaches, runs a sub-program and
 * dies (SIGKILL at its n-th crash point, or exit without detach).
 */
#ifndef FZ_H
#define FZ_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stddef.h>
#include <stdint.h>

/* Operation groups a harness enables (fz_ops.mask). */
#define FZ_G_ARENA	(1U << 0)	/* attach, detach, events, check */
#define FZ_G_ALLOC	(1U << 1)
#define FZ_G_BUF	(1U << 2)
#define FZ_G_LOCK	(1U << 3)
#define FZ_G_QUEUE	(1U << 4)
#define FZ_G_PEER	(1U << 5)	/* forked peers that die */
#define FZ_G_SESSION	(1U << 6)

/* Regions corruptions aim at (fz_ops.regions). */
enum {
	FZ_R_LMHDR,	/* library header: geometry, init word, heap lock */
	FZ_R_SLOTS,	/* member slots: ctl, page lists, robust heads */
	FZ_R_JOURNAL,	/* the journals in the member slots */
	FZ_R_REFS,	/* holdings tables */
	FZ_R_DESC,	/* page map */
	FZ_R_BITS,	/* chunk bitmaps */
	FZ_R_TREE,	/* free-run tree */
	FZ_R_HEAP,	/* anywhere in the heap */
	FZ_R_OBJ,	/* a block the harness knows (buffer, queue, lock) */
	FZ_R_PTHDR,	/* portable backend: object header */
	FZ_R_PTLOG,	/* portable backend: event log */
	FZ_R_PTMEM,	/* portable backend: member table */
	FZ_R_ROOTS,	/* root slots and what they name (sessions) */
	FZ_R_COUNT
};
#define FZ_RB(r)	(1U << (r))

struct fz_ops {
	const char *name;
	unsigned int mask;	/* FZ_G_* */
	unsigned int regions;	/* FZ_RB(FZ_R_*) */
};

/* Run one input. Returns 0 (libFuzzer's contract). */
int fz_run(const struct fz_ops *ops, const uint8_t *data, size_t size);

#endif
