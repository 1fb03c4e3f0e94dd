// SPDX-License-Identifier: GPL-2.0
/*
 * shmkctl against live arenas: on the portable backend everywhere, on
 * kmod where /dev/shmk exists (the VM). Three members (this process, a
 * child that allocates and later detaches, a child that is SIGKILLed);
 * "show" must name them with the right state, pid, how and status, in
 * text and JSON; --rw must report the allocator and per-member bytes;
 * kmod adds stats, arenas and an arena without a library header.
 */
#include "tt.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/shmk.h>
#include <shmk.h>

#define LIMIT_MS	60000
#define CHILD_ALLOC	10000	/* bytes the detaching child allocates */

struct member_arg {
	const char *name;
	unsigned int flags;
	size_t alloc;
};

/* Child: attach, maybe allocate, report the member id, obey orders. */
static int member_main(void *argp, int cmd, int ready)
{
	struct member_arg *m = argp;
	struct shmk_arena_info info;
	struct shmk_arena *a;
	uint64_t off;
	uint32_t id;
	char b;
	int r;

	r = shmk_arena_attach(m->name, m->flags, &a);
	if (r) {
		fprintf(stderr, "# child: attach: %s\n", strerror(-r));
		return 1;
	}
	if (m->alloc && shmk_alloc(a, m->alloc, 0, 0, &off)) {
		fprintf(stderr, "# child: alloc failed\n");
		return 1;
	}
	shmk_arena_info(a, &info);
	id = info.member_id;
	if (write(ready, &id, sizeof(id)) != sizeof(id))
		return 1;
	while (read(cmd, &b, 1) == 1) {
		if (b == 'd') {
			r = shmk_arena_detach(a);
			return r ? 1 : 0;
		}
	}
	return 0;
}

static int child_id(struct tt_child *c, uint32_t *id)
{
	struct pollfd pf = { c->ready, POLLIN, 0 };

	if (poll(&pf, 1, LIMIT_MS) != 1)
		return -1;
	return read(c->ready, id, sizeof(*id)) == sizeof(*id) ? 0 : -1;
}

/* Read events until member @id's exit shows up; its how, or -1. */
static int wait_exit(struct shmk_arena *a, uint32_t id, int32_t *status)
{
	uint64_t end = tt_now_ms() + LIMIT_MS;
	struct shmk_event ev[16];
	int n, i;

	while (tt_now_ms() < end) {
		struct pollfd pf = { shmk_arena_event_fd(a), POLLIN, 0 };

		poll(&pf, 1, (int)(end - tt_now_ms()));
		n = shmk_arena_events(a, ev, 16);
		for (i = 0; i < n; i++) {
			if (ev[i].type == SHMK_EVENT_EXIT &&
			    ev[i].member_id == id) {
				*status = ev[i].status;
				return (int)ev[i].how;
			}
		}
	}
	return -1;
}

/* The table row of "show" for @pid: state, how, status fields. */
struct row {
	bool found;
	uint32_t id;
	char state[16], how[16], status[16];
};

static struct row find_row(const char *out, pid_t pid)
{
	char *copy = strdup(out), *line, *save = NULL, *f[16];
	struct row r;
	char want[16];
	int n;

	memset(&r, 0, sizeof(r));
	snprintf(want, sizeof(want), "%d", (int)pid);
	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		n = tt_fields(line, f, 16);
		/* MEMBER STATE GEN PID UID FLAGS HOW STATUS ... */
		if (n >= 8 && strcmp(f[3], want) == 0 &&
		    f[0][0] >= '0' && f[0][0] <= '9') {
			r.found = true;
			r.id = (uint32_t)atoi(f[0]);
			snprintf(r.state, sizeof(r.state), "%s", f[1]);
			snprintf(r.how, sizeof(r.how), "%s", f[6]);
			snprintf(r.status, sizeof(r.status), "%s", f[7]);
		}
	}
	free(copy);
	return r;
}

