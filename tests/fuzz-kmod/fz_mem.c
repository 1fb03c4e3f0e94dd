// SPDX-License-Identifier: GPL-2.0
/*
 * t_fuzz: the ops on arena mappings: mmap (valid and hostile offsets,
 * lengths, protections, flags), munmap, mremap, mprotect, madvise, msync,
 * mlock, remap_file_pages, memory accesses (including /proc/self/mem and
 * process_vm_*), robust lists scribbled into the arena, lock words.
 *
 * Every call here runs with fz_p.lock held (but for the WAIT of op_lock),
 * and the map table is updated to what the call did, so that a tracked
 * mapping is always mapped as recorded.
 */
#include "fuzz.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif

#define PG 4096UL

/*
 * Does /proc/self/maps show a /dev/shmk mapping at @addr, and with what
 * permissions? Confirms a finding before it is reported (a number reused
 * by another process can make the table describe another file).
 */
static bool fz_vma_is_shmk(uintptr_t addr, char perms[5])
{
	static char buf[65536];
	ssize_t n, got = 0;
	char *line, *next;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	while ((size_t)got < sizeof(buf) - 1 &&
	       (n = read(fd, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	close(fd);
	buf[got] = 0;
	for (line = buf; line && *line; line = next) {
		unsigned long s, e;
		char p[5];

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (sscanf(line, "%lx-%lx %4s", &s, &e, p) != 3 ||
		    addr < s || addr >= e)
			continue;
		memcpy(perms, p, 5);
		return strstr(line, "/dev/shmk") != NULL;
	}
	return false;
}

static void fz_map_record(struct fz_fd *f, void *addr, size_t len, int prot,
			  uint64_t file_off)
{
	struct fz_map *m;

	fz_maps_cut((uintptr_t)addr, len);
	m = fz_map_add();
	if (!m) {
		munmap(addr, len);
		return;
	}
	m->addr = (uintptr_t)addr;
	m->len = len;
	m->prot = prot;
	m->fd = f ? f->fd : -1;
	m->fd_id = f ? f->id : 0;
	if (!f) {
		m->kind = FZ_MAP_ANON;
		return;
	}
	m->member_id = f->member_id;
	m->user_size = f->user_size;
	m->ctrl_size = f->ctrl_size;
	if (!fz_is_shmk(f->fd) || (!f->known && file_off)) {
		/* The number was reused (or the layout is unknown). */
		m->kind = FZ_MAP_OTHER;
		m->ctrl_size = 0;
	} else if (f->known && file_off >= f->ctrl_size) {
		m->kind = FZ_MAP_USER;
		m->off = file_off - f->ctrl_size;
	} else {
		m->kind = FZ_MAP_CTRL;
		m->off = file_off;
	}
}

/* Map both regions of an attached file (caller holds the lock). */
bool fz_mmap_regions(struct fz_ctx *c, struct fz_fd *f)
{
	int uprot = f->rdonly ? PROT_READ : PROT_READ | PROT_WRITE;
	long p;

	if (fz_p.nmaps + 2 > FZ_MAX_MAPS)
		return false;
	p = FZ(c, FZ_C_MMAP, FZ_VALID, f->fd, 0,
	       mmap(NULL, f->ctrl_size, PROT_READ, MAP_SHARED, f->fd, 0));
	if (p >= 0)
		fz_map_record(f, (void *)p, f->ctrl_size, PROT_READ, 0);
	p = FZ(c, FZ_C_MMAP, FZ_VALID, f->fd, f->user_offset,
	       mmap(NULL, f->user_size, uprot, MAP_SHARED, f->fd,
		    (off_t)f->user_offset));
	if (p >= 0)
		fz_map_record(f, (void *)p, f->user_size, uprot,
			      f->user_offset);
	return p >= 0;
}

static struct fz_map *fz_pick_nonring(struct fz_ctx *c)
{
	struct fz_map *m = fz_map_pick(c, fz_pct(c, 80) ? FZ_MAP_USER : 0,
				       false);

	if (!m)
		m = fz_map_pick(c, 0, false);
	return m && m->kind != FZ_MAP_RING ? m : NULL;
}

/* A page-aligned part of @m: whole, or one page. */
static void fz_subrange(struct fz_ctx *c, const struct fz_map *m,
			uintptr_t *addr, size_t *len)
{
	size_t pages = m->len / PG;

	*addr = m->addr;
	*len = m->len;
	if (pages > 1 && fz_pct(c, 40)) {
		*addr = m->addr + PG * fz_below(c, pages);
		*len = PG;
	}
}

void op_mmap(struct fz_ctx *c)
{
	static const int prots[] = {
		PROT_READ, PROT_READ | PROT_WRITE, PROT_NONE,
		PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC,
		PROT_WRITE,
	};
	uint64_t off = 0, r;
	enum fz_kind k = FZ_VALID;
	struct fz_map *fixed = NULL;
	bool range_check = false;
	unsigned int id;
	int prot, flags = MAP_SHARED, fd;
	struct fz_fd *f;
	uintptr_t want = 0;
	size_t len;
	long p;

	pthread_mutex_lock(&fz_p.lock);
	if (fz_p.nmaps >= FZ_MAX_MAPS)
		goto out;
	if (fz_pct(c, 8)) {
		/* An anonymous neighbour (a target for mremap, decoys). */
		len = PG * (1 + fz_below(c, 8));
		prot = prots[fz_below(c, 5)];
		p = FZ(c, FZ_C_OTHER, FZ_HOSTILE, 0, len,
		       mmap(NULL, len, prot, (fz_pct(c, 50) ? MAP_SHARED :
					      MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0));
		if (p >= 0)
			fz_map_record(NULL, (void *)p, len, prot, 0);
		goto out;
	}
	f = fz_fd_pick(c, fz_pct(c, 92) ? FZ_FD_SHMK : FZ_FD_NONE);
	if (!f)
		goto out;
	fd = f->fd;
	if (f->kind != FZ_FD_SHMK || !f->known)
		k = FZ_HOSTILE;
	r = fz_below(c, 100);
	if (r < 20 || !f->known) {
		off = 0;
		len = f->known ? f->ctrl_size : PG * (1 + fz_below(c, 2));
		prot = fz_pct(c, 85) ? PROT_READ : prots[fz_below(c, 6)];
		if ((prot & PROT_WRITE) && k == FZ_VALID)
			k = FZ_INVALID;	/* the control region is read-only */
	} else if (r < 90) {
		uint64_t pages = f->user_size / PG;

		off = f->user_offset;
		len = f->user_size;
		if (fz_pct(c, 40) && pages > 1) {
			uint64_t first = fz_below(c, pages);

			off += first * PG;
			len = PG * (1 + fz_below(c, pages - first));
		}
		prot = fz_pct(c, 80) ? (f->rdonly ? PROT_READ :
					PROT_READ | PROT_WRITE) :
		       prots[fz_below(c, 6)];
		/* RDONLY is per file: a reused number makes it a guess. */
		if (f->rdonly && (prot & PROT_WRITE) && k == FZ_VALID)
			k = FZ_HOSTILE;
	} else {
		/* Hostile ranges. */
		prot = PROT_READ;
		len = PG;
		switch (fz_below(c, 7)) {
		/* Checked against the real sizes if they succeed. */
		case 0:	/* crosses from control into user */
			off = f->ctrl_size - PG;
			len = 2 * PG;
			range_check = true;
			break;
		case 1:	/* beyond the end */
			off = f->user_offset + f->user_size;
			range_check = true;
			break;
		case 2:	/* runs past the end */
			off = f->user_offset;
			len = f->user_size + PG;
			range_check = true;
			break;
		case 3:
			off = PG * (1 + fz_below(c, 1ULL << 40));
			k = FZ_HOSTILE;
			break;
		case 4:
			off = 1 + fz_below(c, PG - 1);	/* unaligned */
			k = FZ_HOSTILE;
			break;
		case 5:
			len = 0;
			k = FZ_HOSTILE;
			break;
		default:
			len = (size_t)1 << (30 + fz_below(c, 16));
			k = FZ_HOSTILE;
			break;
		}
	}
	/* Flags. */
	r = fz_below(c, 100);
	if (r < 6) {
		flags = MAP_PRIVATE;
		k = k == FZ_VALID ? FZ_INVALID : k;
	} else if (r < 12) {
		flags = MAP_SHARED_VALIDATE | (fz_pct(c, 30) ? MAP_SYNC : 0);
		if (k == FZ_VALID)
			k = FZ_HOSTILE;
	}
	if (fz_pct(c, 25))
		flags |= MAP_POPULATE;
	if (fz_pct(c, 5))
		flags |= MAP_NORESERVE;
	if (fz_pct(c, 3) && len <= (1UL << 20))
		flags |= MAP_LOCKED;
	if (fz_pct(c, 6)) {
		fixed = fz_map_pick(c, 0, false);
		if (fixed && fixed->kind != FZ_MAP_RING && len &&
		    len <= fixed->len) {
			want = fixed->addr;
			flags |= fz_pct(c, 80) ? MAP_FIXED : MAP_FIXED_NOREPLACE;
			if (k == FZ_VALID)
				k = FZ_HOSTILE;
		} else {
			fixed = NULL;
		}
	}
	if (range_check)
		k = FZ_HOSTILE;
	id = range_check ? fz_arena_id(fd) : 0;
	p = (long)mmap((void *)want, len, prot, flags, fd, (off_t)off);
	if (p != (long)MAP_FAILED && k == FZ_INVALID && !fz_is_shmk(fd))
		k = FZ_HOSTILE;	/* not an arena file (any more) */
	p = fz_acct(c, FZ_C_MMAP, k, p == (long)MAP_FAILED ? -errno : p,
		    off, len);
	if (p >= 0 && id) {
		uint64_t cs, us;

		if (fz_real_sizes(fd, &cs, &us) == 0 && fz_arena_id(fd) == id &&
		    !(off + len <= cs || (off >= cs && off + len <= cs + us)))
			fz_finding(FZ_C_MMAP, FZ_OP_mmap, 0, off, len,
				   "mmap across or beyond a region accepted");
	}
	if (p >= 0) {
		fz_map_record(f, (void *)p, len, prot, off);
	} else if (flags & MAP_FIXED) {
		/* A failed MAP_FIXED may have unmapped the old range. */
		munmap((void *)want, len);
		fz_maps_cut(want, len);
	}
out:
	pthread_mutex_unlock(&fz_p.lock);
}

void op_munmap(struct fz_ctx *c)
{
	struct fz_map *m;
	uintptr_t addr;
	size_t len;

	pthread_mutex_lock(&fz_p.lock);
	m = fz_pick_nonring(c);
	if (!m)
		goto out;
	fz_subrange(c, m, &addr, &len);
	if (fz_pct(c, 5)) {
		/* Unaligned: refused, nothing changes. */
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, addr + 1, len,
		   munmap((void *)(addr + 1), len));
		goto out;
	}
	if (FZ(c, FZ_C_OTHER, FZ_HOSTILE, addr, len,
	       munmap((void *)addr, len)) == 0)
		fz_maps_cut(addr, len);
out:
	pthread_mutex_unlock(&fz_p.lock);
}

void op_mremap(struct fz_ctx *c)
{
	struct fz_map *m, copy, *n;
	size_t pages, new_len;
	void *dst;
	long r;

	pthread_mutex_lock(&fz_p.lock);
	m = fz_pick_nonring(c);
	if (!m)
		goto out;
	copy = *m;
	pages = m->len / PG;
	switch (fz_below(c, 6)) {
	case 0:	/* shrink in place */
		if (pages < 2)
			goto out;
		new_len = PG * (1 + fz_below(c, pages - 1));
		r = FZ(c, FZ_C_OTHER, FZ_HOSTILE, m->addr, new_len,
		       syscall(SYS_mremap, m->addr, m->len, new_len, 0, 0));
		if (r >= 0)
			fz_maps_cut(copy.addr + new_len, copy.len - new_len);
		break;
	case 1:	/* grow: arena mappings cannot (VM_DONTEXPAND) */
	case 2:
		new_len = m->len + PG * (1 + fz_below(c, 4));
		r = FZ(c, FZ_C_OTHER, FZ_HOSTILE, m->addr, new_len,
		       syscall(SYS_mremap, m->addr, m->len, new_len,
			       fz_pct(c, 50) ? MREMAP_MAYMOVE : 0, 0));
		if (r >= 0) {
			char perms[5];

			if ((copy.kind == FZ_MAP_CTRL || copy.kind == FZ_MAP_USER) &&
			    fz_vma_is_shmk((uintptr_t)r, perms))
				fz_finding(FZ_C_MMAP, FZ_OP_mremap, 0, copy.off,
					   new_len, "arena mapping grew by mremap");
			fz_maps_cut(copy.addr, copy.len);
			n = fz_map_add();
			if (n) {
				*n = copy;
				n->addr = (uintptr_t)r;
				n->len = new_len;
			} else {
				munmap((void *)r, new_len);
			}
		}
		break;
	case 3:	/* move the whole mapping somewhere else */
	case 4: {
		bool dontunmap = fz_pct(c, 30);

		dst = mmap(NULL, m->len, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (dst == MAP_FAILED)
			goto out;
		r = FZ(c, FZ_C_OTHER, FZ_HOSTILE, m->addr, (uintptr_t)dst,
		       syscall(SYS_mremap, m->addr, m->len, m->len,
			       MREMAP_MAYMOVE | MREMAP_FIXED |
			       (dontunmap ? MREMAP_DONTUNMAP : 0), dst));
		if (r < 0) {
			munmap(dst, copy.len);
			break;
		}
		if (!dontunmap)
			fz_maps_cut(copy.addr, copy.len);
		n = fz_map_add();
		if (n) {
			*n = copy;
			n->addr = (uintptr_t)r;
		} else {
			munmap((void *)r, copy.len);
		}
		break;
	}
	default:	/* old_len 0: a second mapping of a shared one */
		r = FZ(c, FZ_C_OTHER, FZ_HOSTILE, m->addr, 0,
		       syscall(SYS_mremap, m->addr, 0, PG, MREMAP_MAYMOVE, 0));
		if (r >= 0) {
			n = fz_map_add();
			if (n) {
				*n = copy;
				n->addr = (uintptr_t)r;
				n->len = PG;
			} else {
				munmap((void *)r, PG);
			}
		}
		break;
	}
out:
	pthread_mutex_unlock(&fz_p.lock);
}

void op_mprotect(struct fz_ctx *c)
{
	static const int prots[] = {
		PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE,
		PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC,
		PROT_WRITE,
	};
	struct fz_map *m, copy, *n;
	uintptr_t addr;
	size_t len;
	int prot;
	long r;

	pthread_mutex_lock(&fz_p.lock);
	m = fz_pick_nonring(c);
	if (!m)
		goto out;
	fz_subrange(c, m, &addr, &len);
	prot = prots[fz_below(c, 6)];
	copy = *m;
	r = FZ(c, FZ_C_OTHER, FZ_HOSTILE, addr, prot,
	       mprotect((void *)addr, len, prot));
	if (r < 0)
		goto out;
	if ((prot & PROT_WRITE) && copy.kind == FZ_MAP_CTRL) {
		char perms[5];

		/* The control region (VM_MAYWRITE cleared) must stay read-only. */
		if (fz_vma_is_shmk(addr, perms) && perms[1] == 'w')
			fz_finding(FZ_C_MMAP, FZ_OP_mprotect, 0, copy.off, prot,
				   "control region made writable");
	}
	fz_maps_cut(addr, len);
	n = fz_map_add();
	if (n) {
		*n = copy;
		n->off += addr - copy.addr;
		n->addr = addr;
		n->len = len;
		n->prot = prot;
	} else {
		munmap((void *)addr, len);
	}
out:
	pthread_mutex_unlock(&fz_p.lock);
}

void op_madvise(struct fz_ctx *c)
{
	/* Never MADV_HWPOISON (100) or MADV_SOFT_OFFLINE (101). */
	static const int advs[] = {
		MADV_DONTNEED, MADV_DONTNEED, MADV_DOFORK, MADV_DONTFORK,
		MADV_REMOVE, MADV_WILLNEED, MADV_COLD, MADV_PAGEOUT, MADV_FREE,
		MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_HUGEPAGE,
		MADV_NOHUGEPAGE, MADV_MERGEABLE, MADV_UNMERGEABLE,
		MADV_DONTDUMP, MADV_DODUMP, MADV_WIPEONFORK, MADV_KEEPONFORK,
		22 /* POPULATE_READ */, 23 /* POPULATE_WRITE */,
		25 /* COLLAPSE */, 24 /* DONTNEED_LOCKED */,
	};
	struct fz_map *m;
	uintptr_t addr;
	size_t len;
	int adv;

	pthread_mutex_lock(&fz_p.lock);
	m = fz_pick_nonring(c);
	if (!m)
		goto out;
	fz_subrange(c, m, &addr, &len);
	adv = fz_pct(c, 95) ? advs[fz_below(c, sizeof(advs) / sizeof(*advs))] :
	      (int)fz_below(c, 30);
	if (adv == 100 || adv == 101)
		adv = MADV_NORMAL;
	FZ(c, FZ_C_OTHER, FZ_HOSTILE, addr, adv,
	   madvise((void *)addr, len, adv));
	if (fz_pct(c, 10))
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, addr, adv,
		   syscall(SYS_process_madvise, -1, NULL, 0, adv, 0));
out:
	pthread_mutex_unlock(&fz_p.lock);
}

void op_msync(struct fz_ctx *c)
{
	static const int fl[] = {
		MS_ASYNC, MS_SYNC, MS_ASYNC | MS_INVALIDATE,
		MS_SYNC | MS_INVALIDATE, MS_ASYNC | MS_SYNC, 0,
	};
	struct fz_map *m;
	uintptr_t addr;
	size_t len;

	pthread_mutex_lock(&fz_p.lock);
	m = fz_pick_nonring(c);
	if (m) {
		fz_subrange(c, m, &addr, &len);
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, addr, len,
		   msync((void *)addr, len, fl[fz_below(c, 6)]));
	}
	pthread_mutex_unlock(&fz_p.lock);
}

void op_mlock(struct fz_ctx *c)
{
	struct fz_map *m;
	uintptr_t addr;
	size_t len;

	pthread_mutex_lock(&fz_p.lock);
	m = fz_pick_nonring(c);
	if (m && m->len <= (1UL << 20)) {
		fz_subrange(c, m, &addr, &len);
		switch (fz_below(c, 3)) {
		case 0:
			FZ(c, FZ_C_OTHER, FZ_HOSTILE, addr, len,
			   mlock((void *)addr, len));
			break;
		case 1:
			FZ(c, FZ_C_OTHER, FZ_HOSTILE, addr, len,
			   syscall(SYS_mlock2, addr, len, 1 /* ONFAULT */));
			break;
		default:
			FZ(c, FZ_C_OTHER, FZ_HOSTILE, addr, len,
			   munlock((void *)addr, len));
			break;
		}
	}
	pthread_mutex_unlock(&fz_p.lock);
}

/* remap_file_pages: a new mmap of the same file at another offset. */
void op_remap(struct fz_ctx *c)
{
	struct fz_map *m, copy, *n;
	uint64_t pgoff, total;
	uintptr_t addr;
	size_t len;
	long r;

	pthread_mutex_lock(&fz_p.lock);
	m = fz_map_pick(c, fz_pct(c, 50) ? FZ_MAP_USER : FZ_MAP_CTRL, false);
	if (!m || !m->ctrl_size)
		goto out;
	copy = *m;
	fz_subrange(c, m, &addr, &len);
	total = (copy.ctrl_size + copy.user_size) / PG;
	switch (fz_below(c, 4)) {
	case 0:
		pgoff = 0;
		break;
	case 1:
		pgoff = copy.ctrl_size / PG;
		break;
	case 2:
		pgoff = total + fz_below(c, 16);	/* beyond */
		break;
	default:
		pgoff = fz_below(c, total ? total : 1);
		break;
	}
	r = FZ(c, FZ_C_OTHER, FZ_HOSTILE, addr, pgoff,
	       syscall(SYS_remap_file_pages, addr, len, 0, pgoff, 0));
	fz_maps_cut(addr, len);
	if (r < 0) {
		/* It may have unmapped the range before failing. */
		munmap((void *)addr, len);
		goto out;
	}
	n = fz_map_add();
	if (!n) {
		munmap((void *)addr, len);
		goto out;
	}
	*n = copy;
	n->addr = addr;
	n->len = len;
	if (pgoff * PG >= copy.ctrl_size) {
		n->kind = FZ_MAP_USER;
		n->off = pgoff * PG - copy.ctrl_size;
	} else {
		char perms[5];

		n->kind = FZ_MAP_CTRL;
		n->off = pgoff * PG;
		if ((copy.prot & PROT_WRITE) && fz_vma_is_shmk(addr, perms) &&
		    perms[1] == 'w')
			fz_finding(FZ_C_MMAP, FZ_OP_remap, 0, pgoff, copy.prot,
				   "control region remapped writable");
	}
out:
	pthread_mutex_unlock(&fz_p.lock);
}

/* ---- memory accesses -------------------------------------------------- */

struct fz_touch {
	volatile uint32_t *base;
	size_t words;
	bool write;
	uint64_t seed;
	uint64_t sum;
};

static void fz_touch_fn(void *arg)
{
	struct fz_touch *t = arg;
	uint64_t x = t->seed;
	size_t i, n = t->words < 64 ? t->words : 64;

	for (i = 0; i < n; i++) {
		size_t w;

		x = fz_mix(x);
		/* Mostly the first words: the hot WAIT/WAKE words. */
		w = (x & 3) ? (x >> 8) % (t->words < 32 ? t->words : 32) :
			      (x >> 8) % t->words;
		if (t->write && (x & 0x10))
			t->base[w] = (x & 0x20) ? (uint32_t)(x >> 32) : 0;
		else
			t->sum += t->base[w];
	}
}

struct fz_ctrlchk {
	const volatile struct shmk_ctrl *c;
	size_t len;
	bool bad;
};

static void fz_ctrlchk_fn(void *arg)
{
	struct fz_ctrlchk *k = arg;
	const volatile struct shmk_ctrl *c = k->c;
	uint32_t i, n;

	if (c->magic != SHMK_CTRL_MAGIC) {
		k->bad = true;
		return;
	}
	n = c->member_max;
	if (c->members_live > n || c->member_stride < sizeof(struct shmk_ctrl_member))
		k->bad = true;
	for (i = 0; i < n; i++) {
		size_t at = c->members_offset + (size_t)i * c->member_stride;
		const volatile struct shmk_ctrl_member *s;

		if (at + sizeof(*s) > k->len)
			break;
		s = (const void *)((const volatile char *)c + at);
		if (s->state > SHMK_MEMBER_DEAD)
			k->bad = true;
	}
}

void op_touch(struct fz_ctx *c)
{
	struct fz_touch t;
	struct fz_map *m;
	char buf[256];
	int fd;

	pthread_mutex_lock(&fz_p.lock);
	m = fz_map_pick(c, fz_pct(c, 80) ? FZ_MAP_USER : 0, false);
	if (!m || !(m->prot & PROT_READ) || m->kind == FZ_MAP_RING)
		goto out;
	switch (fz_below(c, 8)) {
	case 0:
		/* The kernel's view of our memory: GUP on arena pages. */
		{
			struct iovec l = { buf, sizeof(buf) };
			struct iovec rv = { (void *)m->addr,
					    m->len < sizeof(buf) ? m->len : sizeof(buf) };

			FZ(c, FZ_C_OTHER, FZ_HOSTILE, m->addr, 0,
			   syscall(SYS_process_vm_readv, getpid(), &l, 1, &rv, 1, 0));
			if (m->prot & PROT_WRITE)
				FZ(c, FZ_C_OTHER, FZ_HOSTILE, m->addr, 1,
				   syscall(SYS_process_vm_writev, getpid(), &l,
					   1, &rv, 1, 0));
		}
		goto out;
	case 1:
		/*
		 * /proc/self/mem writes with FOLL_FORCE: must not get through
		 * a read-only arena mapping (no VM_MAYWRITE).
		 */
		fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			long r;

			FZ(c, FZ_C_OTHER, FZ_HOSTILE, m->addr, 0,
			   pread(fd, buf, 64, (off_t)m->addr));
			memset(buf, 0x5a, 8);
			r = FZ(c, FZ_C_OTHER, FZ_HOSTILE, m->addr, 1,
			       pwrite(fd, buf, 8, (off_t)m->addr));
			if (r > 0 && m->kind == FZ_MAP_CTRL)
				fz_finding(FZ_C_MMAP, FZ_OP_touch, 0, m->off, 0,
					   "/proc/self/mem wrote the control region");
			close(fd);
		}
		goto out;
	case 2: {
		unsigned char vec[16];

		FZ(c, FZ_C_OTHER, FZ_HOSTILE, m->addr, 0,
		   mincore((void *)m->addr, m->len < 16 * PG ? m->len : 16 * PG,
			   vec));
		goto out;
	}
	case 3:
		if (m->kind == FZ_MAP_CTRL && m->off == 0) {
			struct fz_ctrlchk k = { (const void *)m->addr, m->len, false };

			if (fz_guard(fz_ctrlchk_fn, &k) == 0 && k.bad)
				fz_finding(FZ_C_MMAP, FZ_OP_touch, 0, m->addr, 0,
					   "control region out of spec");
			goto out;
		}
		break;
	default:
		break;
	}
	if (m->kind == FZ_MAP_INHERITED) {
		/* Not ours: the module must not serve a page through it. */
		t.base = (volatile uint32_t *)(m->addr + PG * fz_below(c, m->len / PG));
		t.words = 1;
		t.write = fz_pct(c, 50);
		t.seed = 0x10;	/* write the first word if writing */
		t.sum = 0;
		if (fz_guard(fz_touch_fn, &t) == 0)
			fz_finding(FZ_C_MMAP, FZ_OP_touch, 0, m->addr, t.write,
				   "inherited arena mapping served a page");
		else
			atomic_fetch_add(&fz_sh->inherited_sigbus, 1);
		goto out;
	}
	t.base = (volatile uint32_t *)m->addr;
	t.words = m->len / 4;
	t.write = (m->prot & PROT_WRITE) && m->kind != FZ_MAP_CTRL &&
		  m->kind != FZ_MAP_OTHER;
	t.seed = fz_rand(c);
	t.sum = 0;
	if (t.words)
		fz_guard(fz_touch_fn, &t);
out:
	pthread_mutex_unlock(&fz_p.lock);
}

/* ---- robust lists and lock words -------------------------------------- */

struct fz_scrib {
	struct fz_ctx *c;
	volatile unsigned char *base;	/* address of region offset @off */
	uint64_t off;			/* region offset of the head */
	uint64_t room;			/* bytes available from the head */
	uint64_t user_size;
	uint32_t id;
};

static void fz_put64(volatile unsigned char *p, uint64_t v)
{
	*(volatile uint64_t *)p = v;
}

/*
 * Build a list at @s->off: head, then entries of 16 bytes at +64, each
 * entry's lock word at entry + 8 (lock_delta 8).
 */
static void fz_scrib_fn(void *arg)
{
	struct fz_scrib *s = arg;
	struct fz_ctx *c = s->c;
	uint64_t n, i, max = (s->room - 64) / 16, e, next;
	volatile unsigned char *h = s->base;
	int shape = (int)fz_below(c, 8);

	if (!max)
		return;
	n = 1 + fz_below(c, max < 8 ? max : 8);
	if (shape == 7)	/* longer than SHMK_ROBUST_LIST_LIMIT if room */
		n = max < 2100 ? max : 2100;
	for (i = 0; i < n; i++) {
		e = s->off + 64 + 16 * i;
		next = i + 1 < n ? e + 16 : s->off;
		if (shape == 1 && i + 1 == n)
			next = s->off + 64;		/* cycle, no head */
		if (shape == 2 && i + 1 == n)
			next = s->user_size + 8 * fz_below(c, 100);
		if (shape == 3 && i == n / 2)
			next = e + 1 + fz_below(c, 7);	/* misaligned */
		if (shape == 4 && i + 1 == n)
			next = fz_rand(c);
		fz_put64(h + 64 + 16 * i, next);
		/* The lock word: ours, sometimes with waiters, or garbage. */
		*(volatile uint32_t *)(h + 64 + 16 * i + 8) =
			shape == 5 ? (uint32_t)fz_rand(c) :
			s->id | (fz_pct(c, 30) ? SHMK_LOCK_WAITERS : 0);
	}
	fz_put64(h, n ? s->off + 64 : s->off);
	fz_put64(h + 8, shape == 6 ? (uint64_t)(int64_t)-(int64_t)fz_rand(c) :
			shape == 5 ? (uint64_t)INT64_MIN : 8);
	fz_put64(h + 16, fz_pct(c, 60) ? SHMK_ROBUST_NONE :
			 fz_pct(c, 70) ? s->off + 64 + 16 * fz_below(c, n) :
			 fz_rand(c));
}

void op_scribble(struct fz_ctx *c)
{
	struct shmk_robust rb;
	struct fz_scrib s;
	struct fz_map *m;
	struct fz_fd *f;
	uint64_t room, at;
	int fd = -1;

	pthread_mutex_lock(&fz_p.lock);
	m = fz_map_pick(c, FZ_MAP_USER, true);
	if (!m || m->len < 128 || !(m->prot & PROT_READ))
		goto out;
	/* The head: 8-aligned, mostly at the start of a page. */
	at = fz_pct(c, 60) ? PG * fz_below(c, m->len / PG) :
	     8 * fz_below(c, (m->len - 96) / 8);
	room = m->len - at;
	if (room < 96)
		goto out;
	s.c = c;
	s.base = (volatile unsigned char *)(m->addr + at);
	s.off = m->off + at;
	s.room = room;
	s.user_size = m->user_size;
	s.id = m->member_id;
	if (fz_guard(fz_scrib_fn, &s))
		goto out;
	f = fz_fd_by_id(m->fd_id);
	if (f)
		fd = f->fd;
	if (fd >= 0 && fz_pct(c, 80)) {
		memset(&rb, 0, sizeof(rb));
		rb.head_offset = s.off;
		if (FZ(c, FZ_C_SET_ROBUST, FZ_HOSTILE, s.off, 0,
		       ioctl(fd, SHMK_IOC_SET_ROBUST, &rb)) == 0)
			atomic_fetch_add(&fz_sh->robust_set, 1);
	}
out:
	pthread_mutex_unlock(&fz_p.lock);
}

struct fz_lockw {
	volatile uint32_t *w;
	uint32_t id, seen;
	int how;	/* 0 lock, 1 unlock, 2 set WAITERS */
	bool ok;
};

static void fz_lockw_fn(void *arg)
{
	struct fz_lockw *l = arg;
	uint32_t cur = __atomic_load_n(l->w, __ATOMIC_ACQUIRE);

	l->seen = cur;
	switch (l->how) {
	case 0:	/* take a free or dead-owner lock */
		if (!(cur & SHMK_LOCK_OWNER_MASK))
			l->ok = __atomic_compare_exchange_n(l->w, &cur,
				l->id | (cur & SHMK_LOCK_WAITERS), false,
				__ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
		break;
	case 1:	/* drop it if ours */
		if ((cur & SHMK_LOCK_OWNER_MASK) == l->id)
			l->ok = __atomic_compare_exchange_n(l->w, &cur, 0, false,
				__ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
		l->seen = cur;
		break;
	default:
		l->ok = __atomic_compare_exchange_n(l->w, &cur,
			cur | SHMK_LOCK_WAITERS, false, __ATOMIC_ACQ_REL,
			__ATOMIC_RELAXED);
		l->seen = cur | SHMK_LOCK_WAITERS;
		break;
	}
}

/* Lock words in the list area: take, wait for, release (and WAKE). */
void op_lock(struct fz_ctx *c)
{
	struct fz_lockw l;
	struct fz_map *m;
	struct fz_fd *f;
	uint64_t off;
	int fd = -1;

	pthread_mutex_lock(&fz_p.lock);
	m = fz_map_pick(c, FZ_MAP_USER, true);
	if (!m || m->len < 256 || !m->member_id)
		goto unlock;
	/* The lock word of entry i of a list at the start of a page. */
	off = PG * fz_below(c, m->len / PG) + 64 + 16 * fz_below(c, 8) + 8;
	if (off + 4 > m->len)
		off = 8;
	l.w = (volatile uint32_t *)(m->addr + off);
	l.id = m->member_id;
	l.how = (int)fz_below(c, 3);
	l.ok = false;
	off += m->off;
	f = fz_fd_by_id(m->fd_id);
	if (f)
		fd = f->fd;
	if (fz_guard(fz_lockw_fn, &l))
		goto unlock;
	pthread_mutex_unlock(&fz_p.lock);

	if (l.how == 0 && l.ok)
		atomic_fetch_add(&fz_sh->lock_taken, 1);
	if (fd < 0)
		return;
	if (l.how == 2 && l.ok) {
		/* Contended: sleep until the owner (or its death) wakes us. */
		struct shmk_wait w;

		memset(&w, 0, sizeof(w));
		w.offset = off;
		w.expected = l.seen;
		w.timeout_ns = (int64_t)fz_below(c, FZ_WAIT_MAX_NS);
		FZ(c, FZ_C_WAIT, FZ_HOSTILE, off, l.seen,
		   ioctl(fd, SHMK_IOC_WAIT, &w));
	} else if (l.how == 1 && l.ok && (l.seen & SHMK_LOCK_WAITERS)) {
		struct shmk_wake k;

		memset(&k, 0, sizeof(k));
		k.offset = off;
		k.count = SHMK_WAKE_ALL;
		FZ(c, FZ_C_WAKE, FZ_HOSTILE, off, 0,
		   ioctl(fd, SHMK_IOC_WAKE, &k));
	}
	return;
unlock:
	pthread_mutex_unlock(&fz_p.lock);
}
