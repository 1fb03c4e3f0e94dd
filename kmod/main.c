// SPDX-License-Identifier: GPL-2.0
/*
 * shmk: kernel-assisted shared-memory arenas (/dev/shmk).
 *
 * This file: module parameters, the misc device and its file operations,
 * and the ioctl handlers (argument validation, one errno per mistake).
 * The ABI is uapi/linux/shmk.h; the locking rules are in shmk.h.
 *
 * A membership belongs to the process that attached (its thread group).
 * It ends exactly once, the first of:
 *  - SHMK_IOC_DETACH: SHMK_END_DETACH, clean;
 *  - the owner's death: SHMK_END_EXIT with the exit code, or
 *    SHMK_END_SIGNAL with the signal number, as wait() reports them (the
 *    group's status, whichever thread goes last). It is seen either in
 *    ->flush() as the owner's last thread closes its files, or, when the
 *    file outlives that (a clone(CLONE_FILES) sibling shares the fd table,
 *    a kernel thread holds the last reference), by a watch on the owner's
 *    thread group exit (member.c), as a pidfd would. A forked child or a
 *    sibling holding the file never delays or hides the death;
 *  - ->flush() in the owner when it closes its last descriptor of the file
 *    while another process still holds one, or ->release() of the file
 *    while the owner lives: SHMK_END_CLOSE.
 * Only the owner may use the membership; other processes holding the file
 * get -EPERM (VERSION and REMOVE excepted).
 */
#include <linux/bits.h>
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/ipc_namespace.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/nsproxy.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "shmk.h"

#define CREATE_TRACE_POINTS
#include "shmk_trace.h"

unsigned long shmk_max_arena_size = 256UL << 20;
module_param_named(max_arena_size, shmk_max_arena_size, ulong, 0444);
MODULE_PARM_DESC(max_arena_size,
		 "Largest user region of an arena, bytes (default 256 MiB)");

unsigned int shmk_max_arenas = 64;
module_param_named(max_arenas, shmk_max_arenas, uint, 0444);
MODULE_PARM_DESC(max_arenas, "Most arenas at a time, all users and namespaces (default 64)");

unsigned int shmk_reserved_arenas = 8;
module_param_named(reserved_arenas, shmk_reserved_arenas, uint, 0444);
MODULE_PARM_DESC(reserved_arenas,
		 "Of max_arenas, how many only CAP_IPC_OWNER may create (default 8, at most half)");

unsigned int shmk_max_arenas_per_ns = 32;
module_param_named(max_arenas_per_ns, shmk_max_arenas_per_ns, uint, 0444);
MODULE_PARM_DESC(max_arenas_per_ns,
		 "Most arenas in one IPC namespace (default 32)");

unsigned long shmk_max_bytes_per_ns = 2048UL << 20;
module_param_named(max_bytes_per_ns, shmk_max_bytes_per_ns, ulong, 0444);
MODULE_PARM_DESC(max_bytes_per_ns,
		 "Most arena bytes in one IPC namespace (default 2 GiB)");

unsigned int shmk_max_arenas_per_user = 16;
module_param_named(max_arenas_per_user, shmk_max_arenas_per_user, uint, 0444);
MODULE_PARM_DESC(max_arenas_per_user,
		 "Most arenas one user may have created (default 16)");

unsigned long shmk_max_bytes_per_user = 1024UL << 20;
module_param_named(max_bytes_per_user, shmk_max_bytes_per_user, ulong, 0444);
MODULE_PARM_DESC(max_bytes_per_user,
		 "Most arena bytes one user may have created (default 1 GiB)");

unsigned int shmk_max_members = 64;
module_param_named(max_members, shmk_max_members, uint, 0444);
MODULE_PARM_DESC(max_members,
		 "Member slots of each new arena (default 64, at most 1024)");

unsigned int shmk_event_queue_len = 128;
module_param_named(event_queue_len, shmk_event_queue_len, uint, 0444);
MODULE_PARM_DESC(event_queue_len,
		 "Events a member can hold before overflow (default 128)");

