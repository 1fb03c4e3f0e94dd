// SPDX-License-Identifier: MIT
/*
 * Arenas: backend selection, the library header in the user region
 * (initialised once, by whoever gets there first), member slots,
 * membership events and the reclaim of what dead members left.
 */
#include "shmk_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define EVQ_CAP		256
#define INIT_SLICE_NS	(50 * 1000000LL)
/* A read-only attacher waits this long for somebody to set the arena up. */
#define RO_INIT_WAIT_NS	(2000 * 1000000ULL)

#ifdef SHMK_TEST_HOOKS
void (*shmk__test_hook)(const char *where);
/* Tests may shorten the waits for another member's reclaim. */
long long shmk__reclaim_wait_ns = LM_RECLAIM_WAIT_NS;
#define RECLAIM_WAIT_NS	((uint64_t)shmk__reclaim_wait_ns)
#else
#define RECLAIM_WAIT_NS	((uint64_t)LM_RECLAIM_WAIT_NS)
#endif

/*
 * The backend for @flags, and in *@why how it was chosen (for reasons);
 * NULL with *@err (and the reason said) if the choice is invalid.
 */
static const struct shmk_be_ops *pick_backend(unsigned int flags, int *err,
					      const char **why)
{
	const char *env;

	*err = 0;
	if ((flags & SHMK_OPEN_KMOD) && (flags & SHMK_OPEN_PORTABLE)) {
		shmk_reason("SHMK_OPEN_KMOD and SHMK_OPEN_PORTABLE together: "
			    "choose one backend");
		*err = -EINVAL;
		return NULL;
	}
	if (flags & SHMK_OPEN_KMOD) {
		*why = "SHMK_OPEN_KMOD";
		return &shmk_be_kmod;
	}
	if (flags & SHMK_OPEN_PORTABLE) {
		*why = "SHMK_OPEN_PORTABLE";
		return &shmk_be_portable;
	}
	env = getenv("SHMK_BACKEND");
	if (env && *env) {
		if (!strcmp(env, "kmod")) {
			*why = "SHMK_BACKEND=kmod";
			return &shmk_be_kmod;
		}
		if (!strcmp(env, "portable")) {
			*why = "SHMK_BACKEND=portable";
			return &shmk_be_portable;
		}
		shmk_reason("the environment variable SHMK_BACKEND is '%.40s': "
			    "it must be 'kmod', 'portable' or unset", env);
		*err = -EINVAL;
		return NULL;
	}
	if (access(SHMK_DEVICE_PATH, F_OK) == 0) {
		*why = SHMK_DEVICE_PATH " exists";
		return &shmk_be_kmod;
	}
	*why = "no " SHMK_DEVICE_PATH;
	return &shmk_be_portable;
}

/* ---- layout ---------------------------------------------------------- */

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/* Deterministic: every member recomputes it and compares with the header. */
static int lm_layout(uint64_t size, uint32_t mm, uint32_t refs,
		     uint32_t reserve_pages, struct lm_geom *g)
{
	uint64_t off, rest;
	uint32_t n;

	memset(g, 0, sizeof(*g));
	if (mm == 0 || mm > LM_MEMBERS_MAX || refs == 0 || refs > LM_REFS_MAX)
		return -EINVAL;
	g->user_size = size;
	g->member_max = mm;
	g->refs_max = refs;
	g->reserve_pages = reserve_pages;
	off = LM_HDR_SIZE;
	g->slots_off = off;
	off += (uint64_t)(mm + 1) * LM_SLOT_SIZE;
	g->refs_off = align_up(off, 64);
	off = g->refs_off + (uint64_t)mm * refs * sizeof(struct lm_ref);
	off = align_up(off, 64);
	if (off + LM_PAGE >= size)
		return -ENOSPC;
	rest = size - off;
	n = (uint32_t)(rest / (LM_PAGE + sizeof(struct lm_page) +
			       LM_BITS_WORDS * 8 + 4 * sizeof(struct lm_node)));
	for (; n > 0; n--) {
		g->npages = n;
		g->leaves = pow2_at_least(n);
		g->desc_off = off;
		g->bits_off = align_up(off + (uint64_t)n * sizeof(struct lm_page),
				       64);
		g->tree_off = align_up(g->bits_off +
				       (uint64_t)n * LM_BITS_WORDS * 8, 64);
		g->heap_off = align_up(g->tree_off + 2ULL * g->leaves *
				       sizeof(struct lm_node), LM_PAGE);
		if (g->heap_off + ((uint64_t)n << LM_PAGE_SHIFT) <= size)
			return 0;
	}
	return -ENOSPC;
}

/* ---- init handshake ---------------------------------------------------- */