/* In JSON: the integer after "key": in the object holding "pid": P. */
static long long json_member_field(const char *out, pid_t pid,
				   const char *key)
{
	char pat[48], kpat[48];
	const char *p, *q, *start, *end;

	snprintf(pat, sizeof(pat), "\"pid\": %d,", (int)pid);
	p = strstr(out, pat);
	if (!p)
		return -1;
	for (start = p; start > out && *start != '{'; start--)
		;
	end = strchr(p, '}');
	if (!end)
		return -1;
	snprintf(kpat, sizeof(kpat), "\"%s\": ", key);
	for (q = strstr(start, kpat); q && q < end; q = strstr(q + 1, kpat)) {
		q += strlen(kpat);
		if (*q < '0' || *q > '9')
			return -1;
		return strtoll(q, NULL, 10);
	}
	return -1;
}

static bool json_balanced(const char *s)
{
	int depth = 0;
	bool in_str = false;

	for (; *s; s++) {
		if (in_str) {
			if (*s == '\\' && s[1])
				s++;
			else if (*s == '"')
				in_str = false;
			continue;
		}
		if (*s == '"')
			in_str = true;
		else if (*s == '{' || *s == '[')
			depth++;
		else if (*s == '}' || *s == ']')
			if (--depth < 0)
				return false;
	}
	return depth == 0 && !in_str;
}

static void run_ctl(struct tt_run *r, const char *backend, const char *a1,
		    const char *a2, const char *a3, const char *a4)
{
	char bopt[32];
	char *argv[8];
	int n = 0;

	argv[n++] = (char *)tt_tool("shmkctl");
	if (backend) {
		snprintf(bopt, sizeof(bopt), "--backend=%s", backend);
		argv[n++] = bopt;
	}
	if (a1)
		argv[n++] = (char *)a1;
	if (a2)
		argv[n++] = (char *)a2;
	if (a3)
		argv[n++] = (char *)a3;
	if (a4)
		argv[n++] = (char *)a4;
	argv[n] = NULL;
	tt_run(argv, NULL, LIMIT_MS, r);
	if (r->err && *r->err)
		tt_diag_text("shmkctl stderr", r->err);
}

static void check_row(const char *out, pid_t pid, const char *state,
		      const char *how, const char *status, const char *what)
{
	struct row r = find_row(out, pid);

	if (!tap_ok(r.found && !strcmp(r.state, state) &&
		    !strcmp(r.how, how) && !strcmp(r.status, status),
		    "%s: pid %d is %s how %s status %s", what, (int)pid,
		    state, how, status)) {
		diag("got found=%d state=%s how=%s status=%s", r.found,
		     r.state, r.how, r.status);
		tt_diag_text("output", out);
	}
}

