/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal TAP for the integration tests (they must run in a bare busybox
 * initramfs, so no libcheck here).
 */
#ifndef SHMK_TEST_TAP_H
#define SHMK_TEST_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tap_n, tap_failed, tap_skipped;

__attribute__((format(printf, 2, 3)))
static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

__attribute__((format(printf, 1, 2)))
static inline void tap_skip(const char *fmt, ...)
{
	va_list ap;

	printf("ok %d - # SKIP ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	tap_skipped++;
}

#define diag(...) do { fprintf(stderr, "# " __VA_ARGS__); \
		       fprintf(stderr, "\n"); } while (0)

/* Check an int result; prints it on failure. */
#define ok_eq(got, want, name) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (!tap_ok(g_ == w_, "%s", name)) \
		diag("  %s: got %lld, want %lld", name, g_, w_); \
} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	fflush(stdout);
	if (tap_failed)
		return 1;
	return tap_n && tap_skipped == tap_n ? 77 : 0;
}

#endif
