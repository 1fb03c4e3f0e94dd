// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * shmkctl: introspection of shmk arenas.
 *
 *   shmkctl stats          module counters (debugfs) and limits
 *   shmkctl arenas         every arena: kmod (debugfs), portable (/dev/shm)
 *   shmkctl show NAME      one arena: members, epoch, library state
 *
 * "show" never writes to the arena. On the kmod backend it attaches
 * read-only through the raw ABI: the control region (member table,
 * epoch) is only mapped for members, and libshmk neither exposes it nor
 * can it attach read-only to an arena it did not format (it would wait
 * for the library header forever). On the portable backend it maps the
 * object /dev/shm/shmk.<name> read-only and does not become a member at
 * all. Allocator statistics need a read-write libshmk member (--rw).
 * See tools/man/shmkctl.8.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define SHMK_NO_SDT		/* shmk_int.h: layout only, no probes */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/shmk.h>
#include <shmk.h>

#include "core/shmk_int.h"		/* lib/: struct lm_hdr, struct lm_slot */
#include "shmk_portable.h"
#include "shmk_tools.h"		/* shmkt_how_name() only: no libbpf */
#include "shmk_mount.h"

#define DEBUGFS_DIR	"/sys/kernel/debug/shmk"
#define PARAMS_DIR	"/sys/module/shmk/parameters"
#define EXIT_USAGE	2
#define SEQ_TRIES	1000

enum backend { BE_AUTO, BE_KMOD, BE_PORTABLE };

static struct {
	bool json;
	bool rw;
	bool no_attach;
	enum backend backend;
} opt;

static const char usage_text[] =
"Usage: shmkctl [OPTIONS] COMMAND [ARGS]\n"
"\n"
"Look at shmk arenas.\n"
"\n"
"Commands:\n"
"  stats        module counters (debugfs) and limits (kmod backend only)\n"
"  arenas       list arenas: kmod ones from debugfs, portable ones from\n"
"               /dev/shm\n"
"  show NAME    one arena: identity, epoch, member table (state, pid,\n"
"               generation, how and status of ended members), library\n"
"               state; allocator statistics with --rw\n"
"  help         this text\n"
"\n"
"Options:\n"
"  -j, --json           JSON output\n"
"  -b, --backend B      kmod or portable (default: $SHMK_BACKEND, else\n"
"                       kmod if /dev/shmk exists, else portable)\n"
"  -w, --rw             show: also attach read-write through libshmk for\n"
"                       allocator statistics and per-member used bytes\n"
"                       (joins as a member for a moment: survivors see an\n"
"                       attach and a clean detach)\n"
"  -N, --no-attach      show, kmod: do not attach at all; the member table\n"
"                       comes from debugfs (no epoch, no library state)\n"
"  -h, --help           this text\n"
"  -V, --version        print the version and exit\n"
"\n"
"show on kmod attaches read-only: survivors see it attach and detach, and\n"
"it takes a member slot, possibly the slot of a member that ended (its\n"
"record is then shown from debugfs, read before attaching). On portable\n"
"it only reads /dev/shm/shmk.NAME. Exit status: 0 ok, 1 error, 2 usage.\n"
"\n"
"Examples:\n"
"  shmkctl stats\n"
"  shmkctl arenas --json\n"
"  shmkctl show orders\n"
"  shmkctl -b portable show --rw orders\n";

/* ---- errors ----------------------------------------------------------- */

/*
 * The module's debugfs files, on a machine where nobody mounted debugfs:
 * mount it (root) when the module is there to be looked at.
 */
static void kmod_debugfs(void)
{
	if (access(SHMK_DEVICE_PATH, F_OK) == 0)
		shmkt_need_debugfs("shmkctl");
}

__attribute__((format(printf, 2, 3)))
static int fail(int err, const char *fmt, ...)
{
	va_list ap;

	fputs("shmkctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s (errno %d)", strerror(err), err);
	fputc('\n', stderr);
	return 1;
}

/* ---- JSON output ------------------------------------------------------ */

#define J_MAX_DEPTH	16
static int j_depth;
static bool j_more[J_MAX_DEPTH];

/*
 * Length of the well-formed UTF-8 sequence at @p (RFC 3629: shortest
 * form, no surrogates, at most U+10FFFF), 0 if it is not one.
 */
static int utf8_len(const unsigned char *p)
{
	int n, i;
	unsigned int c;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, c = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, c = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, c = p[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;	/* also stops at the NUL */
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (n == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return n;
}

/*
 * A JSON string: UTF-8 passes through as it is, control characters are
 * escaped, and a byte that is not part of well-formed UTF-8 becomes
 * U+FFFD (JSON text is Unicode: a lone byte has no faithful spelling).
 */
static void j_raw_string(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int n;

	putchar('"');
	while (*p) {
		if (*p == '"' || *p == '\\') {
			printf("\\%c", *p++);
			continue;
		}
		if (*p == '\n') {
			fputs("\\n", stdout);
			p++;
			continue;
		}
		if (*p < 0x20 || *p == 0x7f) {
			printf("\\u%04x", *p++);
			continue;
		}
		n = utf8_len(p);
		if (!n) {
			fputs("\\ufffd", stdout);
			p++;
			continue;
		}
		fwrite(p, 1, (size_t)n, stdout);
		p += n;
	}
	putchar('"');
}

static void j_key(const char *key)
{
	int i;

	if (j_more[j_depth])
		putchar(',');
	if (j_depth)
		putchar('\n');
	for (i = 0; i < j_depth; i++)
		fputs("  ", stdout);
	if (key) {
		j_raw_string(key);
		fputs(": ", stdout);
	}
	j_more[j_depth] = true;
}

static void j_begin(const char *key, char c)
{
	j_key(key);
	putchar(c);
	if (j_depth + 1 < J_MAX_DEPTH)
		j_depth++;
	j_more[j_depth] = false;
}

static void j_end(char c)
{
	bool had = j_more[j_depth];
	int i;

	j_depth--;
	if (had) {
		putchar('\n');
		for (i = 0; i < j_depth; i++)
			fputs("  ", stdout);
	}
	putchar(c);
	if (!j_depth)
		putchar('\n');
}

static void j_str(const char *key, const char *v)
{
	j_key(key);
	if (v)
		j_raw_string(v);
	else
		fputs("null", stdout);
}

static void j_u64(const char *key, uint64_t v)
{
	j_key(key);
	printf("%" PRIu64, v);
}

static void j_i64(const char *key, int64_t v)
{
	j_key(key);
	printf("%" PRId64, v);
}

static void j_null(const char *key)
{
	j_key(key);
	fputs("null", stdout);
}

static void j_bool(const char *key, bool v)
{
	j_key(key);
	fputs(v ? "true" : "false", stdout);
}

static void j_dbl(const char *key, double v)
{
	j_key(key);
	printf("%.6f", v);
}

/* ---- small helpers ---------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double ago_s(uint64_t t, uint64_t now)
{
	return t && now > t ? (double)(now - t) / 1e9 : 0.0;
}

/* "-" for a member that has not ended. */
static const char *how_name(uint32_t how)
{
	return shmkt_how_name(how, "-");
}

/* Printable, space-free copy of an arena name (for text output). */
static const char *clean(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[i] = c > 0x20 && c < 0x7f ? (char)c : '?';
	}
	buf[i] = '\0';
	return buf;
}

static enum backend pick_backend(void)
{
	const char *e = getenv("SHMK_BACKEND");

	if (opt.backend != BE_AUTO)
		return opt.backend;
	if (e && strcmp(e, "kmod") == 0)
		return BE_KMOD;
	if (e && strcmp(e, "portable") == 0)
		return BE_PORTABLE;
	return access(SHMK_DEVICE_PATH, F_OK) == 0 ? BE_KMOD : BE_PORTABLE;
}

static int name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= SHMK_NAME_MAX || strchr(name, '/'))
		return -EINVAL;
	return 0;
}