static void init_header(struct shmk_arena *a, const struct lm_geom *g,
			bool wipe)
{
	struct lm_hdr *h = a->hdr;
	uint32_t id;

	if (wipe)
		memset(a->base + sizeof(uint64_t) * 2, 0,
		       g->heap_off - sizeof(uint64_t) * 2);
	h->user_size = g->user_size;
	h->member_max = g->member_max;
	h->refs_max = g->refs_max;
	h->reserve_pages = g->reserve_pages;
	h->npages = g->npages;
	h->leaves = g->leaves;
	h->slots_off = g->slots_off;
	h->refs_off = g->refs_off;
	h->desc_off = g->desc_off;
	h->bits_off = g->bits_off;
	h->tree_off = g->tree_off;
	h->heap_off = g->heap_off;
	h->seed = shmk_random64();
	a->g = *g;
	for (id = 0; id <= g->member_max; id++) {
		struct lm_slot *s = lm_slot(a, id);

		s->ctl = LS_MAKE(LS_FREE, 0, 0);
		s->pages_head = LM_NONE;
		s->reserve_page = LM_NONE;
		s->robust.op_pending = SHMK_ROBUST_NONE;
	}
	lm_heap_init(a);
	h->page_size = LM_PAGE;
	h->version = LM_VERSION;
	st_rel(&h->magic, LM_MAGIC);
}

static int check_header(struct shmk_arena *a)
{
	struct lm_hdr *h = a->hdr;
	struct lm_geom g;
	int r;

	if (ld_acq(&h->magic) != LM_MAGIC) {
		shmk_reason("arena '%s' is not a libshmk arena: its first "
			    "bytes are not the library's header (magic %#x)",
			    a->name, ld_acq(&h->magic));
		return -EPROTO;
	}
	if (h->version != LM_VERSION) {
		shmk_reason("arena '%s' was set up by another libshmk: layout "
			    "version %u, this library knows %u", a->name,
			    h->version, LM_VERSION);
		return -EPROTO;
	}
	if (h->page_size != LM_PAGE || h->user_size != a->size) {
		shmk_reason("arena '%s' is corrupt: its header says page size "
			    "%u and %llu bytes, the region has %llu bytes of "
			    "%u-byte pages", a->name, h->page_size,
			    (unsigned long long)h->user_size,
			    (unsigned long long)a->size, LM_PAGE);
		return -EUCLEAN;
	}
	r = lm_layout(a->size, h->member_max, h->refs_max, h->reserve_pages,
		      &g);
	if (r == 0 &&
	    (g.npages != h->npages || g.leaves != h->leaves ||
	     g.slots_off != h->slots_off || g.refs_off != h->refs_off ||
	     g.desc_off != h->desc_off || g.bits_off != h->bits_off ||
	     g.tree_off != h->tree_off || g.heap_off != h->heap_off))
		r = -EUCLEAN;
	if (r) {
		shmk_reason("arena '%s' is corrupt: the layout in its header "
			    "(%u members, %u references each, heap at %#llx) "
			    "is not the one its size gives", a->name,
			    h->member_max, h->refs_max,
			    (unsigned long long)h->heap_off);
		return -EUCLEAN;
	}
	a->g = g;
	return 0;
}

/* Why lm_layout() refused: the tables do not leave room for a heap. */
static void too_small(struct shmk_arena *a, uint32_t mm, uint32_t refs,
		      uint32_t resv)
{
	char b1[32], b2[32];
	uint64_t need = LM_HDR_SIZE + (uint64_t)(mm + 1) * LM_SLOT_SIZE +
		(uint64_t)mm * refs * sizeof(struct lm_ref) + 2 * LM_PAGE;

	shmk_reason("arena '%s' of %s is too small for the library's "
		    "tables: %u member slots with %u buffer references each "
		    "and a %u-page reserve need more than %s; ask for a "
		    "larger size or lower max_members/refs_per_member",
		    a->name, shmk_fmt_bytes(a->size, b1, sizeof(b1)), mm, refs,
		    resv, shmk_fmt_bytes(need, b2, sizeof(b2)));
}

/*
 * The first member to see the word at 0 initialises the library header.
 * Others wait for LM_INIT_DONE. If the initialiser dies half-way (its id
 * is no longer live with the generation first seen, or the id is now ours)
 * a waiter takes over and starts from scratch.
 */
