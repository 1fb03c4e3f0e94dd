/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The bounded queue of lib/msg/queue.c: the ring (rule R), waking the consumer
 * (rule W) and ticket admission (rule T), with senders that may die at any
 * step and one that may time out. Documentation/model.rst maps every step
 * tag [..] to the C code it stands for.
 *
 * Processes: the consumer (member CID) and NS senders (members 1..NS), each
 * sending NMSG messages with SHMK_QSEND_WAIT and no deadline (sender NS has
 * a budget of TMO timeouts), plus a killer that kills up to MAXDEAD senders
 * at any step. The ring starts full: CAP messages of the consumer's own
 * producer handle (as in tests/msg/t_queue.c).
 *
 * Checked: no message published is delivered twice (assert at delivery);
 * once nothing can move, every message published was delivered, a send
 * that returned 0 published exactly one, and no live sender is still
 * waiting (assert in Quiet, plus SPIN's invalid end states).
 *
 * Seeded bugs (-D...) put a fixed bug back (model/README.md: not yet
 * detected by the configurations that fit the budget):
 *   SEED_FIN_IN_ADMIT  undoes fix (a): tk_admit() moves tk_fin only before
 *                      its loop, not after skipping tickets
 *   SEED_SETTLE_NEXT   fixed (b): tk_settle() does not count a ticket whose
 *                      taker died before helping tk_next
 *   SEED_NO_HOLE       repair_head() never skips a hole
 */
#include "common.pml"

#ifndef CAP
#define CAP	2
#endif
#ifndef NT
#define NT	4	/* MQ_TICKETS */
#endif
#ifndef NS
#define NS	3
#endif
#ifndef NMSG
#define NMSG	1
#endif
#ifndef NMSG_LAST
#define NMSG_LAST	NMSG	/* messages of sender NS */
#endif
#ifndef KILLABLE
#define KILLABLE	NS	/* senders 1..KILLABLE may be killed */
#endif
#ifndef MAXDEAD
#define MAXDEAD	1
#endif
#ifndef TMO
#define TMO	1
#endif
#define CID	(NS + 1)

/*
 * SHMK_MSG_CRASH in the model: -DCRASH_AT=CP_x makes sender 1 die at that
 * point (on top of what the killer does), to replay a test's scenario.
 */
#define CP_NONE		0
#define CP_TAKEN	1
#define CP_SERVED	2
#ifndef CRASH_AT
#define CRASH_AT	CP_NONE
#endif
#define CRASHPOINT(p) \
	if \
	:: me == 1 && CRASH_AT == (p) -> kill[me] = 1 \
	:: else -> skip \
	fi
#define NPROC	(NS + 2)

/*
 * Granularity. By default the read-only helpers (tk_fin_advance(),
 * tk_room(), tk_may_pass(), mq_pending(), wake_consumer()) and each
 * iteration of tk_admit(), tk_settle() and drain() are one step (G_BEGIN
 * .. G_END); a member may die between any two such steps and between the
 * steps of ring_try(), tk_take(), tk_done(), tk_cancel(), repair_head()
 * and send_wait(). -DFINE makes every load and store a step of its own
 * (far more states: make model-full).
 */
#ifdef FINE
#define G_BEGIN
#define G_END
#else
#define G_BEGIN	atomic {
#define G_END	}
#endif

/* slot ctl: SC_MAKE(pos, st, id, gen) */
#define SC_FREE	0
#define SC_BUSY	1
#define SC_FULL	2
#define SC(pos, st, id)	((pos) * 32 + (st) * 8 + (id))
#define SC_POS(c)	((c) / 32)
#define SC_ST(c)	(((c) / 8) % 4)
#define SC_ID(c)	((c) % 8)

/* ticket word: TK_MAKE(t, id, gen) | TK_CANCEL, 0 = free */
#define TK(t, id)	(((t) + 1) * 32 + (id) * 2)
#define TK_T(w)		((w) / 32 - 1)
#define TK_ID(w)	(((w) / 2) % 16)
#define TK_CANCEL	1
#define TK_CANC(w)	((w) % 2)
#define TK_VALID(w)	((w) != 0)
#define TK_HELD(w, t)	((w) != 0 && TK_CANC(w) == 0 && TK_T(w) == (t))

#define W_SLEEP	1	/* h->sleeping */
#define W_SERVE	2	/* h->tk_serve */
#define W_SPACE	3	/* h->space_seq */

/* ---- the queue header and ring (struct mq_hdr, struct mq_slot) -------- */
int ring[CAP];
byte tail, head;
byte sleeping;
byte tk_next, tk_serve, tk_fin, swaiters, space_seq;
int tk[NT];

/* ---- members, waits, events ------------------------------------------ */
bool alive[NPROC];
bool kill[NPROC];
bool attached[NPROC];	/* events go to members attached at the death */
byte waitq[NPROC];
bool evk[NPROC], evl[NPROC];
byte tmo[NPROC];
byte ndead;
byte i_w;

/* ---- what the checks look at ------------------------------------------- */
byte published[NPROC];	/* FULL stores */
byte delivered[NPROC];	/* taken by the consumer */
byte ok_ret[NPROC];	/* sends that returned 0 */
bool done[NPROC];	/* finished (or dead) */

/* tk_room(): 4 loads */
#define TK_ROOM(room) \
	rm_h = head; rm_t = tail; rm_f = tk_fin; rm_s = tk_serve; \
	room = CAP - (rm_t - rm_h) - (rm_s - rm_f)

/* [fin] tk_fin_advance() */
inline tk_fin_advance()
{
	G_BEGIN
	do
	:: fa_f = tk_fin;				/* [fin.load] */
		if
		:: fa_f == tk_serve -> break		/* [fin.serve] */
		:: else -> skip
		fi;
		fa_c = tk[fa_f % NT];			/* [fin.word] */
		if
		:: TK_HELD(fa_c, fa_f) -> break
		:: else -> skip
		fi;
		CAS_(tk_fin, fa_f, fa_f + 1)		/* [fin.cas] */
	od;
	fa_f = 0; fa_c = 0
	G_END
}

/* [admit] tk_admit() */
inline tk_admit()
{
	ad_moved = 0;
	tk_fin_advance();
	do
	:: G_BEGIN
		ad_s = tk_serve;			/* [admit.serve] */
		if
		:: ad_s == tk_next -> break		/* [admit.next] */
		:: else -> skip
		fi;
		ad_c = tk[ad_s % NT];			/* [admit.word] */
		ad_ok = 0;
		if
		:: !TK_VALID(ad_c) || TK_T(ad_c) != ad_s -> skip
		:: TK_HELD(ad_c, ad_s) ->
			TK_ROOM(ad_room);		/* [admit.room] */
			if
			:: ad_room <= 0 -> break
			:: else -> skip
			fi;
			CAS(tk_serve, ad_s, ad_s + 1, ad_ok); /* [admit.cas] */
			ad_moved = ad_moved | ad_ok;
			ad_ok = 0
		:: TK_VALID(ad_c) && TK_T(ad_c) == ad_s && !TK_HELD(ad_c, ad_s) ->
			/* gave up or died waiting: skip, then free */
			CAS(tk_serve, ad_s, ad_s + 1, ad_ok) /* [admit.skip] */
		fi
		G_END;
		if
		:: ad_ok ->
			CAS_(tk[ad_s % NT], ad_c, 0);	/* [admit.free] */
			ad_moved = 1;
			ad_ok = 0
		:: else -> skip
		fi
	od;
#ifndef SEED_FIN_IN_ADMIT
	/* fixed (a): tk_fin follows tk_serve over skipped tickets */
	if
	:: ad_moved -> tk_fin_advance()		/* [admit.fin] */
	:: else -> skip
	fi;
#endif
	if
	:: ad_moved -> WAKE(W_SERVE)			/* [admit.wake] */
	:: else -> skip
	fi;
	ad_s = 0; ad_c = 0; ad_room = 0; ad_ok = 0; ad_moved = 0
}

/* [settle] tk_settle(): dead senders' tickets */
inline tk_settle()
{
#ifndef SEED_SETTLE_NEXT
	/* fixed: count a ticket whose taker died before helping tk_next */
	do
	:: st_n = tk_next;				/* [settle.help] */
		st_c = tk[st_n % NT];
		if
		:: TK_VALID(st_c) && TK_T(st_c) == st_n ->
			CAS_(tk_next, st_n, st_n + 1)
		:: else -> break
		fi
	od;
#endif
	st_f = tk_fin;					/* [settle.fin] */
	st_n = tk_next;					/* [settle.next] */
	st_t = st_f;
	do
	:: st_t != st_n && st_t - st_f < NT ->
		G_BEGIN
		st_c = tk[st_t % NT];			/* [settle.word] */
		if
		:: !TK_HELD(st_c, st_t) || alive[TK_ID(st_c)] -> skip
		:: else ->
			if
			:: tk_serve > st_t ->		/* [settle.admitted] */
				CAS_(tk[st_t % NT], st_c, 0)
			:: else ->			/* [settle.waiting] */
				CAS_(tk[st_t % NT], st_c, st_c | TK_CANCEL)
			fi
		fi;
		st_t++
		G_END
	:: else -> break
	od;
	st_f = 0; st_n = 0; st_t = 0; st_c = 0;
	tk_admit()
}

/* [ring] ring_try(): 0 or EAGAIN (1) */
inline ring_try(r)
{
	do
	:: rt_pos = tail;				/* [ring.tail] */
		rt_c = ring[rt_pos % CAP];		/* [ring.ctl] */
		if
		:: rt_c == SC(rt_pos, SC_FREE, 0) ->
			CAS(ring[rt_pos % CAP], rt_c, SC(rt_pos, SC_BUSY, me), rt_ok);
			if
			:: rt_ok ->			/* [ring.reserve] send:slot */
				CAS_(tail, rt_pos, rt_pos + 1); /* [ring.tail+] send:reserved */
				/* fill: val, tag, len, sender (send:filled) */
				d_step {		/* [ring.publish] */
					ring[rt_pos % CAP] = SC(rt_pos, SC_FULL, me);
					published[me]++
				};
				r = 0;
				break
			:: else -> skip
			fi
		:: SC_POS(rt_c) == rt_pos && SC_ST(rt_c) != SC_FREE ->
			CAS_(tail, rt_pos, rt_pos + 1)	/* [ring.help] */
		:: rt_pos >= CAP && SC_POS(rt_c) == rt_pos - CAP &&
		   SC_ST(rt_c) != SC_FREE ->
			if
			:: tail == rt_pos -> r = 1; break /* [ring.full] */
			:: else -> skip
			fi
		:: SC_POS(rt_c) > rt_pos ->
			CAS_(tail, rt_pos, rt_pos + 1)	/* [ring.past] */
		:: else -> skip				/* [ring.stale] */
		fi
	od;
	rt_pos = 0; rt_c = 0; rt_ok = 0
}

/* [wake] wake_consumer() */
inline wake_consumer()
{
	G_BEGIN
	if
	:: sleeping != 0 ->				/* [wake.load] */
		d_step { wk_old = sleeping; sleeping = 0 }; /* [wake.xchg] */
		if
		:: wk_old != 0 -> WAKE(W_SLEEP)
		:: else -> skip
		fi
	:: else -> skip
	fi;
	wk_old = 0
	G_END
}

/* [pass] tk_may_pass() */
inline tk_may_pass(next, yes)
{
	G_BEGIN
	mp_fin = tk_fin;
	mp_serve = tk_serve;
	if
	:: next != mp_serve -> yes = 0
	:: else ->
		mp_tail = tail;
		if
		:: mp_tail - head_seen + (mp_serve - mp_fin) < CAP -> yes = 1
		:: else ->
			head_seen = head;
			yes = (mp_tail - head_seen + (mp_serve - mp_fin) < CAP)
		fi
	fi;
	mp_fin = 0; mp_serve = 0; mp_tail = 0
	G_END
}

/* [take] tk_take(): 0 with @t, or R_TIMEDOUT */
inline tk_take(t, r)
{
	do
	:: tt_t = tk_next;				/* [take.next] */
		tt_c = tk[tt_t % NT];			/* [take.word] */
		if
		:: tt_c == 0 ->
			CAS(tk[tt_t % NT], tt_c, TK(tt_t, me), tt_ok); /* [take.cas] */
			if
			:: tt_ok ->
				if
				:: tk_serve > tt_t ->	/* [take.stale] */
					CAS_(tk[tt_t % NT], TK(tt_t, me), 0);
					tk_fin_advance()
				:: else ->
taken:					/* ticket:taken */
					CRASHPOINT(CP_TAKEN);
					CAS_(tk_next, tt_t, tt_t + 1); /* [take.help] */
					t = tt_t;
					r = 0;
					break
				fi
			:: else -> skip
			fi
		:: tt_c != 0 && TK_T(tt_c) == tt_t ->
			CAS_(tk_next, tt_t, tt_t + 1)	/* [take.lag] */
		:: tt_c != 0 && TK_T(tt_c) != tt_t ->
			tt_s = tk_serve;
			if
			:: TK_T(tt_c) < tk_fin ||
			   (TK_CANC(tt_c) && TK_T(tt_c) < tt_s) ->
				CAS_(tk[tt_t % NT], tt_c, 0) /* [take.clear] */
			:: else ->
				if
				:: TK_T(tt_c) > tt_t -> skip /* stale tk_next */
				:: else ->
					if
					:: TK_T(tt_c) >= tt_s ->
						tk_admit();
						WAIT(tk_serve, tt_s, W_SERVE, 1, r) /* [take.wait] */
					:: else ->
						swaiters++;
						tt_v = space_seq;
						r = R_OK;
						if
						:: tk[tt_t % NT] == tt_c ->
							WAIT(space_seq, tt_v, W_SPACE, 1, r)
						:: else -> skip
						fi;
						swaiters--
					fi;
					if
					:: r == R_EVENT -> PUMP(); tk_settle()
					:: r == R_TIMEDOUT -> break
					:: else -> skip
					fi
				fi
			fi
		fi
	od;
	tt_t = 0; tt_c = 0; tt_s = 0; tt_v = 0; tt_ok = 0
}

/* [done] tk_done() */
inline tk_done(t)
{
	CAS_(tk[t % NT], TK(t, me), 0);			/* [done.clear] */
	tk_fin_advance();
	if
	:: swaiters != 0 ->
		space_seq++;
		WAKE(W_SPACE)
	:: else -> skip
	fi;
	if
	:: tk_next != tk_serve -> tk_admit()
	:: else -> skip
	fi
}

/* [cancel] tk_cancel() */
inline tk_cancel(t)
{
	CAS(tk[t % NT], TK(t, me), TK(t, me) | TK_CANCEL, cn_ok);
	if
	:: cn_ok ->
		if
		:: tk_serve > t ->
			CAS_(tk[t % NT], TK(t, me) | TK_CANCEL, 0)
		:: else -> skip
		fi;
		tk_admit()
	:: else -> skip
	fi;
	cn_ok = 0
}

#define SENDER_LOCALS \
	byte fa_f; int fa_c; \
	byte ad_s; int ad_c; short ad_room; bool ad_ok, ad_moved; \
	byte rm_h, rm_t, rm_f, rm_s; \
	byte st_f, st_n, st_t; int st_c; \
	byte rt_pos; int rt_c; bool rt_ok; \
	byte wk_old; \
	byte mp_fin, mp_serve, mp_tail; byte head_seen; \
	byte tt_t, tt_s, tt_v; int tt_c; bool tt_ok; \
	bool cn_ok

proctype Sender(byte me)
{
	SENDER_LOCALS;
	byte k, t, r, n, sv, v;
	bool yes;

	{
	attached[me] = 1;	/* shmk_arena_attach(), shmk_queue_open() */
	do
	:: k < NMSG || (me == NS && k < NMSG_LAST) ->
		/* mq_send(), bounded: [send.fast] */
		n = tk_next;
		if
		:: n == tk_fin -> yes = 1
		:: else -> tk_may_pass(n, yes)
		fi;
		r = 1;
		if
		:: yes -> ring_try(r)
		:: else -> skip
		fi;
		if
		:: r == 0 -> skip
		:: else ->
			/* send_wait() */
			tk_take(t, r);
			if
			:: r == 0 ->
				do
				:: tk_admit();		/* [wait.admit] */
					sv = tk_serve;
					if
					:: sv > t -> break
					:: else -> skip
					fi;
					WAIT(tk_serve, sv, W_SERVE, 1, r); /* [wait.serve] */
					if
					:: r == R_EVENT -> PUMP(); tk_settle()
					:: r == R_TIMEDOUT -> tk_cancel(t); break
					:: else -> skip
					fi
				od;
				if
				:: r != R_TIMEDOUT ->
served:					/* ticket:served */
					CRASHPOINT(CP_SERVED);
					do
					:: ring_try(r);
						if
						:: r == 0 -> break
						:: else -> skip
						fi;
						swaiters++;
						v = space_seq;
						ring_try(r);
						if
						:: r == 0 -> swaiters--; break
						:: else -> skip
						fi;
						WAIT(space_seq, v, W_SPACE, 1, r); /* [wait.space] */
						swaiters--;
						if
						:: r == R_EVENT -> PUMP()
						:: r == R_TIMEDOUT -> break
						:: else -> skip
						fi
					od;
					tk_done(t)
				:: else -> skip
				fi
			:: else -> skip
			fi
		fi;
		if
		:: r == 0 ->
			ok_ret[me]++;
			wake_consumer()
		:: else -> skip
		fi;
		k++
	:: else -> break
	od;
	done[me] = 1
	} unless {
		kill[me] -> DIE(me); done[me] = 1
	}
}

/* [repair] repair_head(): skipped = 1 if it skipped a hole */
inline repair_head(skipped)
{
	skipped = 0;
	rh_c = ring[qhead % CAP];			/* [repair.ctl] */
	if
	:: SC_POS(rh_c) == qhead && SC_ST(rh_c) == SC_BUSY &&
	   !alive[SC_ID(rh_c)] ->
#ifndef SEED_NO_HOLE
		CAS(ring[qhead % CAP], rh_c, SC(qhead + CAP, SC_FREE, 0), skipped);
#endif
		if
		:: skipped ->
			CAS_(tail, qhead, qhead + 1);	/* [repair.tail] */
			qhead++;
			head = qhead;			/* [repair.head] */
			if
			:: tk_next != tk_serve -> tk_admit()
			:: else -> skip
			fi
		:: else -> skip
		fi
	:: else -> skip
	fi;
	rh_c = 0
}

/* [drain] drain(): up to CAP, then publish head, wake, admit */
inline drain(got)
{
	got = 0;
	dr_moved = 0;
	do
	:: got < CAP ->
		G_BEGIN
		dr_c = ring[qhead % CAP];		/* [drain.ctl] */
		if
		:: SC_POS(dr_c) == qhead && SC_ST(dr_c) == SC_FULL ->
			d_step {
				assert(delivered[SC_ID(dr_c)] < published[SC_ID(dr_c)]);
				delivered[SC_ID(dr_c)]++
			};
			ring[qhead % CAP] = SC(qhead + CAP, SC_FREE, 0); /* [drain.free] */
			qhead++;
			got++
		:: else -> break
		fi
		G_END
	:: else -> break
	od;
	if
	:: qhead != head -> head = qhead; dr_moved = 1	/* [drain.head] */
	:: else -> skip
	fi;
	if
	:: dr_moved ->
		if
		:: swaiters != 0 ->			/* [drain.space] */
			space_seq++;
			WAKE(W_SPACE)
		:: else -> skip
		fi;
		if
		:: tk_next != tk_serve -> tk_admit()	/* [drain.admit] */
		:: else -> skip
		fi
	:: else -> skip
	fi;
	dr_c = 0; dr_moved = 0
}

proctype Consumer()
{
	SENDER_LOCALS;
	byte qhead, got, r, sk, v;
	int rh_c, dr_c;
	bool dr_moved, need_repair;
	byte me = CID;

	/* mq_recv() forever; each return goes back to the application,
	 * which eats the events (recv1() in t_queue.c) and calls again */
end_recv:
	do
	:: need_repair ->				/* [recv.repair] */
		need_repair = 0;
		/* mq_repair() */
		do
		:: repair_head(sk);
			if
			:: sk -> skip
			:: else -> break
			fi
		od;
		tk_settle()
	:: !need_repair ->
		drain(got);
		if
		:: got > 0 -> skip
		:: else ->
			sleeping = sleeping | 1;	/* [recv.sleeping] */
			/* mq_pending() || repair_head() */
			G_BEGIN
			dr_c = ring[qhead % CAP];
			sk = (SC_POS(dr_c) == qhead && SC_ST(dr_c) == SC_FULL);
			dr_c = 0
			G_END;
			if
			:: !sk -> repair_head(sk)
			:: else -> skip
			fi;
			if
			:: sk -> sleeping = sleeping & 2
			:: else ->
				v = sleeping | 1;
				WAITL(sleeping, v, W_SLEEP, 0, r, end_wait); /* [recv.wait] */
				sleeping = sleeping & 2;
				if
				:: r == R_EVENT ->
					/* recv returns 0; the caller eats */
					d_step { evk[me] = 0; evl[me] = 0 };
					need_repair = 1
				:: else -> skip
				fi
			fi
		fi
	od
}

proctype Killer()
{
	byte v;

end_k:
	do
	:: ndead < MAXDEAD ->
		if
		:: v = 1
		:: KILLABLE >= 2 -> v = 2
		:: KILLABLE >= 3 -> v = 3
		fi;
		if
		:: alive[v] && !done[v] -> d_step { kill[v] = 1; ndead++ }
		:: else -> skip
		fi
	:: ndead >= MAXDEAD -> break
	:: break
	od
}

/* Nothing can move: everything published was taken, nobody waits. */
proctype Quiet()
{
	byte i;

end_q:
	timeout ->
	i = 1;
	do
	:: i <= NS ->
		assert(done[i]);		/* no live sender waits forever */
		assert(delivered[i] == published[i]);	/* nothing lost */
		assert(!alive[i] || ok_ret[i] == published[i]);
		i++
	:: else -> break
	od;
	assert(delivered[CID] == CAP)
}

init
{
	byte i;

	atomic {
		i = 0;
		do
		:: i < CAP -> ring[i] = SC(i, SC_FULL, CID); i++
		:: else -> break
		od;
		tail = CAP;
		published[CID] = CAP;
		i = 1;
		do
		:: i <= CID -> alive[i] = 1; attached[i] = (i != NS); i++
		:: else -> break
		od;
		tmo[NS] = TMO;
		i = 1;
		do
		:: i <= NS -> run Sender(i); i++
		:: else -> break
		od;
		run Consumer();
		run Killer();
		run Quiet()
	}
}
