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

/* Exit status for a usage error (getopt style). */
#define SHMKT_EXIT_USAGE	2

extern volatile int shmkt_exiting;

/* Print libbpf's messages: all with @verbose, else warnings only. */
void shmkt_libbpf_logs(bool verbose);
/* SIGINT/SIGTERM set shmkt_exiting. */
void shmkt_signals(void);
/* Offsets into libshmk's handle, for the BPF programs. */
void shmkt_lib_layout(struct shmkt_lib_layout *l);
/* Are the module's tracepoints there (module loaded, tracefs)? */
bool shmkt_kernel_tracepoints(void);
/* libshmk.so.0 near this program or in the usual places, or NULL. */
const char *shmkt_default_lib(void);
/* An absolute path for @path (realpath), or NULL with errno. */
char *shmkt_abspath(const char *path);
/* Does the ELF file at @path define the function @sym? */
bool shmkt_has_symbol(const char *path, const char *sym);
/* CLOCK_MONOTONIC now, ns (bpf_ktime_get_ns() counts the same). */
uint64_t shmkt_now_ns(void);
/* @name made printable and space-free into @buf ("-" when empty). */
const char *shmkt_clean_name(const char *name, char *buf, size_t len);
/* "SIGKILL" style name of signal @sig, or "SIG<n>". */
const char *shmkt_signame(int sig, char *buf, size_t len);
/* "detach", "exit", "signal", "close" or "?". */
const char *shmkt_how_name(uint32_t how);
/* Parse a decimal number in [min, max]; false if it is not one. */
bool shmkt_parse_u32(const char *s, uint32_t min, uint32_t max,
		     uint32_t *out);

#endif /* SHMK_TOOLS_H */