static int lib_init(struct shmk_arena *a, const struct shmk_arena_opts *o)
{
	uint32_t mm, refs, resv, v, who = 0, who_gen = 0, g;
	uint64_t ro_end = 0;
	struct lm_geom geom;
	struct timespec ts;
	bool wipe;
	int r;

	if (a->size < 2 * LM_PAGE) {
		shmk_reason("arena '%s' has %llu bytes: the library needs at "
			    "least %u", a->name, (unsigned long long)a->size,
			    2 * LM_PAGE);
		return -ENOSPC;
	}
	a->hdr = (struct lm_hdr *)a->base;
	mm = o && o->max_members ? o->max_members : LM_DEF_MEMBERS;
	if (mm > a->be_member_max)
		mm = a->be_member_max;
	if (mm > LM_MEMBERS_MAX)
		mm = LM_MEMBERS_MAX;
	if (o && o->refs_per_member) {
		refs = o->refs_per_member;
	} else {
		/* default; in a small arena the tables get at most 1/4 */
		refs = LM_DEF_REFS;
		while (refs > 16 && (uint64_t)mm * refs * sizeof(struct lm_ref) >
		       a->size / 4)
			refs >>= 1;
	}
	resv = o && o->reserve_bytes ? o->reserve_bytes : LM_PAGE;
	resv = (resv + LM_PAGE - 1) >> LM_PAGE_SHIFT;

	for (;;) {
		v = ld_acq(&a->hdr->init);
		if (v == LM_INIT_DONE)
			return check_header(a);
		/*
		 * Anything but 0, DONE or BUSY | a member id is no value an
		 * initialiser writes: waiting for it to change would be for
		 * ever.
		 */
		if (v != 0 && (!(v & LM_INIT_BUSY) ||
			       (v & ~LM_INIT_BUSY) == 0 ||
			       (v & ~LM_INIT_BUSY) > a->be_member_max ||
			       (v & ~LM_INIT_BUSY) > LM_MEMBERS_MAX)) {
			shmk_reason("arena '%s' is corrupt: its library init "
				    "word is %#x, which no member writes",
				    a->name, v);
			return -EUCLEAN;
		}
		if (a->rdonly) {
			/*
			 * We cannot write the header. Wait for a writer that
			 * is at it or about to be, but not for ever: an arena
			 * nobody set up for the library (raw ABI users) is
			 * -EPROTO, not a hang.
			 */
			if (v == 0 && a->created) {
				shmk_reason("arena '%s' was created by this "
					    "read-only member, which cannot "
					    "set it up for the library",
					    a->name);
				return -EPROTO;
			}
			if (!ro_end) {
				ro_end = shmk_now_ns() + RO_INIT_WAIT_NS;
			} else if (shmk_now_ns() > ro_end) {
				shmk_reason("nobody set arena '%s' up for the "
					    "library within %llu ms (made "
					    "through the raw /dev/shmk ABI?), "
					    "and a read-only member cannot",
					    a->name, RO_INIT_WAIT_NS / 1000000);
				return -EPROTO;
			}
			goto wait;
		}
		if (v == 0 || (v & LM_INIT_BUSY)) {
			uint32_t x = v & ~LM_INIT_BUSY;
			bool dead = v == 0;

			if (!dead && x == a->id) {
				dead = true;	/* an earlier us */
			} else if (!dead) {
				r = a->be->member(a, x, &g);
				if (r == 1 && who != x) {
					who = x;
					who_gen = g;
				} else if (r == 0 || (r == 1 && g != who_gen)) {
					dead = true;	/* < 0: cannot tell */
				}
			}
			if (dead) {
				wipe = v != 0;
				if (!cas_sc(&a->hdr->init, &v,
					    LM_INIT_BUSY | a->id))
					continue;
				r = lm_layout(a->size, mm, refs, resv, &geom);
				if (r) {
					too_small(a, mm, refs, resv);
					st_rel(&a->hdr->init, 0);
					a->be->wake(a, offsetof(struct lm_hdr,
								init),
						    SHMK_WAKE_ALL);
					return r;
				}
				init_header(a, &geom, wipe);
				CRASHPOINT("init:done");
				st_rel(&a->hdr->init, LM_INIT_DONE);
				a->be->wake(a, offsetof(struct lm_hdr, init),
					    SHMK_WAKE_ALL);
				return check_header(a);
			}
		}
wait:
		shmk_deadline(&ts, INIT_SLICE_NS);
		r = a->be->wait(a, offsetof(struct lm_hdr, init), v, &ts,
				SHMK_WAIT_NO_EVENTS);
		if (r == -EINTR) {
			shmk_reason("a signal interrupted the wait for arena "
				    "'%s' to be set up", a->name);
			return r;
		}
	}
}

/* ---- member slots ---------------------------------------------------- */

/* Live, or cannot tell (then we must not reclaim it): true. */
bool shmk_member_live(struct shmk_arena *a, uint32_t id, uint32_t gen)
{
	uint32_t g = 0;
	int r;

	if (id == a->id)
		return gen == a->gen;
	r = a->be->member(a, id, &g);
	return r < 0 || (r == 1 && g == gen);
}

static uint64_t slot_ctl_off(const struct shmk_arena *a, uint32_t id)
{
	return a->g.slots_off + (uint64_t)id * LM_SLOT_SIZE +
		offsetof(struct lm_slot, ctl);
}

/* Wait until the high half of a slot's ctl changes (reclaim finished). */
static int slot_wait(struct shmk_arena *a, uint32_t id, uint64_t c)
{
	struct timespec ts;

	shmk_deadline(&ts, INIT_SLICE_NS);
	return a->be->wait(a, slot_ctl_off(a, id) + 4, (uint32_t)(c >> 32),
			   &ts, SHMK_WAIT_NO_EVENTS);
}

/*
 * Is the helper recorded in a RECLAIM ctl still at work? Asked of the
 * backend, not of the helper's own slot: a member that is reclaiming
 * itself (at detach, or its id's previous incarnation at attach) has no
 * LIVE slot but is very much at work. The helper is named by its id and
 * the low 16 bits of its generation.
 */
