// SPDX-License-Identifier: MIT
/*
 * Reasons in words for failed calls (shmk_arena_error()).
 *
 * Two thread-local records, as errno is thread-local: why the last
 * shmk_arena_create()/shmk_arena_attach()/shmk_arena_remove() of this
 * thread failed (there is no handle to ask then), and why this thread's
 * last failing call on a handle failed. A handle is shared by the threads
 * of its process, so a reason stored in it would be overwritten by
 * another thread's failure; the record here is tagged with the handle
 * and its nonce (random, drawn when the handle was made), so that a new
 * handle that happens to get a freed one's address never shows a reason
 * that was not its own.
 */
#include "shmk_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static __thread char tl_open[SHMK_REASON_MAX];

static __thread struct {
	const struct shmk_arena *a;
	uint64_t nonce;
	char msg[SHMK_REASON_MAX];
} tl_call;

void shmk_reason_clear(void)
{
	tl_open[0] = '\0';
}

bool shmk_reason_isset(void)
{
	return tl_open[0] != '\0';
}

const char *shmk_reason_get(void)
{
	return tl_open;
}

void shmk_reason_vset(const char *fmt, va_list ap)
{
	vsnprintf(tl_open, sizeof(tl_open), fmt, ap);
}

void shmk_reason(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	shmk_reason_vset(fmt, ap);
	va_end(ap);
}

void shmk_areason(const struct shmk_arena *a, const char *fmt, ...)
{
	va_list ap;

	tl_call.a = a;
	tl_call.nonce = a->nonce;
	va_start(ap, fmt);
	vsnprintf(tl_call.msg, sizeof(tl_call.msg), fmt, ap);
	va_end(ap);
}

void shmk_areason_forget(const struct shmk_arena *a)
{
	if (tl_call.a == a)
		tl_call.a = NULL;
}

/* "1.5 GiB", "640 KiB", "512 bytes": for reasons. */
const char *shmk_fmt_bytes(uint64_t v, char *buf, size_t len)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB",
					    "PiB", "EiB" };
	double d = (double)v;
	int u = -1;

	if (v < 1024) {
		snprintf(buf, len, "%llu bytes", (unsigned long long)v);
		return buf;
	}
	while (d >= 1024 && u < 5) {
		d /= 1024;
		u++;
	}
	if (d == (double)(uint64_t)d)
		snprintf(buf, len, "%llu %s", (unsigned long long)d, unit[u]);
	else
		snprintf(buf, len, "%.1f %s", d, unit[u]);
	return buf;
}

SHMK_EXPORT const char *shmk_arena_error(const struct shmk_arena *a)
{
	if (!a)
		return tl_open;
	if (tl_call.a == a && tl_call.nonce == a->nonce)
		return tl_call.msg;
	return "";
}
