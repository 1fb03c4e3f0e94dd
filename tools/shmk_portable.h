/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The portable backend's object header, as shmkctl reads it.
 *
 * libshmk keeps this layout private to lib/backend/backend_portable.c (struct
 * pt_hdr, PT_VERSION 1): the named object /dev/shm/shmk.<name> starts with
 * it and the user region follows at hdr_size. shmkctl maps the object
 * read-only and never writes it, so reading it does not make shmkctl a
 * member. Anything that does not match (magic, version, sizes) is
 * reported as "not a libshmk portable object" instead of being guessed
 * at; tests/tools/t_shmkctl checks that this copy and the library agree.
 */
#ifndef SHMK_PORTABLE_H
#define SHMK_PORTABLE_H

#include <stdint.h>
#include <linux/shmk.h>

#define SPT_MAGIC	0x504d4853U	/* "SHMP" */
#define SPT_VERSION	1
#define SPT_LOG		64
#define SPT_READY	1
#define SPT_DEFUNCT	2
#define SPT_F_PERSISTENT 1U
#define SPT_MEMBERS_MAX	4095
#define SPT_PREFIX	"/dev/shm/shmk."

/* member ctl: state (60..63), generation (32..59), pid (0..31) */
#define SPM_FREE	0ULL
#define SPM_LIVE	1ULL
#define SPM_DYING	2ULL
#define SPM_DEAD	3ULL
#define SPM_STATE(c)	((c) >> 60)
#define SPM_GEN(c)	((uint32_t)(((c) >> 32) & 0x0fffffff))
#define SPM_PID(c)	((int32_t)(uint32_t)(c))

struct spt_member {
	uint64_t ctl;
	uint64_t starttime;
	uint64_t robust_off;
	uint64_t wait_off;
	uint64_t attach_ns;
	uint64_t end_ns;
	uint32_t how;
	int32_t status;
	uint32_t handler;	/* member that handled its death */
	uint32_t pad;
};

struct spt_rec {
	uint64_t seq;
	struct shmk_event ev;
};

struct spt_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t state;		/* SPT_READY, SPT_DEFUNCT */
	uint32_t member_max;
	uint64_t hdr_size;	/* offset of the user region */
	uint64_t user_size;
	uint32_t flags;		/* SPT_F_* */
	uint32_t uid;
	uint64_t created_ns;
	uint64_t log_head;
	uint64_t epoch;		/* +2 on every membership change */
	uint8_t pad[128 - 64];
	struct spt_rec log[SPT_LOG];
	struct spt_member m[];
};

_Static_assert(sizeof(struct spt_member) == 64, "spt_member");
_Static_assert(sizeof(struct spt_rec) == 64, "spt_rec");
_Static_assert(sizeof(struct spt_hdr) == 128 + 64 * SPT_LOG, "spt_hdr");

#endif /* SHMK_PORTABLE_H */
