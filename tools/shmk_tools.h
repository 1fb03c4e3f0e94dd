/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Helpers shared by the user side of the shmk BPF tools (shmkexits,
 * shmkwaitlat).
 */
#ifndef SHMK_TOOLS_H
#define SHMK_TOOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/types.h>

#include "shmk_bpf_common.h"

/* Libraries or programs traced at once (-l, or found running). */
#define SHMKT_MAX_LIBS	16
/*
 * Links a tool holds at most: the kernel tracepoints, then the probes of
 * each library (shmkexits: 8 uprobes and a USDT probe; shmktop: 15 USDT
 * probes).
 */
#define SHMKT_MAX_LINKS	(8 + SHMKT_MAX_LIBS * 16)

/* getopt value of -V/--version. */
#define SHMKT_OPT_VERSION	'V'

/* Exit status for a usage error (getopt style). */
#define SHMKT_EXIT_USAGE	2

/* What every BPF tool takes: -p -a -n -k -u -l -v (and -h, -V). */
struct shmkt_opts {
	uint32_t pid;
	uint64_t arena;		/* the arena id the tools show (see -a) */
	const char *name;
	bool kernel, library, verbose;
	bool json;		/* --json: the "Tracing" line goes to stderr */
	/* Set by the tool before shmkt_start(): */
	bool lib_ids;		/* its library source filters by arena id */
	bool need_syms;		/* it uprobes libshmk's functions */
	/* Set by shmkt_start(): */
	bool found;		/* no -l: libs are what was found running */
	const char *libs[SHMKT_MAX_LIBS];
	int nlibs;
};

#define SHMKT_SHORTOPTS	"p:a:n:kul:vhV"
#define SHMKT_LONGOPTS							\
	{ "pid", required_argument, NULL, 'p' },			\
	{ "arena", required_argument, NULL, 'a' },			\
	{ "name", required_argument, NULL, 'n' },			\
	{ "kernel", no_argument, NULL, 'k' },				\
	{ "library", no_argument, NULL, 'u' },				\
	{ "lib", required_argument, NULL, 'l' },			\
	{ "verbose", no_argument, NULL, 'v' },				\
	{ "help", no_argument, NULL, 'h' },				\
	{ "version", no_argument, NULL, SHMKT_OPT_VERSION }

struct bpf_object;
struct bpf_object_skeleton;
struct bpf_program;
struct bpf_link;

extern volatile int shmkt_exiting;

/*
 * Option @c with argument @arg, as getopt_long() returned it, when it is
 * not one of the tool's own: a common option into @o, -h prints @usage
 * and exits. 0, or -1 after saying what was wrong (usage error).
 */
int shmkt_parse_opt(const char *tool, const char *usage, int c,
		    const char *arg, struct shmkt_opts *o);
/*
 * The start of a tool's main() after the options: line-buffered stdout,
 * the signals (before any probe loads: a Ctrl-C then must not be lost),
 * the default source (kernel when the module's tracepoints exist, else
 * the library) and checks that the chosen ones can work, the libraries as
 * absolute paths into @paths (free()d by the caller), libbpf's logging.
 * 0, or the exit status after saying what is wrong.
 */
int shmkt_start(const char *tool, struct shmkt_opts *o, char **paths);
/*
 * Without -l (o->found): programs using libshmk started since the last
 * look, appended to o->libs and @paths. The index of the first new one
 * (o->nlibs when there is none).
 */
int shmkt_rescan(struct shmkt_opts *o, char **paths);
/* How often the tools look for new programs (no -l). */
#define SHMKT_RESCAN_NS		1000000000ULL
/*
 * Load the programs of a tool's opened skeleton @s (its read-only data
 * set) for the chosen sources only, and attach the kernel source's where
 * their SEC() says, into @links. A program whose name starts with "lib_"
 * is the library source's, any other the kernel's. 0, or 1 after saying
 * what failed (what was attached is in @links).
 */
int shmkt_load(const char *tool, struct bpf_object_skeleton *s,
	       const struct shmkt_opts *o, struct bpf_link **links,
	       int *nlinks);
/*
 * @entry on entry to the function @func of the ELF file @path, @ret on
 * its return, appended to @links. 0, or -1 after saying which failed.
 */
