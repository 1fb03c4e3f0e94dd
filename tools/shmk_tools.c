// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Helpers shared by the user side of the shmk BPF tools.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define SHMK_NO_SDT		/* shmk_int.h: we only want its layout */

#include <ctype.h>
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

#include <bpf/libbpf.h>
#include <linux/shmk.h>

#include "shmk_int.h"	/* lib/: struct shmk_arena, struct shmk_be_ops */
#include "shmk_tools.h"

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

volatile int shmkt_exiting;

static bool libbpf_verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBBPF_DEBUG && !libbpf_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void shmkt_libbpf_logs(bool verbose)
{
	libbpf_verbose = verbose;
	libbpf_set_print(libbpf_print);
}

static void on_signal(int sig)
{
	(void)sig;
	shmkt_exiting = 1;
}

void shmkt_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
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
}

bool shmkt_kernel_tracepoints(void)
{
	return access("/sys/kernel/tracing/events/shmk/shmk_end", F_OK) == 0 ||
		access("/sys/kernel/debug/tracing/events/shmk/shmk_end",
		       F_OK) == 0;
}

const char *shmkt_default_lib(void)
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

char *shmkt_abspath(const char *path)
{
	return realpath(path, NULL);
}

bool shmkt_has_symbol(const char *path, const char *sym)
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

const char *shmkt_how_name(uint32_t how)
{
	switch (how) {
	case SHMK_END_DETACH:
		return "detach";
	case SHMK_END_EXIT:
		return "exit";
	case SHMK_END_SIGNAL:
		return "signal";
	case SHMK_END_CLOSE:
		return "close";
	default:
		return "?";
	}
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
