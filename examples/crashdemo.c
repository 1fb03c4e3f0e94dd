// SPDX-License-Identifier: MIT
/*
 * crashdemo: a server and clients exchanging messages through one shmk
 * arena, a client killed with SIGKILL mid-traffic, the server told by the
 * kernel at once, the client restarted in the same slot.
 *
 * It speaks the raw /dev/shmk ABI (uapi/linux/shmk.h) so it shows what the
 * module itself promises; libshmk sessions build on exactly this.
 *
 * Layout of the user region: a doorbell word the server sleeps on, then
 * one mailbox per member slot. A client posts a request by bumping its
 * mailbox's req word and ringing the doorbell; the server answers by
 * copying req to rsp and waking the client.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/shmk.h>	/* -I uapi in the tree; installed: pkg-config */

#define ARENA_SIZE	(64 * 1024)
#define NCLIENTS	3
#define ROUNDS		2000	/* requests per client before it detaches */

struct mailbox {
	_Atomic uint32_t req;	/* client bumps, then rings the doorbell */
	_Atomic uint32_t rsp;	/* server copies req here, wakes client */
	_Atomic uint32_t gen;	/* generation of the member using the slot */
	uint32_t pad;
};

struct layout {
	_Atomic uint32_t doorbell;
	uint32_t pad[15];	/* keep the doorbell on its own cache line */
	struct mailbox box[];	/* indexed by member id */
};

struct arena {
	int fd;
	struct shmk_attach at;
	const struct shmk_ctrl *ctrl;
	struct layout *lay;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "crashdemo: %s: %s\n", what, strerror(err));
	exit(1);
}

static int arena_join(struct arena *a, const char *name, uint32_t flags)
{
	void *p;

	memset(a, 0, sizeof(*a));
	a->fd = open(SHMK_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (a->fd < 0)
		return -errno;
	snprintf(a->at.name, sizeof(a->at.name), "%s", name);
	a->at.size = ARENA_SIZE;
	a->at.flags = flags;
	a->at.mode = 0600;
	if (ioctl(a->fd, SHMK_IOC_ATTACH, &a->at) < 0)
		return -errno;
	p = mmap(NULL, a->at.ctrl_size, PROT_READ, MAP_SHARED, a->fd,
		 (off_t)a->at.ctrl_offset);
	if (p == MAP_FAILED)
		return -errno;
	a->ctrl = p;
	p = mmap(NULL, a->at.user_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 a->fd, (off_t)a->at.user_offset);
	if (p == MAP_FAILED)
		return -errno;
	a->lay = p;
	return 0;
}

static uint64_t word_off(const struct arena *a, _Atomic uint32_t *w)
{
	return (uint64_t)((char *)w - (char *)a->lay);
}

/* Returns 0, SHMK_WAIT_EVENT or a negative errno. */
static int wait_word(struct arena *a, _Atomic uint32_t *w, uint32_t seen,
		     int64_t timeout_ns, uint32_t flags)
{
	struct shmk_wait wt = {
		.offset = word_off(a, w),
		.expected = seen,
		.flags = flags,
		.timeout_ns = timeout_ns,
	};
	int r = ioctl(a->fd, SHMK_IOC_WAIT, &wt);

	return r < 0 ? -errno : r;
}

static void wake_word(struct arena *a, _Atomic uint32_t *w)
{
	struct shmk_wake wk = { .offset = word_off(a, w), .count = 1 };

	if (ioctl(a->fd, SHMK_IOC_WAKE, &wk) < 0)
		die("SHMK_IOC_WAKE", errno);
}

/* ------------------------------------------------------------------ */

static int client_main(const char *name, int ready_fd)
{
	struct arena a;
	struct mailbox *mb;
	uint32_t i;
	int r;

	r = arena_join(&a, name, 0);
	if (r)
		die("client attach", -r);
	mb = &a.lay->box[a.at.member_id];
	atomic_store(&mb->gen, a.at.generation);
	/* Tell the parent which slot we took. */
	if (write(ready_fd, &a.at.member_id, sizeof(a.at.member_id)) < 0)
		die("write", errno);
	close(ready_fd);

	for (i = 0; i < ROUNDS; i++) {
		uint32_t want = atomic_load(&mb->req) + 1;

		atomic_store(&mb->req, want);
		atomic_fetch_add(&a.lay->doorbell, 1);
		wake_word(&a, &a.lay->doorbell);
		for (;;) {
			uint32_t got = atomic_load(&mb->rsp);

			if (got == want)
				break;
			r = wait_word(&a, &mb->rsp, got, 2000000000,
				      SHMK_WAIT_NO_EVENTS);
			if (r == -ETIMEDOUT) {
				fprintf(stderr, "client %u: server silent\n",
					a.at.member_id);
				return 1;
			}
		}
	}
	if (ioctl(a.fd, SHMK_IOC_DETACH, 0) < 0)
		die("SHMK_IOC_DETACH", errno);
	return 0;
}

struct client {
	pid_t pid;
	uint32_t member_id;
	bool running;
};

static void spawn(struct client *c, const char *name)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe", errno);
	c->pid = fork();
	if (c->pid < 0)
		die("fork", errno);
	if (c->pid == 0) {
		close(p[0]);
		_exit(client_main(name, p[1]));
	}
	close(p[1]);
	if (read(p[0], &c->member_id, sizeof(c->member_id)) !=
	    sizeof(c->member_id))
		die("client did not attach", EPROTO);
	close(p[0]);
	c->running = true;
}