static bool helper_live(struct shmk_arena *a, uint64_t c)
{
	uint32_t h = LS_HELPER(c), g = 0;
	int r;

	if (h == 0 || h > a->g.member_max)
		return false;
	if (h == a->id)
		return (a->gen & 0xffff) == LS_HGEN(c);
	r = a->be->member(a, h, &g);
	if (r < 0)
		return true;	/* cannot tell: do not step in */
	return r == 1 && (g & 0xffff) == LS_HGEN(c);
}

/*
 * Recover what member @id of generation @gen left behind, exactly once.
 * The slot goes LIVE -> RECLAIM (helper = us) -> FREE; a helper found dead
 * is replaced; every step below is idempotent, so a replacement simply
 * runs them all again. -EINPROGRESS: a live helper is at it.
 */
static int reclaim_one(struct shmk_arena *a, uint32_t id, uint32_t gen)
{
	struct lm_slot *s;
	uint64_t c, mine = LS_MAKE_RECLAIM(a->id, a->gen, gen), end = 0;
	bool self = id == a->id && gen == a->gen;
	int r;

	if (id == 0 || id > a->g.member_max)
		return -EINVAL;
	if (a->rdonly)
		return -EROFS;
	s = lm_slot(a, id);
	for (;;) {
		c = ld_acq(&s->ctl);
		if (LS_STATE(c) == LS_FREE || LS_GEN(c) != gen)
			return 0;
		if (LS_STATE(c) == LS_LIVE) {
			if (!self && id != a->id && shmk_member_live(a, id, gen))
				return -EBUSY;
		} else if (LS_HELPER(c) != a->id && helper_live(a, c)) {
			if (id != a->id)
				return -EINPROGRESS;
			/*
			 * Our slot: wait, but not for ever (a live member
			 * named by a scribbled ctl will never finish).
			 */
			if (!end) {
				end = shmk_now_ns() + RECLAIM_WAIT_NS;
			} else if (shmk_now_ns() >= end) {
				shmk_reason("arena '%s': member %u did not "
					    "finish the reclaim of slot %u in "
					    "%llu ms", a->name, LS_HELPER(c),
					    id, (unsigned long long)
					    RECLAIM_WAIT_NS / 1000000);
				return -ETIMEDOUT;
			}
			slot_wait(a, id, c);
			continue;
		}
		if (cas_sc(&s->ctl, &c, mine))
			break;
	}
	PROBE_A(cleanup, a, id, gen);
	CRASHPOINT("reclaim:claimed");
	r = lm_journal_resolve_all(a, id);
	if (r == 0)
		r = lm_buf_reclaim(a, id, gen);
	if (r == 0)
		r = lm_heap_reclaim(a, id, gen);
	if (r)
		return r;	/* left in RECLAIM: the next caller resumes */
	CRASHPOINT("reclaim:done");
	/*
	 * Only from our own RECLAIM value: if the slot no longer holds it
	 * (another helper took over), it is not ours to free, and a plain
	 * store could overwrite the LIVE slot of the id's next member.
	 */
	c = mine;
	if (cas_sc(&s->ctl, &c, LS_MAKE(LS_FREE, 0, gen)))
		a->be->wake(a, slot_ctl_off(a, id) + 4, SHMK_WAKE_ALL);
	return 0;
}

/*
 * Recover what member @id of generation @gen left behind, exactly once.
 * The slot goes LIVE -> RECLAIM (helper = us) -> FREE; a helper found dead
 * is replaced; every step is idempotent, so a replacement simply runs them
 * all again. Then reclaims that @id itself was helping with and left
 * unfinished are resumed.
 */
int lm_reclaim(struct shmk_arena *a, uint32_t id, uint32_t gen)
{
	uint32_t i, rounds;
	uint64_t c;
	int r = reclaim_one(a, id, gen);

	if (r)
		return r;
	for (rounds = 0; rounds < 4; rounds++) {
		bool more = false;

		for (i = 1; i <= a->g.member_max; i++) {
			c = ld_acq(&lm_slot(a, i)->ctl);
			if (LS_STATE(c) == LS_RECLAIM && !helper_live(a, c) &&
			    reclaim_one(a, i, LS_GEN(c)) == 0)
				more = true;
		}
		if (!more)
			break;
	}
	return 0;
}

