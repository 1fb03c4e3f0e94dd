// SPDX-License-Identifier: GPL-2.0
/*
 * t_names: the arena name alphabet. A name is 1..63 bytes, NUL-terminated
 * inside SHMK_NAME_MAX, each byte an ASCII letter, a digit or one of
 * "._:@+-". Every other byte (controls, space, 0x7f, bytes >= 0x80, '/',
 * '\\', '*', quotes, ...) is -EINVAL for ATTACH (creating or joining) and
 * for REMOVE, wherever it is in the name. Names show up in debugfs lines
 * (one line per arena), so every allowed character must keep it that way.
 */
#include "kt.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARENAS_PATH	"/sys/kernel/debug/shmk/arenas"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	"._:@+-";

static bool allowed(int b)
{
	return b && strchr(alphabet, b) != NULL;
}

/* Raw ATTACH/REMOVE with a name given as 64 raw bytes. */
static int attach_raw(int fd, const char name[SHMK_NAME_MAX], uint32_t flags,
		      struct shmk_attach *out)
{
	struct shmk_attach a;
	int r;

	memset(&a, 0, sizeof(a));
	memcpy(a.name, name, SHMK_NAME_MAX);
	a.size = 4096;
	a.flags = flags;
	a.mode = 0600;
	r = (int)kt_ioctl(fd, SHMK_IOC_ATTACH, &a);
	if (out)
		*out = a;
	return r;
}

static int remove_raw(int fd, const char name[SHMK_NAME_MAX])
{
	struct shmk_remove rm;

	memset(&rm, 0, sizeof(rm));
	memcpy(rm.name, name, SHMK_NAME_MAX);
	return (int)kt_ioctl(fd, SHMK_IOC_REMOVE, &rm);
}

/* The 3 placements of byte @b tried: first, inside, last. */
static void bad_name(char nm[SHMK_NAME_MAX], const char *base, int b, int pos)
{
	memset(nm, 0, SHMK_NAME_MAX);
	switch (pos) {
	case 0:
		snprintf(nm, SHMK_NAME_MAX, "%c%s", b, base);
		break;
	case 1:
		snprintf(nm, SHMK_NAME_MAX, "%s%cx", base, b);
		break;
	default:
		snprintf(nm, SHMK_NAME_MAX, "%s%c", base, b);
		break;
	}
}

/* " 0x01-0x2a 0x2c ..." for the bytes set in @bad[]. */
static void ranges(const bool bad[256], char *list, size_t len)
{
	size_t n = 0;
	int b, e;

	list[0] = 0;
	for (b = 1; b < 256 && n + 12 < len; b = e + 1) {
		if (!bad[b]) {
			e = b;
			continue;
		}
		for (e = b; e + 1 < 256 && bad[e + 1]; e++)
			;
		n += (size_t)snprintf(list + n, len - n, e > b ?
				      " 0x%02x-0x%02x" : " 0x%02x", b, e);
	}
}

/*
 * Every byte outside the alphabet, in each place, with @flags: -EINVAL.
 * An arena created by mistake is released at once.
 */
static int bad_bytes_attach(uint32_t flags, const char *what)
{
	char base[SHMK_NAME_MAX], nm[SHMK_NAME_MAX], list[1024];
	bool bad[256] = { false };
	int b, pos, fd, r, nbad = 0, tried = 0;

	kt_name(base, "bad");
	for (b = 1; b < 256; b++) {
		if (allowed(b))
			continue;
		for (pos = 0; pos < 3; pos++) {
			bad_name(nm, base, b, pos);
			fd = kt_open();
			KT_TRUE(fd >= 0);
			r = attach_raw(fd, nm, flags, NULL);
			close(fd);
			tried++;
			if (r != -EINVAL) {
				bad[b] = true;
				nbad++;
				if (nbad == 1)
					kt_diag("%s with byte 0x%02x at %s: %s, want EINVAL",
						what, b, pos == 0 ? "start" :
						pos == 1 ? "middle" : "end",
						kt_errname(r));
			}
		}
	}
	if (nbad) {
		ranges(bad, list, sizeof(list));
		kt_diag("%s: %d of %d names with a bad byte not refused; bytes:%s",
			what, nbad, tried, list);
	}
	KT_EQ(nbad, 0);
	return KT_PASS;
}

