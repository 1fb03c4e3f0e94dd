// SPDX-License-Identifier: MIT
/*
 * The C++ wrapper (bindings/cpp/include/shmk.hpp) against the library:
 * errors with errno and reason, arena memory as spans, wait/wake, buffers
 * (copy on write, clone, push/pull/put, nothing leaked by the RAII
 * handles), a robust lock whose holder is killed, a bounded raw queue
 * with back-pressure between two processes, and a server with clients in
 * child processes: echo, publish, a client killed with SIGKILL, the
 * server getting PEER_CRASHED with nothing left owned, and serving the
 * next client. Processes synchronise through pipes, never by sleeping.
 *
 * Built with -std=c++17 -Wall -Wextra -Werror and ASan + UBSan (the
 * Makefile); plain TAP; runs on the backend SHMK_BACKEND selects.
 */
#include <shmk.hpp>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace std::chrono_literals;

static int t_num, t_fail;

static bool ok(bool cond, const std::string &what)
{
	std::printf("%sok %d - %s\n", cond ? "" : "not ", ++t_num, what.c_str());
	std::fflush(stdout);
	if (!cond)
		t_fail++;
	return cond;
}

static void diag(const std::string &s)
{
	std::fprintf(stderr, "# %s\n", s.c_str());
}

static std::string name_of(const char *what)
{
	return std::string("t_cpp.") + what + "." + std::to_string(getpid());
}

/* A one-byte message through a pipe; false on EOF / after 20 s. */
static bool pipe_get(int fd, char *c)
{
	struct pollfd p = { fd, POLLIN, 0 };

	if (poll(&p, 1, 20000) != 1)
		return false;
	return read(fd, c, 1) == 1;
}

static void pipe_put(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		_exit(3);
}

/* Run @fn in a child; it gets the write end of @up and the read end of @down. */
template <class F> static pid_t child(int up[2], int down[2], F fn)
{
	if (pipe(up) || pipe(down))
		return -1;
	std::fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		int r = 1;
		try {
			r = fn(up[1], down[0]);
		} catch (const std::exception &e) {
			std::fprintf(stderr, "# child: %s\n", e.what());
		}
		_exit(r);
	}
	close(up[1]);
	close(down[0]);
	return pid;
}

static int reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void t_errors()
{
	std::string n = name_of("none");

	try {
		auto c = shmk::client::connect(n, 100ms);
		ok(false, "connect without a server throws");
	} catch (const shmk::error &e) {
		ok(e.errno_value() == ENOENT && e.code() == std::errc::no_such_file_or_directory,
		   "connect without a server: shmk::error, errno ENOENT");
		ok(!e.reason().empty() && std::strstr(e.what(), e.reason().c_str()) &&
		   e.call() == "shmk_client_connect",
		   "it carries the library's reason (" + e.reason() + ") and the call");
	}
	try {
		auto a = shmk::arena::create("bad/name");
		ok(false, "a bad arena name throws");
	} catch (const shmk::error &e) {
		ok(e.errno_value() == EINVAL && !e.reason().empty(),
		   "bad arena name: EINVAL, reason '" + e.reason() + "'");
	}
	try {
		throw shmk::error(-EPIPE, "x");
	} catch (const std::system_error &e) {
		ok(e.code().value() == EPIPE && std::string(e.what()) == "x: Broken pipe",
		   "shmk::error is a std::system_error; what() without a reason");
	}
}