/* Read a small text file; -errno on failure. */
static int read_text(const char *path, char *buf, size_t len)
{
	ssize_t n;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (got + 1 < len) {
		n = read(fd, buf + got, len - 1 - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return (int)n;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fd);
	return 0;
}

/* Whole file into a malloc'd buffer. */
static int read_all(const char *path, char **out)
{
	size_t cap = 8192, len = 0;
	char *buf = malloc(cap), *n;
	ssize_t r;
	int fd;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		free(buf);
		return (int)r;
	}
	for (;;) {
		if (len + 1 >= cap) {
			n = realloc(buf, cap * 2);
			if (!n) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = n;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			free(buf);
			close(fd);
			return (int)r;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	close(fd);
	*out = buf;
	return 0;
}

/* ---- stats ------------------------------------------------------------ */

static const char *const feature_names[] = {
	"wait-abstime", "robust", "persistent", "rdonly", "events", "fdinfo",
	"max-members",
};
#define NR_FEATURE_NAMES (int)(sizeof(feature_names) / sizeof(feature_names[0]))

static const char *const params[] = {
	"max_arena_size", "max_arenas", "reserved_arenas",
	"max_arenas_per_ns", "max_bytes_per_ns", "max_arenas_per_user",
	"max_bytes_per_user", "max_members", "event_queue_len",
};
#define NR_PARAMS (int)(sizeof(params) / sizeof(params[0]))

/* A module parameter, or -1 if the module has none of that name. */
static long long param(const char *name)
{
	char path[128], pbuf[64];

	snprintf(path, sizeof(path), PARAMS_DIR "/%s", name);
	if (read_text(path, pbuf, sizeof(pbuf)))
		return -1;
	return strtoll(pbuf, NULL, 10);
}

/*
 * What is charged to each user and namespace (debugfs users and
 * namespaces, kmod/registry.c), beside the limits.
 */
static void stats_charges(void)
{
	char *text = NULL, *line, *save = NULL, state[8];
	unsigned long long id, arenas, bytes;

	if (opt.json)
		j_begin("users", '[');
	else
		printf("users: arenas of max_arenas_per_user %lld, bytes of max_bytes_per_user %lld\n",
		       param("max_arenas_per_user"), param("max_bytes_per_user"));
	if (read_all(DEBUGFS_DIR "/users", &text) == 0) {
		for (line = strtok_r(text, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			if (sscanf(line, "%llu %llu %llu", &id, &arenas,
				   &bytes) != 3)
				continue;
			if (opt.json) {
				j_begin(NULL, '{');
				j_u64("uid", id);
				j_u64("arenas", arenas);
				j_u64("bytes", bytes);
				j_end('}');
			} else {
				printf("  uid %llu: %llu arenas, %llu bytes\n",
				       id, arenas, bytes);
			}
		}
	}
	free(text);
	text = NULL;
	save = NULL;
	if (opt.json) {
		j_end(']');
		j_begin("namespaces", '[');
	} else {
		printf("ipc namespaces: arenas of max_arenas_per_ns %lld, bytes of max_bytes_per_ns %lld\n",
		       param("max_arenas_per_ns"), param("max_bytes_per_ns"));
	}
	if (read_all(DEBUGFS_DIR "/namespaces", &text) == 0) {
		for (line = strtok_r(text, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			if (sscanf(line, "%llu %llu %llu %7s", &id, &arenas,
				   &bytes, state) != 4)
				continue;
			if (opt.json) {
				j_begin(NULL, '{');
				j_u64("inode", id);
				j_u64("arenas", arenas);
				j_u64("bytes", bytes);
				j_str("state", state);
				j_end('}');
			} else {
				printf("  ipc:[%llu] (%s): %llu arenas, %llu bytes\n",
				       id, state, arenas, bytes);
			}
		}
	}
	free(text);
	if (opt.json)
		j_end(']');
}

static int cmd_stats(void)
{
	char keys[8][32], text[1024];
	long long vals[8];
	struct shmk_version v;
	int fd, r, n = 0, i;
	char *line, *save = NULL;
	bool first;

	fd = open(SHMK_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		r = errno;
		fail(r, "stats: %s", SHMK_DEVICE_PATH);
		fprintf(stderr, "shmkctl: stats: the shmk module is not loaded; the portable backend keeps no global counters (shmkctl arenas, shmkctl show NAME work there)\n");
		return 1;
	}
	memset(&v, 0, sizeof(v));
	v.abi_version = SHMK_ABI_VERSION;
	if (ioctl(fd, SHMK_IOC_VERSION, &v) < 0) {
		r = errno;
		close(fd);
		return fail(r, "stats: SHMK_IOC_VERSION");
	}
	close(fd);

	kmod_debugfs();
	r = read_text(DEBUGFS_DIR "/stats", text, sizeof(text));
	if (r == 0) {
		for (line = strtok_r(text, "\n", &save); line && n < 8;
		     line = strtok_r(NULL, "\n", &save)) {
			if (sscanf(line, "%31s %lld", keys[n], &vals[n]) == 2)
				n++;
		}
	}

	if (opt.json) {
		j_begin(NULL, '{');
		j_begin("module", '{');
		j_u64("abi_version", v.kernel_abi_version);
		j_u64("features", v.features);
		j_begin("feature_names", '[');
		for (i = 0; i < NR_FEATURE_NAMES; i++)
			if (v.features & (1ULL << i))
				j_str(NULL, feature_names[i]);
		j_end(']');
		j_u64("ioctls", v.ioctls);
		j_u64("member_max", v.member_max);
		j_u64("arena_size_max", v.arena_size_max);
		j_u64("arenas_max", v.arenas_max);
		j_u64("event_queue_len", v.event_queue_len);
		j_end('}');
		j_begin("parameters", '{');
		for (i = 0; i < NR_PARAMS; i++)
			if (param(params[i]) >= 0)
				j_u64(params[i], (uint64_t)param(params[i]));
		j_end('}');
		if (r == 0) {
			j_begin("counters", '{');
			for (i = 0; i < n; i++)
				j_i64(keys[i], vals[i]);
			j_end('}');
			stats_charges();
		} else {
			j_null("counters");
		}
		j_end('}');
	} else {
		printf("module: abi %u, features 0x%" PRIx64 " (",
		       v.kernel_abi_version, (uint64_t)v.features);
		first = true;
		for (i = 0; i < NR_FEATURE_NAMES; i++) {
			if (v.features & (1ULL << i)) {
				printf("%s%s", first ? "" : " ",
				       feature_names[i]);
				first = false;
			}
		}
		printf(")\n");
		printf("limits:");
		for (i = 0; i < NR_PARAMS; i++)
			if (param(params[i]) >= 0)
				printf("%s %s %lld", i ? "," : "", params[i],
				       param(params[i]));
		printf("\n");
		for (i = 0; i < n; i++)
			printf("%s %lld\n", keys[i], vals[i]);
		if (r == 0)
			stats_charges();
	}
	if (r) {
		fail(-r, "stats: %s/stats", DEBUGFS_DIR);
		fprintf(stderr, "shmkctl: stats: counters not shown (is debugfs mounted? mount -t debugfs none /sys/kernel/debug)\n");
		return 1;
	}
	return 0;
}

/* ---- the portable object ---------------------------------------------- */

struct pobj {
	int fd;
	void *map;
	size_t len;
	const struct spt_hdr *h;
	struct stat st;
};

static void pobj_close(struct pobj *o)
{
	if (o->map && o->map != MAP_FAILED)
		munmap(o->map, o->len);
	if (o->fd >= 0)
		close(o->fd);
	o->map = NULL;
	o->fd = -1;
}

/*
 * Map /dev/shm/shmk.<name> read-only and check that it is a portable
 * object we understand: -EPROTO (with @why) if not, -errno otherwise.
 */
static int pobj_open(const char *path, struct pobj *o, const char **why)
{
	const struct spt_hdr *h;
	uint64_t need;
	int r;

	memset(o, 0, sizeof(*o));
	*why = NULL;
	o->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (o->fd < 0)
		return -errno;
	if (fstat(o->fd, &o->st) < 0) {
		r = -errno;
		pobj_close(o);
		return r;
	}
	if (!S_ISREG(o->st.st_mode) ||
	    (uint64_t)o->st.st_size < sizeof(struct spt_hdr)) {
		*why = "too small to be a libshmk portable object";
		pobj_close(o);
		return -EPROTO;
	}
	o->len = (size_t)o->st.st_size;
	o->map = mmap(NULL, o->len, PROT_READ, MAP_SHARED, o->fd, 0);
	if (o->map == MAP_FAILED) {
		r = -errno;
		o->map = NULL;
		pobj_close(o);
		return r;
	}
	h = o->map;
	if (h->magic != SPT_MAGIC)
		*why = "bad magic: not a libshmk portable object";
	else if (h->version != SPT_VERSION)
		*why = "unknown portable object version";
	else if (h->member_max == 0 || h->member_max > SPT_MEMBERS_MAX)
		*why = "member_max out of range";
	if (!*why) {
		need = sizeof(struct spt_hdr) +
			(uint64_t)h->member_max * sizeof(struct spt_member);
		if (h->hdr_size < need || h->hdr_size % LM_PAGE ||
		    h->user_size == 0 || h->hdr_size > o->len ||
		    h->user_size > o->len - h->hdr_size)
			*why = "sizes do not fit the object";
	}
	if (*why) {
		pobj_close(o);
		return -EPROTO;
	}
	o->h = h;
	return 0;
}

/* ---- the library header in the user region ---------------------------- */

struct libview {
	bool valid;
	const char *why;
	uint32_t member_max, refs_max, reserve_pages, npages;
	uint32_t free_pages, waiters;
	uint64_t heap_off;
	const uint8_t *base;
	uint64_t size;
	uint64_t slots_off;
};

static void lib_read(const void *base, uint64_t size, struct libview *lv)
{
	const struct lm_hdr *h = base;

	memset(lv, 0, sizeof(*lv));
	lv->base = base;
	lv->size = size;
	if (size < LM_HDR_SIZE) {
		lv->why = "user region smaller than the library header";
		return;
	}
	if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != LM_MAGIC ||
	    h->version != LM_VERSION) {
		lv->why = "no libshmk header (not formatted by libshmk)";
		return;
	}
	if (__atomic_load_n(&h->init, __ATOMIC_ACQUIRE) != LM_INIT_DONE) {
		lv->why = "libshmk header being initialised";
		return;
	}
	if (h->page_size != LM_PAGE || h->user_size != size ||
	    h->member_max == 0 || h->member_max > LM_MEMBERS_MAX ||
	    h->slots_off > size ||
	    (uint64_t)(h->member_max + 1) * LM_SLOT_SIZE >
	    size - h->slots_off ||
	    h->heap_off > size ||
	    ((uint64_t)h->npages << LM_PAGE_SHIFT) > size - h->heap_off) {
		lv->why = "libshmk header inconsistent";
		return;
	}
	lv->valid = true;
	lv->member_max = h->member_max;
	lv->refs_max = h->refs_max;
	lv->reserve_pages = h->reserve_pages;
	lv->npages = h->npages;
	lv->free_pages = __atomic_load_n(&h->free_pages, __ATOMIC_RELAXED);
	lv->waiters = __atomic_load_n(&h->waiters, __ATOMIC_RELAXED);
	lv->heap_off = h->heap_off;
	lv->slots_off = h->slots_off;
}

/* The library's view of member slot @id: "free", "live", "reclaim". */
static const char *lib_slot(const struct libview *lv, uint32_t id,
			    uint32_t *gen, uint32_t *helper)
{
	const struct lm_slot *s;
	uint64_t c;

	*gen = 0;
	*helper = 0;
	if (!lv->valid || id == 0 || id > lv->member_max)
		return NULL;
	s = (const struct lm_slot *)(lv->base + lv->slots_off +
				     (uint64_t)id * LM_SLOT_SIZE);
	c = __atomic_load_n(&s->ctl, __ATOMIC_ACQUIRE);
	*gen = LS_GEN(c);
	switch (LS_STATE(c)) {
	case LS_FREE:
		return "free";
	case LS_LIVE:
		return "live";
	case LS_RECLAIM:
		*helper = LS_HELPER(c);
		return "reclaim";
	default:
		return "?";
	}
}

/* ---- arenas ----------------------------------------------------------- */

struct kmember {
	uint32_t id, gen, how;
	int32_t pid, status;
	char state[8];
};

struct karena {
	uint32_t id, ns, live, flags, uid, gid, mode;
	uint64_t user_size, ctrl_size;
	char name[SHMK_NAME_MAX];
	struct kmember *m;
	size_t nm;
};

static void karenas_free(struct karena *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(a[i].m);
	free(a);
}

/*
 * Parse debugfs shmk/arenas: "<id> <name> <ns> <user_size> <ctrl_size>
 * <live> <flags hex> <uid> <gid> <mode octal>", then one indented line per
 * member slot: "<id> <live|dead> <gen> <pid> <how> <status>". The name
 * may contain spaces: the eight fields after it are taken from the right.
 */
static int karenas_parse(char *text, struct karena **out, size_t *nout)
{
	struct karena *a = NULL, *cur = NULL, *na;
	size_t n = 0, cap = 0;
	char *line, *save = NULL, *p, *end;
	int spaces;

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == ' ') {
			struct kmember km, *nm;

			if (!cur)
				goto bad;
			memset(&km, 0, sizeof(km));
			if (sscanf(line, " %u %7s %u %d %u %d", &km.id,
				   km.state, &km.gen, &km.pid, &km.how,
				   &km.status) != 6)
				goto bad;
			nm = realloc(cur->m, (cur->nm + 1) * sizeof(*nm));
			if (!nm)
				goto nomem;
			cur->m = nm;
			cur->m[cur->nm++] = km;
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			na = realloc(a, cap * sizeof(*a));
			if (!na)
				goto nomem;
			a = na;
		}
		cur = &a[n];
		memset(cur, 0, sizeof(*cur));
		n++;
		cur->id = (uint32_t)strtoul(line, &p, 10);
		if (p == line || *p != ' ')
			goto bad;
		p++;
		end = p + strlen(p);
		for (spaces = 0; end > p; end--) {
			if (end[-1] == ' ' && ++spaces == 8)
				break;
		}
		if (spaces != 8 || end - 1 <= p)
			goto bad;
		snprintf(cur->name, sizeof(cur->name), "%.*s",
			 (int)(end - 1 - p), p);
		if (sscanf(end, "%u %" SCNu64 " %" SCNu64 " %u %x %u %u %o",
			   &cur->ns, &cur->user_size, &cur->ctrl_size,
			   &cur->live, &cur->flags, &cur->uid, &cur->gid,
			   &cur->mode) != 8)
			goto bad;
	}
	*out = a;
	*nout = n;
	return 0;
bad:
	karenas_free(a, n);
	return -EPROTO;
nomem:
	karenas_free(a, n);
	return -ENOMEM;
}

static void flags_text(uint32_t persistent, uint32_t removed, char *buf,
		       size_t len)
{
	snprintf(buf, len, "%s%s%s", persistent ? "persistent" : "",
		 persistent && removed ? "," : "", removed ? "removed" : "");
	if (!buf[0])
		snprintf(buf, len, "-");
}

static void j_flags(uint32_t persistent, uint32_t removed)
{
	j_begin("flags", '[');
	if (persistent)
		j_str(NULL, "persistent");
	if (removed)
		j_str(NULL, "removed");
	j_end(']');
}

static const char *pstate_name(uint64_t st)
{
	switch (st) {
	case SPM_FREE:
		return "free";
	case SPM_LIVE:
		return "live";
	case SPM_DYING:
		return "dying";
	case SPM_DEAD:
		return "dead";
	default:
		return "?";
	}
}

static int list_kmod(bool *any)
{
	struct karena *a = NULL;
	size_t n = 0, i, k;
	char *text = NULL, nb[SHMK_NAME_MAX], fl[32];
	int r;

	kmod_debugfs();
	r = read_all(DEBUGFS_DIR "/arenas", &text);
	if (r)
		return r;
	r = karenas_parse(text, &a, &n);
	free(text);
	if (r)
		return r;
	for (i = 0; i < n; i++) {
		struct karena *x = &a[i];

		*any = true;
		if (opt.json) {
			j_begin(NULL, '{');
			j_str("backend", "kmod");
			j_u64("id", x->id);
			j_str("name", x->name);
			j_u64("ipc_ns", x->ns);
			j_u64("user_size", x->user_size);
			j_u64("ctrl_size", x->ctrl_size);
			j_u64("members_live", x->live);
			j_flags(x->flags & SHMK_ARENA_F_PERSISTENT,
				x->flags & SHMK_ARENA_F_REMOVED);
			j_u64("uid", x->uid);
			j_u64("gid", x->gid);
			snprintf(fl, sizeof(fl), "%04o", x->mode);
			j_str("mode", fl);
			j_begin("members", '[');
			for (k = 0; k < x->nm; k++) {
				struct kmember *m = &x->m[k];
				bool dead = strcmp(m->state, "dead") == 0;

				j_begin(NULL, '{');
				j_u64("id", m->id);
				j_str("state", m->state);
				j_u64("generation", m->gen);
				j_i64("pid", m->pid);
				if (dead) {
					j_str("how", how_name(m->how));
					j_i64("status", m->status);
				} else {
					j_null("how");
					j_null("status");
				}
				j_end('}');
			}
			j_end(']');
			j_end('}');
			continue;
		}
		flags_text(x->flags & SHMK_ARENA_F_PERSISTENT,
			   x->flags & SHMK_ARENA_F_REMOVED, fl, sizeof(fl));
		printf("%-9s %5u %-20s %12" PRIu64 " %5u %5zu %-18s %6u %6u %04o\n",
		       "kmod", x->id, clean(x->name, nb, sizeof(nb)),
		       x->user_size, x->live, x->nm, fl, x->uid, x->gid,
		       x->mode);
		for (k = 0; k < x->nm; k++) {
			struct kmember *m = &x->m[k];
			bool dead = strcmp(m->state, "dead") == 0;

			printf("    member %u %s gen %u pid %d", m->id, m->state,
			       m->gen, m->pid);
			if (dead)
				printf(" how %s status %d", how_name(m->how),
				       m->status);
			printf("\n");
		}
	}
	karenas_free(a, n);
	return 0;
}

static void list_portable(bool *any)
{
	struct dirent *d;
	DIR *dir = opendir("/dev/shm");
	char path[512], nb[SHMK_NAME_MAX], fl[32], mode[8];

	if (!dir)
		return;
	while ((d = readdir(dir))) {
		const char *why;
		const char *name;
		struct pobj o;
		uint32_t i, live = 0, used = 0, gone = 0;
		int r;

		if (strncmp(d->d_name, "shmk.", 5) != 0 || !d->d_name[5])
			continue;
		name = d->d_name + 5;
		snprintf(path, sizeof(path), "/dev/shm/%s", d->d_name);
		r = pobj_open(path, &o, &why);
		if (r) {
			if (!opt.json)
				fprintf(stderr, "shmkctl: %s: %s\n", path,
					why ? why : strerror(-r));
			continue;
		}
		for (i = 0; i < o.h->member_max; i++) {
			uint64_t c = __atomic_load_n(&o.h->m[i].ctl,
						     __ATOMIC_ACQUIRE);

			if (SPM_STATE(c) != SPM_FREE)
				used++;
			if (SPM_STATE(c) == SPM_LIVE) {
				live++;
				if (SPM_PID(c) > 0 && kill(SPM_PID(c), 0) < 0 &&
				    errno == ESRCH)
					gone++;
			}
		}
		*any = true;
		snprintf(mode, sizeof(mode), "%04o", o.st.st_mode & 0777);
		if (opt.json) {
			j_begin(NULL, '{');
			j_str("backend", "portable");
			j_null("id");
			j_str("name", name);
			j_str("path", path);
			j_u64("user_size", o.h->user_size);
			j_u64("header_size", o.h->hdr_size);
			j_u64("members_live", live);
			j_u64("members_gone", gone);
			j_u64("member_slots_used", used);
			j_u64("member_max", o.h->member_max);
			j_flags(o.h->flags & SPT_F_PERSISTENT,
				o.h->state == SPT_DEFUNCT);
			j_u64("uid", o.h->uid);
			j_u64("gid", o.st.st_gid);
			j_str("mode", mode);
			j_u64("epoch", o.h->epoch);
			j_end('}');
		} else {
			flags_text(o.h->flags & SPT_F_PERSISTENT,
				   o.h->state == SPT_DEFUNCT, fl, sizeof(fl));
			if (gone && gone == live)
				snprintf(fl, sizeof(fl), "stale");
			else if (gone) {
				if (!strcmp(fl, "-"))
					fl[0] = '\0';
				snprintf(fl + strlen(fl), sizeof(fl) - strlen(fl),
					 "%s%u-gone", fl[0] ? "," : "", gone);
			}
			printf("%-9s %5s %-20s %12" PRIu64 " %5u %5u %-18s %6u %6u %s\n",
			       "portable", "-", clean(name, nb, sizeof(nb)),
			       (uint64_t)o.h->user_size, live, used, fl,
			       o.h->uid, (unsigned int)o.st.st_gid, mode);
		}
		pobj_close(&o);
	}
	closedir(dir);
}

static int cmd_arenas(void)
{
	bool any = false, kmod_failed = false;
	int r = 0;

	if (opt.json) {
		j_begin(NULL, '{');
		j_begin("arenas", '[');
	} else {
		printf("%-9s %5s %-20s %12s %5s %5s %-18s %6s %6s %s\n",
		       "BACKEND", "ID", "NAME", "USER_SIZE", "LIVE", "SLOTS",
		       "FLAGS", "UID", "GID", "MODE");
	}
	if (opt.backend != BE_PORTABLE &&
	    (opt.backend == BE_KMOD || access(SHMK_DEVICE_PATH, F_OK) == 0)) {
		r = list_kmod(&any);
		kmod_failed = r != 0;
	}
	if (opt.backend != BE_KMOD)
		list_portable(&any);
	if (opt.json) {
		j_end(']');
		if (kmod_failed)
			j_str("kmod_error", strerror(-r));
		j_end('}');
	}
	if (kmod_failed) {
		fail(-r, "arenas: %s/arenas", DEBUGFS_DIR);
		fprintf(stderr, "shmkctl: arenas: kmod arenas not shown (module loaded? debugfs mounted at /sys/kernel/debug?)\n");
		return 1;
	}
	return 0;
}

/* ---- show ------------------------------------------------------------- */

struct mrow {
	uint32_t id, gen, flags, how, handler;
	int32_t pid, status;
	int64_t uid;			/* -1: not recorded */
	uint64_t attach_ns, end_ns;
	const char *state;
	bool ended, self;
	bool gone;			/* portable: live, process gone */
	bool superseded;		/* kmod: record of a slot we took */
	const char *lib_state;		/* NULL: no library view */
	uint32_t lib_gen, lib_helper;
	int64_t used;			/* -1: not known */
};

struct aview {
	const char *backend;
	char name[SHMK_NAME_MAX];
	uint32_t arena_id;		/* 0: none (portable) */
	bool no_epoch;			/* debugfs only: no control region */
	char *lost;			/* a record nobody can show any more */
	uint64_t epoch, user_size, ctrl_size, hdr_size, created_ns;
	uint32_t persistent, removed, uid, gid, mode;
	uint32_t live, slots;
	struct mrow *m;
	size_t nm;
	struct libview lib;
	bool have_alloc;
	struct shmk_alloc_stats alloc;
	uint32_t rw_id;
	const char *alloc_why;
};

struct kview {
	int fd;
	struct shmk_attach at;
	void *ctrl, *user;
};

static void kview_close(struct kview *k)
{
	if (k->user && k->user != MAP_FAILED)
		munmap(k->user, k->at.user_size);
	if (k->ctrl && k->ctrl != MAP_FAILED)
		munmap(k->ctrl, k->at.ctrl_size);
	if (k->fd >= 0) {
		/* A clean end: survivors read SHMK_END_DETACH. */
		ioctl(k->fd, SHMK_IOC_DETACH, 0);
		close(k->fd);
	}
	k->user = k->ctrl = NULL;
	k->fd = -1;
}

/* debugfs shmk/arenas, parsed; -errno if it cannot be read. */
static int dbg_snapshot(struct karena **a, size_t *n)
{
	char *text = NULL;
	int r;

	*a = NULL;
	*n = 0;
	kmod_debugfs();
	r = read_all(DEBUGFS_DIR "/arenas", &text);
	if (r)
		return r;
	r = karenas_parse(text, a, n);
	free(text);
	return r;
}

static void row_from_debugfs(struct mrow *row, const struct kmember *km)
{
	memset(row, 0, sizeof(*row));
	row->id = km->id;
	row->ended = strcmp(km->state, "dead") == 0;
	row->state = row->ended ? "dead" : "live";
	row->gen = km->gen;
	row->pid = km->pid;
	row->uid = -1;
	row->how = km->how;
	row->status = km->status;
	row->used = -1;
}

/* --no-attach: everything from debugfs, nothing touched. */
static int show_kmod_debugfs(const char *name, struct aview *v)
{
	struct karena *ka, *x = NULL;
	size_t kn, i, same = 0;
	int r = dbg_snapshot(&ka, &kn);

	if (r)
		return fail(-r, "show %s: %s/arenas (--no-attach needs debugfs)",
			    name, DEBUGFS_DIR);
	for (i = 0; i < kn; i++) {
		if (strcmp(ka[i].name, name) == 0) {
			if (!x)
				x = &ka[i];
			same++;
		}
	}
	if (!x) {
		karenas_free(ka, kn);
		return fail(ENOENT, "show %s", name);
	}
	if (same > 1)
		fprintf(stderr, "shmkctl: show %s: %zu arenas of that name (several IPC namespaces): showing id %u\n",
			name, same, x->id);
	v->backend = "kmod";
	v->no_epoch = true;
	v->m = calloc(x->nm + 1, sizeof(*v->m));
	if (!v->m) {
		karenas_free(ka, kn);
		return fail(ENOMEM, "show %s", name);
	}
	for (i = 0; i < x->nm; i++)
		row_from_debugfs(&v->m[v->nm++], &x->m[i]);
	v->arena_id = x->id;
	v->user_size = x->user_size;
	v->ctrl_size = x->ctrl_size;
	v->live = x->live;
	v->slots = 0;
	v->persistent = !!(x->flags & SHMK_ARENA_F_PERSISTENT);
	v->removed = !!(x->flags & SHMK_ARENA_F_REMOVED);
	v->uid = x->uid;
	v->gid = x->gid;
	v->mode = x->mode;
	snprintf(v->name, sizeof(v->name), "%s", x->name);
	v->lib.why = "not attached (--no-attach)";
	karenas_free(ka, kn);
	return 0;
}

/*
 * Our read-only attach may have taken the slot of a member that ended,
 * wiping its record from the control region: put back the one debugfs
 * showed before we attached, or say that it is lost.
 */
static void kmod_superseded(struct aview *v, const struct kview *k,
			    const struct karena *ka, size_t kn, bool have_dbg)
{
	const struct kmember *old = NULL;
	size_t i, j;

	if (k->at.generation <= 1)
		return;
	for (i = 0; have_dbg && i < kn; i++) {
		if (ka[i].id != k->at.arena_id)
			continue;
		for (j = 0; j < ka[i].nm; j++)
			if (ka[i].m[j].id == k->at.member_id &&
			    ka[i].m[j].gen != k->at.generation)
				old = &ka[i].m[j];
	}
	if (old) {
		row_from_debugfs(&v->m[v->nm], old);
		v->m[v->nm++].superseded = true;
		return;
	}
	if (asprintf(&v->lost, "the record of member slot %u before this shmkctl took it (generation %u) is not shown: %s",
		     k->at.member_id, k->at.generation - 1,
		     have_dbg ? "it was taken between the debugfs read and the attach" :
		     "mount debugfs to keep it visible, or use --no-attach") < 0)
		v->lost = NULL;
}

static int show_kmod_attached(const char *name, struct kview *k,
			      struct aview *v);

static int show_kmod(const char *name, struct kview *k, struct aview *v)
{
	struct karena *ka = NULL;
	size_t kn = 0;
	bool have_dbg;
	int r;

	memset(k, 0, sizeof(*k));
	/* Before we take a slot: what debugfs says about the members. */
	have_dbg = dbg_snapshot(&ka, &kn) == 0;
	r = show_kmod_attached(name, k, v);
	if (r == 0)
		kmod_superseded(v, k, ka, kn, have_dbg);
	karenas_free(ka, kn);
	return r;
}

static int show_kmod_attached(const char *name, struct kview *k,
			      struct aview *v)
{
	struct shmk_version ver;
	const struct shmk_ctrl *c;
	const uint8_t *base;
	uint64_t e1, e2;
	uint32_t i, mm, stride, moff;
	int tries, r;

	k->fd = open(SHMK_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (k->fd < 0)
		return fail(errno, "show %s: %s", name, SHMK_DEVICE_PATH);
	memset(&ver, 0, sizeof(ver));
	ver.abi_version = SHMK_ABI_VERSION;
	if (ioctl(k->fd, SHMK_IOC_VERSION, &ver) < 0) {
		r = errno;
		close(k->fd);
		k->fd = -1;
		return fail(r, "show %s: SHMK_IOC_VERSION", name);
	}
	if (ver.kernel_abi_version != SHMK_ABI_VERSION) {
		close(k->fd);
		k->fd = -1;
		return fail(EPROTO, "show %s: module ABI %u, shmkctl speaks %u",
			    name, ver.kernel_abi_version, SHMK_ABI_VERSION);
	}
	snprintf(k->at.name, sizeof(k->at.name), "%s", name);
	k->at.flags = SHMK_ATTACH_RDONLY;
	if (ioctl(k->fd, SHMK_IOC_ATTACH, &k->at) < 0) {
		r = errno;
		close(k->fd);
		k->fd = -1;
		return fail(r, "show %s: attach read-only", name);
	}
	k->ctrl = mmap(NULL, k->at.ctrl_size, PROT_READ, MAP_SHARED, k->fd,
		       (off_t)k->at.ctrl_offset);
	if (k->ctrl == MAP_FAILED) {
		r = errno;
		k->ctrl = NULL;
		return fail(r, "show %s: mmap of the control region", name);
	}
	k->user = mmap(NULL, k->at.user_size, PROT_READ, MAP_SHARED, k->fd,
		       (off_t)k->at.user_offset);
	if (k->user == MAP_FAILED) {
		r = errno;
		k->user = NULL;
		return fail(r, "show %s: mmap of the user region", name);
	}
	c = k->ctrl;
	base = k->ctrl;
	if (c->magic != SHMK_CTRL_MAGIC || c->abi_version != SHMK_ABI_VERSION)
		return fail(EPROTO, "show %s: control region: bad magic or ABI",
			    name);
	mm = c->member_max;
	stride = c->member_stride;
	moff = c->members_offset;
	if (stride < sizeof(struct shmk_ctrl_member) || mm == 0 ||
	    moff > k->at.ctrl_size ||
	    (uint64_t)mm * stride > k->at.ctrl_size - moff)
		return fail(EPROTO, "show %s: control region: member table does not fit",
			    name);

	v->backend = "kmod";
	v->m = calloc(mm + 1, sizeof(*v->m));
	if (!v->m)
		return fail(ENOMEM, "show %s", name);
	/* A seqcount: retry while odd or changed under us. */
	for (tries = 0; tries < SEQ_TRIES; tries++) {
		e1 = __atomic_load_n(&c->epoch, __ATOMIC_ACQUIRE);
		if (e1 & 1) {
			sched_yield();
			continue;
		}
		v->nm = 0;
		for (i = 1; i <= mm; i++) {
			const struct shmk_ctrl_member *cm =
				(const void *)(base + moff +
					       (uint64_t)(i - 1) * stride);
			struct mrow *row;
			uint32_t st = __atomic_load_n(&cm->state,
						      __ATOMIC_RELAXED);

			if (st == SHMK_MEMBER_FREE)
				continue;
			row = &v->m[v->nm++];
			memset(row, 0, sizeof(*row));
			row->id = i;
			row->state = st == SHMK_MEMBER_LIVE ? "live" :
				st == SHMK_MEMBER_DEAD ? "dead" : "?";
			row->ended = st == SHMK_MEMBER_DEAD;
			row->gen = cm->generation;
			row->pid = cm->pid;
			row->uid = cm->uid;
			row->flags = cm->flags;
			row->how = cm->how;
			row->status = cm->status;
			row->attach_ns = cm->attach_ns;
			row->end_ns = cm->end_ns;
			row->used = -1;
			row->self = i == k->at.member_id &&
				cm->generation == k->at.generation;
		}
		v->live = c->members_live;
		v->persistent = !!(c->flags & SHMK_ARENA_F_PERSISTENT);
		v->removed = !!(c->flags & SHMK_ARENA_F_REMOVED);
		v->uid = c->uid;
		v->gid = c->gid;
		v->mode = c->mode;
		v->created_ns = c->created_ns;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		e2 = __atomic_load_n(&c->epoch, __ATOMIC_RELAXED);
		if (e1 == e2)
			break;
	}
	if (tries == SEQ_TRIES)
		return fail(EAGAIN, "show %s: member table kept changing", name);
	v->epoch = e1;
	v->arena_id = k->at.arena_id;
	v->user_size = k->at.user_size;
	v->ctrl_size = k->at.ctrl_size;
	v->slots = mm;
	snprintf(v->name, sizeof(v->name), "%s", c->name);
	lib_read(k->user, k->at.user_size, &v->lib);
	return 0;
}

static int show_portable(const char *name, struct pobj *o, struct aview *v)
{
	char path[sizeof(SPT_PREFIX) + SHMK_NAME_MAX];
	const struct spt_hdr *h;
	const char *why;
	uint64_t e1, e2;
	uint32_t i;
	int tries, r;

	snprintf(path, sizeof(path), SPT_PREFIX "%s", name);
	r = pobj_open(path, o, &why);
	if (r == -EPROTO)
		return fail(EPROTO, "show %s: %s: %s", name, path, why);
	if (r)
		return fail(-r, "show %s: %s", name, path);
	h = o->h;
	v->backend = "portable";
	v->m = calloc(h->member_max, sizeof(*v->m));
	if (!v->m)
		return fail(ENOMEM, "show %s", name);
	/* Not a seqcount: read until the epoch holds still around a copy. */
	for (tries = 0; tries < SEQ_TRIES; tries++) {
		e1 = __atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE);
		v->nm = 0;
		v->live = 0;
		for (i = 0; i < h->member_max; i++) {
			const struct spt_member *pm = &h->m[i];
			uint64_t c = __atomic_load_n(&pm->ctl,
						     __ATOMIC_ACQUIRE);
			struct mrow *row;

			if (SPM_STATE(c) == SPM_FREE)
				continue;
			row = &v->m[v->nm++];
			memset(row, 0, sizeof(*row));
			row->id = i + 1;
			row->state = pstate_name(SPM_STATE(c));
			row->ended = SPM_STATE(c) == SPM_DEAD;
			row->gen = SPM_GEN(c);
			row->pid = SPM_PID(c);
			row->uid = -1;
			row->attach_ns = pm->attach_ns;
			row->end_ns = pm->end_ns;
			row->how = pm->how;
			row->status = pm->status;
			row->handler = pm->handler;
			row->used = -1;
			if (SPM_STATE(c) == SPM_LIVE)
				v->live++;
			/* Nobody has noticed its death yet (no survivor). */
			if (SPM_STATE(c) == SPM_LIVE && row->pid > 0 &&
			    kill(row->pid, 0) < 0 && errno == ESRCH)
				row->gone = true;
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		e2 = __atomic_load_n(&h->epoch, __ATOMIC_RELAXED);
		if (e1 == e2)
			break;
		sched_yield();
	}
	if (tries == SEQ_TRIES)
		return fail(EAGAIN, "show %s: member table kept changing", name);
	v->epoch = e1;
	v->user_size = h->user_size;
	v->hdr_size = h->hdr_size;
	v->slots = h->member_max;
	v->persistent = !!(h->flags & SPT_F_PERSISTENT);
	v->removed = h->state == SPT_DEFUNCT;
	v->uid = h->uid;
	v->gid = o->st.st_gid;
	v->mode = o->st.st_mode & 0777;
	v->created_ns = h->created_ns;
	snprintf(v->name, sizeof(v->name), "%s", name);
	lib_read((const uint8_t *)o->map + h->hdr_size, h->user_size, &v->lib);
	return 0;
}

/* --rw: join through libshmk for what it gives only to writers. */
static void show_alloc(const char *name, enum backend be, struct aview *v)
{
	struct shmk_arena_info info;
	struct shmk_arena *a;
	uint64_t bytes;
	size_t i;
	int r;

	if (!v->lib.valid) {
		v->alloc_why = "no libshmk header in the arena";
		return;
	}
	r = shmk_arena_attach(name, be == BE_KMOD ? SHMK_OPEN_KMOD :
			      SHMK_OPEN_PORTABLE, &a);
	if (r) {
		fail(-r, "show %s: read-write attach (--rw)", name);
		v->alloc_why = "read-write attach failed";
		return;
	}
	if (shmk_arena_info(a, &info) == 0)
		v->rw_id = info.member_id;
	r = shmk_alloc_stats(a, &v->alloc);
	if (r) {
		fail(-r, "show %s: shmk_alloc_stats", name);
		v->alloc_why = "shmk_alloc_stats failed";
	} else {
		v->have_alloc = true;
		for (i = 0; i < v->nm; i++) {
			if (v->m[i].id > v->lib.member_max)
				continue;
			if (shmk_alloc_member_used(a, v->m[i].id, &bytes) == 0)
				v->m[i].used = (int64_t)bytes;
		}
	}
	r = shmk_arena_detach(a);
	if (r)
		fail(-r, "show %s: detach", name);
}

static void print_show_text(const struct aview *v, uint64_t now)
{
	char nb[SHMK_NAME_MAX], fl[32], att[24], end[24], how[12], st[12];
	char lib[24], used[24];
	size_t i;

	printf("arena %s backend %s", clean(v->name, nb, sizeof(nb)),
	       v->backend);
	if (v->arena_id)
		printf(" id %u", v->arena_id);
	if (v->no_epoch)
		printf(" epoch -\n");
	else
		printf(" epoch %" PRIu64 "\n", v->epoch);
	flags_text(v->persistent, v->removed, fl, sizeof(fl));
	printf("  user region %" PRIu64 " bytes", v->user_size);
	if (v->ctrl_size)
		printf(", control region %" PRIu64 " bytes", v->ctrl_size);
	if (v->hdr_size)
		printf(", object header %" PRIu64 " bytes", v->hdr_size);
	printf("\n  owner uid %u gid %u mode %04o, flags %s", v->uid, v->gid,
	       v->mode, fl);
	if (v->created_ns)
		printf(", created %.3f s ago", ago_s(v->created_ns, now));
	printf("\n");
	if (v->slots)
		printf("  members: %u live, %u slots\n", v->live, v->slots);
	else
		printf("  members: %u live\n", v->live);
	printf("%6s %-6s %5s %7s %6s %-6s %-6s %6s %10s %10s %-11s %10s\n",
	       "MEMBER", "STATE", "GEN", "PID", "UID", "FLAGS", "HOW",
	       "STATUS", "ATTACHED", "ENDED", "LIB", "USED");
	for (i = 0; i < v->nm; i++) {
		const struct mrow *m = &v->m[i];
		char uid[16];

		snprintf(uid, sizeof(uid), "%" PRId64, m->uid);
		if (m->attach_ns)
			snprintf(att, sizeof(att), "%.3fs",
				 ago_s(m->attach_ns, now));
		else
			snprintf(att, sizeof(att), "-");
		if (m->ended && m->end_ns)
			snprintf(end, sizeof(end), "%.3fs",
				 ago_s(m->end_ns, now));
		else
			snprintf(end, sizeof(end), "-");
		snprintf(how, sizeof(how), "%s", m->ended ? how_name(m->how) :
			 "-");
		if (m->ended)
			snprintf(st, sizeof(st), "%d", m->status);
		else
			snprintf(st, sizeof(st), "-");
		if (m->lib_state && m->lib_helper)
			snprintf(lib, sizeof(lib), "%s:%u", m->lib_state,
				 m->lib_helper);
		else
			snprintf(lib, sizeof(lib), "%s",
				 m->lib_state ? m->lib_state : "-");
		if (m->used >= 0)
			snprintf(used, sizeof(used), "%" PRId64, m->used);
		else
			snprintf(used, sizeof(used), "-");
		printf("%6u %-6s %5u %7d %6s %-6s %-6s %6s %10s %10s %-11s %10s%s\n",
		       m->id, m->state, m->gen, m->pid, m->uid < 0 ? "-" : uid,
		       m->flags & SHMK_MEMBER_F_RDONLY ? "rdonly" : "-", how,
		       st, att, end, lib, used, m->self ? "  (this shmkctl)" :
		       m->gone ? "  (process gone, death not handled yet)" :
		       m->superseded ? "  (from debugfs: slot since taken by this shmkctl)" :
		       "");
	}
	if (v->lost)
		printf("note: %s\n", v->lost);
	if (v->lib.valid) {
		printf("library: %u member slots, %u refs/member, reserve %u bytes/member, heap %" PRIu64 " bytes (%u pages), %u pages free, %u allocations waiting\n",
		       v->lib.member_max, v->lib.refs_max,
		       v->lib.reserve_pages * LM_PAGE,
		       (uint64_t)v->lib.npages * LM_PAGE, v->lib.npages,
		       v->lib.free_pages, v->lib.waiters);
	} else {
		printf("library: not shown: %s\n", v->lib.why);
	}
	if (v->have_alloc) {
		const struct shmk_alloc_stats *s = &v->alloc;

		printf("allocator (as member %u): heap %" PRIu64 ", used %" PRIu64 " in %u blocks (%u buffers), free %" PRIu64 " (pages %" PRIu64 ", largest run %" PRIu64 "), reserves %" PRIu64 ", chunks %" PRIu64 ", waiting %u, fragmentation %.3f\n",
		       v->rw_id, s->heap_bytes, s->used_bytes, s->blocks,
		       s->buffers, s->free_bytes, s->free_page_bytes,
		       s->largest_free, s->reserve_bytes, s->chunk_bytes,
		       s->waiters, s->fragmentation);
	} else {
		printf("allocator: not shown: %s\n", v->alloc_why);
	}
}

static void print_show_json(const struct aview *v, uint64_t now)
{
	char mode[8];
	size_t i;

	j_begin(NULL, '{');
	j_str("name", v->name);
	j_str("backend", v->backend);
	if (v->arena_id)
		j_u64("arena_id", v->arena_id);
	else
		j_null("arena_id");
	if (v->no_epoch)
		j_null("epoch");
	else
		j_u64("epoch", v->epoch);
	j_u64("user_size", v->user_size);
	if (v->ctrl_size)
		j_u64("ctrl_size", v->ctrl_size);
	else
		j_null("ctrl_size");
	j_flags(v->persistent, v->removed);
	j_u64("uid", v->uid);
	j_u64("gid", v->gid);
	snprintf(mode, sizeof(mode), "%04o", v->mode);
	j_str("mode", mode);
	if (v->created_ns) {
		j_u64("created_ns", v->created_ns);
		j_dbl("age_s", ago_s(v->created_ns, now));
	} else {
		j_null("created_ns");
		j_null("age_s");
	}
	j_u64("members_live", v->live);
	if (v->slots)
		j_u64("member_slots", v->slots);
	else
		j_null("member_slots");
	j_begin("members", '[');
	for (i = 0; i < v->nm; i++) {
		const struct mrow *m = &v->m[i];

		j_begin(NULL, '{');
		j_u64("id", m->id);
		j_str("state", m->state);
		j_u64("generation", m->gen);
		j_i64("pid", m->pid);
		if (m->uid >= 0)
			j_i64("uid", m->uid);
		else
			j_null("uid");
		j_bool("rdonly", m->flags & SHMK_MEMBER_F_RDONLY);
		if (m->ended) {
			j_str("how", how_name(m->how));
			j_i64("status", m->status);
			j_bool("crash", m->how != SHMK_END_DETACH);
			j_u64("end_ns", m->end_ns);
		} else {
			j_null("how");
			j_null("status");
			j_null("crash");
			j_null("end_ns");
		}
		if (m->attach_ns)
			j_u64("attach_ns", m->attach_ns);
		else
			j_null("attach_ns");
		j_str("lib_state", m->lib_state);
		if (m->lib_helper)
			j_u64("lib_reclaim_helper", m->lib_helper);
		if (m->used >= 0)
			j_i64("used_bytes", m->used);
		else
			j_null("used_bytes");
		j_bool("self", m->self);
		j_bool("superseded", m->superseded);
		if (!strcmp(v->backend, "portable"))
			j_bool("process_gone", m->gone);
		j_end('}');
	}
	j_end(']');
	if (v->lib.valid) {
		j_begin("library", '{');
		j_u64("member_max", v->lib.member_max);
		j_u64("refs_per_member", v->lib.refs_max);
		j_u64("reserve_bytes", (uint64_t)v->lib.reserve_pages * LM_PAGE);
		j_u64("heap_offset", v->lib.heap_off);
		j_u64("heap_bytes", (uint64_t)v->lib.npages * LM_PAGE);
		j_u64("free_pages", v->lib.free_pages);
		j_u64("alloc_waiters", v->lib.waiters);
		j_end('}');
	} else {
		j_null("library");
	}
	if (v->have_alloc) {
		const struct shmk_alloc_stats *s = &v->alloc;

		j_begin("allocator", '{');
		j_u64("as_member", v->rw_id);
		j_u64("heap_bytes", s->heap_bytes);
		j_u64("used_bytes", s->used_bytes);
		j_u64("free_bytes", s->free_bytes);
		j_u64("free_page_bytes", s->free_page_bytes);
		j_u64("largest_free", s->largest_free);
		j_u64("reserve_bytes", s->reserve_bytes);
		j_u64("chunk_bytes", s->chunk_bytes);
		j_u64("blocks", s->blocks);
		j_u64("buffers", s->buffers);
		j_u64("waiters", s->waiters);
		j_dbl("fragmentation", s->fragmentation);
		j_end('}');
	} else {
		j_null("allocator");
	}
	j_begin("not_shown", '[');
	if (v->lost)
		j_str(NULL, v->lost);
	if (!v->lib.valid)
		j_str(NULL, v->lib.why);
	if (!v->have_alloc)
		j_str(NULL, v->alloc_why);
	j_end(']');
	j_end('}');
}

/* By slot; an older record of a slot before the current one. */
static int row_cmp(const void *pa, const void *pb)
{
	const struct mrow *a = pa, *b = pb;

	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return (int)b->superseded - (int)a->superseded;
}

static int cmd_show(const char *name)
{
	enum backend be = pick_backend();
	struct kview k = { .fd = -1 };
	struct pobj o = { .fd = -1 };
	struct aview v;
	size_t i;
	int r;

	if (name_ok(name))
		return fail(EINVAL, "show: bad arena name (1..%d bytes, no '/')",
			    SHMK_NAME_MAX - 1);
	memset(&v, 0, sizeof(v));
	if (opt.no_attach && (be != BE_KMOD || opt.rw))
		return fail(EINVAL, "show: --no-attach is for kmod, without --rw");
	if (be == BE_KMOD && opt.no_attach)
		r = show_kmod_debugfs(name, &v);
	else if (be == BE_KMOD)
		r = show_kmod(name, &k, &v);
	else
		r = show_portable(name, &o, &v);
	if (r)
		goto out;
	for (i = 0; i < v.nm; i++)
		if (!v.m[i].superseded)
			v.m[i].lib_state = lib_slot(&v.lib, v.m[i].id,
						    &v.m[i].lib_gen,
						    &v.m[i].lib_helper);
	qsort(v.m, v.nm, sizeof(*v.m), row_cmp);
	/* Our own read-only membership is not needed any more. */
	kview_close(&k);
	pobj_close(&o);
	v.alloc_why = "libshmk gives allocator statistics only to read-write members (shmk_alloc_stats() is -EROFS read-only); --rw joins read-write for them";
	if (opt.rw)
		show_alloc(name, be, &v);
	if (opt.json)
		print_show_json(&v, now_ns());
	else
		print_show_text(&v, now_ns());
	if (opt.rw && !v.have_alloc)
		r = 1;
out:
	kview_close(&k);
	pobj_close(&o);
	free(v.m);
	free(v.lost);
	return r;
}

/* ---- main ------------------------------------------------------------- */

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "backend", required_argument, NULL, 'b' },
		{ "rw", no_argument, NULL, 'w' },
		{ "no-attach", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd;
	int c;

	while ((c = getopt_long(argc, argv, "jb:wNhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			opt.json = true;
			break;
		case 'b':
			if (strcmp(optarg, "kmod") == 0) {
				opt.backend = BE_KMOD;
			} else if (strcmp(optarg, "portable") == 0) {
				opt.backend = BE_PORTABLE;
			} else {
				fprintf(stderr, "shmkctl: unknown backend '%s' (kmod or portable)\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'w':
			opt.rw = true;
			break;
		case 'N':
			opt.no_attach = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("shmkctl (shmk) %s\n", SHMK_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try 'shmkctl --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind++];
	if (strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(cmd, "stats") == 0 || strcmp(cmd, "arenas") == 0) {
		if (optind != argc) {
			fprintf(stderr, "shmkctl: %s takes no argument\n", cmd);
			return EXIT_USAGE;
		}
		return cmd[0] == 's' ? cmd_stats() : cmd_arenas();
	}
	if (strcmp(cmd, "show") == 0) {
		if (optind + 1 != argc) {
			fprintf(stderr, "shmkctl: usage: shmkctl show NAME\n");
			return EXIT_USAGE;
		}
		return cmd_show(argv[optind]);
	}
	fprintf(stderr, "shmkctl: unknown command '%s' (try 'shmkctl --help')\n",
		cmd);
	return EXIT_USAGE;
}
