// SPDX-License-Identifier: GPL-2.0
/*
 * Peer: Boost.Interprocess message_queue (Debian's libboost-dev), one
 * queue per direction. It copies the message into the queue's shared
 * memory on send and out of it on receive, and sleeps on a process-shared
 * mutex and condition variable: blocking mode only.
 *
 * The driver creates both queues before forking (the workers inherit the
 * mappings) and removes their names right after forking, so nothing stays
 * in /dev/shm whatever happens to the workers.
 */
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "bench.h"

#ifndef HAVE_BOOST

static const char *bq_unavailable(void)
{
	return "not installed: Debian package libboost-dev is needed "
	       "(scripts/install-deps.sh)";
}

static int bq_none(struct pp_ctx *) { return -ENOSYS; }
static int bq_none_ping(struct pp_ctx *, uint64_t) { return -ENOSYS; }
static int bq_none_serve(struct pp_ctx *, uint64_t *) { return -ENOSYS; }
static void bq_none_fini(struct pp_ctx *) {}

extern "C" const struct pp_transport tr_boost = {
	"boost-mq", "Boost.Interprocess message_queue", 0, 1 << MODE_BLOCK,
	bq_unavailable, bq_none, bq_none, bq_none_ping, bq_none_serve,
	bq_none_fini, bq_none_fini,
};

#else

#include <boost/interprocess/ipc/message_queue.hpp>

namespace bi = boost::interprocess;

struct bq_priv {
	bi::message_queue *ping, *pong;
	char ping_name[80], pong_name[80];
};

static int bq_setup(struct pp_ctx *c)
{
	bq_priv *p = new (std::nothrow) bq_priv();

	if (!p)
		return -ENOMEM;
	snprintf(p->ping_name, sizeof(p->ping_name), "%s-ping", c->name);
	snprintf(p->pong_name, sizeof(p->pong_name), "%s-pong", c->name);
	try {
		bi::message_queue::remove(p->ping_name);
		bi::message_queue::remove(p->pong_name);
		p->ping = new bi::message_queue(bi::create_only, p->ping_name,
						1, c->size);
		p->pong = new bi::message_queue(bi::create_only, p->pong_name,
						1, c->size);
	} catch (const std::exception &e) {
		fprintf(stderr, "boost-mq: %s\n", e.what());
		bi::message_queue::remove(p->ping_name);
		bi::message_queue::remove(p->pong_name);
		delete p;
		return -EIO;
	}
	c->priv = p;
	return 0;
}

static int bq_init(struct pp_ctx *c)
{
	c->buf = malloc(c->size);
	if (!c->buf)
		return -ENOMEM;
	memset(c->buf, 0xa5, c->size);
	return 0;
}

static int bq_ping(struct pp_ctx *c, uint64_t seq)
{
	bq_priv *p = static_cast<bq_priv *>(c->priv);
	bi::message_queue::size_type got = 0;
	unsigned int prio = 0;

	try {
		payload_stamp(c->buf, c->size, seq);
		p->ping->send(c->buf, c->size, 0);
		p->pong->receive(c->buf, c->size, got, prio);
	} catch (const std::exception &e) {
		fprintf(stderr, "boost-mq: %s\n", e.what());
		return -EIO;
	}
	if (got != c->size || payload_check(c->buf, c->size, seq))
		return -EBADMSG;
	return 0;
}

static int bq_serve(struct pp_ctx *c, uint64_t *seq)
{
	bq_priv *p = static_cast<bq_priv *>(c->priv);
	bi::message_queue::size_type got = 0;
	unsigned int prio = 0;

	try {
		p->ping->receive(c->buf, c->size, got, prio);
		*seq = payload_seq(c->buf);
		if (got != c->size || payload_check(c->buf, c->size, *seq))
			return -EBADMSG;
		payload_stamp(c->buf, c->size, *seq);
		p->pong->send(c->buf, c->size, 0);
	} catch (const std::exception &e) {
		fprintf(stderr, "boost-mq: %s\n", e.what());
		return -EIO;
	}
	return 0;
}

static void bq_fini(struct pp_ctx *c)
{
	free(c->buf);
	c->buf = NULL;
}

static void bq_teardown(struct pp_ctx *c)
{
	bq_priv *p = static_cast<bq_priv *>(c->priv);

	if (!p)
		return;
	bi::message_queue::remove(p->ping_name);
	bi::message_queue::remove(p->pong_name);
	delete p->ping;
	delete p->pong;
	delete p;
	c->priv = NULL;
}

extern "C" const struct pp_transport tr_boost = {
	"boost-mq", "Boost.Interprocess message_queue (copies)", 0,
	1 << MODE_BLOCK, NULL, bq_setup, bq_init, bq_ping, bq_serve, bq_fini,
	bq_teardown,
};
#endif