static int t_bad_bytes_create(void)
{
	return bad_bytes_attach(SHMK_ATTACH_CREATE | SHMK_ATTACH_EXCL,
				"ATTACH CREATE");
}

static int t_bad_bytes_join(void)
{
	return bad_bytes_attach(0, "ATTACH (join)");
}

static int t_bad_bytes_remove(void)
{
	char base[SHMK_NAME_MAX], nm[SHMK_NAME_MAX], list[1024];
	bool bad[256] = { false };
	int b, pos, r, nbad = 0, tried = 0;
	int fd = kt_open();

	KT_TRUE(fd >= 0);
	kt_name(base, "badrm");
	for (b = 1; b < 256; b++) {
		if (allowed(b))
			continue;
		for (pos = 0; pos < 3; pos++) {
			bad_name(nm, base, b, pos);
			r = remove_raw(fd, nm);
			tried++;
			if (r != -EINVAL) {
				bad[b] = true;
				if (!nbad)
					kt_diag("REMOVE with byte 0x%02x: %s, want EINVAL",
						b, kt_errname(r));
				nbad++;
			}
		}
	}
	close(fd);
	if (nbad) {
		ranges(bad, list, sizeof(list));
		kt_diag("REMOVE: %d of %d names with a bad byte not refused; bytes:%s",
			nbad, tried, list);
	}
	KT_EQ(nbad, 0);
	return KT_PASS;
}

/* @nm (short) followed by byte @c. */
static void name_plus(char out[SHMK_NAME_MAX], const char *nm, char c)
{
	size_t l = strnlen(nm, SHMK_NAME_MAX - 2);

	memset(out, 0, SHMK_NAME_MAX);
	memcpy(out, nm, l);
	out[l] = c;
}

/* An existing arena's name plus a bad byte: refused, not matched. */
static int t_bad_byte_no_prefix_match(void)
{
	struct kt_member m;
	char nm[SHMK_NAME_MAX], bad[SHMK_NAME_MAX];
	int fd;

	kt_name(nm, "pfx");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE | SHMK_ATTACH_PERSISTENT,
		       0600), 0);
	/* "<name>\n", "<name> ", "<name>\t": not the arena, and invalid. */
	fd = kt_open();
	KT_TRUE(fd >= 0);
	name_plus(bad, nm, '\n');
	KT_RET(attach_raw(fd, bad, 0, NULL), -EINVAL);
	KT_RET(remove_raw(fd, bad), -EINVAL);
	name_plus(bad, nm, ' ');
	KT_RET(attach_raw(fd, bad, 0, NULL), -EINVAL);
	KT_RET(remove_raw(fd, bad), -EINVAL);
	name_plus(bad, nm, '\t');
	KT_RET(remove_raw(fd, bad), -EINVAL);
	/* The arena itself is untouched. */
	KT_TRUE(!(m.ctrl->flags & SHMK_ARENA_F_REMOVED));
	KT_RET(kt_remove(fd, nm), 0);
	close(fd);
	kt_leave(&m, true);
	return KT_PASS;
}

/* ---- the debugfs listing -------------------------------------------------- */

