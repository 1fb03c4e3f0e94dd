// SPDX-License-Identifier: GPL-2.0
/*
 * t_fuzz: io_uring on /dev/shmk files, by raw system calls: rings with and
 * without IORING_SETUP_SQPOLL, arena files registered as fixed files, and
 * READ, READV, POLL_ADD (multishot too), POLL_REMOVE, ASYNC_CANCEL, CLOSE,
 * FILES_UPDATE, MADVISE, NOP and TIMEOUT requests on them. Submission never
 * waits for completions; completions are reaped without blocking, so a READ
 * that sleeps in io-wq until an event comes is left to the ring teardown.
 */
#include "fuzz.h"

#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup	425
#define __NR_io_uring_enter	426
#define __NR_io_uring_register	427
#endif

#define FZ_RINGS	2

struct fz_ring {
	bool used;
	int fd;
	bool sqpoll;
	void *sq_ptr, *cq_ptr, *sqes_ptr;
	size_t sq_len, cq_len, sqes_len;
	unsigned int entries;
	_Atomic unsigned int *sq_head, *sq_tail, *sq_flags, *cq_head, *cq_tail;
	unsigned int *sq_mask, *sq_array, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	unsigned int nfixed;
	uint64_t next_ud;
	/* Targets of READ/READV, iovecs, descriptor arrays. */
	struct shmk_event buf[4][8];
	struct iovec iov[4][2];
	int fdarr[8];
};

static struct fz_ring fz_rings[FZ_RINGS];

void fz_uring_free(struct fz_fd *f)
{
	struct fz_ring *r = f->ring;

	if (!r)
		return;
	if (r->sqes_ptr)
		munmap(r->sqes_ptr, r->sqes_len);
	if (r->cq_ptr && r->cq_ptr != r->sq_ptr)
		munmap(r->cq_ptr, r->cq_len);
	if (r->sq_ptr)
		munmap(r->sq_ptr, r->sq_len);
	memset(r, 0, sizeof(*r));
	f->ring = NULL;
}

void op_uring(struct fz_ctx *c)
{
	struct io_uring_params p;
	struct fz_ring *r = NULL;
	struct fz_fd *f;
	unsigned int entries = 4U << fz_below(c, 4);
	int i, fd;
	long ret;

	pthread_mutex_lock(&fz_p.lock);
	if (fz_p.nfds >= FZ_MAX_FDS)
		goto out;
	for (i = 0; i < FZ_RINGS; i++)
		if (!fz_rings[i].used)
			r = &fz_rings[i];
	if (!r)
		goto out;
	memset(&p, 0, sizeof(p));
	if (fz_pct(c, 60)) {
		p.flags |= IORING_SETUP_SQPOLL;
		p.sq_thread_idle = 1 + (uint32_t)fz_below(c, 20);	/* ms */
	}
	if (fz_pct(c, 20))
		p.flags |= IORING_SETUP_CLAMP;
	if (fz_pct(c, 3))
		p.flags |= 1U << fz_below(c, 32);	/* hostile */
	ret = FZ(c, FZ_C_OTHER, FZ_HOSTILE, entries, p.flags,
		 syscall(__NR_io_uring_setup, entries, &p));
	if (ret == -ENOSYS) {
		atomic_store(&fz_sh->uring_enosys, 1);
		goto out;
	}
	if (ret < 0)
		goto out;
	fd = (int)ret;
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->sqpoll = p.flags & IORING_SETUP_SQPOLL;
	r->entries = p.sq_entries;
	r->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	r->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		if (r->cq_len > r->sq_len)
			r->sq_len = r->cq_len;
		r->cq_len = r->sq_len;
	}
	r->sq_ptr = mmap(NULL, r->sq_len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
	if (r->sq_ptr == MAP_FAILED) {
		r->sq_ptr = NULL;
		goto fail;
	}
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		r->cq_ptr = r->sq_ptr;
	} else {
		r->cq_ptr = mmap(NULL, r->cq_len, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
		if (r->cq_ptr == MAP_FAILED) {
			r->cq_ptr = NULL;
			goto fail;
		}
	}
	r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	r->sqes_ptr = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
	if (r->sqes_ptr == MAP_FAILED) {
		r->sqes_ptr = NULL;
		goto fail;
	}
	r->sq_head = (void *)((char *)r->sq_ptr + p.sq_off.head);
	r->sq_tail = (void *)((char *)r->sq_ptr + p.sq_off.tail);
	r->sq_mask = (void *)((char *)r->sq_ptr + p.sq_off.ring_mask);
	r->sq_flags = (void *)((char *)r->sq_ptr + p.sq_off.flags);
	r->sq_array = (void *)((char *)r->sq_ptr + p.sq_off.array);
	r->cq_head = (void *)((char *)r->cq_ptr + p.cq_off.head);
	r->cq_tail = (void *)((char *)r->cq_ptr + p.cq_off.tail);
	r->cq_mask = (void *)((char *)r->cq_ptr + p.cq_off.ring_mask);
	r->cqes = (void *)((char *)r->cq_ptr + p.cq_off.cqes);
	r->sqes = r->sqes_ptr;
	f = fz_fd_add(fd, FZ_FD_URING);
	if (!f)
		goto fail;
	r->used = true;
	f->ring = r;
	atomic_fetch_add(&fz_sh->uring_rings, 1);
	if (r->sqpoll)
		atomic_fetch_add(&fz_sh->uring_sqpoll, 1);
	goto out;
fail:
	{
		struct fz_fd tmp = { .ring = r };

		fz_uring_free(&tmp);
	}
	close(fd);
out:
	pthread_mutex_unlock(&fz_p.lock);
}