static void t_arena_memory()
{
	shmk::arena_opts o{};
	o.size = 1 << 20;
	std::string n = name_of("mem");
	shmk::arena a = shmk::arena::create(n, &o, SHMK_OPEN_EXCL);
	shmk::arena_info i = a.info();
	ok(i.created == 1 && i.size >= o.size, "arena created, size " + std::to_string(i.size));

	uint64_t off = a.alloc(64, SHMK_ALLOC_ZERO);
	shmk::bytes b = a.at(off, 64);
	ok(b.size() == 64 && b.data() == a.ptr<std::byte>(off) && a.off(b.data()) == off,
	   "at(): a span over the arena, same address as ptr(), off() back");
	bool zero = true;
	for (std::byte x : b)
		zero = zero && x == std::byte{0};
	ok(zero, "SHMK_ALLOC_ZERO block is zero through the span");
	try {
		(void)a.at(i.size - 8, 64);
		ok(false, "at() past the end throws");
	} catch (const shmk::error &e) {
		ok(e.errno_value() == ERANGE, "at() past the end throws ERANGE");
	}
	ok(b.subspan(60).size() == 4 && b.subspan(100).empty(), "subspan clips");

	std::atomic<uint32_t> &w = a.word(off);
	w.store(5);
	ok(a.wait(off, 4, 10s) == shmk::wait_result::changed,
	   "wait on a word that does not hold the value: changed, at once");
	ok(a.wait(off, 5, 10ms) == shmk::wait_result::timed_out,
	   "wait 10 ms on an unchanged word: timed_out");
	ok(a.wake(off) >= 0, "wake with no waiter");
	a.free(off);

	std::optional<uint64_t> big = a.try_alloc(64 << 20);
	ok(!big, "try_alloc beyond the arena: nullopt");
	try {
		(void)a.alloc(64 << 20);
		ok(false, "alloc beyond the arena throws");
	} catch (const shmk::error &e) {
		ok(e.errno_value() == ENOMEM, "alloc beyond the arena throws ENOMEM");
	}
	a.check();
	a.detach();
	ok(!a, "detach() empties the handle");
}

static void t_buffers()
{
	std::string n = name_of("buf");
	shmk::arena a = shmk::arena::create(n, nullptr, SHMK_OPEN_EXCL);
	uint32_t blocks0 = a.stats().blocks;
	{
		shmk::buffer b = shmk::buffer::copy_of(a, std::string("hello"));
		ok(b.str() == "hello" && b.size() == 5, "copy_of: the bytes are there");
		shmk::buffer c = b.clone();
		ok(c.info().data_offset == b.info().data_offset && b.info().refcount == 2,
		   "clone: same bytes, refcount 2");
		shmk::bytes w = c.write();
		std::memcpy(w.data(), "HELLO", 5);
		ok(b.str() == "hello" && c.str() == "HELLO" &&
		   c.info().data_offset != b.info().data_offset,
		   "write on a shared buffer copies it (copy on write)");
		shmk::buffer h = shmk::buffer::create(a, 4, 16);
		std::memcpy(h.write().data(), "body", 4);
		std::memcpy(h.push(3).data(), "hd:", 3);
		ok(h.str() == "hd:body" && h.info().headroom == 13, "push uses the headroom");
		h.pull(3);
		std::memcpy(h.put(4).data(), "tail", 4);
		ok(h.str() == "bodytail", "pull then put");
		h.trim(2);
		ok(h.str() == "bo", "trim");
		shmk::buffer moved = std::move(h);
		ok(!h && moved.str() == "bo", "a moved-from buffer is empty");
		uint64_t tok = moved.pass();
		ok(!moved, "pass() empties the buffer");
		shmk::buffer back = shmk::buffer::accept(a, tok);
		ok(back.str() == "bo", "accept() the token: same bytes");
	}
	ok(a.stats().blocks == blocks0, "every buffer freed by the destructors (blocks " +
	   std::to_string(a.stats().blocks) + ", was " + std::to_string(blocks0) + ")");
}

