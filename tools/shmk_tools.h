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
#include <linux/types.h>

#include "shmk_bpf_common.h"

#define SHMKT_MAX_LIBS	8
/*
 * Links a tool holds at most: the kernel tracepoints, then the probes of
 * each library (shmkexits: 8 uprobes and a USDT probe).
 */
#define SHMKT_MAX_LINKS	(8 + SHMKT_MAX_LIBS * 10)

/* getopt_long() value of --version (long only). */
#define SHMKT_OPT_VERSION	0x100

/* Print "TOOL (shmk) VERSION" for --version. */
void shmkt_print_version(const char *tool);

/* Exit status for a usage error (getopt style). */
#define SHMKT_EXIT_USAGE	2

/* What every BPF tool takes: -p -a -n -k -u -l -v (and -h, --version). */
struct shmkt_opts {
	uint32_t pid;
	uint32_t arena;
	const char *name;
	bool kernel, library, verbose;
	const char *libs[SHMKT_MAX_LIBS];
	int nlibs;
};

#define SHMKT_SHORTOPTS	"p:a:n:kul:vh"
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
 * The probes of shmk_tools.bpf.h that name arenas, on shmk_arena_create
 * and shmk_arena_attach in @path (4 links). 0 or -1 as above.
 */
int shmkt_attach_open_probes(const char *tool, struct bpf_object *obj,
			     const char *path, struct bpf_link **links,
			     int *nlinks);
/* "Tracing shmk @what from <sources>... Hit Ctrl-C to end." */
void shmkt_print_tracing(const char *what, const struct shmkt_opts *o,
			 char *const *paths);

/* Offsets into libshmk's handle, for the BPF programs. */
void shmkt_lib_layout(struct shmkt_lib_layout *l);
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

/* Parse a decimal number in [min, max]; false if it is not one. */
bool shmkt_parse_u32(const char *s, uint32_t min, uint32_t max,
		     uint32_t *out);

#endif /* SHMK_TOOLS_H */
