// SPDX-License-Identifier: MIT
/*
 * Guide, part 6: which backend does an arena get? With an argument, ask
 * for that one; without, let SHMK_BACKEND or the presence of /dev/shmk
 * decide.
 *
 *   backend [kmod|portable]
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <shmk.h>

int main(int argc, char **argv)
{
	struct shmk_arena_info info;
	unsigned int flags = 0;
	struct shmk_arena *a;
	char name[64];
	int r;

	/* {choose} */
	if (argc > 1 && !strcmp(argv[1], "kmod"))
		flags = SHMK_OPEN_KMOD;
	else if (argc > 1 && !strcmp(argv[1], "portable"))
		flags = SHMK_OPEN_PORTABLE;
	snprintf(name, sizeof(name), "backend-%d", (int)getpid());
	r = shmk_arena_create(name, NULL, flags | SHMK_OPEN_EXCL, &a);
	if (r < 0) {
		fprintf(stderr, "backend: %s\n", strerror(-r));
		return 1;
	}
	shmk_arena_info(a, &info);
	printf("%s: backend %s, member %u of %u, heap %llu bytes\n", name,
	       info.backend, info.member_id, info.member_max,
	       (unsigned long long)info.heap_size);
	/* {/choose} */
	shmk_arena_detach(a);
	return 0;
}