static int lib_attach(struct shmk_arena *a)
{
	struct lm_slot *s;
	uint64_t c, hoff;
	uint32_t id;
	int r;

	if (a->id > a->g.member_max) {
		shmk_reason("arena '%s': the backend gave this member id %u, "
			    "above the %u member slots the library set up "
			    "(max_members)", a->name, a->id, a->g.member_max);
		return -EUSERS;
	}
	a->lib_ready = true;
	if (a->rdonly)
		return 0;
	s = lm_slot(a, a->id);
	for (;;) {
		c = ld_acq(&s->ctl);
		if (LS_STATE(c) == LS_FREE) {
			if (cas_sc(&s->ctl, &c, LS_MAKE(LS_LIVE, 0, a->gen)))
				break;
			continue;
		}
		if (LS_GEN(c) == a->gen) {
			/* RECLAIM of ourselves cannot be: take it */
			st_sc(&s->ctl, LS_MAKE(LS_LIVE, 0, a->gen));
			break;
		}
		/* The previous holder of our id is certainly gone. */
		r = lm_reclaim(a, a->id, LS_GEN(c));
		if (r < 0 && r != -EINPROGRESS)
			return r;
	}
	hoff = a->g.slots_off + (uint64_t)a->id * LM_SLOT_SIZE +
		offsetof(struct lm_slot, robust);
	st_rlx(&s->robust.lock_delta, LM_LOCK_DELTA);
	st_rlx(&s->robust.op_pending, SHMK_ROBUST_NONE);
	st_rel(&s->robust.next, hoff);
	r = a->be->set_robust(a, hoff);
	if (r)
		return r;
	r = lm_heap_attach(a);
	if (r)
		return r;
	/* Members that died with nobody around to clean up after them. */
	for (id = 1; id <= a->g.member_max; id++) {
		if (id == a->id)
			continue;
		c = ld_acq(&lm_slot(a, id)->ctl);
		if (LS_STATE(c) != LS_FREE && !shmk_member_live(a, id, LS_GEN(c)))
			lm_reclaim(a, id, LS_GEN(c));
	}
	return 0;
}

/* ---- open / close ---------------------------------------------------- */

static void arena_free(struct shmk_arena *a)
{
	lm_heap_detach_local(a);
	if (a->epfd >= 0)
		close(a->epfd);
	if (a->evfd >= 0)
		close(a->evfd);
	pthread_mutex_destroy(&a->rl_lock);
	pthread_mutex_destroy(&a->ev_lock);
	pthread_mutex_destroy(&a->rc_lock);
	pthread_mutex_destroy(&a->al_lock);
	pthread_mutex_destroy(&a->j_lock);
	pthread_cond_destroy(&a->j_cond);
	free(a->evq);
	free(a->rcq);
	free(a);
}

/* Why arena_open() refuses @flags. */
static void bad_flags(unsigned int flags, unsigned int allowed, bool create)
{
	unsigned int bad = flags & ~allowed;

	if (!create && (bad & (SHMK_OPEN_EXCL | SHMK_OPEN_PERSISTENT)))
		shmk_reason("SHMK_OPEN_EXCL and SHMK_OPEN_PERSISTENT are "
			    "flags of shmk_arena_create(), not of "
			    "shmk_arena_attach()");
	else
		shmk_reason("unknown flags %#x for shmk_arena_%s()", bad,
			    create ? "create" : "attach");
}

static int check_opts(const struct shmk_arena_opts *o)
{
	int i;

	for (i = 0; i < 4; i++) {
		if (o->reserved[i]) {
			shmk_reason("shmk_arena_opts.reserved[%d] is not zero "
				    "(fields this library does not know: "
				    "zero the struct before filling it in)",
				    i);
			return -EINVAL;
		}
	}
	if (o->max_members > LM_MEMBERS_MAX) {
		shmk_reason("max_members %u is above the library's %u",
			    o->max_members, LM_MEMBERS_MAX);
		return -EINVAL;
	}
	if (o->refs_per_member > LM_REFS_MAX) {
		shmk_reason("refs_per_member %u is above the library's %u",
			    o->refs_per_member, LM_REFS_MAX);
		return -EINVAL;
	}
	if (o->mode & ~0777U) {
		shmk_reason("mode %#o has bits beyond 0777 (only permission "
			    "bits are allowed)", o->mode);
		return -EINVAL;
	}
	return 0;
}

