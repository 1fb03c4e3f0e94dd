// SPDX-License-Identifier: MIT
/*
 * pingpong (C++): a server that echoes every buffer to its sender and
 * reports clients that crash, and a client that sends N pings, with the
 * C++17 wrapper shmk.hpp.
 *
 *   pingpong server [NAME]           serve until SIGINT/SIGTERM
 *   pingpong client [NAME] [N]       N round trips (default 100)
 *   pingpong client [NAME] --hold    connect, hold memory, wait (to be killed)
 *
 * Build: g++ -std=c++17 pingpong.cpp $(pkg-config --cflags --libs libshmk)
 */
#include <shmk.hpp>

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include <unistd.h>

using namespace std::chrono_literals;

static const char usage[] =
	"usage: pingpong server [NAME]\n"
	"       pingpong client [NAME] [N | --hold]\n"
	"The server of arena NAME (default 'cpp-pingpong') sends every buffer\n"
	"back to its sender and says which clients crashed; stop it with\n"
	"Ctrl-C. The client makes N round trips (default 100); with --hold it\n"
	"connects, holds memory and waits to be killed.\n";

static volatile std::sig_atomic_t quit;

static void on_signal(int) { quit = 1; }

static int bad(const std::string &what)
{
	std::cerr << "pingpong: " << what << "\n" << usage;
	return 2;
}

static int serve(const std::string &name)
{
	struct sigaction sa {};
	sa.sa_handler = on_signal;	// no SA_RESTART: recv() returns
	sigaction(SIGINT, &sa, nullptr);
	sigaction(SIGTERM, &sa, nullptr);

	/* {serve} */
	shmk::server s = shmk::server::start(name);
	std::cout << "serving arena '" << name << "'" << std::endl;
	while (!quit) {
		std::optional<shmk::message> m = s.recv(1s);
		if (!m)
			continue;	// timed out or interrupted: look at quit
		switch (m->type) {
		case shmk::msg_type::data:	// the same buffer goes back
			if (!s.send(m->peer, std::move(m->buf), m->tag))
				std::cout << "client " << m->peer << ": queue full" << std::endl;
			break;
		case shmk::msg_type::connected:
			std::cout << "client " << m->peer << " connected" << std::endl;
			break;
		case shmk::msg_type::disconnected:
			std::cout << "client " << m->peer << " left" << std::endl;
			break;
		case shmk::msg_type::peer_crashed:
			std::cout << "client " << m->peer << " crashed (how " << m->how
				  << ", status " << m->status << "), owns "
				  << s.arena().member_used(m->peer) << " bytes" << std::endl;
			break;
		default:
			break;
		}
	}
	s.close();
	/* {/serve} */
	return 0;
}

static int ping(const std::string &name, long n, bool hold)
{
	shmk::client_opts o{};
	o.flags = SHMK_CLIENT_WAIT_SERVER;	// the server may start later
	shmk::client c = shmk::client::connect(name, 10s, &o);
	shmk::arena_view a = c.arena();
	std::cout << "connected" << std::endl;
	if (hold) {
		(void)a.alloc(100000);
		shmk::buffer b = shmk::buffer::create(a, 5000);
		std::cout << "holding" << std::endl;
		pause();
		return 0;
	}
	for (long i = 0; i < n; i++) {
		shmk::buffer b = shmk::buffer::create(a, 64);
		std::snprintf(reinterpret_cast<char *>(b.write().data()), 64, "ping %ld", i);
		if (!c.send(SHMK_PEER_SERVER, std::move(b), (uint64_t)i, SHMK_SEND_WAIT, 5s)) {
			std::cerr << "pingpong: the server's queue stays full\n";
			return 1;
		}
		std::optional<shmk::message> m = c.recv(10s);
		if (!m) {
			std::cerr << "pingpong: no answer within 10 s\n";
			return 1;
		}
		if (m->type != shmk::msg_type::data || m->tag != (uint64_t)i) {
			std::cerr << "pingpong: unexpected message type "
				  << static_cast<uint32_t>(m->type) << "\n";
			return 1;
		}
	}
	std::cout << n << " round trips" << std::endl;
	c.close();
	return 0;
}

int main(int argc, char **argv)
{
	std::string name = "cpp-pingpong";
	long n = 100;
	bool hold = false;

	for (int i = 1; i < argc; i++)
		if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
			std::cout << usage;
			return 0;
		}
	if (argc < 2)
		return bad("say server or client");
	std::string mode = argv[1];
	if (mode != "server" && mode != "client")
		return bad("unknown mode '" + mode + "'");
	int i = 2;
	if (i < argc && argv[i][0] != '-' && (mode == "server" || i + 1 < argc ||
					       !std::isdigit((unsigned char)argv[i][0])))
		name = argv[i++];
	if (mode == "server") {
		if (i < argc)
			return bad(std::string("unexpected argument '") + argv[i] + "'");
	} else if (i < argc) {
		if (!std::strcmp(argv[i], "--hold")) {
			hold = true;
		} else {
			char *end;
			errno = 0;
			n = std::strtol(argv[i], &end, 10);
			if (errno || end == argv[i] || *end || n < 1)
				return bad(std::string("N must be a positive number, not '") +
					   argv[i] + "'");
		}
		if (++i < argc)
			return bad(std::string("unexpected argument '") + argv[i] + "'");
	}
	try {
		return mode == "server" ? serve(name) : ping(name, n, hold);
	} catch (const shmk::error &e) {
		std::cerr << "pingpong: " << name << ": " << e.what() << "\n";
		return 1;
	}
}
