// SPDX-License-Identifier: MIT
/*
 * Guide, part 4: the ping-pong server in an epoll loop, beside other
 * descriptors (here a signalfd for SIGTERM and SIGINT).
 *
 *   epoll_server [NAME]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <shmk_msg.h>

/* Everything shmk_session_recv() has now; 1 when the server must stop. */
static int drain(struct shmk_session *s)
{
	struct shmk_msg m;
	int r;

	/* {drain} */
	while ((r = shmk_session_recv(s, &m, 0)) == 1) {
		if (m.type == SHMK_MSG_DATA)
			shmk_session_send(s, m.peer, m.ref, m.tag, 0, 0);
		else if (m.type == SHMK_EV_CONNECTED)
			printf("client %u connected\n", m.peer);
		else if (m.type == SHMK_EV_PEER_CRASHED)
			printf("client %u crashed\n", m.peer);
		else if (m.type == SHMK_EV_HANDED_OVER)
			return 1;
	}
	/* -EAGAIN: nothing left, and the descriptor is armed again */
	/* {/drain} */
	fflush(stdout);
	return r != -EAGAIN;
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "pingpong";
	struct epoll_event ev = { .events = EPOLLIN }, got[4];
	struct shmk_session *s;
	sigset_t set;
	int ep, sfd, n, i, r, done = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);

	r = shmk_server_start(name, NULL, &s);
	if (r < 0) {
		fprintf(stderr, "server: %s: %s\n", name, strerror(-r));
		return 1;
	}
	/* {epoll} */
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = shmk_session_fd(s);	/* owned by the session */
	epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	printf("serving %s\n", name);
	fflush(stdout);
	done = drain(s);		/* what came before we watched */
	while (!done) {
		n = epoll_wait(ep, got, 4, -1);
		for (i = 0; i < n; i++) {
			if (got[i].data.fd == sfd)
				done = 1;
			else
				done |= drain(s);
		}
	}
	/* {/epoll} */
	close(ep);
	close(sfd);
	shmk_session_close(s);
	return 0;
}