static int arena_open(const char *name, const struct shmk_arena_opts *o,
		      unsigned int flags, bool create, struct shmk_arena **out)
{
	struct epoll_event e = { .events = EPOLLIN };
	struct shmk_arena_opts def;
	struct shmk_arena *a;
	unsigned int allowed;
	int r;

	shmk_reason_clear();
	if (!out) {
		shmk_reason("no place for the handle (out is NULL)");
		return -EINVAL;
	}
	*out = NULL;
	r = shmk_name_ok(name);
	if (r)
		return r;
	allowed = SHMK_OPEN_KMOD | SHMK_OPEN_PORTABLE | SHMK_OPEN_RDONLY;
	if (create)
		allowed |= SHMK_OPEN_EXCL | SHMK_OPEN_PERSISTENT;
	if (flags & ~allowed) {
		bad_flags(flags, allowed, create);
		return -EINVAL;
	}
	if (o) {
		r = check_opts(o);
		if (r)
			return r;
	}
	if (create) {
		/* The defaults shmk.h documents, for the backend too. */
		if (o)
			def = *o;
		else
			memset(&def, 0, sizeof(def));
		if (!def.max_members)
			def.max_members = LM_DEF_MEMBERS;
		o = &def;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		r = -ENOMEM;
		goto fail_nomem;
	}
	a->epfd = a->evfd = -1;
	a->nonce = shmk_random64();
	pthread_mutex_init(&a->rl_lock, NULL);
	pthread_mutex_init(&a->ev_lock, NULL);
	pthread_mutex_init(&a->rc_lock, NULL);
	pthread_mutex_init(&a->al_lock, NULL);
	pthread_mutex_init(&a->j_lock, NULL);
	pthread_cond_init(&a->j_cond, NULL);
	a->be = pick_backend(flags, &r, &a->be_why);
	if (!a->be)
		goto fail;
	a->rdonly = !!(flags & SHMK_OPEN_RDONLY);
	strncpy(a->name, name, SHMK_NAME_MAX - 1);
	a->evq = calloc(EVQ_CAP, sizeof(*a->evq));
	a->evq_cap = EVQ_CAP;
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	a->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!a->evq || a->epfd < 0 || a->evfd < 0) {
		r = a->evq ? -errno : -ENOMEM;
		goto fail;
	}
	if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->evfd, &e) < 0) {
		r = -errno;
		goto fail;
	}
	r = a->be->open(a, name, o, flags, create);
	if (r)
		goto fail;
	r = lib_init(a, o);
	if (r == 0 && !a->trace_id)
		a->trace_id = ld_rlx(&a->hdr->seed) | SHMK_TRACE_ID_LIB;
	if (r == 0)
		r = lib_attach(a);
	if (r) {
		if (a->lib_ready && !a->rdonly)
			lm_reclaim(a, a->id, a->gen);
		a->be->close(a, false);
		goto fail;
	}
	PROBE_A(attach, a, a->gen, a->be->name,
		(a->created ? 1U : 0U) | (a->rdonly ? 2U : 0U));
	*out = a;
	return 0;
fail:
	if (!shmk_reason_isset())
		shmk_reason("%s arena '%s' (%s backend, chosen by %s): %s%s",
			    create ? "creating" : "attaching to", name,
			    a->be ? a->be->name : "no", a->be_why ? a->be_why :
			    "flags", strerror(-r), r == -EMFILE ?
			    " (each handle uses 3 to 4 file descriptors)" : "");
	arena_free(a);
	return r;
fail_nomem:
	shmk_reason("no memory for an arena handle");
	return r;
}

SHMK_EXPORT int shmk_arena_create(const char *name,
				  const struct shmk_arena_opts *opts,
				  unsigned int flags, struct shmk_arena **out)
{
	int r;
	ERRNO_SAVE;

	r = arena_open(name, opts, flags, true, out);
	ERRNO_RESTORE;
	return r;
}

SHMK_EXPORT int shmk_arena_attach(const char *name, unsigned int flags,
				  struct shmk_arena **out)
{
	int r;
	ERRNO_SAVE;

	r = arena_open(name, NULL, flags, false, out);
	ERRNO_RESTORE;
	return r;
}

SHMK_EXPORT int shmk_arena_detach(struct shmk_arena *a)
{
	int r = 0;
	ERRNO_SAVE;

	if (!a)
		return -EINVAL;
	if (!a->rdonly) {
		if (!lm_robust_empty(a)) {
			shmk_areason(a, "this member still holds a lock of "
				     "arena '%s': release it (or them) "
				     "first", a->name);
			ERRNO_RESTORE;
			return -EBUSY;
		}
		/* Everything we hold goes back now, by ourselves. */
		shmk_pump_and_reclaim(a);
		r = lm_reclaim(a, a->id, a->gen);
		a->be->set_robust(a, SHMK_ROBUST_NONE);
	}
	PROBE_A(detach, a, a->gen);
	a->be->close(a, true);
	shmk_areason_forget(a);
	arena_free(a);
	ERRNO_RESTORE;
	return r;
}

SHMK_EXPORT int shmk_arena_remove(const char *name, unsigned int flags)
{
	const struct shmk_be_ops *be;
	const char *why = NULL;
	int r;
	ERRNO_SAVE;

	shmk_reason_clear();
	r = shmk_name_ok(name);
	if (r)
		goto out;
	if (flags & ~(SHMK_OPEN_KMOD | SHMK_OPEN_PORTABLE)) {
		shmk_reason("unknown flags %#x for shmk_arena_remove() (only "
			    "a backend flag)",
			    flags & ~(SHMK_OPEN_KMOD | SHMK_OPEN_PORTABLE));
		r = -EINVAL;
		goto out;
	}
	be = pick_backend(flags, &r, &why);
	if (be)
		r = be->remove(name, 0);
	if (r && !shmk_reason_isset())
		shmk_reason("removing arena '%s' (%s backend, chosen by %s): "
			    "%s", name, be->name, why, r == -ENOENT ?
			    "there is no arena of that name" : strerror(-r));
out:
	ERRNO_RESTORE;
	return r;
}

int shmk_arena_watch(const char *name, unsigned int flags)
{
	const struct shmk_be_ops *be;
	const char *why = NULL;
	int r;

	be = pick_backend(flags, &r, &why);
	if (!be)
		return r;
	return be->watch ? be->watch(name) : -EOPNOTSUPP;
}

