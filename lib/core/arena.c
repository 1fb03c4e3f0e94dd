// SPDX-License-Identifier: MIT
/*
 * Arenas: backend selection, the library header in the user region
 * (initialised once, by whoever gets there first), taking a member slot
 * at attach, open and close. The top of the core: it calls everything
 * below it (reclaim.c at attach and detach, alloc.c for the heap).
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

/* The library's table sizes for this arena: members, refs, reserve. */
static void lib_params(const struct shmk_arena *a,
		       const struct shmk_arena_opts *o, uint32_t *mmp,
		       uint32_t *refsp, uint32_t *resvp)
{
	uint32_t mm, refs, resv;

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
	resv = o && o->reserve_bytes ? o->reserve_bytes : LM_DEF_RESERVE;
	*mmp = mm;
	*refsp = refs;
	*resvp = (resv + LM_PAGE - 1) >> LM_PAGE_SHIFT;
}

/*
 * A read-only member finds the header not set up (@v): 0 to wait for a
 * writer, -EPROTO when none will come (we created it, or nobody did it
 * by *@ro_end).
 */
static int ro_init_wait(struct shmk_arena *a, uint32_t v, uint64_t *ro_end)
{
	if (v == 0 && a->created) {
		shmk_reason("arena '%s' was created by this read-only member, "
			    "which cannot set it up for the library", a->name);
		return -EPROTO;
	}
	if (!*ro_end) {
		*ro_end = shmk_now_ns() + RO_INIT_WAIT_NS;
	} else if (shmk_now_ns() > *ro_end) {
		shmk_reason("nobody set arena '%s' up for the library within "
			    "%llu ms (made through the raw /dev/shmk ABI?), and "
			    "a read-only member cannot", a->name,
			    RO_INIT_WAIT_NS / 1000000);
		return -EPROTO;
	}
	return 0;
}

/* We hold the init word (LM_INIT_BUSY | our id): lay the header out. */
static int init_claimed(struct shmk_arena *a, uint32_t mm, uint32_t refs,
			uint32_t resv, bool wipe)
{
	struct lm_geom geom;
	int r;

	r = lm_layout(a->size, mm, refs, resv, &geom);
	if (r) {
		too_small(a, mm, refs, resv);
		st_rel(&a->hdr->init, 0);
		a->be->wake(a, offsetof(struct lm_hdr, init), SHMK_WAKE_ALL);
		return r;
	}
	init_header(a, &geom, wipe);
	CRASHPOINT("init:done");
	st_rel(&a->hdr->init, LM_INIT_DONE);
	a->be->wake(a, offsetof(struct lm_hdr, init), SHMK_WAKE_ALL);
	return check_header(a);
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
	struct timespec ts;
	int r;

	if (a->size < 2 * LM_PAGE) {
		shmk_reason("arena '%s' has %llu bytes: the library needs at "
			    "least %u", a->name, (unsigned long long)a->size,
			    2 * LM_PAGE);
		return -ENOSPC;
	}
	a->hdr = (struct lm_hdr *)a->base;
	lib_params(a, o, &mm, &refs, &resv);
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
			r = ro_init_wait(a, v, &ro_end);
			if (r)
				return r;
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
				bool wipe = v != 0;

				if (!cas_sc(&a->hdr->init, &v,
					    LM_INIT_BUSY | a->id))
					continue;
				return init_claimed(a, mm, refs, resv, wipe);
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

/*
 * Check the arguments of a create or attach; for a create, *@o becomes
 * @def: the caller's options with the defaults shmk.h documents filled
 * in, for the backend too.
 */
static int open_args(const char *name, const struct shmk_arena_opts **o,
		     unsigned int flags, bool create,
		     struct shmk_arena_opts *def)
{
	unsigned int allowed;
	int r;

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
	if (*o) {
		r = check_opts(*o);
		if (r)
			return r;
	}
	if (!create)
		return 0;
	if (*o)
		*def = **o;
	else
		memset(def, 0, sizeof(*def));
	if (!def->size)
		def->size = LM_DEF_SIZE;
	if (!def->mode)
		def->mode = LM_DEF_MODE;
	if (!def->max_members)
		def->max_members = LM_DEF_MEMBERS;
	*o = def;
	return 0;
}

/* A handle with its locks, and no fd yet. */
static struct shmk_arena *handle_new(void)
{
	struct shmk_arena *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->epfd = a->evfd = -1;
	a->reclaim_exits = shmk_pump_and_reclaim;
	a->nonce = shmk_random64();
	pthread_mutex_init(&a->rl_lock, NULL);
	pthread_mutex_init(&a->ev_lock, NULL);
	pthread_mutex_init(&a->rc_lock, NULL);
	pthread_mutex_init(&a->al_lock, NULL);
	pthread_mutex_init(&a->j_lock, NULL);
	pthread_cond_init(&a->j_cond, NULL);
	return a;
}

static int arena_open(const char *name, const struct shmk_arena_opts *o,
		      unsigned int flags, bool create, struct shmk_arena **out)
{
	struct epoll_event e = { .events = EPOLLIN };
	struct shmk_arena_opts def;
	struct shmk_arena *a;
	int r;

	shmk_reason_clear();
	if (!out) {
		shmk_reason("no place for the handle (out is NULL)");
		return -EINVAL;
	}
	*out = NULL;
	r = open_args(name, &o, flags, create, &def);
	if (r)
		return r;
	a = handle_new();
	if (!a) {
		r = -ENOMEM;
		goto fail_nomem;
	}
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
