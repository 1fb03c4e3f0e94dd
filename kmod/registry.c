// SPDX-License-Identifier: GPL-2.0
/*
 * shmk registry: which arenas exist, under which name, in which IPC
 * namespace, and what each namespace and each user is charged.
 *
 * Namespaces
 * ----------
 * A name is looked up in the caller's IPC namespace. The registry knows a
 * namespace by an object whose address cannot be reused while the module
 * holds it: the namespace's internal mqueue mount (ipc_ns->mq_mnt), pinned
 * with mntget() by the namespace's record, struct shmk_ns, for as long as
 * any arena is charged to it. The namespace itself cannot be pinned from a
 * module (put_ipc_ns() is not exported) and its inode number is recycled
 * as soon as it dies, so neither can serve as a key: a new namespace can
 * never match the record of a dead one, because the pinned mount of the
 * dead one is still allocated.
 *
 * The pinned mount outlives its namespace. When the namespace dies the
 * kernel clears the mount's superblock s_fs_info (put_ipc_ns() calls
 * mq_clear_sbinfo(), which is how mqueue itself tells a live namespace
 * from a dead one); shmk_registry_gc() sees that, marks the record dead
 * and takes the names of its arenas away. A persistent arena of a dead
 * namespace is then freed with its last member, as SysV IPC objects are at
 * namespace exit; its members keep their mappings until they leave. The
 * gc runs before every lookup, on every debugfs read, and every
 * SHMK_GC_INTERVAL while a namespace other than the initial one has
 * persistent arenas. Isolation does not depend on the gc: it only frees.
 *
 * Limits
 * ------
 * An arena is charged, from before its pages are allocated until it is
 * freed, to its creator's user (euid) and to its namespace: one arena and
 * its pages (control region included). A creation over a limit fails with
 * -ENOSPC, as shmget() does over SHMMNI/SHMALL:
 *  - max_arenas: all arenas of the module; of those, reserved_arenas (at
 *    most half) are kept for callers with CAP_IPC_OWNER in the initial
 *    user namespace;
 *  - max_arenas_per_ns, max_bytes_per_ns: per IPC namespace;
 *  - max_arenas_per_user, max_bytes_per_user: per user, all namespaces.
 * CAP_IPC_OWNER in the initial user namespace lifts the per-namespace and
 * per-user limits; nothing lifts max_arenas.
 *
 * Everything here is protected by shmk_registry_lock.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/ipc_namespace.h>
#include <linux/mount.h>
#include <linux/proc_ns.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/user_namespace.h>
#include <linux/workqueue.h>

#include "shmk.h"

#define SHMK_HASH_BITS_NS	6
#define SHMK_HASH_BITS_USER	6
#define SHMK_GC_INTERVAL	(5 * HZ)

/* Protects everything in this file, and the arena fields it names. */
DEFINE_MUTEX(shmk_registry_lock);
LIST_HEAD(shmk_arena_list);	/* (protected by shmk_registry_lock) */
static u32 shmk_next_arena_id = 1; /* (protected by shmk_registry_lock) */

/* struct shmk_ns by ->key (protected by shmk_registry_lock) */
static DEFINE_HASHTABLE(shmk_ns_hash, SHMK_HASH_BITS_NS);
/* struct shmk_user by ->uid (protected by shmk_registry_lock) */
static DEFINE_HASHTABLE(shmk_user_hash, SHMK_HASH_BITS_USER);

static void shmk_gc_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(shmk_gc_work, shmk_gc_fn);

#if defined(CONFIG_IPC_NS) && !defined(CONFIG_POSIX_MQUEUE)
#error "shmk tells IPC namespaces apart by their mqueue mount: CONFIG_POSIX_MQUEUE"
#endif

/* The namespace's key; the caller's own namespace is alive. */
static struct vfsmount *shmk_ns_key(struct ipc_namespace *ipc_ns)
{
	return ipc_ns->mq_mnt;
}

static struct shmk_ns *shmk_ns_find(struct ipc_namespace *ipc_ns)
{
	struct vfsmount *key = shmk_ns_key(ipc_ns);
	struct shmk_ns *ns;

	lockdep_assert_held(&shmk_registry_lock);
	hash_for_each_possible(shmk_ns_hash, ns, node, (unsigned long)key) {
		if (ns->key == key && !ns->dead)
			return ns;
	}
	return NULL;
}

static struct shmk_user *shmk_user_find(kuid_t uid)
{
	struct shmk_user *u;

	lockdep_assert_held(&shmk_registry_lock);
	hash_for_each_possible(shmk_user_hash, u, node, __kuid_val(uid)) {
		if (uid_eq(u->uid, uid))
			return u;
	}
	return NULL;
}