static const char *how_str(uint32_t how, int32_t status, char *buf,
			   size_t len)
{
	switch (how) {
	case SHMK_END_DETACH:
		return "detached cleanly";
	case SHMK_END_EXIT:
		snprintf(buf, len, "exited with status %d, no detach", status);
		return buf;
	case SHMK_END_SIGNAL:
		snprintf(buf, len, "killed by signal %d (%s)", status,
			 strsignal(status));
		return buf;
	case SHMK_END_CLOSE:
		return "closed its file without detaching";
	}
	return "ended (unknown)";
}

/* Answer every pending request; returns how many. */
static unsigned int serve(struct arena *a)
{
	unsigned int n = 0;
	uint32_t id;

	for (id = 1; id <= a->ctrl->member_max; id++) {
		struct mailbox *mb = &a->lay->box[id];
		uint32_t req = atomic_load(&mb->req);

		if (atomic_load(&mb->rsp) != req) {
			atomic_store(&mb->rsp, req);
			wake_word(a, &mb->rsp);
			n++;
		}
	}
	return n;
}

/* What the module holds now: after the last member, nothing. */
static void show_stats(void)
{
	FILE *f = fopen("/sys/kernel/debug/shmk/stats", "r");
	char line[64];

	if (!f)
		return;
	printf("module: after the last member left:");
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		printf(" %s;", line);
	}
	printf("\n");
	fclose(f);
}