/* A child holds the lock and is killed: the next locker gets owner_died. */
static void t_robust_lock()
{
	std::string n = name_of("lock");
	shmk::arena a = shmk::arena::create(n, nullptr, SHMK_OPEN_EXCL);
	uint64_t lk = a.alloc(sizeof(shmk_lock) + 8, SHMK_ALLOC_ZERO | SHMK_ALLOC_LONG);
	uint64_t val = lk + sizeof(shmk_lock);
	int up[2], down[2];
	char c = 0;

	pid_t pid = child(up, down, [&](int w, int) {
		shmk::arena ca = shmk::arena::attach(n);
		auto h = ca.lock(lk, 5s);
		if (!h)
			return 1;
		*ca.ptr<uint64_t>(val) = 0xdead;	// half-done update
		pipe_put(w, 'L');
		pause();
		return 0;
	});
	ok(pid > 0 && pipe_get(up[0], &c) && c == 'L', "child holds the lock");
	ok(!a.try_lock(lk), "try_lock while it is held: nullopt");
	kill(pid, SIGKILL);
	auto h = a.lock(lk, 10s);
	ok(h && h->owner_died(), "holder killed: lock() returns it with owner_died()");
	if (h) {
		*a.ptr<uint64_t>(val) = 1;	// repaired
		h->consistent();
		h->release();
	}
	auto again = a.lock(lk, 1s);
	ok(again && !again->owner_died(), "after consistent(): an ordinary lock");
	again.reset();
	ok(reap(pid) == 128 + SIGKILL, "the child died of SIGKILL");
	close(up[0]);
	close(down[1]);
	for (const shmk::event &e : a.events())
		(void)e;
}

/* Bounded queue of 4 slots: the producer sees back-pressure, nothing lost. */
static void t_queue()
{
	std::string n = name_of("queue");
	shmk::arena a = shmk::arena::create(n, nullptr, SHMK_OPEN_EXCL);
	shmk::queue_opts qo{};
	qo.capacity = 4;
	shmk::queue q = shmk::queue::create(a, &qo);
	uint64_t token = q.share(0);
	int up[2], down[2];
	char c = 0;

	pid_t pid = child(up, down, [&](int w, int r) {
		shmk::arena ca = shmk::arena::attach(n);
		shmk::queue p = shmk::queue::open(ca, token);
		shmk::qmsg m{};
		int sent = 0;
		for (;; sent++) {
			m.val = (uint64_t)sent;
			if (!p.send(m))
				break;
		}
		pipe_put(w, (char)('0' + sent));	// how many fit
		char go;
		if (!pipe_get(r, &go))
			return 1;
		for (int i = sent; i < 20; i++) {
			m.val = (uint64_t)i;
			if (!p.send(m, SHMK_QSEND_WAIT, 10s))
				return 2;
		}
		p.close(5s);
		return 0;
	});
	bool got4 = pid > 0 && pipe_get(up[0], &c) && c == '4';
	ok(got4, std::string("producer filled the 4 slots, then send() said full (") +
	   (c ? c : '?') + " sent)");
	pipe_put(down[1], 'g');
	shmk::qmsg got[8];
	uint64_t next = 0;
	bool order = true;
	while (next < 20) {
		std::size_t k = q.recv(shmk::span<shmk::qmsg>(got, 8), 10s);
		if (!k) {
			if (a.events().empty())
				break;
			continue;
		}
		for (std::size_t i = 0; i < k; i++)
			order = order && got[i].val == next++;
	}
	ok(next == 20 && order, "consumer got all 20 in order through 4 slots (" +
	   std::to_string(next) + ")");
	ok(reap(pid) == 0, "producer waited for room (SHMK_QSEND_WAIT) and ended");
	close(up[0]);
	close(down[1]);
}

/* A client in a child process: ping, subscribe, receive a publish. */
static int client_main(const std::string &n, int w, int r, bool hold)
{
	shmk::client c = shmk::client::connect(n, 10s);
	shmk::arena_view a = c.arena();
	if (!c.send(SHMK_PEER_SERVER, shmk::buffer::copy_of(a, std::string("ping")), 1))
		return 10;
	std::optional<shmk::message> m = c.recv(10s);
	if (!m || m->type != shmk::msg_type::data || m->buf.str() != "ping" || m->tag != 1)
		return 11;
	pipe_put(w, 'E');
	if (!hold)
		return 0;
	c.subscribe(1ULL << 3);
	if (!c.send_tag(SHMK_PEER_SERVER, 2))
		return 12;
	m = c.recv(10s);
	if (!m || !m->published() || m->buf.str() != "news" || m->tag != 7)
		return 13;
	pipe_put(w, 'P');
	// hold memory and references, then wait to be killed
	(void)a.alloc(10000);
	shmk::buffer keep = std::move(m->buf);
	shmk::buffer mine = shmk::buffer::create(a, 3000);
	pipe_put(w, 'H');
	char x;
	pipe_get(r, &x);
	return 0;
}