atomic_t shmk_stat_arenas = ATOMIC_INIT(0);
atomic_t shmk_stat_members = ATOMIC_INIT(0);
atomic_long_t shmk_stat_pages = ATOMIC_LONG_INIT(0);
atomic_t shmk_stat_waiters = ATOMIC_INIT(0);

struct workqueue_struct *shmk_wq;

#define SHMK_FEATURES	(SHMK_FEATURE_WAIT_ABSTIME | SHMK_FEATURE_ROBUST | \
			 SHMK_FEATURE_PERSISTENT | SHMK_FEATURE_RDONLY | \
			 SHMK_FEATURE_EVENTS | SHMK_FEATURE_FDINFO | \
			 SHMK_FEATURE_MAX_MEMBERS)

#define SHMK_IOCTLS	(BIT_ULL(_IOC_NR(SHMK_IOC_VERSION)) | \
			 BIT_ULL(_IOC_NR(SHMK_IOC_ATTACH)) | \
			 BIT_ULL(_IOC_NR(SHMK_IOC_DETACH)) | \
			 BIT_ULL(_IOC_NR(SHMK_IOC_WAIT)) | \
			 BIT_ULL(_IOC_NR(SHMK_IOC_WAKE)) | \
			 BIT_ULL(_IOC_NR(SHMK_IOC_SET_ROBUST)) | \
			 BIT_ULL(_IOC_NR(SHMK_IOC_REMOVE)))

/* ASCII only: the kernel's isalnum() also takes Latin-1 letters. */
static bool shmk_name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr(SHMK_NAME_PUNCT, c));
}

/* The name alphabet of uapi/linux/shmk.h: 1..63 bytes, NUL-terminated. */
static bool shmk_name_ok(const char *name)
{
	size_t i, len = strnlen(name, SHMK_NAME_MAX);

	if (len == 0 || len == SHMK_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		if (!shmk_name_char_ok(name[i]))
			return false;
	}
	return true;
}

/*
 * The calling process's live membership on this file: -ENOTCONN if the
 * file has none (never attached, or ended), -EPERM if it belongs to
 * another process.
 */
static int shmk_own_member(struct shmk_file *sf, struct shmk_member **mp)
{
	struct shmk_member *m = shmk_file_member(sf);

	if (!m)
		return -ENOTCONN;
	if (!shmk_is_owner(m))
		return -EPERM;
	if (READ_ONCE(m->state) != SHMK_MS_LIVE)
		return -ENOTCONN;
	*mp = m;
	return 0;
}

/* SysV IPC style permission check of the current task on @arena. */
static bool shmk_may_attach(const struct shmk_arena *arena,
			    struct ipc_namespace *ipc_ns, bool write)
{
	unsigned int granted = arena->mode;
	unsigned int need = 4 | (write ? 2 : 0);

	if (uid_eq(current_euid(), arena->uid))
		granted >>= 6;
	else if (in_group_p(arena->gid))
		granted >>= 3;
	if ((granted & need) == need)
		return true;
	return ns_capable(ipc_ns->user_ns, CAP_IPC_OWNER);
}

static long shmk_ioc_version(void __user *argp)
{
	struct shmk_version v;
	int i;

	if (copy_from_user(&v, argp, sizeof(v)))
		return -EFAULT;
	if (v.flags || !v.abi_version)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(v.reserved); i++)
		if (v.reserved[i])
			return -EINVAL;

	v.kernel_abi_version = SHMK_ABI_VERSION;
	v.member_max = shmk_max_members;
	v.features = SHMK_FEATURES;
	v.ioctls = SHMK_IOCTLS;
	v.arena_size_max = shmk_max_arena_size;
	v.arenas_max = shmk_max_arenas;
	v.event_queue_len = shmk_event_queue_len;
	memset(v.reserved, 0, sizeof(v.reserved));
	if (copy_to_user(argp, &v, sizeof(v)))
		return -EFAULT;
	return 0;
}

/*
 * The result of an ATTACH could not be written back (another thread took
 * the page away after the probe): undo it, so that the failed call leaves
 * no membership and, if it made the arena, no arena. Others saw a member
 * come and go (DETACH events), nothing more.
 */
