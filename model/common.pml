/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the models: compare-and-swap, the futex-like wait/wake of the
 * backends (kmod and portable), membership events, and the killer.
 *
 * Memory model: every load, store and read-modify-write of a shared word is
 * one atomic, sequentially consistent step (the code uses seq_cst RMWs and
 * fences at every point where the order matters; the weaker orders of the
 * plain loads are not modelled).
 */

/* ---- cas_sc(): one indivisible step ---------------------------------- */
#define CAS(w, e, n, ok) d_step { if :: (w) == (e) -> w = (n); ok = 1 \
				      :: else -> ok = 0 fi }
#define CAS_(w, e, n)    d_step { if :: (w) == (e) -> w = (n) \
				      :: else -> skip fi }

/*
 * ---- wait/wake: shmk_wait_internal() and be->wait()/be->wake() --------
 * WAIT(word, expected, wid, nolocal, r): the word is compared with
 * @expected and the caller queued in one step (futex semantics), then it
 * sleeps until a WAKE of @wid, a membership event (the kernel's pending
 * events; with nolocal == 0 also the arena's local event queue), or, if it
 * has a timeout budget, a timeout. Spurious wake-ups are not modelled.
 */
#define W_NONE		0
#define R_OK		0	/* woken, or the word had changed */
#define R_EVENT		1	/* SHMK_WAIT_EVENT */
#define R_TIMEDOUT	2	/* -ETIMEDOUT */

#define WAITL(word, expected, wid, nolocal, r, lbl) \
	d_step { \
		if \
		:: (word) != (expected) -> r = R_OK; waitq[me] = W_NONE \
		:: else -> waitq[me] = (wid); r = 255 \
		fi \
	}; \
lbl:	if \
	:: r == R_OK -> skip \
	:: r != R_OK && waitq[me] == W_NONE -> r = R_OK \
	:: r != R_OK && (evk[me] || (!(nolocal) && evl[me])) -> \
		d_step { waitq[me] = W_NONE; r = R_EVENT } \
	:: r != R_OK && tmo[me] > 0 -> \
		d_step { waitq[me] = W_NONE; tmo[me]--; r = R_TIMEDOUT } \
	fi
#define WAIT(word, expected, wid, nolocal, r) \
	d_step { \
		if \
		:: (word) != (expected) -> r = R_OK; waitq[me] = W_NONE \
		:: else -> waitq[me] = (wid); r = 255 \
		fi \
	}; \
	if \
	:: r == R_OK -> skip \
	:: r != R_OK && waitq[me] == W_NONE -> r = R_OK \
	:: r != R_OK && (evk[me] || (!(nolocal) && evl[me])) -> \
		d_step { waitq[me] = W_NONE; r = R_EVENT } \
	:: r != R_OK && tmo[me] > 0 -> \
		d_step { waitq[me] = W_NONE; tmo[me]--; r = R_TIMEDOUT } \
	fi

/* wake(off, SHMK_WAKE_ALL): everyone queued on @wid */
#define WAKE(wid) d_step { \
		i_w = 0; \
		do \
		:: i_w < NPROC -> \
			if :: waitq[i_w] == (wid) -> waitq[i_w] = W_NONE \
			   :: else -> skip fi; \
			i_w++ \
		:: else -> break \
		od; \
		i_w = 0 \
	}

/*
 * A member dies: the backend says it is gone at once (shmk_member_live()
 * false), its waits end, and every survivor gets a kernel event
 * (evk: pending in the kernel, evl: read into the arena's local queue by
 * shmk_pump_and_reclaim()).
 */
#define DIE(who) d_step { \
		alive[who] = 0; waitq[who] = W_NONE; \
		i_w = 0; \
		do \
		:: i_w < NPROC -> \
			if :: i_w != (who) && alive[i_w] && attached[i_w] -> evk[i_w] = 1 \
			   :: else -> skip fi; \
			i_w++ \
		:: else -> break \
		od; \
		i_w = 0 \
	}

/* tk_pump(): shmk_pump_and_reclaim() reads the kernel's events */
#define PUMP() d_step { if :: evk[me] -> evk[me] = 0; evl[me] = 1 \
			   :: else -> skip fi }