int main(int argc, char **argv)
{
	struct client cl[NCLIENTS] = { 0 };
	struct arena srv;
	char name[SHMK_NAME_MAX], buf[96];
	uint64_t served = 0, kill_ns = 0;
	unsigned int exits = 0, victim = 1, expected_exits;
	bool killed = false, restarted = false;
	int r, i;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: crashdemo\n"
		       "Runs a shmk server and %d clients on /dev/shmk, kills one\n"
		       "client with SIGKILL mid-traffic, shows the server learning\n"
		       "it from the kernel, restarts the client in the same slot.\n",
		       NCLIENTS);
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "crashdemo: unexpected argument '%s' "
			"(crashdemo takes none; see --help)\n", argv[1]);
		return 2;
	}
	snprintf(name, sizeof(name), "crashdemo.%d", (int)getpid());
	r = arena_join(&srv, name, SHMK_ATTACH_CREATE | SHMK_ATTACH_EXCL);
	if (r == -ENOENT || r == -ENODEV || r == -ENXIO) {
		fprintf(stderr, "crashdemo: " SHMK_DEVICE_PATH ": %s: the shmk "
			"module is not loaded (modprobe shmk)\n", strerror(-r));
		return 1;
	}
	if (r)
		die("server create " SHMK_DEVICE_PATH, -r);
	/* Events are drained until -EAGAIN: never block in read(). */
	if (fcntl(srv.fd, F_SETFL, O_NONBLOCK) < 0)
		die("fcntl", errno);
	printf("server: arena '%s' id %u, %llu bytes, member %u gen %u\n",
	       name, srv.at.arena_id, (unsigned long long)srv.at.user_size,
	       srv.at.member_id, srv.at.generation);

	for (i = 0; i < NCLIENTS; i++) {
		spawn(&cl[i], name);
		printf("server: client pid %d joined as member %u\n",
		       (int)cl[i].pid, cl[i].member_id);
	}
	/* Three clean detaches plus the killed one. */
	expected_exits = NCLIENTS + 1;

	while (exits < expected_exits) {
		uint32_t bell = atomic_load(&srv.lay->doorbell);
		struct shmk_event ev;

		served += serve(&srv);
		if (!killed && served >= 500) {
			/* Mid-traffic: the victim has requests in flight. */
			kill_ns = now_ns();
			kill(cl[victim].pid, SIGKILL);
			printf("server: sent SIGKILL to client pid %d "
			       "(member %u) after %llu messages\n",
			       (int)cl[victim].pid, cl[victim].member_id,
			       (unsigned long long)served);
			killed = true;
		}
		r = wait_word(&srv, &srv.lay->doorbell, bell, 5000000000LL, 0);
		if (r == -ETIMEDOUT)
			die("server: no traffic and no event for 5 s", ETIMEDOUT);
		if (r != SHMK_WAIT_EVENT)
			continue;
		while (read(srv.fd, &ev, sizeof(ev)) == sizeof(ev)) {
			uint64_t lat = kill_ns && ev.time_ns >= kill_ns ?
				       now_ns() - kill_ns : 0;

			if (ev.type != SHMK_EVENT_EXIT)
				continue;
			exits++;
			printf("server: event: member %u gen %u pid %d %s%s\n",
			       ev.member_id, ev.generation, ev.pid,
			       how_str(ev.how, ev.status, buf, sizeof(buf)),
			       ev.flags & SHMK_EVENT_F_CRASH ? " [CRASH]" : "");
			if (!(ev.flags & SHMK_EVENT_F_CRASH))
				continue;
			/* Reclaim the dead client's mailbox for the next one. */
			atomic_store(&srv.lay->box[ev.member_id].req, 0);
			atomic_store(&srv.lay->box[ev.member_id].rsp, 0);
			printf("server: noticed %.1f us after the kill, "
			       "mailbox %u reclaimed\n", lat / 1000.0,
			       ev.member_id);
			waitpid(cl[victim].pid, NULL, 0);
			if (!restarted) {
				spawn(&cl[victim], name);
				printf("server: restarted client pid %d as "
				       "member %u gen %u\n", (int)cl[victim].pid,
				       cl[victim].member_id,
				       atomic_load(&srv.lay->box[cl[victim].member_id].gen));
				restarted = true;
			}
			kill_ns = 0;
		}
	}
	for (i = 0; i < NCLIENTS; i++) {
		int st;

		waitpid(cl[i].pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "crashdemo: client %d failed\n", i);
			return 1;
		}
	}
	printf("server: %llu messages served, %u members ended, "
	       "live members now %u\n", (unsigned long long)served, exits,
	       srv.ctrl->members_live);
	if (ioctl(srv.fd, SHMK_IOC_DETACH, 0) < 0)
		die("SHMK_IOC_DETACH", errno);
	munmap((void *)srv.ctrl, srv.at.ctrl_size);
	munmap(srv.lay, srv.at.user_size);
	close(srv.fd);
	show_stats();
	printf("crashdemo: OK\n");
	return 0;
}