static void test_backend(const char *be)
{
	bool kmod = !strcmp(be, "kmod");
	unsigned int flags = kmod ? SHMK_OPEN_KMOD : SHMK_OPEN_PORTABLE;
	struct shmk_arena_opts o = { .size = 1 << 20, .mode = 0600 };
	struct member_arg ma, mk;
	struct tt_child cd, ck;
	struct shmk_arena *a;
	struct tt_run r;
	char name[64], pat[96];
	uint32_t id_d = 0, id_k = 0;
	int32_t status = 0;
	int how, rc;

	snprintf(name, sizeof(name), "tt_ctl_%s_%d", be, (int)getpid());
	rc = shmk_arena_create(name, &o, flags | SHMK_OPEN_EXCL, &a);
	if (!tap_ok(rc == 0, "%s: create %s", be, name)) {
		diag("create: %s", strerror(-rc));
		return;
	}
	ma = (struct member_arg){ .name = name, .flags = flags,
				  .alloc = CHILD_ALLOC };
	mk = (struct member_arg){ .name = name, .flags = flags };
	if (tt_child_start(&cd, member_main, &ma) ||
	    tt_child_start(&ck, member_main, &mk) ||
	    child_id(&cd, &id_d) || child_id(&ck, &id_k)) {
		tap_ok(0, "%s: two member children attached", be);
		shmk_arena_detach(a);
		return;
	}
	tap_ok(id_d && id_k && id_d != id_k, "%s: children are members %u, %u",
	       be, id_d, id_k);

	/* Everybody live. */
	run_ctl(&r, be, "show", name, NULL, NULL);
	tap_ok(r.status == 0, "%s: show exits 0 (got %d)", be, r.status);
	snprintf(pat, sizeof(pat), "arena %s backend %s", name, be);
	tap_ok(r.out && strstr(r.out, pat) != NULL, "%s: show names the arena",
	       be);
	check_row(r.out, getpid(), "live", "-", "-", be);
	check_row(r.out, cd.pid, "live", "-", "-", be);
	check_row(r.out, ck.pid, "live", "-", "-", be);
	{
		/* The slot count the library chose for this arena. */
		struct shmk_arena_info ai;
		char want[64];

		shmk_arena_info(a, &ai);
		snprintf(want, sizeof(want), "library: %u member slots",
			 ai.member_max);
		tap_ok(r.out && strstr(r.out, want) != NULL,
		       "%s: show reads the library header (%s)", be, want);
	}
	tap_ok(r.out && strstr(r.out, "allocator: not shown: ") != NULL,
	       "%s: show says the allocator is not shown read-only", be);
	if (kmod)
		tap_ok(r.out && strstr(r.out, "(this shmkctl)") != NULL,
		       "kmod: show marks its own read-only membership");
	tt_run_free(&r);

	/* JSON. */
	run_ctl(&r, be, "--json", "show", name, NULL);
	tap_ok(r.status == 0 && json_balanced(r.out),
	       "%s: show --json exits 0 with balanced JSON", be);
	snprintf(pat, sizeof(pat), "\"name\": \"%s\"", name);
	tap_ok(strstr(r.out, pat) != NULL, "%s: JSON names the arena", be);
	tap_ok(json_member_field(r.out, cd.pid, "generation") >= 1 &&
	       json_member_field(r.out, ck.pid, "generation") >= 1 &&
	       json_member_field(r.out, getpid(), "generation") >= 1,
	       "%s: JSON lists the three members by pid", be);
	tt_run_free(&r);

	/* --rw: allocator and per-member bytes. */
	run_ctl(&r, be, "--rw", "--json", "show", name);
	tap_ok(r.status == 0 && strstr(r.out, "\"allocator\": {") != NULL,
	       "%s: show --rw reports the allocator", be);
	if (!tap_ok(json_member_field(r.out, cd.pid, "used_bytes") >=
		    CHILD_ALLOC,
		    "%s: --rw: the allocating child uses >= %d bytes", be,
		    CHILD_ALLOC))
		tt_diag_text("output", r.out);
	tt_run_free(&r);

	/* A crash: SIGKILL, the survivor learns it, show tells. */
	kill(ck.pid, SIGKILL);
	how = wait_exit(a, id_k, &status);
	tap_ok(how == SHMK_END_SIGNAL && status == SIGKILL,
	       "%s: survivor sees the SIGKILL (how %d status %d)", be, how,
	       status);
	if (kmod) {
		/* Without attaching: debugfs only, no slot taken. */
		run_ctl(&r, be, "--no-attach", "show", name, NULL);
		tap_ok(r.status == 0 && strstr(r.out, " epoch -\n") &&
		       !strstr(r.out, "(this shmkctl)"),
		       "kmod: show --no-attach reads debugfs only");
		check_row(r.out, ck.pid, "dead", "signal", "9", "kmod -N");
		check_row(r.out, getpid(), "live", "-", "-", "kmod -N");
		tt_run_free(&r);
	}
	run_ctl(&r, be, "show", name, NULL, NULL);
	check_row(r.out, ck.pid, "dead", "signal", "9", be);
	/* show's own attach takes a never-used slot: the record stays */
	if (kmod)
		tap_ok(strstr(r.out, "slot since taken by this shmkctl") == NULL,
		       "kmod: show's attach left the dead member's record in place");
	tt_run_free(&r);
	waitpid(ck.pid, NULL, 0);

	/* A clean detach. */
	tt_child_order(&cd, 'd');
	how = wait_exit(a, id_d, &status);
	tap_ok(how == SHMK_END_DETACH, "%s: survivor sees the detach", be);
	run_ctl(&r, be, "show", name, NULL, NULL);
	check_row(r.out, cd.pid, "dead", "detach", "0", be);
	tt_run_free(&r);
	rc = -1;
	if (waitpid(cd.pid, &rc, 0) == cd.pid)
		rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
	tap_ok(rc == 0, "%s: detaching child exits 0", be);
	close(cd.cmd);
	close(cd.ready);
	close(ck.cmd);
	close(ck.ready);

	/* Listing. */
	run_ctl(&r, be, "arenas", NULL, NULL, NULL);
	tap_ok(r.status == 0 && strstr(r.out, name) != NULL,
	       "%s: arenas lists %s", be, name);
	tt_run_free(&r);
	run_ctl(&r, be, "--json", "arenas", NULL, NULL);
	snprintf(pat, sizeof(pat), "\"name\": \"%s\"", name);
	tap_ok(r.status == 0 && json_balanced(r.out) &&
	       strstr(r.out, pat) != NULL, "%s: arenas --json lists %s", be,
	       name);
	tt_run_free(&r);

	if (kmod) {
		long long arenas = -1, members = -1;
		char *p;

		run_ctl(&r, NULL, "stats", NULL, NULL, NULL);
		p = strstr(r.out, "\narenas ");
		if (p)
			arenas = atoll(p + 8);
		p = strstr(r.out, "\nmembers ");
		if (p)
			members = atoll(p + 9);
		if (!tap_ok(r.status == 0 && arenas >= 1 && members >= 1,
			    "kmod: stats counts >= 1 arena and member (%lld, %lld)",
			    arenas, members))
			tt_diag_text("output", r.out);
		/* Our arena is charged to us and to our namespace. */
		p = strstr(r.out, "\n  uid ");
		if (!tap_ok(p && (long long)strtoull(p + 7, NULL, 10) ==
				 (long long)geteuid() &&
			    strstr(r.out, "max_arenas_per_user") &&
			    strstr(r.out, "\n  ipc:["),
			    "kmod: stats shows the arenas charged per user and per namespace"))
			tt_diag_text("output", r.out);
		tt_run_free(&r);
		run_ctl(&r, NULL, "--json", "stats", NULL, NULL);
		tap_ok(r.status == 0 && json_balanced(r.out) &&
		       strstr(r.out, "\"counters\": {") != NULL &&
		       strstr(r.out, "\"users\": [") != NULL &&
		       strstr(r.out, "\"namespaces\": [") != NULL &&
		       strstr(r.out, "\"max_arenas_per_user\":") != NULL,
		       "kmod: stats --json has the counters, charges and limits");
		tt_run_free(&r);
	}

	rc = shmk_arena_detach(a);
	tap_ok(rc == 0, "%s: last member detaches", be);
	run_ctl(&r, be, "show", name, NULL, NULL);
	tap_ok(r.status == 1 && strstr(r.err, "No such file or directory") &&
	       strstr(r.err, "errno 2"),
	       "%s: show of a gone arena fails with ENOENT", be);
	tt_run_free(&r);
}