struct shmk_arena *shmk_arena_lookup(struct ipc_namespace *ipc_ns,
				     const char *name)
{
	struct shmk_arena *arena;
	struct shmk_ns *ns;

	lockdep_assert_held(&shmk_registry_lock);
	ns = shmk_ns_find(ipc_ns);
	if (!ns)
		return NULL;
	list_for_each_entry(arena, &ns->arenas, ns_node) {
		if (!strcmp(arena->name, name))
			return arena;
	}
	return NULL;
}

/* Would one more arena of @pages pages go over a limit? */
static bool shmk_over_limit(const struct shmk_ns *ns,
			    const struct shmk_user *u, unsigned long pages)
{
	unsigned int total = atomic_read(&shmk_stat_arenas);
	unsigned int reserve = min(shmk_reserved_arenas, shmk_max_arenas / 2);

	return total >= shmk_max_arenas - reserve ||
	       ns->nr_arenas >= shmk_max_arenas_per_ns ||
	       ns->nr_pages + pages > shmk_max_bytes_per_ns >> PAGE_SHIFT ||
	       u->nr_arenas >= shmk_max_arenas_per_user ||
	       u->nr_pages + pages > shmk_max_bytes_per_user >> PAGE_SHIFT;
}

/*
 * Charges the new, unlinked @arena (its creator's euid and sizes set) to
 * the caller's namespace and to its user, creating their records as
 * needed, and gives it its id. -ENOSPC over a limit, -ENOMEM.
 * On success shmk_registry_uncharge() undoes it when the arena is freed.
 */
int shmk_registry_charge(struct shmk_arena *arena,
			 struct ipc_namespace *ipc_ns)
{
	struct shmk_ns *ns, *new_ns = NULL;
	struct shmk_user *u, *new_u = NULL;
	unsigned long pages = arena->nr_pages;
	int err = -ENOMEM;

	/* Allocated before the lock: kzalloc may reclaim. */
	new_ns = kzalloc(sizeof(*new_ns), GFP_KERNEL_ACCOUNT);
	new_u = kzalloc(sizeof(*new_u), GFP_KERNEL_ACCOUNT);
	if (!new_ns || !new_u)
		goto out_free;

	mutex_lock(&shmk_registry_lock);
	ns = shmk_ns_find(ipc_ns);
	if (!ns) {
		ns = new_ns;
		new_ns = NULL;
		ns->key = mntget(shmk_ns_key(ipc_ns));
		ns->inum = ipc_ns->ns.inum;
		INIT_LIST_HEAD(&ns->arenas);
		hash_add(shmk_ns_hash, &ns->node, (unsigned long)ns->key);
	}
	u = shmk_user_find(arena->uid);
	if (!u) {
		u = new_u;
		new_u = NULL;
		u->uid = arena->uid;
		hash_add(shmk_user_hash, &u->node, __kuid_val(u->uid));
	}

	err = -ENOSPC;
	if (atomic_read(&shmk_stat_arenas) >= shmk_max_arenas)
		goto out_unlock;
	/* Only a caller over a limit is asked for (and audited for) it. */
	if (shmk_over_limit(ns, u, pages) && !capable(CAP_IPC_OWNER))
		goto out_unlock;

	ns->nr_arenas++;
	ns->nr_pages += pages;
	u->nr_arenas++;
	u->nr_pages += pages;
	arena->ns = ns;
	arena->acct = u;
	arena->id = shmk_next_arena_id++;
	if (!shmk_next_arena_id)
		shmk_next_arena_id = 1;
	atomic_inc(&shmk_stat_arenas);
	err = 0;
out_unlock:
	/* Records this call made but nothing is charged to: drop them. */
	if (!ns->nr_arenas) {
		hash_del(&ns->node);
		new_ns = ns;
	}
	if (!u->nr_arenas) {
		hash_del(&u->node);
		new_u = u;
	}
	mutex_unlock(&shmk_registry_lock);
	if (new_ns && new_ns->key)
		mntput(new_ns->key);
out_free:
	kfree(new_ns);
	kfree(new_u);
	return err;
}

/*
 * Undoes shmk_registry_charge() for an arena being freed. A namespace
 * record left with nothing charged is removed; its pinned mount is
 * returned in *@unpin, to be mntput() after the registry lock is dropped.
 */
void shmk_registry_uncharge(struct shmk_arena *arena, struct vfsmount **unpin)
{
	struct shmk_ns *ns = arena->ns;
	struct shmk_user *u = arena->acct;

	lockdep_assert_held(&shmk_registry_lock);
	*unpin = NULL;
	if (!ns)
		return;
	WARN_ON_ONCE(arena->linked);
	list_del_init(&arena->node);
	atomic_dec(&shmk_stat_arenas);
	ns->nr_arenas--;
	ns->nr_pages -= arena->nr_pages;
	u->nr_arenas--;
	u->nr_pages -= arena->nr_pages;
	if (!ns->nr_arenas) {
		hash_del(&ns->node);
		*unpin = ns->key;
		kfree(ns);
	}
	if (!u->nr_arenas) {
		hash_del(&u->node);
		kfree(u);
	}
	arena->ns = NULL;
	arena->acct = NULL;
}