/* Register, update or unregister arena files as fixed files. */
void op_uring_reg(struct fz_ctx *c)
{
	struct io_uring_files_update up;
	struct fz_fd *f, *g;
	struct fz_ring *r;
	int i, n = 1 + (int)fz_below(c, 8), fd, fds[8];
	unsigned int op, nr;
	void *arg;
	long ret;

	pthread_mutex_lock(&fz_p.lock);
	f = fz_fd_pick(c, FZ_FD_URING);
	if (!f || !(r = f->ring)) {
		pthread_mutex_unlock(&fz_p.lock);
		return;
	}
	fd = f->fd;
	for (i = 0; i < n; i++) {
		g = fz_pct(c, 80) ? fz_fd_pick(c, FZ_FD_SHMK) : NULL;
		fds[i] = g ? g->fd : -1;
	}
	pthread_mutex_unlock(&fz_p.lock);

	switch (fz_below(c, 5)) {
	case 0:
	case 1:
		op = IORING_REGISTER_FILES;
		arg = fds;
		nr = (unsigned int)n;
		break;
	case 2:
		memset(&up, 0, sizeof(up));
		up.offset = (uint32_t)fz_below(c, 8);
		up.fds = (uintptr_t)fds;
		op = IORING_REGISTER_FILES_UPDATE;
		arg = &up;
		nr = 1;
		break;
	case 3:
		op = IORING_UNREGISTER_FILES;
		arg = NULL;
		nr = 0;
		break;
	default:
		/* Hostile: a bad array, or the ring itself (refused). */
		fds[0] = fd;
		op = IORING_REGISTER_FILES;
		arg = fz_pct(c, 50) ? (void *)fds : fz_bad_ptr(c);
		nr = fz_pct(c, 50) ? 1 : 1 + (unsigned int)fz_below(c, 1 << 20);
		break;
	}
	/*
	 * Unregistering waits for requests using the files (a READ that
	 * sleeps until an event): bounded by this thread's timer, and never
	 * under the table lock.
	 */
	fz_timer_arm(c, (long)fz_below(c, FZ_WAIT_MAX_NS));
	ret = FZ(c, FZ_C_OTHER, FZ_HOSTILE, fd, op,
		 syscall(__NR_io_uring_register, fd, op, arg, nr));
	fz_timer_disarm(c);
	pthread_mutex_lock(&fz_p.lock);
	if (ret == 0 && r->used && r->fd == fd) {
		if (op == IORING_REGISTER_FILES)
			r->nfixed = nr;
		else if (op == IORING_UNREGISTER_FILES)
			r->nfixed = 0;
	}
	pthread_mutex_unlock(&fz_p.lock);
}