static int read_arenas(char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;
	int fd = open(ARENAS_PATH, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = 0;
	return (int)got;
}

/*
 * Non-indented lines of the listing (one per arena), and how many of them
 * have @names[i] as their second field, in @count[i].
 */
static int count_lines(char names[][SHMK_NAME_MAX], int n, int *count,
		       int *lines)
{
	static char buf[1 << 16];
	char *line, *save = NULL, *f1, *f2, *ts;
	int i;

	KT_TRUE(read_arenas(buf, sizeof(buf)) >= 0);
	*lines = 0;
	for (i = 0; i < n; i++)
		count[i] = 0;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == ' ' || line[0] == '\t')
			continue;
		(*lines)++;
		ts = NULL;
		f1 = strtok_r(line, " ", &ts);
		f2 = f1 ? strtok_r(NULL, " ", &ts) : NULL;
		for (i = 0; f2 && i < n; i++)
			if (!strcmp(f2, names[i]))
				count[i]++;
	}
	return KT_PASS;
}

#define NCHUNK 3

/*
 * Every allowed character: alone as a whole name, and all of them in names
 * held at the same time, each of which gets exactly one debugfs line.
 */
static int t_allowed_chars(void)
{
	char names[NCHUNK][SHMK_NAME_MAX], tag[25], one[SHMK_NAME_MAX];
	struct kt_member m[NCHUNK];
	struct shmk_attach at;
	struct kt_stats st;
	size_t i, len = strlen(alphabet), off;
	int count[NCHUNK], lines, fd, r;
	bool listing = access(ARENAS_PATH, R_OK) == 0;

	KT_EQ(len, 26 + 26 + 10 + 6);
	for (i = 0; i < len; i++) {
		memset(one, 0, sizeof(one));
		one[0] = alphabet[i];
		fd = kt_open();
		KT_TRUE(fd >= 0);
		r = attach_raw(fd, one, SHMK_ATTACH_CREATE | SHMK_ATTACH_EXCL,
			       &at);
		if (r)
			kt_diag("name \"%s\": %s", one, kt_errname(r));
		KT_RET(r, 0);
		KT_EQ(at.out_flags, SHMK_ATTACHED_CREATED);
		if (listing) {
			char nm1[1][SHMK_NAME_MAX];

			memcpy(nm1[0], one, SHMK_NAME_MAX);
			KT_DO(count_lines(nm1, 1, count, &lines));
			KT_EQ(count[0], 1);
		}
		close(fd);
	}
	for (i = 0, off = 0; i < NCHUNK; i++) {
		size_t n = len - off < 24 ? len - off : 24;

		memcpy(tag, alphabet + off, n);
		tag[n] = 0;
		off += n;
		kt_name(names[i], tag);
		KT_TRUE(strstr(names[i], tag) != NULL);
		KT_RET(kt_join(&m[i], names[i], 4096, SHMK_ATTACH_CREATE |
			       SHMK_ATTACH_EXCL, 0600), 0);
		KT_EQ(strncmp((const char *)m[i].ctrl->name, names[i],
			      SHMK_NAME_MAX), 0);
	}
	KT_EQ(off, len);
	if (!listing) {
		for (i = 0; i < NCHUNK; i++)
			kt_leave(&m[i], true);
		return kt_skip("no %s: only ATTACH was checked", ARENAS_PATH);
	}
	KT_DO(count_lines(names, NCHUNK, count, &lines));
	for (i = 0; i < NCHUNK; i++) {
		if (count[i] != 1)
			kt_diag("\"%s\": %d lines", names[i], count[i]);
		KT_EQ(count[i], 1);
	}
	KT_RET(kt_stats(&st), 0);
	KT_EQ(lines, st.arenas);
	for (i = 0; i < NCHUNK; i++)
		kt_leave(&m[i], true);
	return KT_PASS;
}

static const char *const punct_names[] = {
	"._:@+-", "-", ".", "@x+y:z_w.v-u", "0", "Z9",
};

static int allowed_remove(int fd)
{
	char nm[SHMK_NAME_MAX];
	struct kt_member m;
	size_t i;

	for (i = 0; i < KT_ARRAY_SIZE(punct_names); i++) {
		memset(nm, 0, sizeof(nm));
		snprintf(nm, sizeof(nm), "%s", punct_names[i]);
		KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE |
			       SHMK_ATTACH_EXCL | SHMK_ATTACH_PERSISTENT,
			       0600), 0);
		kt_leave(&m, true);
		KT_RET(remove_raw(fd, nm), 0);
		KT_RET(remove_raw(fd, nm), -ENOENT);
	}
	return KT_PASS;
}