static void shmk_attach_undo(struct shmk_member *m, bool created)
{
	struct shmk_arena *arena = m->arena;
	bool drop = false;

	shmk_member_end(m, SHMK_END_DETACH, 0);
	if (!created || !arena->persistent)
		return;
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

static long shmk_ioc_attach(struct shmk_file *sf, void __user *argp)
{
	struct ipc_namespace *ipc_ns = current->nsproxy->ipc_ns;
	struct shmk_arena *arena, *fresh = NULL, *unlinked = NULL;
	struct shmk_member *m;
	struct shmk_attach at;
	bool created = false;
	long ret;

	if (copy_from_user(&at, argp, sizeof(at)))
		return -EFAULT;
	if (at.flags & ~SHMK_ATTACH_FLAGS_ALL)
		return -EINVAL;
	if ((at.flags & (SHMK_ATTACH_EXCL | SHMK_ATTACH_PERSISTENT)) &&
	    !(at.flags & SHMK_ATTACH_CREATE))
		return -EINVAL;
	if (at.mode & ~0777U)
		return -EINVAL;
	if (at.pad || at.reserved || at.max_members > shmk_max_members)
		return -EINVAL;
	if (!shmk_name_ok(at.name))
		return -EINVAL;
	/* An argument that cannot take the result fails before any effect. */
	if (copy_to_user(argp, &at, sizeof(at)))
		return -EFAULT;

	m = shmk_member_alloc();
	if (!m)
		return -ENOMEM;

	mutex_lock(&sf->lock);
	if (sf->member) {
		ret = shmk_is_owner(sf->member) ? -EBUSY : -EPERM;
		goto out_file;
	}

	shmk_registry_gc();
	mutex_lock(&shmk_registry_lock);
	for (;;) {
		arena = shmk_arena_lookup(ipc_ns, at.name);
		if (arena || fresh)
			break;
		if (!(at.flags & SHMK_ATTACH_CREATE)) {
			ret = -ENOENT;
			goto out_registry;
		}
		/* Pages are allocated unlocked; then look again. */
		mutex_unlock(&shmk_registry_lock);
		fresh = shmk_arena_create(ipc_ns, at.name, at.size, at.mode,
					  at.max_members,
					  at.flags & SHMK_ATTACH_PERSISTENT);
		if (IS_ERR(fresh)) {
			ret = PTR_ERR(fresh);
			fresh = NULL;
			goto out_file;
		}
		mutex_lock(&shmk_registry_lock);
	}

	if (arena) {
		/* Existed, or a racing creator linked it while we built ours. */
		if ((at.flags & SHMK_ATTACH_CREATE) &&
		    (at.flags & SHMK_ATTACH_EXCL)) {
			ret = -EEXIST;
			goto out_registry;
		}
		if (!shmk_may_attach(arena, ipc_ns,
				     !(at.flags & SHMK_ATTACH_RDONLY))) {
			ret = -EACCES;
			goto out_registry;
		}
	} else {
		/* The registry takes our reference. */
		shmk_arena_link(fresh);
		arena = fresh;
		fresh = NULL;
		created = true;
	}

	ret = shmk_member_attach(m, arena, at.flags);
	if (ret) {
		if (created) {
			shmk_arena_unlink(arena);
			unlinked = arena;
		}
		goto out_registry;
	}
	mutex_unlock(&shmk_registry_lock);
	if (fresh)
		shmk_arena_put(fresh);

	at.member_id = m->id;
	at.generation = m->generation;
	at.out_flags = created ? SHMK_ATTACHED_CREATED : 0;
	at.arena_id = arena->id;
	at.ctrl_offset = 0;
	at.ctrl_size = arena->ctrl_size;
	at.user_offset = arena->ctrl_size;
	at.user_size = arena->user_size;
	at.max_members = arena->member_max;
	at.pad = 0;
	at.reserved = 0;
	if (copy_to_user(argp, &at, sizeof(at))) {
		shmk_attach_undo(m, created);
		mutex_unlock(&sf->lock);
		shmk_member_release(m);
		return -EFAULT;
	}

	/* Publish @m set up; pairs with shmk_file_member(). */
	smp_store_release(&sf->member, m);
	mutex_unlock(&sf->lock);
	trace_shmk_attach(arena->id, arena->name, m->id, m->generation,
			  current->tgid, created);
	return 0;

out_registry:
	mutex_unlock(&shmk_registry_lock);
out_file:
	mutex_unlock(&sf->lock);
	if (unlinked)
		shmk_arena_put(unlinked);
	if (fresh)
		shmk_arena_put(fresh);
	shmk_member_release(m);
	return ret;
}

static long shmk_ioc_detach(struct shmk_file *sf, unsigned long arg)
{
	struct shmk_member *m;
	int ret;

	if (arg)
		return -EINVAL;
	ret = shmk_own_member(sf, &m);
	if (ret)
		return ret;
	shmk_member_end(m, SHMK_END_DETACH, 0);
	return 0;
}

static long shmk_ioc_wait(struct shmk_file *sf, void __user *argp)
{
	struct shmk_member *m;
	struct shmk_wait w;
	int ret;

	if (copy_from_user(&w, argp, sizeof(w)))
		return -EFAULT;
	if (w.flags & ~SHMK_WAIT_FLAGS_ALL)
		return -EINVAL;
	if (w.reserved[0] || w.reserved[1])
		return -EINVAL;
	if (w.offset & 3)
		return -EINVAL;
	ret = shmk_own_member(sf, &m);
	if (ret)
		return ret;
	if (!shmk_word_ok(m->arena, w.offset))
		return -EINVAL;
	return shmk_wait(m, &w);
}

static long shmk_ioc_wake(struct shmk_file *sf, void __user *argp)
{
	struct shmk_member *m;
	struct shmk_wake k;
	u32 woken;
	int ret;

	if (copy_from_user(&k, argp, sizeof(k)))
		return -EFAULT;
	if (!k.count || k.flags || k.reserved)
		return -EINVAL;
	if (k.offset & 3)
		return -EINVAL;
	ret = shmk_own_member(sf, &m);
	if (ret)
		return ret;
	if (!shmk_word_ok(m->arena, k.offset))
		return -EINVAL;
	woken = shmk_wake(m->arena, k.offset, k.count);
	trace_shmk_wake(m->arena->id, k.offset, k.count, woken);
	return min_t(u32, woken, INT_MAX);
}

static long shmk_ioc_set_robust(struct shmk_file *sf, void __user *argp)
{
	struct shmk_robust r;
	struct shmk_member *m;
	struct shmk_arena *arena;
	int ret;

	if (copy_from_user(&r, argp, sizeof(r)))
		return -EFAULT;
	if (r.flags || r.pad || r.reserved)
		return -EINVAL;
	if (r.head_offset != SHMK_ROBUST_NONE && (r.head_offset & 7))
		return -EINVAL;
	ret = shmk_own_member(sf, &m);
	if (ret)
		return ret;
	arena = m->arena;
	if (r.head_offset != SHMK_ROBUST_NONE &&
	    (r.head_offset >= arena->user_size ||
	     arena->user_size - r.head_offset <
	     sizeof(struct shmk_robust_head)))
		return -EINVAL;
	if (m->flags & SHMK_MEMBER_F_RDONLY)
		return -EPERM;

	mutex_lock(&arena->lock);
	if (m->state == SHMK_MS_LIVE)
		m->robust_head = r.head_offset;
	else
		ret = -ENOTCONN;
	mutex_unlock(&arena->lock);
	return ret;
}

static long shmk_ioc_remove(void __user *argp)
{
	struct ipc_namespace *ipc_ns = current->nsproxy->ipc_ns;
	struct shmk_arena *arena;
	struct shmk_remove rm;
	long ret = 0;

	if (copy_from_user(&rm, argp, sizeof(rm)))
		return -EFAULT;
	if (rm.flags || rm.pad || rm.reserved)
		return -EINVAL;
	if (!shmk_name_ok(rm.name))
		return -EINVAL;

	shmk_registry_gc();
	mutex_lock(&shmk_registry_lock);
	arena = shmk_arena_lookup(ipc_ns, rm.name);
	if (!arena) {
		ret = -ENOENT;
		goto out;
	}
	if (!arena->persistent) {
		ret = -EINVAL;
		goto out;
	}
	if (!uid_eq(current_euid(), arena->uid) &&
	    !ns_capable(ipc_ns->user_ns, CAP_SYS_ADMIN)) {
		ret = -EPERM;
		goto out;
	}

	mutex_lock(&arena->lock);
	shmk_ctrl_write_begin(arena);
	arena->ctrl->flags |= SHMK_ARENA_F_REMOVED;
	shmk_ctrl_write_end(arena);
	mutex_unlock(&arena->lock);
	shmk_arena_unlink(arena);
	mutex_unlock(&shmk_registry_lock);
	/* The registry's reference: the arena goes with its last user. */
	shmk_arena_put(arena);
	return 0;
out:
	mutex_unlock(&shmk_registry_lock);
	return ret;
}

static long shmk_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct shmk_file *sf = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case SHMK_IOC_VERSION:
		return shmk_ioc_version(argp);
	case SHMK_IOC_ATTACH:
		return shmk_ioc_attach(sf, argp);
	case SHMK_IOC_DETACH:
		return shmk_ioc_detach(sf, arg);
	case SHMK_IOC_WAIT:
		return shmk_ioc_wait(sf, argp);
	case SHMK_IOC_WAKE:
		return shmk_ioc_wake(sf, argp);
	case SHMK_IOC_SET_ROBUST:
		return shmk_ioc_set_robust(sf, argp);
	case SHMK_IOC_REMOVE:
		return shmk_ioc_remove(argp);
	default:
		return -ENOTTY;
	}
}

