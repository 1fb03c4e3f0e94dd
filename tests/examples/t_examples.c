// SPDX-License-Identifier: GPL-2.0
/*
 * The example programs as a user meets them: --help and -h print a usage
 * to stdout and exit 0; a bad argument is a message on stderr and exit 2;
 * a library error is printed with the library's reason; and each program
 * does its job (the demo end to end, as `make demo` runs it).
 *
 * The programs are copied next to this test (see the Makefile) and run
 * on the backend SHMK_BACKEND selects. Plain TAP, static: it runs in the
 * VM's initramfs too.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int t_num, t_fail;
static char dir[PATH_MAX];

__attribute__((format(printf, 2, 3)))
static int ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++t_num);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!cond)
		t_fail++;
	return cond;
}

#define diag(...) do { fprintf(stderr, "# " __VA_ARGS__); \
		       fputc('\n', stderr); } while (0)

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A running example: its pid and what it wrote so far. */
struct proc {
	pid_t pid;
	int fd[2];		/* stdout, stderr (read ends); -1 at EOF */
	char out[16384], err[16384];
	size_t nout, nerr;
	int status;		/* exit code, 128 + signal, -1 */
};

static void start(struct proc *p, const char *prog, ...)
{
	char *argv[16], path[PATH_MAX + 64];
	int o[2], e[2], n = 1;
	va_list ap;

	memset(p, 0, sizeof(*p));
	snprintf(path, sizeof(path), "%s/%s", dir, prog);
	argv[0] = (char *)prog;
	va_start(ap, prog);
	while (n < 15 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	if (pipe2(o, O_CLOEXEC) || pipe2(e, O_CLOEXEC)) {
		p->pid = -1;
		return;
	}
	fflush(stdout);
	fflush(stderr);
	p->pid = fork();
	if (p->pid == 0) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		execv(path, argv);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	p->fd[0] = o[0];
	p->fd[1] = e[0];
}

/*
 * Read what it writes until @until appears in its stdout (NULL: until
 * both pipes end) or @timeout_ms pass. 1 if found / ended, 0 if not.
 */
static int drain(struct proc *p, const char *until, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	struct pollfd pf[2];
	ssize_t n;
	int i;

	for (;;) {
		if (until && strstr(p->out, until))
			return 1;
		if (p->fd[0] < 0 && p->fd[1] < 0)
			return !until;
		for (i = 0; i < 2; i++) {
			pf[i].fd = p->fd[i];
			pf[i].events = POLLIN;
		}
		if (now_ms() >= end ||
		    poll(pf, 2, (int)(end - now_ms())) <= 0)
			return 0;
		for (i = 0; i < 2; i++) {
			char *buf = i ? p->err : p->out;
			size_t *len = i ? &p->nerr : &p->nout;

			if (!(pf[i].revents & (POLLIN | POLLHUP)))
				continue;
			n = read(p->fd[i], buf + *len, sizeof(p->out) - 1 - *len);
			if (n <= 0) {
				close(p->fd[i]);
				p->fd[i] = -1;
				continue;
			}
			*len += (size_t)n;
			buf[*len] = '\0';
		}
	}
}

/* Wait for its end (killing it after @timeout_ms): its exit code. */
static int finish(struct proc *p, int timeout_ms)
{
	int st, i;

	if (p->pid < 0)
		return -1;
	if (!drain(p, NULL, timeout_ms))
		kill(p->pid, SIGKILL);
	for (i = 0; i < 2; i++)
		if (p->fd[i] >= 0)
			close(p->fd[i]);
	while (waitpid(p->pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	p->status = WIFEXITED(st) ? WEXITSTATUS(st) :
		WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
	return p->status;
}

static void show(const struct proc *p)
{
	diag("  exit %d; stdout: %.300s", p->status, p->out);
	diag("  stderr: %.300s", p->err);
}

static const char *const progs[] = {
	"crashdemo", "demo", "pingpong_server", "pingpong_client", "pub",
	"sub", "robust_lock", "raw_queue", "wait_wake", "wait_alloc",
};

static void t_help(void)
{
	const char *opt[] = { "--help", "-h" };
	struct proc p;
	size_t i, j;

	for (i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		for (j = 0; j < 2; j++) {
			start(&p, progs[i], opt[j], NULL);
			finish(&p, 10000);
			if (!ok(p.status == 0 && !strncmp(p.out, "usage: ", 7) &&
				strstr(p.out, progs[i]) && p.nerr == 0,
				"%s %s: usage on stdout, nothing on stderr, "
				"exit 0", progs[i], opt[j]))
				show(&p);
		}
	}
}

/* Exit 2, nothing on stdout, a message on stderr that holds @what. */
static void bad(const char *what, const char *prog, ...)
{
	char *argv[4] = { NULL }, cmd[256];
	struct proc p;
	size_t len;
	va_list ap;
	int n = 0;

	len = (size_t)snprintf(cmd, sizeof(cmd), "%s", prog);
	va_start(ap, prog);
	while (n < 3 && (argv[n] = va_arg(ap, char *))) {
		len += (size_t)snprintf(cmd + len, sizeof(cmd) - len, " %s",
					argv[n]);
		n++;
	}
	va_end(ap);
	start(&p, prog, argv[0], argv[1], argv[2], NULL);
	finish(&p, 10000);
	if (!ok(p.status == 2 && p.nout == 0 && strstr(p.err, what) &&
		strstr(p.err, "usage"),
		"%s: exit 2, says %s and the usage on stderr", cmd, what))
		show(&p);
}

static void t_bad_args(void)
{
	bad("'--frobnicate'", "demo", "--frobnicate", NULL);
	bad("from 2 to 16", "demo", "--clients", "1", NULL);
	bad("needs a value", "demo", "--messages", NULL);
	bad("'-x'", "pingpong_server", "-x", NULL);
	bad("'two'", "pingpong_server", "one", "two", NULL);
	bad("positive number, not '0'", "pingpong_client", "pp", "0", NULL);
	bad("not '12abc'", "pingpong_client", "pp", "12abc", NULL);
	bad("'--nope'", "pub", "--nope", NULL);
	bad("SUBSCRIBERS", "pub", "x", "3", "many", NULL);
	bad("not '-3'", "sub", "x", "-3", NULL);
	bad("'extra'", "sub", "x", "1", "extra", NULL);
	bad("from 1 to 1000, not '0'", "robust_lock", "--rounds", "0", NULL);
	bad("needs a value", "robust_lock", "--rounds", NULL);
	bad("'two'", "robust_lock", "one", "two", NULL);
	bad("power of two, not '3'", "raw_queue", "x", "10", "3", NULL);
	bad("not '0'", "raw_queue", "x", "0", NULL);
	bad("'--fast'", "raw_queue", "--fast", NULL);
	bad("not 'abc'", "wait_wake", "x", "abc", NULL);
	bad("'more'", "wait_wake", "x", "1", "more", NULL);
	bad("'--frob'", "wait_alloc", "--frob", NULL);
	bad("'b'", "wait_alloc", "a", "b", NULL);
}

static void t_crashdemo_args(void)
{
	struct proc p;

	start(&p, "crashdemo", "extra", NULL);
	finish(&p, 10000);
	if (!ok(p.status == 2 && p.nout == 0 && strstr(p.err, "'extra'"),
		"crashdemo extra: exit 2, says what is wrong"))
		show(&p);
}

static void t_library_errors(void)
{
	char name[64];
	struct proc p;

	snprintf(name, sizeof(name), "t_examples.none.%d", (int)getpid());
	start(&p, "pingpong_client", name, "3", NULL);
	finish(&p, 20000);
	if (!ok(p.status == 1 && strstr(p.err, name) &&
		strstr(p.err, "No such file or directory: no arena"),
		"pingpong_client without a server: exit 1, the error and the "
		"library's reason"))
		show(&p);
	start(&p, "sub", "a/b", NULL);
	finish(&p, 20000);
	if (!ok(p.status == 1 && strstr(p.err, "Invalid argument: ") &&
		strstr(p.err, "'/' at byte 1"),
		"sub with a bad arena name: exit 1, the library's reason"))
		show(&p);
}

/* The examples of robust locks, raw queues, wait/wake, waiting alloc. */
static void t_runs_lowlevel(void)
{
	struct proc p;
	char name[64];
	const char *s;

	snprintf(name, sizeof(name), "t_examples.rl.%d", (int)getpid());
	start(&p, "robust_lock", name, "--rounds", "2", NULL);
	finish(&p, 60000);
	if (!ok(p.status == 0 && strstr(p.out, "holder died (EOWNERDEAD)") &&
		strstr(p.out, "recovered 2 times; counters a=2 b=2"),
		"robust_lock: holder killed twice, EOWNERDEAD, state repaired"))
		show(&p);

	snprintf(name, sizeof(name), "t_examples.rq.%d", (int)getpid());
	start(&p, "raw_queue", name, "50", "4", NULL);
	finish(&p, 60000);
	s = strstr(p.out, "the queue was full ");
	if (!ok(p.status == 0 && s && s[19] != '0' &&
		strstr(p.out, "50 received in order"),
		"raw_queue %s 50 4: back-pressure met, 50 in order", name))
		show(&p);

	snprintf(name, sizeof(name), "t_examples.ww.%d", (int)getpid());
	start(&p, "wait_wake", name, "500", NULL);
	finish(&p, 60000);
	if (!ok(p.status == 0 && strstr(p.out, "500 turns"),
		"wait_wake %s 500: 500 turns through wait/wake", name))
		show(&p);

	snprintf(name, sizeof(name), "t_examples.wa.%d", (int)getpid());
	start(&p, "wait_alloc", name, NULL);
	finish(&p, 60000);
	if (!ok(p.status == 0 && strstr(p.out, "without waiting: Cannot "
					"allocate memory") &&
		strstr(p.out, "got a block after") &&
		strstr(p.out, "hog freed one"),
		"wait_alloc: ENOMEM, then a waiting alloc gets the freed block"))
		show(&p);

	snprintf(name, sizeof(name), "t_examples.wk.%d", (int)getpid());
	start(&p, "wait_alloc", name, "--kill", NULL);
	finish(&p, 60000);
	if (!ok(p.status == 0 && strstr(p.out, "hog was killed and its "
					"blocks reclaimed"),
		"wait_alloc --kill: the waiting alloc gets a block of the "
		"killed hog"))
		show(&p);
}

static void t_runs(void)
{
	struct proc srv, cli;
	char name[64];

	start(&cli, "demo", "--messages", "300", NULL);
	finish(&cli, 100000);
	if (!ok(cli.status == 0 && strstr(cli.out, "every byte is back") &&
		strstr(cli.out, "done:"),
		"demo --messages 300: runs to the end, every byte back"))
		show(&cli);

	snprintf(name, sizeof(name), "t_examples.pp.%d", (int)getpid());
	start(&srv, "pingpong_server", name, NULL);
	if (!ok(drain(&srv, "serving arena", 20000),
		"pingpong_server %s: serving", name)) {
		kill(srv.pid, SIGKILL);
		finish(&srv, 5000);
		show(&srv);
		return;
	}
	start(&cli, "pingpong_client", name, "200", NULL);
	finish(&cli, 60000);
	if (!ok(cli.status == 0 && strstr(cli.out, "200 round trips"),
		"pingpong_client %s 200: 200 round trips", name))
		show(&cli);
	kill(srv.pid, SIGTERM);
	finish(&srv, 20000);
	if (!ok(srv.status == 0, "pingpong_server: SIGTERM, clean exit"))
		show(&srv);

	snprintf(name, sizeof(name), "t_examples.ps.%d", (int)getpid());
	start(&srv, "pub", name, "3", "1", NULL);
	if (!ok(drain(&srv, "waiting for 1 subscriber", 20000),
		"pub %s 3 1: waiting for its subscriber", name)) {
		kill(srv.pid, SIGKILL);
		finish(&srv, 5000);
		show(&srv);
		return;
	}
	start(&cli, "sub", name, "3", NULL);
	finish(&cli, 60000);
	if (!ok(cli.status == 0 && strstr(cli.out, "tick 2"),
		"sub %s 3: three ticks", name))
		show(&cli);
	finish(&srv, 30000);
	if (!ok(srv.status == 0 && strstr(srv.out, "tick 2 to 1"),
		"pub: published 3 ticks to it, then ended"))
		show(&srv);

	start(&cli, "crashdemo", NULL);
	finish(&cli, 100000);
	if (access("/dev/shmk", F_OK) == 0) {
		if (!ok(cli.status == 0 && strstr(cli.out, "crashdemo: OK"),
			"crashdemo (raw /dev/shmk ABI): runs to the end"))
			show(&cli);
	} else if (!ok(cli.status == 1 && strstr(cli.err, "modprobe shmk"),
		       "crashdemo without /dev/shmk: exit 1, says to load "
		       "the module")) {
		show(&cli);
	}
}

int main(int argc, char **argv)
{
	const char *d = getenv("SHMK_TEST_DIR");
	char *slash;

	(void)argc;
	alarm(600);
	signal(SIGPIPE, SIG_IGN);
	if (d && *d) {
		snprintf(dir, sizeof(dir), "%s", d);
	} else {
		snprintf(dir, sizeof(dir), "%s", argv[0]);
		slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		else
			snprintf(dir, sizeof(dir), ".");
	}
	t_help();
	t_bad_args();
	t_crashdemo_args();
	t_library_errors();
	t_runs();
	t_runs_lowlevel();
	printf("1..%d\n", t_num);
	if (t_fail)
		return 1;
	return t_num ? 0 : 77;
}
