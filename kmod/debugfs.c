// SPDX-License-Identifier: GPL-2.0
/*
 * shmk introspection.
 *
 * debugfs shmk/arenas: one line per arena (live or waiting to be freed),
 * fields separated by one space:
 *   <id> <name> <ipc ns inode> <user_size> <ctrl_size> <live members>
 *   <flags: SHMK_ARENA_F_*, hex> <uid> <gid> <mode, octal>
 * then, for each member slot ever used, an indented line:
 *     <member id> <live|dead> <generation> <pid> <how: SHMK_END_*> <status>
 * uid, gid and pid as the control region shows them, i.e. in the arena
 * creator's namespaces.
 *
 * debugfs shmk/stats: "arenas N", "members N" (live), "pages N" (allocated
 * and not yet freed), "waiters N" (tasks in SHMK_IOC_WAIT).
 *
 * debugfs shmk/users: one line per user that has arenas charged to it:
 *   <uid in the initial user namespace> <arenas> <bytes>
 * debugfs shmk/namespaces: one line per IPC namespace with arenas:
 *   <ipc ns inode> <arenas> <bytes> <live|dead>
 * (see registry.c for what is charged, and the limits).
 *
 * Reading stats, arenas, users or namespaces first frees what dead IPC
 * namespaces left (registry.c), so what they show is current.
 *
 * /proc/<pid>/fdinfo/<fd> of a /dev/shmk file: shmk-state (none, live,
 * ended), and once attached shmk-arena, shmk-arena-id, shmk-member,
 * shmk-generation, shmk-events (pending, an overflow record included).
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/seq_file.h>

#include "shmk.h"

static struct dentry *shmk_debugfs_dir;

static void shmk_show_arena(struct seq_file *s, struct shmk_arena *arena)
{
	const struct shmk_ctrl *c = arena->ctrl;
	const struct shmk_ctrl_member *cm;
	u32 i;

	mutex_lock(&arena->lock);
	seq_printf(s, "%u %s %u %zu %zu %u 0x%x %u %u %04o\n",
		   arena->id, arena->name, arena->ns->inum, arena->user_size,
		   arena->ctrl_size, arena->members_live, c->flags, c->uid,
		   c->gid, c->mode);
	for (i = 1; i <= arena->member_max; i++) {
		cm = shmk_ctrl_slot(arena, i);
		if (cm->state == SHMK_MEMBER_FREE)
			continue;
		seq_printf(s, "  %u %s %u %d %u %d\n",
			   i, cm->state == SHMK_MEMBER_LIVE ? "live" : "dead",
			   cm->generation, cm->pid, cm->how, cm->status);
	}
	mutex_unlock(&arena->lock);
}

static int arenas_show(struct seq_file *s, void *unused)
{
	struct shmk_arena *arena;

	shmk_registry_gc();
	mutex_lock(&shmk_registry_lock);
	list_for_each_entry(arena, &shmk_arena_list, node)
		shmk_show_arena(s, arena);
	mutex_unlock(&shmk_registry_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(arenas);

static int users_show(struct seq_file *s, void *unused)
{
	shmk_registry_gc();
	shmk_show_users(s);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(users);

static int namespaces_show(struct seq_file *s, void *unused)
{
	shmk_registry_gc();
	shmk_show_namespaces(s);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(namespaces);

static int stats_show(struct seq_file *s, void *unused)
{
	shmk_registry_gc();
	seq_printf(s, "arenas %d\n", atomic_read(&shmk_stat_arenas));
	seq_printf(s, "members %d\n", atomic_read(&shmk_stat_members));
	seq_printf(s, "pages %ld\n", atomic_long_read(&shmk_stat_pages));
	seq_printf(s, "waiters %d\n", atomic_read(&shmk_stat_waiters));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

void shmk_debugfs_init(void)
{
	shmk_debugfs_dir = debugfs_create_dir("shmk", NULL);
	debugfs_create_file("arenas", 0444, shmk_debugfs_dir, NULL,
			    &arenas_fops);
	debugfs_create_file("stats", 0444, shmk_debugfs_dir, NULL,
			    &stats_fops);
	debugfs_create_file("users", 0444, shmk_debugfs_dir, NULL,
			    &users_fops);
	debugfs_create_file("namespaces", 0444, shmk_debugfs_dir, NULL,
			    &namespaces_fops);
}

void shmk_debugfs_exit(void)
{
	debugfs_remove_recursive(shmk_debugfs_dir);
}

void shmk_show_fdinfo(struct seq_file *s, struct file *file)
{
	struct shmk_file *sf = file->private_data;
	struct shmk_member *m = shmk_file_member(sf);

	if (!m) {
		seq_puts(s, "shmk-state:\tnone\n");
		return;
	}
	seq_printf(s, "shmk-state:\t%s\n",
		   READ_ONCE(m->state) == SHMK_MS_LIVE ? "live" : "ended");
	seq_printf(s, "shmk-arena:\t%s\n", m->arena->name);
	seq_printf(s, "shmk-arena-id:\t%u\n", m->arena->id);
	seq_printf(s, "shmk-member:\t%u\n", m->id);
	seq_printf(s, "shmk-generation:\t%u\n", m->generation);
	seq_printf(s, "shmk-events:\t%u\n", shmk_events_count(m));
}