static int shmk_open(struct inode *inode, struct file *file)
{
	struct shmk_file *sf;

	sf = kzalloc(sizeof(*sf), GFP_KERNEL_ACCOUNT);
	if (!sf)
		return -ENOMEM;
	mutex_init(&sf->lock);
	file->private_data = sf;
	return nonseekable_open(inode, file);
}

/* Called on every close of a descriptor of the file, exit's included. */
static int shmk_flush(struct file *file, fl_owner_t id)
{
	struct shmk_file *sf = file->private_data;
	struct shmk_member *m = shmk_file_member(sf);

	if (m)
		shmk_member_flush(m, file);
	return 0;
}

static int shmk_release(struct inode *inode, struct file *file)
{
	struct shmk_file *sf = file->private_data;

	if (sf->member)
		shmk_member_release(sf->member);
	kfree(sf);
	return 0;
}

static ssize_t shmk_read(struct file *file, char __user *buf, size_t count,
			 loff_t *ppos)
{
	struct shmk_file *sf = file->private_data;
	struct shmk_member *m = shmk_file_member(sf);

	if (!m)
		return -ENOTCONN;
	if (!shmk_is_owner(m))
		return -EPERM;
	return shmk_events_read(m, buf, count, file->f_flags & O_NONBLOCK);
}

