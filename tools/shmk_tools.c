// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Helpers shared by the user side of the shmk BPF tools.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define SHMK_NO_SDT		/* shmk_int.h: we only want its layout */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/shmk.h>

#include "core/shmk_int.h"	/* lib/: struct shmk_arena, struct shmk_be_ops */
#include "msg/msg_int.h"	/* lib/: the probes' flags argument */
#include "shmk_tools.h"
#include "shmk_mount.h"

/* The BPF side repeats these; they must match the ABI. */
_Static_assert(SHMKT_NAME_MAX == SHMK_NAME_MAX, "name max");
_Static_assert(SHMKT_END_DETACH == SHMK_END_DETACH, "END_DETACH");
_Static_assert(SHMKT_END_EXIT == SHMK_END_EXIT, "END_EXIT");
_Static_assert(SHMKT_END_SIGNAL == SHMK_END_SIGNAL, "END_SIGNAL");
_Static_assert(SHMKT_END_CLOSE == SHMK_END_CLOSE, "END_CLOSE");
_Static_assert(SHMKT_EVENT_EXIT == SHMK_EVENT_EXIT, "EVENT_EXIT");
_Static_assert(SHMKT_EVENT_OVERFLOW == SHMK_EVENT_OVERFLOW, "OVERFLOW");
_Static_assert(SHMKT_EVENT_F_GUESSED == SHMK_EVENT_F_GUESSED, "GUESSED");
_Static_assert(SHMKT_IOC_WAIT == SHMK_IOC_WAIT, "IOC_WAIT");
_Static_assert(SHMKT_EBUSY == EBUSY, "EBUSY");
_Static_assert(sizeof(struct shmkt_event) == sizeof(struct shmk_event),
	       "shmk_event size");
_Static_assert(offsetof(struct shmkt_event, flags) ==
	       offsetof(struct shmk_event, flags), "shmk_event flags");
_Static_assert(offsetof(struct shmkt_event, time_ns) ==
	       offsetof(struct shmk_event, time_ns), "shmk_event time");
_Static_assert(sizeof(((struct shmk_arena *)0)->id) == 4, "arena id");
_Static_assert(sizeof(((struct shmk_arena *)0)->gen) == 4, "arena gen");
_Static_assert(sizeof(((struct shmk_arena *)0)->created) == 1, "created");
_Static_assert(sizeof(((struct shmk_arena *)0)->name) == SHMK_NAME_MAX,
	       "arena name");
_Static_assert(sizeof(((struct shmk_arena *)0)->trace_id) == 8, "trace id");
_Static_assert(SHMKT_QF_SESSION == MQ_PROBE_SESSION, "probe flags");
_Static_assert(SHMKT_QF_TOKEN == SHMK_QMSG_TOKEN, "token flag");
_Static_assert(SHMKT_SEQ_LANE == MQ_LANE_SEQ(0, 0), "lane seq");

volatile int shmkt_exiting;

static bool libbpf_verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBBPF_DEBUG && !libbpf_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Print libbpf's messages: all with @verbose, else warnings only. */
static void shmkt_libbpf_logs(bool verbose)
{
	libbpf_verbose = verbose;
	libbpf_set_print(libbpf_print);
}

static void on_signal(int sig)
{
	(void)sig;
	shmkt_exiting = 1;
}

/*
 * SIGINT/SIGTERM set shmkt_exiting. SA_RESTART: a write to a full pipe
 * that the signal interrupts goes on (stdio would drop the line); the
 * waits of the main loops (epoll_wait, nanosleep) end early regardless.
 */
static void shmkt_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

void shmkt_lib_layout(struct shmkt_lib_layout *l)
{
	memset(l, 0, sizeof(*l));
	l->arena_id = offsetof(struct shmk_arena, id);
	l->arena_gen = offsetof(struct shmk_arena, gen);
	l->arena_created = offsetof(struct shmk_arena, created);
	l->arena_rdonly = offsetof(struct shmk_arena, rdonly);
	l->arena_name = offsetof(struct shmk_arena, name);
	l->arena_be = offsetof(struct shmk_arena, be);
	l->be_name = offsetof(struct shmk_be_ops, name);
	l->arena_trace_id = offsetof(struct shmk_arena, trace_id);
}