int shmkt_attach_call(const char *tool, const char *path, const char *func,
		      struct bpf_program *entry, struct bpf_program *ret,
		      struct bpf_link **links, int *nlinks);
/*
 * @prog on USDT probe shmk:@probe of the ELF file @path, appended to
 * @links: 0, 1 when the file has no such probe (a static link leaves out
 * the parts of libshmk a program does not use), -1 after saying why it
 * failed.
 */
int shmkt_attach_usdt(const char *tool, struct bpf_program *prog,
		      const char *path, const char *probe,
		      struct bpf_link **links, int *nlinks);
/*
 * The probes of shmk_tools.bpf.h that name arenas, on shmk_arena_create
 * and shmk_arena_attach in @path (4 links). 0 or -1 as above.
 */
int shmkt_attach_open_probes(const char *tool, struct bpf_object *obj,
			     const char *path, struct bpf_link **links,
			     int *nlinks);
/*
 * "Tracing shmk @what from <sources>... Hit Ctrl-C to end.", on stdout,
 * or on stderr with --json (stdout then holds JSON only).
 */
void shmkt_print_tracing(const char *what, const struct shmkt_opts *o,
			 char *const *paths);

/* Offsets into libshmk's handle, for the BPF programs. */
void shmkt_lib_layout(struct shmkt_lib_layout *l);
/*
 * The pid namespace of this process (device and inode of
 * /proc/self/ns/pid), for the BPF programs' cur_tgid(): 0, or -errno
 * (then pids are shown as the initial namespace numbers them).
 */
int shmkt_pidns(uint64_t *dev, uint64_t *ino);
/* Are the module's tracepoints there (module loaded, tracefs)? */
bool shmkt_kernel_tracepoints(void);
/* Does the ELF file @path hold the USDT probe @provider:@name? */
bool shmkt_has_usdt(const char *path, const char *provider,
		    const char *name);
/* "TOOL (shmk) VERSION" on stdout, for -V/--version. */
void shmkt_print_version(const char *tool);
/* CLOCK_MONOTONIC now, ns (bpf_ktime_get_ns() counts the same). */
uint64_t shmkt_now_ns(void);
/* @name made printable and space-free into @buf ("-" when empty). */
const char *shmkt_clean_name(const char *name, char *buf, size_t len);
/* "SIGKILL" style name of signal @sig, or "SIG<n>". */
const char *shmkt_signame(int sig, char *buf, size_t len);
/*
 * "detach", "exit", "signal", "close", or @other. Inline: shmkctl uses it
 * too and links no libbpf.
 */
static inline const char *shmkt_how_name(uint32_t how, const char *other)
{
	switch (how) {
	case SHMKT_END_DETACH:
		return "detach";
	case SHMKT_END_EXIT:
		return "exit";
	case SHMKT_END_SIGNAL:
		return "signal";
	case SHMKT_END_CLOSE:
		return "close";
	default:
		return other;
	}
}

/* ---- the traffic tools (shmksnoop, shmktop) ---------------------------- */

/* @s as a JSON string (quoted, escaped) on @f; null for NULL. */
void shmkt_json_str(FILE *f, const char *s);
/*
 * The name of arena @id from the tool's anames map (shmk_traffic.bpf.h),
 * printable, into @buf; "?" when it is not known.
 */
const char *shmkt_arena_name(int anames_fd, uint64_t id, char *buf,
			     size_t len);
/*
 * What a descriptor with probe flags @f is: "queue" (a plain queue's),
 * "data", or the session's control message ("connect", ...).
 */
const char *shmkt_kind_name(uint64_t f);

/* Parse a decimal number in [min, max]; false if it is not one. */
bool shmkt_parse_u32(const char *s, uint32_t min, uint32_t max,
		     uint32_t *out);
/* Parse a decimal or 0x-hexadecimal number >= 1; false if not one. */
bool shmkt_parse_u64(const char *s, uint64_t *out);
/*
 * An arena id as the tools print it: decimal for the module's ids (below
 * 2^32), 0x and 16 hex digits for the portable backend's.
 */
const char *shmkt_arena_id(uint64_t id, char *buf, size_t len);

#endif /* SHMK_TOOLS_H */