static __poll_t shmk_poll(struct file *file, struct poll_table_struct *pt)
{
	struct shmk_file *sf = file->private_data;
	struct shmk_member *m = shmk_file_member(sf);
	__poll_t mask = 0;

	if (!m || !shmk_is_owner(m))
		return EPOLLERR;
	poll_wait(file, &m->ev_wq, pt);
	if (shmk_events_pending(m))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (READ_ONCE(m->state) != SHMK_MS_LIVE)
		mask |= EPOLLIN | EPOLLRDNORM | EPOLLHUP;
	return mask;
}

static const struct file_operations shmk_fops = {
	.owner = THIS_MODULE,
	.open = shmk_open,
	.flush = shmk_flush,
	.release = shmk_release,
	.read = shmk_read,
	.poll = shmk_poll,
	.unlocked_ioctl = shmk_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = shmk_mmap,
	.llseek = no_llseek,
	.show_fdinfo = shmk_show_fdinfo,
};

/*
 * Fixed minor from the "reserved for local use" range (243-254) of
 * Documentation/admin-guide/devices.txt: /dev/shmk can exist before the
 * module is loaded, and opening it loads the module (aliases below).
 */
#define SHMK_MINOR	249

static struct miscdevice shmk_misc = {
	.minor = SHMK_MINOR,
	.name = "shmk",
	.fops = &shmk_fops,
	.mode = 0666,
};