/* Punctuation-only and mixed names work for REMOVE too. */
static int t_allowed_remove(void)
{
	size_t i;
	int fd = kt_open(), r;

	KT_TRUE(fd >= 0);
	r = allowed_remove(fd);
	/* These are not kt_name()s: remove leftovers of a failure here. */
	for (i = 0; i < KT_ARRAY_SIZE(punct_names); i++)
		kt_remove(fd, punct_names[i]);
	close(fd);
	return r;
}

/* Length: 63 allowed bytes work, 64 without a NUL and 0 do not. */
static int t_lengths(void)
{
	char nm[SHMK_NAME_MAX], full[SHMK_NAME_MAX];
	struct kt_member m;
	size_t i;
	int fd = kt_open();

	KT_TRUE(fd >= 0);
	/* 63 bytes cycling through the alphabet, from a fresh start. */
	kt_name(nm, "len");
	for (i = strlen(nm); i < SHMK_NAME_MAX - 1; i++)
		nm[i] = alphabet[(i * 7) % (sizeof(alphabet) - 1)];
	nm[SHMK_NAME_MAX - 1] = 0;
	KT_RET(remove_raw(fd, nm), -ENOENT);	/* valid, absent */
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE |
		       SHMK_ATTACH_PERSISTENT, 0600), 0);
	KT_EQ(memcmp((const void *)m.ctrl->name, nm, SHMK_NAME_MAX), 0);
	kt_leave(&m, true);
	KT_RET(remove_raw(fd, nm), 0);
	/* 64 bytes, no NUL: EINVAL for both. */
	memcpy(full, nm, SHMK_NAME_MAX);
	full[SHMK_NAME_MAX - 1] = 'q';
	KT_RET(attach_raw(fd, full, SHMK_ATTACH_CREATE, NULL), -EINVAL);
	KT_RET(attach_raw(fd, full, 0, NULL), -EINVAL);
	KT_RET(remove_raw(fd, full), -EINVAL);
	/* Empty. */
	memset(full, 0, sizeof(full));
	KT_RET(attach_raw(fd, full, SHMK_ATTACH_CREATE, NULL), -EINVAL);
	KT_RET(remove_raw(fd, full), -EINVAL);
	/* 63 bytes whose last one is bad. */
	memcpy(full, nm, SHMK_NAME_MAX);
	full[SHMK_NAME_MAX - 2] = '*';
	KT_RET(attach_raw(fd, full, SHMK_ATTACH_CREATE, NULL), -EINVAL);
	KT_RET(remove_raw(fd, full), -EINVAL);
	/* The fd was not used up by any of that. */
	KT_RET(kt_attach(fd, nm, 4096, SHMK_ATTACH_CREATE, 0600, NULL), 0);
	KT_RET(kt_detach(fd), 0);
	close(fd);
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "names: ATTACH CREATE refuses every byte outside [A-Za-z0-9._:@+-] (EINVAL)",
	  t_bad_bytes_create },
	{ "names: ATTACH join refuses every byte outside the alphabet (EINVAL)",
	  t_bad_bytes_join },
	{ "names: REMOVE refuses every byte outside the alphabet (EINVAL)",
	  t_bad_bytes_remove },
	{ "names: an existing name plus newline/space/tab is refused, not matched",
	  t_bad_byte_no_prefix_match },
	{ "names: every allowed character works; one debugfs line per arena",
	  t_allowed_chars },
	{ "names: punctuation names create and REMOVE", t_allowed_remove },
	{ "names: 63 bytes ok; 64 without NUL, empty, bad 63rd byte EINVAL (ATTACH, REMOVE)",
	  t_lengths },
};

int main(int argc, char **argv)
{
	return kt_main(argc, argv, cases, KT_ARRAY_SIZE(cases));
}