/*
 * Makes a charged, filled arena reachable by its name in its namespace,
 * and lists it (debugfs) until it is freed.
 */
void shmk_arena_link(struct shmk_arena *arena)
{
	lockdep_assert_held(&shmk_registry_lock);
	WARN_ON_ONCE(arena->linked);
	arena->linked = true;
	list_add_tail(&arena->ns_node, &arena->ns->arenas);
	list_add_tail(&arena->node, &shmk_arena_list);
	if (arena->persistent && arena->ns->inum != PROC_IPC_INIT_INO)
		mod_delayed_work(system_wq, &shmk_gc_work, SHMK_GC_INTERVAL);
}

/*
 * Makes @arena unreachable by name. The registry's reference now belongs to
 * the caller, who must shmk_arena_put() it after dropping the registry lock.
 */
void shmk_arena_unlink(struct shmk_arena *arena)
{
	lockdep_assert_held(&shmk_registry_lock);
	WARN_ON_ONCE(!arena->linked);
	arena->linked = false;
	list_del_init(&arena->ns_node);
}

/*
 * Unlinks a non-persistent arena whose last live member just ended,
 * unless a new member joined it meanwhile. The caller holds a reference.
 */
void shmk_arena_unlink_unused(struct shmk_arena *arena)
{
	bool drop = false;

	mutex_lock(&shmk_registry_lock);
	mutex_lock(&arena->lock);
	if (!arena->members_live && arena->linked) {
		shmk_arena_unlink(arena);
		drop = true;
	}
	mutex_unlock(&arena->lock);
	mutex_unlock(&shmk_registry_lock);
	if (drop)
		shmk_arena_put(arena);
}

/* Has the namespace of @ns died? See the overview. */
static bool shmk_ns_gone(const struct shmk_ns *ns)
{
	return !READ_ONCE(ns->key->mnt_sb->s_fs_info);
}

/*
 * Unlinks the arenas of namespaces that died; the registry's references
 * go after the lock, with the pages of arenas nobody uses any more.
 * Re-arms itself while a live namespace other than the initial one has
 * persistent arenas.
 */
void shmk_registry_gc(void)
{
	struct shmk_arena *arena, *tmp;
	bool rearm = false;
	struct shmk_ns *ns;
	LIST_HEAD(drop);
	int bkt;

	mutex_lock(&shmk_registry_lock);
	hash_for_each(shmk_ns_hash, bkt, ns, node) {
		if (!ns->dead && shmk_ns_gone(ns))
			ns->dead = true;
		if (!ns->dead) {
			if (ns->inum == PROC_IPC_INIT_INO)
				continue;
			list_for_each_entry(arena, &ns->arenas, ns_node)
				rearm |= arena->persistent;
			continue;
		}
		list_for_each_entry_safe(arena, tmp, &ns->arenas, ns_node) {
			shmk_arena_unlink(arena);
			list_add_tail(&arena->ns_node, &drop);
		}
	}
	if (rearm)
		mod_delayed_work(system_wq, &shmk_gc_work, SHMK_GC_INTERVAL);
	mutex_unlock(&shmk_registry_lock);

	list_for_each_entry_safe(arena, tmp, &drop, ns_node) {
		list_del_init(&arena->ns_node);
		shmk_arena_put(arena);
	}
}

static void shmk_gc_fn(struct work_struct *work)
{
	shmk_registry_gc();
}

/* Module unload: after the last arena is gone. */
void shmk_registry_exit(void)
{
	cancel_delayed_work_sync(&shmk_gc_work);
	WARN_ON(!hash_empty(shmk_ns_hash));
	WARN_ON(!hash_empty(shmk_user_hash));
}

/* debugfs "users": <uid> <arenas> <bytes>, uid in the initial namespace. */
void shmk_show_users(struct seq_file *s)
{
	struct shmk_user *u;
	int bkt;

	mutex_lock(&shmk_registry_lock);
	hash_for_each(shmk_user_hash, bkt, u, node)
		seq_printf(s, "%u %u %lu\n", from_kuid(&init_user_ns, u->uid),
			   u->nr_arenas, u->nr_pages << PAGE_SHIFT);
	mutex_unlock(&shmk_registry_lock);
}

/* debugfs "namespaces": <ipc ns inode> <arenas> <bytes> <live|dead>. */
void shmk_show_namespaces(struct seq_file *s)
{
	struct shmk_ns *ns;
	int bkt;

	mutex_lock(&shmk_registry_lock);
	hash_for_each(shmk_ns_hash, bkt, ns, node)
		seq_printf(s, "%u %u %lu %s\n", ns->inum, ns->nr_arenas,
			   ns->nr_pages << PAGE_SHIFT,
			   ns->dead ? "dead" : "live");
	mutex_unlock(&shmk_registry_lock);
}
