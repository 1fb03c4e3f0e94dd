// SPDX-License-Identifier: GPL-2.0
/*
 * A program as a user of the packages would write it: only <shmk_msg.h>,
 * built with $(pkg-config --cflags --libs libshmk) against an installed
 * tree (tests/pkg/t_install, t_deb).
 *
 *   hello server NAME [FD]
 *                       serve NAME: answer each message with the same
 *                       buffer, its text upper-cased, tag + 1; exit 0
 *                       when the client leaves after one exchange. Once
 *                       the server is up, "ready" is written to FD, which
 *                       is then closed (the caller waits for it)
 *   hello client NAME   connect (waiting up to 10 s for the server), send
 *                       "hello", check the answer; exit 0 if right
 *   hello version       print shmk_version()
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shmk_msg.h>

#define SEC 1000000000LL

static int server(const char *name, int ready_fd)
{
	struct shmk_server_opts o = { 0 };
	struct shmk_session *s;
	struct shmk_msg m;
	int exchanges = 0, r;

	r = shmk_server_start(name, &o, &s);
	if (r) {
		fprintf(stderr, "hello server: %s: %s\n", strerror(-r),
			shmk_session_error(NULL));
		return 1;
	}
	if (ready_fd >= 0) {
		if (write(ready_fd, "ready\n", 6) != 6)
			fprintf(stderr, "hello server: cannot say it is ready\n");
		close(ready_fd);
	}
	for (;;) {
		r = shmk_session_recv(s, &m, 30 * SEC);
		if (r < 0) {
			fprintf(stderr, "hello server: recv: %s\n", strerror(-r));
			break;
		}
		if (m.type == SHMK_MSG_DATA) {
			struct shmk_arena *a = shmk_session_arena(s);
			void *data;
			size_t len, i;

			r = shmk_buf_write(a, &m.ref, &data, &len);
			if (r) {
				fprintf(stderr, "hello server: write: %s\n", strerror(-r));
				break;
			}
			for (i = 0; i < len; i++)
				((char *)data)[i] = (char)toupper(((char *)data)[i]);
			r = shmk_session_send(s, m.peer, m.ref, m.tag + 1, 0, 0);
			if (r) {
				fprintf(stderr, "hello server: send: %s\n", strerror(-r));
				break;
			}
			exchanges++;
		} else if (m.type == SHMK_EV_DISCONNECTED ||
			   m.type == SHMK_EV_PEER_CRASHED) {
			printf("server: client %u left after %d exchange(s)\n",
			       m.peer, exchanges);
			r = m.type == SHMK_EV_DISCONNECTED && exchanges == 1 ? 0 : -1;
			break;
		}
	}
	shmk_session_close(s);
	return r ? 1 : 0;
}

static int client(const char *name)
{
	struct shmk_client_opts o = { 0 };
	struct shmk_session *s;
	struct shmk_msg m;
	const void *data;
	shmk_ref_t ref;
	size_t len;
	void *p;
	int r, ok = 0;

	r = shmk_client_connect(name, &o, 10 * SEC, &s);
	if (r) {
		fprintf(stderr, "hello client: connect: %s: %s\n", strerror(-r),
			shmk_session_error(NULL));
		return 1;
	}
	r = shmk_buf_create(shmk_session_arena(s), 5, 0, 0, 0, &ref);
	if (r == 0)
		r = shmk_buf_write(shmk_session_arena(s), &ref, &p, &len);
	if (r == 0) {
		memcpy(p, "hello", 5);
		r = shmk_session_send(s, SHMK_PEER_SERVER, ref, 41, 0, 0);
	}
	while (r == 0) {
		r = shmk_session_recv(s, &m, 10 * SEC);
		if (r < 0)
			break;
		r = 0;
		if (m.type != SHMK_MSG_DATA)
			continue;
		r = shmk_buf_data(shmk_session_arena(s), m.ref, &data, &len);
		if (r == 0) {
			ok = m.tag == 42 && len == 5 && !memcmp(data, "HELLO", 5);
			printf("client: got \"%.*s\" tag %llu\n", (int)len,
			       (const char *)data, (unsigned long long)m.tag);
			shmk_buf_drop(shmk_session_arena(s), m.ref);
		}
		break;
	}
	if (r < 0)
		fprintf(stderr, "hello client: %s\n", strerror(-r));
	if (shmk_session_close(s))
		ok = 0;
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "version")) {
		printf("%s\n", shmk_version());
		return 0;
	}
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "server"))
		return server(argv[2], argc == 4 ? atoi(argv[3]) : -1);
	if (argc == 3 && !strcmp(argv[1], "client"))
		return client(argv[2]);
	fprintf(stderr, "usage: hello server NAME [FD] | hello client NAME | hello version\n");
	return 2;
}