static void fz_prep(struct fz_ctx *c, struct fz_ring *r,
		    struct io_uring_sqe *s, unsigned int slot)
{
	struct fz_fd *f = fz_fd_pick(c, FZ_FD_SHMK);
	struct fz_map *m;
	int fd = f ? f->fd : -1;
	bool fixed = r->nfixed && fz_pct(c, 40);

	memset(s, 0, sizeof(*s));
	s->user_data = ++r->next_ud;
	s->fd = fixed ? (int)fz_below(c, r->nfixed + 1) : fd;
	if (fixed)
		s->flags |= IOSQE_FIXED_FILE;
	switch (fz_below(c, 12)) {
	case 0:
	case 1:
	case 2:
		s->opcode = IORING_OP_READ;
		s->addr = fz_pct(c, 90) ? (uintptr_t)r->buf[slot] :
			  (uintptr_t)fz_bad_ptr(c);
		s->len = (uint32_t)(sizeof(struct shmk_event) *
				    (fz_pct(c, 90) ? 1 + fz_below(c, 8) : 0)) +
			 (fz_pct(c, 10) ? 1 : 0);
		break;
	case 3:
		s->opcode = IORING_OP_READV;
		r->iov[slot][0].iov_base = r->buf[slot];
		r->iov[slot][0].iov_len = sizeof(struct shmk_event);
		r->iov[slot][1].iov_base = &r->buf[slot][4];
		r->iov[slot][1].iov_len = sizeof(struct shmk_event);
		s->addr = (uintptr_t)r->iov[slot];
		s->len = 1 + (uint32_t)fz_below(c, 2);
		break;
	case 4:
	case 5:
		s->opcode = IORING_OP_POLL_ADD;
		s->poll32_events = POLLIN | (fz_pct(c, 20) ? POLLOUT : 0);
		if (fz_pct(c, 30))
			s->len = IORING_POLL_ADD_MULTI;
		break;
	case 6:
		s->opcode = IORING_OP_POLL_REMOVE;
		s->addr = r->next_ud - 1 - fz_below(c, 8);
		s->fd = -1;
		s->flags = 0;
		break;
	case 7:
		s->opcode = IORING_OP_ASYNC_CANCEL;
		s->addr = r->next_ud - 1 - fz_below(c, 8);
		if (fz_pct(c, 30))
			s->cancel_flags = IORING_ASYNC_CANCEL_ALL |
					  IORING_ASYNC_CANCEL_FD;
		else {
			s->fd = -1;
			s->flags = 0;
		}
		break;
	case 8:
		/* Close an arena file from io_uring (io-wq or the SQ thread). */
		s->opcode = IORING_OP_CLOSE;
		s->flags = 0;
		if (fixed) {
			s->fd = 0;
			s->file_index = 1 + (uint32_t)fz_below(c, r->nfixed);
		} else if (f) {
			s->fd = f->fd;
			fz_fd_forget(f);	/* gone once it completes */
		}
		break;
	case 9:
		s->opcode = IORING_OP_MADVISE;
		s->fd = -1;
		s->flags = 0;
		/*
		 * It runs later, when the range may be unmapped and reused
		 * (by a ring, a thread stack): harmless advice only, never
		 * MADV_DONTNEED.
		 */
		m = fz_map_pick(c, FZ_MAP_USER, false);
		if (m) {
			s->addr = m->addr;
			s->len = (uint32_t)(m->len > (1U << 20) ? 1U << 20 : m->len);
			s->fadvise_advice = fz_pct(c, 50) ? MADV_WILLNEED :
					    MADV_RANDOM;
		}
		break;
	case 10:
		s->opcode = IORING_OP_FILES_UPDATE;
		s->fd = -1;
		s->flags = 0;
		r->fdarr[0] = fd;
		s->addr = (uintptr_t)r->fdarr;
		s->len = 1;
		s->off = fz_below(c, r->nfixed + 1);
		break;
	default:
		/*
		 * Not random opcodes: io_uring's own surface is not ours, and
		 * a SPLICE from a socket blocks the SQ thread for good.
		 */
		s->opcode = IORING_OP_NOP;
		break;
	}
}