static void t_sessions()
{
	std::string n = name_of("sess");
	shmk::server s = shmk::server::start(n);
	shmk::arena_view a = s.arena();
	int up[2], down[2], up2[2], down2[2];
	char c = 0;

	pid_t pid = child(up, down, [&](int w, int r) { return client_main(n, w, r, true); });
	uint32_t peer = 0;
	bool echoed = false, published = false, crashed = false;
	int pub_n = -1;
	shmk::message crash{};
	while (!crashed) {
		std::optional<shmk::message> m = s.recv(20s);
		if (!m)
			break;
		switch (m->type) {
		case shmk::msg_type::connected:
			peer = m->peer;
			break;
		case shmk::msg_type::data:
			if (m->tag == 1) {
				echoed = s.send(m->peer, std::move(m->buf), 1);
			} else if (m->tag == 2) {
				shmk::buffer news = shmk::buffer::copy_of(a, std::string("news"));
				pub_n = s.publish(3, news, 7);
				published = pipe_get(up[0], &c) && c == 'E' &&
					pipe_get(up[0], &c) && c == 'P' &&
					pipe_get(up[0], &c) && c == 'H';
				kill(pid, SIGKILL);
			}
			break;
		case shmk::msg_type::peer_crashed:
			crash = std::move(*m);
			crashed = true;
			break;
		default:
			break;
		}
	}
	ok(peer != 0 && echoed, "server: client connected, ping echoed (same buffer)");
	ok(pub_n == 1 && published, "publish to the one subscriber; it got the bytes, "
	   "flagged published");
	ok(crashed && crash.peer == peer, "client killed with SIGKILL: server survives, "
	   "gets PEER_CRASHED for member " + std::to_string(crash.peer));
	ok(crash.how == SHMK_END_SIGNAL && crash.status == SIGKILL,
	   "the event says: signal " + std::to_string(crash.status) + " (how " +
	   std::to_string(crash.how) + ")");
	ok(crashed && a.member_used(peer) == 0, "the dead client owns 0 bytes");
	ok(reap(pid) == 128 + SIGKILL, "it was SIGKILL");
	close(up[0]);
	close(down[1]);

	pid_t pid2 = child(up2, down2, [&](int w, int r) { return client_main(n, w, r, false); });
	bool again = false, left = false;
	while (!left) {
		std::optional<shmk::message> m = s.recv(20s);
		if (!m)
			break;
		if (m->type == shmk::msg_type::data)
			again = s.send(m->peer, std::move(m->buf), m->tag);
		else if (m->type == shmk::msg_type::disconnected)
			left = true;
	}
	ok(again && left && reap(pid2) == 0, "the server serves a new client, which "
	   "leaves cleanly");
	close(up2[0]);
	close(down2[1]);
	shmk::session_info si = s.info();
	ok(si.is_server && si.clients == 0, "no client left connected");
	s.arena().check(SHMK_CHECK_REFS);
	ok(true, "arena consistent, every reference accounted for");
	s.close();
}

int main()
{
	std::signal(SIGPIPE, SIG_IGN);
	alarm(300);
	try {
		t_errors();
		t_arena_memory();
		t_buffers();
		t_robust_lock();
		t_queue();
		t_sessions();
	} catch (const std::exception &e) {
		diag(std::string("unexpected exception: ") + e.what());
		ok(false, "no unexpected exception");
	}
	std::printf("1..%d\n", t_num);
	return t_fail ? 1 : 0;
}