/* ---- simple accessors ------------------------------------------------ */

SHMK_EXPORT int shmk_arena_info(const struct shmk_arena *a,
				struct shmk_arena_info *info)
{
	if (!a || !info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->base = a->base;
	info->size = a->size;
	info->member_id = a->id;
	info->generation = a->gen;
	info->member_max = a->g.member_max;
	info->created = a->created;
	info->heap_offset = a->g.heap_off;
	info->heap_size = (uint64_t)a->g.npages << LM_PAGE_SHIFT;
	info->refs_per_member = a->g.refs_max;
	info->reserve_bytes = a->g.reserve_pages << LM_PAGE_SHIFT;
	info->backend = a->be->name;
	return 0;
}

SHMK_EXPORT void *shmk_arena_ptr(const struct shmk_arena *a, uint64_t off)
{
	if (!a || off >= a->size)
		return NULL;
	return a->base + off;
}

SHMK_EXPORT uint64_t shmk_arena_off(const struct shmk_arena *a, const void *p)
{
	const uint8_t *q = p;

	if (!a || !q || q < a->base || q >= a->base + a->size)
		return SHMK_OFF_NONE;
	return (uint64_t)(q - a->base);
}

SHMK_EXPORT int shmk_arena_root(const struct shmk_arena *a, unsigned int idx,
				uint64_t *off)
{
	if (!a || !off)
		return -EINVAL;
	if (idx >= SHMK_ROOTS) {
		ERRNO_SAVE;

		shmk_areason(a, "root slot %u: there are %d (0..%d)", idx,
			     SHMK_ROOTS, SHMK_ROOTS - 1);
		ERRNO_RESTORE;
		return -EINVAL;
	}
	*off = offsetof(struct lm_hdr, roots) + (uint64_t)idx * 8;
	return 0;
}

SHMK_EXPORT int shmk_arena_member_alive(struct shmk_arena *a, uint32_t id,
					uint32_t gen)
{
	int r;
	ERRNO_SAVE;

	if (!a)
		return -EINVAL;
	r = shmk_member_live(a, id, gen);
	ERRNO_RESTORE;
	return r;
}

/* ---- events ---------------------------------------------------------- */

/* Called with ev_lock held (from a backend's pump). */
int shmk_ev_push(struct shmk_arena *a, const struct shmk_event *ev)
{
	uint64_t one = 1;
	unsigned int i;

	if (ev->type == SHMK_EVENT_EXIT)
		PROBE_A(end, a, ev->member_id, ev->how, ev->status,
			ev->generation, ev->pid, ev->flags);
	if (ev->type == SHMK_EVENT_EXIT && ev->member_id != a->id &&
	    !a->rdonly) {
		if (a->rcq_len == a->rcq_cap) {
			unsigned int nc = a->rcq_cap ? a->rcq_cap * 2 : 16;
			void *n = realloc(a->rcq, nc * sizeof(*a->rcq));

			if (n) {
				a->rcq = n;
				a->rcq_cap = nc;
			}
		}
		if (a->rcq_len < a->rcq_cap) {
			a->rcq[a->rcq_len].id = ev->member_id;
			a->rcq[a->rcq_len].gen = ev->generation;
			a->rcq_len++;
		}
	}
	if (ev->type == SHMK_EVENT_OVERFLOW) {
		a->evq_lost += ev->lost;
	} else if (a->evq_len == a->evq_cap) {
		a->evq_lost++;
	} else {
		i = (a->evq_head + a->evq_len) % a->evq_cap;
		a->evq[i] = *ev;
		__atomic_store_n(&a->evq_len, a->evq_len + 1,
				 __ATOMIC_RELEASE);
	}
	if (write(a->evfd, &one, sizeof(one)) < 0) {
		/* counter saturated: it is readable anyway */
	}
	return 0;
}

/*
 * Run the reclaim of (@id, @gen), or see it finished: when another
 * survivor is at it (-EINPROGRESS), wait on the slot word, which it wakes
 * when done; a helper that dies meanwhile is replaced by our next try
 * (checked after each slice). Bounded by LM_RECLAIM_WAIT_NS in all: a
 * helper that makes no progress (stopped, or stuck on a lock we hold)
 * cannot block us for ever.
 */
static int reclaim_settled(struct shmk_arena *a, uint32_t id, uint32_t gen)
{
	uint64_t end = shmk_now_ns() + RECLAIM_WAIT_NS, c;
	int r;

	for (;;) {
		r = lm_reclaim(a, id, gen);
		if (r != -EINPROGRESS || shmk_now_ns() >= end)
			return r;
		c = ld_acq(&lm_slot(a, id)->ctl);
		if (LS_STATE(c) != LS_RECLAIM || LS_GEN(c) != gen)
			continue;
		CRASHPOINT("reclaim:wait");
		if (slot_wait(a, id, c) == -EINTR)
			return -EINTR;
	}
}

/*
 * Pump backend events and run the reclaims they call for; when it
 * returns, the reclaim of every exit it read is finished (unless a live
 * helper is still at it after LM_RECLAIM_WAIT_NS).
 */
int shmk_pump_and_reclaim(struct shmk_arena *a)
{
	struct { uint32_t id, gen; } item;
	int r;

	pthread_mutex_lock(&a->ev_lock);
	r = a->be->pump(a);
	pthread_mutex_unlock(&a->ev_lock);
	for (;;) {
		pthread_mutex_lock(&a->ev_lock);
		if (!a->rcq_len) {
			pthread_mutex_unlock(&a->ev_lock);
			break;
		}
		item.id = a->rcq[0].id;
		item.gen = a->rcq[0].gen;
		memmove(a->rcq, a->rcq + 1, (a->rcq_len - 1) * sizeof(*a->rcq));
		a->rcq_len--;
		pthread_mutex_unlock(&a->ev_lock);
		reclaim_settled(a, item.id, item.gen);
	}
	return r;
}

SHMK_EXPORT int shmk_arena_event_fd(const struct shmk_arena *a)
{
	return a ? a->epfd : -EINVAL;
}

SHMK_EXPORT int shmk_arena_events(struct shmk_arena *a, struct shmk_event *ev,
				  unsigned int n)
{
	uint64_t cnt;
	unsigned int k = 0;
	ERRNO_SAVE;

	if (!a || (!ev && n))
		return -EINVAL;
	pthread_mutex_lock(&a->rc_lock);
	shmk_pump_and_reclaim(a);
	pthread_mutex_lock(&a->ev_lock);
	if (a->evq_lost && n) {
		memset(&ev[0], 0, sizeof(ev[0]));
		ev[0].type = SHMK_EVENT_OVERFLOW;
		ev[0].lost = a->evq_lost;
		a->evq_lost = 0;
		k = 1;
	}
	while (k < n && a->evq_len) {
		ev[k++] = a->evq[a->evq_head];
		a->evq_head = (a->evq_head + 1) % a->evq_cap;
		__atomic_store_n(&a->evq_len, a->evq_len - 1,
				 __ATOMIC_RELEASE);
	}
	if (!a->evq_len && !a->evq_lost) {
		if (read(a->evfd, &cnt, sizeof(cnt)) < 0) {
			/* already empty */
		}
	}
	pthread_mutex_unlock(&a->ev_lock);
	pthread_mutex_unlock(&a->rc_lock);
	ERRNO_RESTORE;
	return (int)k;
}

/* ---- wait / wake ----------------------------------------------------- */

/* Why @off (or @bad_flags) is no word to wait or wake on. */
static void bad_word(struct shmk_arena *a, uint64_t off, unsigned int bad_flags)
{
	if (bad_flags)
		shmk_areason(a, "unknown wait flags %#x", bad_flags);
	else if (off & 3)
		shmk_areason(a, "arena offset %#llx is not 4-byte aligned",
			     (unsigned long long)off);
	else
		shmk_areason(a, "arena offset %#llx is beyond the user "
			     "region of arena '%s' (%llu bytes)",
			     (unsigned long long)off, a->name,
			     (unsigned long long)a->size);
}

int shmk_wait_internal(struct shmk_arena *a, uint64_t off, uint32_t expected,
		       const struct timespec *abs, unsigned int flags)
{
	if (!(flags & (SHMK_WAIT_NO_EVENTS | LM_WAIT_NOLOCALQ)) &&
	    __atomic_load_n(&a->evq_len, __ATOMIC_ACQUIRE))
		return SHMK_WAIT_EVENT;
	return a->be->wait(a, off, expected, abs, flags & SHMK_WAIT_NO_EVENTS);
}

SHMK_EXPORT int shmk_arena_wait(struct shmk_arena *a, uint64_t off,
				uint32_t expected, int64_t timeout_ns,
				unsigned int flags)
{
	struct timespec ts;
	int r;
	ERRNO_SAVE;

	if (!a)
		return -EINVAL;
	if (!off_ok(a, off, 4, 4) || (flags & ~SHMK_WAIT_NO_EVENTS)) {
		bad_word(a, off, flags & ~SHMK_WAIT_NO_EVENTS);
		ERRNO_RESTORE;
		return -EINVAL;
	}
	if (timeout_ns >= 0)
		shmk_deadline(&ts, timeout_ns);
	r = shmk_wait_internal(a, off, expected, timeout_ns >= 0 ? &ts : NULL,
			       flags);
	ERRNO_RESTORE;
	return r;
}

SHMK_EXPORT int shmk_arena_wake(struct shmk_arena *a, uint64_t off,
				uint32_t n)
{
	int r;
	ERRNO_SAVE;

	if (!a)
		return -EINVAL;
	if (!off_ok(a, off, 4, 4) || n == 0) {
		if (n == 0)
			shmk_areason(a, "wake of 0 waiters (SHMK_WAKE_ALL "
				     "wakes them all)");
		else
			bad_word(a, off, 0);
		ERRNO_RESTORE;
		return -EINVAL;
	}
	r = a->be->wake(a, off, n);
	ERRNO_RESTORE;
	return r;
}