void op_uring_sub(struct fz_ctx *c)
{
	struct fz_fd *f;
	struct fz_ring *r;
	unsigned int head, tail, n, i, mask;
	int fd;
	bool wait, sqpoll, need_wakeup;

	pthread_mutex_lock(&fz_p.lock);
	f = fz_fd_pick(c, FZ_FD_URING);
	if (!f || !(r = f->ring)) {
		pthread_mutex_unlock(&fz_p.lock);
		return;
	}
	fd = f->fd;
	mask = *r->sq_mask;
	head = atomic_load_explicit(r->sq_head, memory_order_acquire);
	tail = atomic_load_explicit(r->sq_tail, memory_order_relaxed);
	n = 1 + (unsigned int)fz_below(c, 4);
	for (i = 0; i < n && tail - head < r->entries; i++, tail++) {
		unsigned int idx = tail & mask;

		fz_prep(c, r, &r->sqes[idx], i);
		r->sq_array[idx] = idx;
		atomic_fetch_add(&fz_sh->uring_sqes, 1);
	}
	atomic_store_explicit(r->sq_tail, tail, memory_order_release);
	wait = fz_pct(c, 10);
	/* The ring memory goes with a close by another thread: read it now. */
	sqpoll = r->sqpoll;
	need_wakeup = sqpoll &&
		      (atomic_load(r->sq_flags) & IORING_SQ_NEED_WAKEUP);
	pthread_mutex_unlock(&fz_p.lock);

	if (sqpoll) {
		if (need_wakeup) {
			fz_timer_arm(c, FZ_WAIT_MAX_NS);
			FZ(c, FZ_C_OTHER, FZ_HOSTILE, fd, 0,
			   syscall(__NR_io_uring_enter, fd, 0, 0,
				   IORING_ENTER_SQ_WAKEUP, NULL, 0));
			fz_timer_disarm(c);
		}
	} else {
		/* Waiting for a completion: bounded by this thread's timer. */
		fz_timer_arm(c, wait ? (long)fz_below(c, FZ_WAIT_MAX_NS) :
			     FZ_WAIT_MAX_NS);
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, fd, i,
		   syscall(__NR_io_uring_enter, fd, i, wait ? 1 : 0,
			   wait ? IORING_ENTER_GETEVENTS : 0, NULL, 0));
		fz_timer_disarm(c);
	}

	/* Reap completions without blocking. */
	pthread_mutex_lock(&fz_p.lock);
	if (r->used && r->fd == fd) {
		head = atomic_load_explicit(r->cq_head, memory_order_relaxed);
		tail = atomic_load_explicit(r->cq_tail, memory_order_acquire);
		/* The ring is shared memory: never trust its indices. */
		for (n = 0; head != tail && n < 4 * r->entries; n++) {
			head++;
			atomic_fetch_add(&fz_sh->uring_cqes, 1);
		}
		atomic_store_explicit(r->cq_head, head, memory_order_release);
	}
	pthread_mutex_unlock(&fz_p.lock);
}