int shmkt_pidns(uint64_t *dev, uint64_t *ino)
{
	struct stat st;

	*dev = *ino = 0;
	if (stat("/proc/self/ns/pid", &st))
		return -errno;
	*dev = (uint64_t)st.st_dev;
	*ino = (uint64_t)st.st_ino;
	return 0;
}

void shmkt_print_version(const char *tool)
{
	printf("%s (shmk) %s\n", tool, SHMK_VERSION);
}

bool shmkt_kernel_tracepoints(void)
{
	return access("/sys/kernel/tracing/events/shmk/shmk_end", F_OK) == 0 ||
		access("/sys/kernel/debug/tracing/events/shmk/shmk_end",
		       F_OK) == 0;
}

/* libshmk.so.0 near this program or in the usual places, or NULL. */
static const char *shmkt_default_lib(void)
{
	static const char *const dirs[] = {
		"/usr/local/lib", "/usr/local/lib64",
		"/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib",
	};
	static char path[PATH_MAX];
	char self[PATH_MAX - 64], *slash;
	ssize_t n;
	size_t i;

	/* In the source tree: tools/<tool> next to lib/libshmk.so.0. */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(path, sizeof(path), "%s/../lib/libshmk.so.0",
				 self);
			if (access(path, R_OK) == 0)
				return path;
		}
	}
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/libshmk.so.0", dirs[i]);
		if (access(path, R_OK) == 0)
			return path;
	}
	return NULL;
}

/* An absolute path for @path (realpath), or NULL with errno. */
static char *shmkt_abspath(const char *path)
{
	return realpath(path, NULL);
}