static void shmk_check_abi(void)
{
	BUILD_BUG_ON(sizeof(struct shmk_version) != 80);
	BUILD_BUG_ON(sizeof(struct shmk_attach) != 144);
	BUILD_BUG_ON(sizeof(struct shmk_wait) != 40);
	BUILD_BUG_ON(sizeof(struct shmk_wake) != 24);
	BUILD_BUG_ON(sizeof(struct shmk_robust_head) != 24);
	BUILD_BUG_ON(sizeof(struct shmk_robust) != 24);
	BUILD_BUG_ON(sizeof(struct shmk_remove) != 80);
	BUILD_BUG_ON(sizeof(struct shmk_event) != 56);
	BUILD_BUG_ON(sizeof(struct shmk_ctrl_member) != 48);
	BUILD_BUG_ON(sizeof(struct shmk_ctrl) != 208);
	BUILD_BUG_ON(sizeof(struct shmk_ctrl) > SHMK_CTRL_MEMBERS_OFFSET);
	BUILD_BUG_ON(SHMK_MEMBERS_CAP > SHMK_LOCK_OWNER_MASK);
}

static int shmk_check_params(void)
{
	shmk_max_arena_size &= PAGE_MASK;
	if (!shmk_max_arena_size) {
		pr_err("shmk: max_arena_size must be at least one page\n");
		return -EINVAL;
	}
	if (!shmk_max_arenas) {
		pr_err("shmk: max_arenas must be at least 1\n");
		return -EINVAL;
	}
	if (!shmk_max_arenas_per_ns || !shmk_max_arenas_per_user) {
		pr_err("shmk: max_arenas_per_ns and max_arenas_per_user must be at least 1\n");
		return -EINVAL;
	}
	if (shmk_max_bytes_per_ns < PAGE_SIZE ||
	    shmk_max_bytes_per_user < PAGE_SIZE) {
		pr_err("shmk: max_bytes_per_ns and max_bytes_per_user must be at least one page\n");
		return -EINVAL;
	}
	if (!shmk_max_members || shmk_max_members > SHMK_MEMBERS_CAP) {
		pr_err("shmk: max_members must be 1..%u\n", SHMK_MEMBERS_CAP);
		return -EINVAL;
	}
	if (!shmk_event_queue_len ||
	    shmk_event_queue_len > SHMK_EVENT_QUEUE_CAP) {
		pr_err("shmk: event_queue_len must be 1..%u\n",
		       SHMK_EVENT_QUEUE_CAP);
		return -EINVAL;
	}
	return 0;
}

static int __init shmk_init(void)
{
	int ret;

	shmk_check_abi();
	ret = shmk_check_params();
	if (ret)
		return ret;
	shmk_wait_init();
	shmk_wq = alloc_workqueue("shmk", WQ_UNBOUND, 0);
	if (!shmk_wq)
		return -ENOMEM;
	ret = misc_register(&shmk_misc);
	if (ret) {
		destroy_workqueue(shmk_wq);
		return ret;
	}
	shmk_debugfs_init();
	return 0;
}

static void __exit shmk_exit(void)
{
	misc_deregister(&shmk_misc);
	shmk_debugfs_exit();
	/* The last exit work may still be returning from module_put(). */
	destroy_workqueue(shmk_wq);
	shmk_arenas_destroy_all();
	shmk_registry_exit();
	shmk_wait_exit();
}

module_init(shmk_init);
module_exit(shmk_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Kernel-assisted shared-memory arenas");
MODULE_VERSION(SHMK_VERSION);	/* the top-level VERSION file, via ../Kbuild */
MODULE_ALIAS_MISCDEV(SHMK_MINOR);
MODULE_ALIAS("devname:shmk");
