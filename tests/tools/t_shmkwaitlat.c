// SPDX-License-Identifier: GPL-2.0
/*
 * shmkwaitlat: waits must be counted per arena with how they ended.
 * This process makes NT waits that time out and NA waits whose word does
 * not hold the expected value, then stops the tracer: its summary line
 * for the arena must count exactly those, and draw a histogram.
 *
 * Library source on the portable backend everywhere (this program is
 * the traced binary); kernel source on kmod where /dev/shmk exists.
 * Needs root (BPF).
 */
#include "tt.h"

#include <linux/shmk.h>
#include <shmk.h>

#define LIMIT_MS	60000
#define NT		20	/* waits that time out (1 ms each) */
#define NA		5	/* waits that find another value */

/* Start the tracer, wait for its "Tracing" line. */
static bool start(struct tt_proc *p, char *const argv[])
{
	uint64_t end = tt_now_ms() + LIMIT_MS;
	char line[1024];
	int r;

	if (tt_spawn(argv, p))
		return false;
	while ((r = tt_line(p, line, sizeof(line), end)) == 1)
		if (!strncmp(line, "Tracing ", 8))
			return true;
	tt_stop(p, SIGKILL);
	diag("tracer did not get ready (%s)", r ? "timeout" : "exited");
	tt_diag_text("tracer stderr", p->errbuf);
	return false;
}

/* Value of " key N" in @line, or -1. */
static long long field(const char *line, const char *key)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof(pat), " %s ", key);
	p = strstr(line, pat);
	return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

static void run_case(const char *tag, unsigned int flags, char *const argv[],
		     const char *name, const char *src)
{
	struct shmk_arena_opts o = { .size = 1 << 20, .mode = 0600 };
	struct shmk_arena *a;
	struct tt_proc p;
	uint64_t off, end;
	char line[1024], head[128];
	bool found = false, bars = false;
	long long waits = -1, timedout = -1, again = -1;
	int i, r, rc, nt = 0, na = 0;

	if (!tap_ok(start(&p, argv), "%s: tracer ready", tag))
		return;
	r = shmk_arena_create(name, &o, flags | SHMK_OPEN_EXCL, &a);
	if (!tap_ok(r == 0, "%s: create %s", tag, name)) {
		tt_stop(&p, SIGKILL);
		return;
	}
	r = shmk_alloc(a, 64, SHMK_ALLOC_ZERO, 0, &off);
	tap_ok(r == 0, "%s: a word to wait on", tag);
	for (i = 0; i < NT; i++)
		if (shmk_arena_wait(a, off, 0, 1000000, SHMK_WAIT_NO_EVENTS) ==
		    -ETIMEDOUT)
			nt++;
	for (i = 0; i < NA; i++)
		if (shmk_arena_wait(a, off, 1, 1000000, SHMK_WAIT_NO_EVENTS) ==
		    -EAGAIN)
			na++;
	tap_ok(nt == NT && na == NA, "%s: %d waits timed out, %d found another value",
	       tag, nt, na);

	/* The tracer prints its summary when it gets SIGINT. */
	kill(p.pid, SIGINT);
	snprintf(head, sizeof(head), "arena %s ", name);
	end = tt_now_ms() + LIMIT_MS;
	while (tt_line(&p, line, sizeof(line), end) == 1) {
		if (!strncmp(line, head, strlen(head)) && strstr(line, src)) {
			found = true;
			waits = field(line, "waits");
			timedout = field(line, "timedout");
			again = field(line, "again");
		} else if (found && strstr(line, " -> ") && strchr(line, '|')) {
			bars = true;
		}
		diag("tracer: %s", line);
	}
	rc = tt_stop(&p, SIGINT);
	tap_ok(rc == 0, "%s: tracer exits 0 (got %d)", tag, rc);
	tap_ok(found, "%s: a summary for arena %s %s", tag, name, src);
	tap_ok(timedout == NT && again == NA && waits >= NT + NA,
	       "%s: it counts %d timed out, %d again (got %lld, %lld of %lld)",
	       tag, NT, NA, timedout, again, waits);
	tap_ok(bars, "%s: with a histogram", tag);
	if (!found)
		tt_diag_text("tracer stderr", p.errbuf);
	shmk_arena_detach(a);
}

int main(void)
{
	char name_u[64], name_k[64];
	char *argv_u[] = { (char *)tt_tool("shmkwaitlat"), "-u", "-l",
			   (char *)tt_self(), "-n", name_u, NULL };
	char *argv_k[] = { (char *)tt_tool("shmkwaitlat"), "-k", "-n", name_k,
			   NULL };
	char *help[] = { (char *)tt_tool("shmkwaitlat"), "--help", NULL };
	char *bad[] = { (char *)tt_tool("shmkwaitlat"), "-u", "-a", "1", NULL };
	struct tt_run r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	snprintf(name_u, sizeof(name_u), "tt_wl_u_%d", (int)getpid());
	snprintf(name_k, sizeof(name_k), "tt_wl_k_%d", (int)getpid());
	if (access(tt_tool("shmkwaitlat"), X_OK) != 0) {
		tap_ok(0, "shmkwaitlat next to the test: %s", strerror(errno));
		return tap_done();
	}
	tt_run(help, NULL, LIMIT_MS, &r);
	tap_ok(r.status == 0 && strstr(r.out, "EXAMPLES:"),
	       "--help has an EXAMPLES block");
	tt_run_free(&r);
	tt_run(bad, NULL, LIMIT_MS, &r);
	tap_ok(r.status == 2, "-a with the library source is a usage error");
	tt_run_free(&r);
	if (geteuid() != 0) {
		tap_skip("tracing", "needs root for BPF");
		return tap_done();
	}
	run_case("library", SHMK_OPEN_PORTABLE, argv_u, name_u, "[lib]");
	if (access(SHMK_DEVICE_PATH, F_OK) == 0)
		run_case("kernel", SHMK_OPEN_KMOD, argv_k, name_k, "[kern]");
	else
		tap_skip("kernel source", "no %s (module not loaded)",
			 SHMK_DEVICE_PATH);
	return tap_done();
}