/* Does the ELF file at @path define the function @sym? */
static bool shmkt_has_symbol(const char *path, const char *sym)
{
	Elf_Scn *scn = NULL;
	bool found = false;
	Elf *elf;
	int fd;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	while (elf && !found && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;
		size_t i, n;

		if (!gelf_getshdr(scn, &sh) ||
		    (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM) ||
		    !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		n = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < n; i++) {
			GElf_Sym s;
			const char *nm;

			if (!gelf_getsym(data, (int)i, &s) ||
			    GELF_ST_TYPE(s.st_info) != STT_FUNC ||
			    s.st_shndx == SHN_UNDEF)
				continue;
			nm = elf_strptr(elf, sh.sh_link, s.st_name);
			if (nm && strcmp(nm, sym) == 0) {
				found = true;
				break;
			}
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return found;
}

bool shmkt_has_usdt(const char *path, const char *provider,
		    const char *name)
{
	Elf_Scn *scn = NULL;
	bool found = false;
	Elf *elf;
	int fd;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf && gelf_getclass(elf) != ELFCLASS64) {
		elf_end(elf);
		elf = NULL;
	}
	while (elf && !found && (scn = elf_nextscn(elf, scn))) {
		size_t off = 0, next, name_off, desc_off;
		Elf_Data *data;
		GElf_Nhdr nh;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		data = elf_getdata(scn, NULL);
		while (data && !found &&
		       (next = gelf_getnote(data, off, &nh, &name_off,
					    &desc_off)) > 0) {
			const char *d = (const char *)data->d_buf + desc_off;
			size_t pl, left;

			off = next;
			/* NT_STAPSDT: pc, base, semaphore, then strings */
			if (nh.n_type != 3 || nh.n_namesz != 8 ||
			    memcmp((const char *)data->d_buf + name_off,
				   "stapsdt", 8) || nh.n_descsz <= 24)
				continue;
			d += 24;
			left = nh.n_descsz - 24;
			pl = strnlen(d, left);
			if (pl == left || strcmp(d, provider))
				continue;
			d += pl + 1;
			left -= pl + 1;
			if (strnlen(d, left) < left && !strcmp(d, name))
				found = true;
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return found;
}

uint64_t shmkt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

const char *shmkt_clean_name(const char *name, char *buf, size_t len)
{
	size_t i;

	if (!len)
		return "";
	for (i = 0; i + 1 < len && name[i]; i++) {
		unsigned char c = (unsigned char)name[i];

		buf[i] = isgraph(c) ? (char)c : '?';
	}
	buf[i] = '\0';
	if (!i)
		snprintf(buf, len, "-");
	return buf;
}

const char *shmkt_signame(int sig, char *buf, size_t len)
{
	const char *abbrev = sig > 0 && sig < 65 ? sigabbrev_np(sig) : NULL;

	if (abbrev)
		snprintf(buf, len, "SIG%s", abbrev);
	else
		snprintf(buf, len, "SIG%d", sig);
	return buf;
}

bool shmkt_parse_u32(const char *s, uint32_t min, uint32_t max,
		     uint32_t *out)
{
	unsigned long v;
	char *end;

	if (!s || !*s || !isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

void shmkt_json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

const char *shmkt_arena_name(int anames_fd, uint64_t id, char *buf,
			     size_t len)
{
	struct shmkt_aname an;

	if (bpf_map_lookup_elem(anames_fd, &id, &an) != 0) {
		snprintf(buf, len, "?");
		return buf;
	}
	an.name[SHMKT_NAME_MAX - 1] = '\0';
	return shmkt_clean_name(an.name, buf, len);
}

const char *shmkt_kind_name(uint64_t f)
{
	static const char *const kinds[SHMKT_K_MAX + 1] = {
		"?", "data", "connect", "connected", "refused", "disconnect",
		"subscribe", "takeover", "handover", "handover-done", "moved",
		"shutdown",
	};
	uint32_t k = SHMKT_KIND(f);

	if (!(f & SHMKT_QF_SESSION))
		return "queue";
	return k <= SHMKT_K_MAX ? kinds[k] : "?";
}

bool shmkt_parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || !isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || !v)
		return false;
	*out = v;
	return true;
}

const char *shmkt_arena_id(uint64_t id, char *buf, size_t len)
{
	if (id >> 32)
		snprintf(buf, len, "0x%016llx", (unsigned long long)id);
	else
		snprintf(buf, len, "%llu", (unsigned long long)id);
	return buf;
}

int shmkt_parse_opt(const char *tool, const char *usage, int c,
		    const char *arg, struct shmkt_opts *o)
{
	switch (c) {
	case 'p':
		if (!shmkt_parse_u32(arg, 1, INT32_MAX, &o->pid)) {
			fprintf(stderr, "%s: bad pid: %s\n", tool, arg);
			return -1;
		}
		break;
	case 'a':
		if (!shmkt_parse_u64(arg, &o->arena)) {
			fprintf(stderr, "%s: bad arena id: %s\n", tool, arg);
			return -1;
		}
		break;
	case 'n':
		if (!*arg || strlen(arg) >= SHMK_NAME_MAX) {
			fprintf(stderr, "%s: bad arena name\n", tool);
			return -1;
		}
		o->name = arg;
		break;
	case 'k':
		o->kernel = true;
		break;
	case 'u':
		o->library = true;
		break;
	case 'l':
		if (o->nlibs == SHMKT_MAX_LIBS) {
			fprintf(stderr, "%s: at most %d -l\n", tool,
				SHMKT_MAX_LIBS);
			return -1;
		}
		o->libs[o->nlibs++] = arg;
		o->library = true;
		break;
	case 'v':
		o->verbose = true;
		break;
	case 'h':
		fputs(usage, stdout);
		exit(0);
	case SHMKT_OPT_VERSION:
		shmkt_print_version(tool);
		exit(0);
	default:
		fprintf(stderr, "Try '%s --help'.\n", tool);
		return -1;
	}
	return 0;
}

/*
 * The probes these tools know: shmk:attach came with the argument layout
 * they read (arena, name, member first), and is in every program using
 * libshmk (a static link may leave out the messaging probes).
 */
static bool has_probes(const char *path)
{
	return shmkt_has_usdt(path, "shmk", "attach");
}

/* Traced by default: what discover() found (o->libs points here). */
static char found[SHMKT_MAX_LIBS][PATH_MAX];

/* Add @path to o->libs unless it is there or does not qualify. */
static void add_found(struct shmkt_opts *o, const char *path)
{
	char *real = realpath(path, NULL);
	int i;

	if (!real)
		return;
	for (i = 0; i < o->nlibs; i++)
		if (!strcmp(o->libs[i], real))
			goto out;
	if (o->nlibs == SHMKT_MAX_LIBS || strlen(real) >= PATH_MAX ||
	    !has_probes(real) ||
	    (o->need_syms && !shmkt_has_symbol(real, "shmk_arena_attach")))
		goto out;
	snprintf(found[o->nlibs], PATH_MAX, "%s", real);
	o->libs[o->nlibs] = found[o->nlibs];
	o->nlibs++;
out:
	free(real);
}

/*
 * Without -l: libshmk.so.0 (next to the tool, or installed), and every
 * program running now whose executable or a mapped library carries
 * libshmk's probes (programs linked statically, libshmk.so elsewhere).
 * Uprobes are set on files: later processes of those files are seen
 * too, processes of other files are not.
 */
static void discover(struct shmkt_opts *o)
{
	const char *def = shmkt_default_lib();
	/* Every file looked at once (later looks skip them). */
	static char seen[256][PATH_MAX];
	static int nseen;
	int i;
	struct dirent *de;
	DIR *d;

	if (def)
		add_found(o, def);
	d = opendir("/proc");
	while (d && (de = readdir(d))) {
		char maps[300], line[PATH_MAX + 128], *path;
		FILE *f;

		if (!isdigit((unsigned char)de->d_name[0]) ||
		    atoi(de->d_name) == getpid())
			continue;
		snprintf(maps, sizeof(maps), "/proc/%s/maps", de->d_name);
		f = fopen(maps, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char perms[8] = "";

			line[strcspn(line, "\n")] = '\0';
			path = strchr(line, '/');
			if (!path || sscanf(line, "%*s %7s", perms) != 1 ||
			    !strchr(perms, 'x') || strstr(path, " (deleted)"))
				continue;
			for (i = 0; i < nseen; i++)
				if (!strcmp(seen[i], path))
					break;
			if (i < nseen)
				continue;
			if (nseen < 256)
				snprintf(seen[nseen++], PATH_MAX, "%s", path);
			add_found(o, path);
		}
		fclose(f);
	}
	if (d)
		closedir(d);
}

int shmkt_rescan(struct shmkt_opts *o, char **paths)
{
	int first = o->nlibs, i;

	if (!o->found)
		return first;
	discover(o);
	for (i = first; i < o->nlibs; i++)
		paths[i] = strdup(o->libs[i]);	/* realpath()ed already */
	while (o->nlibs > first && !paths[o->nlibs - 1])
		o->nlibs--;
	return first;
}

int shmkt_start(const char *tool, struct shmkt_opts *o, char **paths)
{
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	shmkt_signals();
	/*
	 * Tracepoints (the module's, sched_process_exit) are found through
	 * tracefs; uprobes work without it, so a failure here only matters
	 * to the kernel source, which says so below.
	 */
	shmkt_need_tracefs(tool);
	if (!o->kernel && !o->library) {
		if (shmkt_kernel_tracepoints())
			o->kernel = true;
		else
			o->library = true;
	}
	if (o->arena && !o->kernel && !o->lib_ids) {
		fprintf(stderr, "%s: -a needs the kernel source (-k): the library does not know arena ids; use -n NAME\n",
			tool);
		return SHMKT_EXIT_USAGE;
	}
	if (o->kernel && !shmkt_kernel_tracepoints()) {
		fprintf(stderr, "%s: no shmk tracepoints (is the module loaded? is tracefs mounted at " SHMKT_TRACEFS "?): %s\n",
			tool, strerror(ENOENT));
		return 1;
	}
	if (o->library && !o->nlibs) {
		o->found = true;
		discover(o);
		if (!o->nlibs) {
			fprintf(stderr, "%s: libshmk.so.0 not found and no running program uses libshmk: start it first, or name the library or program with -l PATH\n",
				tool);
			return 1;
		}
	}
	for (i = 0; i < o->nlibs; i++) {
		paths[i] = shmkt_abspath(o->libs[i]);
		if (!paths[i]) {
			fprintf(stderr, "%s: %s: %s\n", tool, o->libs[i],
				strerror(errno));
			return 1;
		}
		/* Before any probe: a wrong file is a clear error here. */
		if (o->need_syms &&
		    !shmkt_has_symbol(paths[i], "shmk_arena_attach")) {
			fprintf(stderr, "%s: %s: no libshmk in it (no symbol shmk_arena_attach)\n",
				tool, paths[i]);
			return 1;
		}
		if (!o->need_syms && !has_probes(paths[i])) {
			fprintf(stderr, "%s: %s: no libshmk in it, or not its probes (no USDT shmk:attach: an older libshmk, or one built with SHMK_NO_SDT)\n",
				tool, paths[i]);
			return 1;
		}
	}
	shmkt_libbpf_logs(o->verbose);
	return 0;
}

static bool lib_prog(struct bpf_program *prog)
{
	return strncmp(bpf_program__name(prog), "lib_", 4) == 0;
}

int shmkt_load(const char *tool, struct bpf_object_skeleton *s,
	       const struct shmkt_opts *o, struct bpf_link **links,
	       int *nlinks)
{
	struct bpf_object *obj = *s->obj;
	struct bpf_program *prog;
	int err;

	bpf_object__for_each_program(prog, obj)
		bpf_program__set_autoload(prog, lib_prog(prog) ? o->library :
					  o->kernel);
	err = bpf_object__load_skeleton(s);
	if (err) {
		fprintf(stderr, "%s: cannot load the BPF programs: %s (run as root; -v for details)\n",
			tool, strerror(-err));
		return 1;
	}
	bpf_object__for_each_program(prog, obj) {
		if (!o->kernel || lib_prog(prog))
			continue;
		links[*nlinks] = bpf_program__attach(prog);
		if (!links[*nlinks]) {
			fprintf(stderr, "%s: cannot attach %s: %s\n", tool,
				bpf_program__name(prog), strerror(errno));
			return 1;
		}
		(*nlinks)++;
	}
	return 0;
}

static int attach_uprobe(const char *tool, struct bpf_program *prog,
			 const char *path, const char *func, bool ret,
			 struct bpf_link **link)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = func, .retprobe = ret);

	*link = bpf_program__attach_uprobe_opts(prog, -1, path, 0, &uo);
	if (!*link) {
		fprintf(stderr, "%s: %s: %sprobe on %s: %s\n", tool, path,
			ret ? "uret" : "u", func, strerror(errno));
		return -1;
	}
	return 0;
}

int shmkt_attach_call(const char *tool, const char *path, const char *func,
		      struct bpf_program *entry, struct bpf_program *ret,
		      struct bpf_link **links, int *nlinks)
{
	if (attach_uprobe(tool, entry, path, func, false, &links[*nlinks]))
		return -1;
	(*nlinks)++;
	if (attach_uprobe(tool, ret, path, func, true, &links[*nlinks]))
		return -1;
	(*nlinks)++;
	return 0;
}

int shmkt_attach_usdt(const char *tool, struct bpf_program *prog,
		      const char *path, const char *probe,
		      struct bpf_link **links, int *nlinks)
{
	if (!shmkt_has_usdt(path, "shmk", probe))
		return 1;
	links[*nlinks] = bpf_program__attach_usdt(prog, -1, path, "shmk",
						  probe, NULL);
	if (!links[*nlinks]) {
		fprintf(stderr, "%s: %s: USDT shmk:%s: %s\n", tool, path, probe,
			strerror(errno));
		return -1;
	}
	(*nlinks)++;
	return 0;
}

int shmkt_attach_open_probes(const char *tool, struct bpf_object *obj,
			     const char *path, struct bpf_link **links,
			     int *nlinks)
{
	struct bpf_program *create, *attach, *ret;

	create = bpf_object__find_program_by_name(obj, "lib_create_entry");
	attach = bpf_object__find_program_by_name(obj, "lib_attach_entry");
	ret = bpf_object__find_program_by_name(obj, "lib_open_ret");
	if (shmkt_attach_call(tool, path, "shmk_arena_create", create, ret,
			      links, nlinks) ||
	    shmkt_attach_call(tool, path, "shmk_arena_attach", attach, ret,
			      links, nlinks))
		return -1;
	return 0;
}

void shmkt_print_tracing(const char *what, const struct shmkt_opts *o,
			 char *const *paths)
{
	FILE *f = o->json ? stderr : stdout;
	int i;

	fprintf(f, "Tracing shmk %s from %s%s%s", what,
		o->kernel ? "kernel tracepoints" : "",
		o->kernel && o->library ? " and " : "",
		o->library ? "libshmk (" : "");
	for (i = 0; o->library && i < o->nlibs; i++)
		fprintf(f, "%s%s", i ? ", " : "", paths[i]);
	fprintf(f, "%s... Hit Ctrl-C to end.\n", o->library ? ")" : "");
	fflush(f);
}