/* kmod: an arena made with the raw ABI has no library header. */
static void test_raw_arena(void)
{
	struct shmk_attach at;
	struct tt_run r;
	int fd;

	fd = open(SHMK_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	memset(&at, 0, sizeof(at));
	snprintf(at.name, sizeof(at.name), "tt_ctl_raw_%d", (int)getpid());
	at.size = 65536;
	at.mode = 0600;
	at.flags = SHMK_ATTACH_CREATE | SHMK_ATTACH_EXCL;
	if (!tap_ok(fd >= 0 && ioctl(fd, SHMK_IOC_ATTACH, &at) == 0,
		    "kmod: raw ABI arena created")) {
		if (fd >= 0)
			close(fd);
		return;
	}
	run_ctl(&r, "kmod", "show", at.name, NULL, NULL);
	tap_ok(r.status == 0 && strstr(r.out, "library: not shown: no libshmk header"),
	       "kmod: show of a raw arena says there is no library header");
	check_row(r.out, getpid(), "live", "-", "-", "kmod raw");
	tt_run_free(&r);
	run_ctl(&r, "kmod", "--rw", "show", at.name, NULL);
	tap_ok(r.status == 1 &&
	       strstr(r.out, "allocator: not shown: no libshmk header"),
	       "kmod: --rw refuses to format a raw arena");
	tt_run_free(&r);
	ioctl(fd, SHMK_IOC_DETACH, 0);
	close(fd);
}

static void test_usage(void)
{
	struct tt_run r;

	run_ctl(&r, NULL, "--help", NULL, NULL, NULL);
	tap_ok(r.status == 0 && strstr(r.out, "Usage: shmkctl") &&
	       strstr(r.out, "show NAME"), "--help prints the usage");
	tt_run_free(&r);
	run_ctl(&r, NULL, "frobnicate", NULL, NULL, NULL);
	tap_ok(r.status == 2 && strstr(r.err, "unknown command"),
	       "unknown command exits 2");
	tt_run_free(&r);
	run_ctl(&r, NULL, "show", "a/b", NULL, NULL);
	tap_ok(r.status == 1 && strstr(r.err, "Invalid argument"),
	       "show of a bad name fails with EINVAL");
	tt_run_free(&r);
	run_ctl(&r, "nonsense", "arenas", NULL, NULL, NULL);
	tap_ok(r.status == 2, "unknown backend exits 2");
	tt_run_free(&r);
}

/*
 * JSON is Unicode text: a UTF-8 name (here a second link to a portable
 * arena's object, as a program other than libshmk could make) comes out
 * as the same bytes, not as Latin-1 escapes of each byte; a byte that is
 * not UTF-8 comes out as U+FFFD, and the document stays valid.
 */
static void test_json_utf8(void)
{
	struct shmk_arena *a = NULL;
	char name[64], src[128], good[128], bad[128], want[128];
	struct tt_run r;
	int rc;

	snprintf(name, sizeof(name), "t_ctl_utf8.%d", (int)getpid());
	rc = shmk_arena_create(name, NULL, SHMK_OPEN_PORTABLE | SHMK_OPEN_EXCL,
			       &a);
	if (!tap_ok(rc == 0, "portable: create %s for the UTF-8 case: %d",
		    name, rc))
		return;
	snprintf(src, sizeof(src), "/dev/shm/shmk.%s", name);
	snprintf(good, sizeof(good), "/dev/shm/shmk.caf\xc3\xa9.%d",
		 (int)getpid());
	snprintf(bad, sizeof(bad), "/dev/shm/shmk.bad\xff.%d", (int)getpid());
	if (tap_ok(link(src, good) == 0 && link(src, bad) == 0,
		   "portable: two more names for the object: %s",
		   strerror(errno))) {
		run_ctl(&r, "portable", "--json", "arenas", NULL, NULL);
		snprintf(want, sizeof(want), "\"name\": \"caf\xc3\xa9.%d\"",
			 (int)getpid());
		tap_ok(r.status == 0 && json_balanced(r.out) &&
		       strstr(r.out, want) != NULL,
		       "--json: a UTF-8 name is printed as it is (café)");
		snprintf(want, sizeof(want), "\"name\": \"bad\\ufffd.%d\"",
			 (int)getpid());
		if (!tap_ok(strstr(r.out, want) != NULL,
			    "--json: a byte that is not UTF-8 becomes \\ufffd"))
			tt_diag_text("output", r.out);
		tt_run_free(&r);
	}
	unlink(good);
	unlink(bad);
	shmk_arena_detach(a);
}

int main(void)
{
	bool have_kmod = access(SHMK_DEVICE_PATH, F_OK) == 0;
	struct tt_run r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (access(tt_tool("shmkctl"), X_OK) != 0) {
		tap_ok(0, "shmkctl next to the test (%s): %s",
		       tt_tool("shmkctl"), strerror(errno));
		return tap_done();
	}
	test_usage();
	test_backend("portable");
	test_json_utf8();
	if (have_kmod) {
		test_backend("kmod");
		test_raw_arena();
	} else {
		tap_skip("kmod: show, stats, arenas", "no %s (module not loaded)",
			 SHMK_DEVICE_PATH);
		run_ctl(&r, NULL, "stats", NULL, NULL, NULL);
		tap_ok(r.status == 1 && strstr(r.err, "not loaded"),
		       "stats without the module fails and says why");
		tt_run_free(&r);
	}
	return tap_done();
}
