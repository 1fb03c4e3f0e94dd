// SPDX-License-Identifier: GPL-2.0
/*
 * shmk arenas: the registry, creation and freeing, the control region and
 * the mmap of both regions.
 *
 * The pages of an arena are allocated one by one, zeroed and charged to the
 * memory cgroup of the creating task. They are mapped twice in the kernel
 * (vmap: control region, user region) so that WAIT and the robust list walk
 * can read the arena without touching user memory, and into members'
 * processes by a fault handler. mmap offsets: the control region at 0, the
 * user region right after it (at ctrl_size).
 *
 * Arena lifetime: the registry holds a reference while the name is linked;
 * each membership and each VMA holds one. A non-persistent arena is unlinked
 * when its last live member ends, a persistent one by SHMK_IOC_REMOVE (or at
 * module unload). The pages go with the last reference.
 *
 * Limitation: arenas are keyed by the inode number of the creator's IPC
 * namespace, but the module cannot pin that namespace (put_ipc_ns() is not
 * exported). If the namespace dies while a persistent arena is linked and
 * its inode number is later reused by a new IPC namespace, the arena becomes
 * visible there. Remove persistent arenas before their namespace goes away.
 */
#include <linux/err.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/pid_namespace.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/user_namespace.h>
#include <linux/vmalloc.h>
#include <linux/cred.h>

#include "shmk.h"
#include "compat.h"

/* Protects shmk_arena_list, arena->linked, shmk_next_arena_id. */
DEFINE_MUTEX(shmk_registry_lock);
LIST_HEAD(shmk_arena_list);	/* (protected by shmk_registry_lock) */
static u32 shmk_next_arena_id = 1; /* (protected by shmk_registry_lock) */

#define SHMK_GFP	(GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN | \
			 __GFP_RETRY_MAYFAIL)

struct shmk_arena *shmk_arena_lookup(unsigned int ns_inum, const char *name)
{
	struct shmk_arena *arena;

	lockdep_assert_held(&shmk_registry_lock);
	list_for_each_entry(arena, &shmk_arena_list, node) {
		if (arena->linked && arena->ns_inum == ns_inum &&
		    !strcmp(arena->name, name))
			return arena;
	}
	return NULL;
}

static void shmk_arena_free_pages(struct shmk_arena *arena, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		__free_page(arena->pages[i]);
	atomic_long_sub(n, &shmk_stat_pages);
	kvfree(arena->pages);
}

static void shmk_arena_free(struct shmk_arena *arena)
{
	if (arena->user)
		vunmap(arena->user);
	if (arena->ctrl)
		vunmap(arena->ctrl);
	shmk_arena_free_pages(arena, arena->nr_pages);
	put_user_ns(arena->user_ns);
	put_pid_ns(arena->pid_ns);
	kfree(arena->slots);
	kfree(arena);
}

static void shmk_ctrl_init(struct shmk_arena *arena)
{
	struct shmk_ctrl *c = arena->ctrl;

	c->magic = SHMK_CTRL_MAGIC;
	c->abi_version = SHMK_ABI_VERSION;
	c->epoch = 0;
	c->ctrl_size = arena->ctrl_size;
	c->user_size = arena->user_size;
	c->members_offset = SHMK_CTRL_MEMBERS_OFFSET;
	c->member_stride = SHMK_CTRL_MEMBER_STRIDE;
	c->member_max = arena->member_max;
	c->members_live = 0;
	c->arena_id = arena->id;
	c->flags = arena->persistent ? SHMK_ARENA_F_PERSISTENT : 0;
	c->uid = from_kuid_munged(arena->user_ns, arena->uid);
	c->gid = from_kgid_munged(arena->user_ns, arena->gid);
	c->mode = arena->mode;
	c->created_ns = arena->created_ns;
	strscpy(c->name, arena->name, sizeof(c->name));
}

/*
 * Creates an arena owned by the current task's credentials and links it
 * under @name. Called with shmk_registry_lock held after the caller checked
 * that the name is free. The returned arena holds one reference, the
 * registry's.
 */
struct shmk_arena *shmk_arena_create(unsigned int ns_inum, const char *name,
				     u64 size, umode_t mode, u32 member_max,
				     bool persistent)
{
	struct shmk_arena *arena;
	unsigned long nr_user, i;
	size_t ctrl_bytes;
	int err = -ENOMEM;

	lockdep_assert_held(&shmk_registry_lock);

	if (size == 0)
		return ERR_PTR(-EINVAL);
	if (size > shmk_max_arena_size)
		return ERR_PTR(-EFBIG);
	if (atomic_read(&shmk_stat_arenas) >= shmk_max_arenas)
		return ERR_PTR(-ENOSPC);

	arena = kzalloc(sizeof(*arena), GFP_KERNEL_ACCOUNT);
	if (!arena)
		return ERR_PTR(-ENOMEM);

	kref_init(&arena->ref);
	INIT_LIST_HEAD(&arena->node);
	mutex_init(&arena->lock);
	strscpy(arena->name, name, sizeof(arena->name));
	arena->ns_inum = ns_inum;
	arena->uid = current_euid();
	arena->gid = current_egid();
	arena->mode = mode;
	arena->persistent = persistent;
	/* the caller checked member_max <= shmk_max_members */
	arena->member_max = member_max ? member_max : shmk_max_members;
	arena->created_ns = ktime_get_ns();

	/* Sized by user input and limited by the memcg: fail quietly. */
	arena->slots = kcalloc(arena->member_max, sizeof(*arena->slots),
			       GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!arena->slots)
		goto err_free;

	ctrl_bytes = SHMK_CTRL_MEMBERS_OFFSET +
		     (size_t)arena->member_max * SHMK_CTRL_MEMBER_STRIDE;
	arena->ctrl_size = PAGE_ALIGN(ctrl_bytes);
	arena->user_size = PAGE_ALIGN(size);
	arena->nr_ctrl_pages = arena->ctrl_size >> PAGE_SHIFT;
	nr_user = arena->user_size >> PAGE_SHIFT;
	arena->nr_pages = arena->nr_ctrl_pages + nr_user;

	arena->pages = kvcalloc(arena->nr_pages, sizeof(*arena->pages),
				GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!arena->pages)
		goto err_free;

	for (i = 0; i < arena->nr_pages; i++) {
		arena->pages[i] = alloc_page(SHMK_GFP);
		if (!arena->pages[i]) {
			err = -ENOMEM;
			goto err_pages;
		}
		atomic_long_inc(&shmk_stat_pages);
		if (fatal_signal_pending(current)) {
			i++;
			err = -EINTR;
			goto err_pages;
		}
		cond_resched();
	}

	arena->ctrl = vmap(arena->pages, arena->nr_ctrl_pages, VM_MAP,
			   PAGE_KERNEL);
	if (!arena->ctrl)
		goto err_map;
	arena->user = vmap(arena->pages + arena->nr_ctrl_pages, nr_user,
			   VM_MAP, PAGE_KERNEL);
	if (!arena->user)
		goto err_map;

	arena->user_ns = get_user_ns(current_user_ns());
	arena->pid_ns = get_pid_ns(task_active_pid_ns(current));
	arena->id = shmk_next_arena_id++;
	if (!shmk_next_arena_id)
		shmk_next_arena_id = 1;
	shmk_ctrl_init(arena);

	atomic_inc(&shmk_stat_arenas);
	arena->linked = true;
	list_add_tail(&arena->node, &shmk_arena_list);
	return arena;

err_map:
	if (arena->ctrl)
		vunmap(arena->ctrl);
	i = arena->nr_pages;
err_pages:
	shmk_arena_free_pages(arena, i);
err_free:
	kfree(arena->slots);
	kfree(arena);
	return ERR_PTR(err);
}

void shmk_arena_get(struct shmk_arena *arena)
{
	kref_get(&arena->ref);
}

/*
 * Runs with shmk_registry_lock held (taken by kref_put_mutex() as the count
 * hit zero) and drops it before freeing.
 */
static void shmk_arena_release(struct kref *ref)
{
	struct shmk_arena *arena = container_of(ref, struct shmk_arena, ref);

	WARN_ON_ONCE(arena->linked);
	list_del(&arena->node);
	atomic_dec(&shmk_stat_arenas);
	mutex_unlock(&shmk_registry_lock);
	shmk_arena_free(arena);
}

/* Must not be called with shmk_registry_lock held. */
void shmk_arena_put(struct shmk_arena *arena)
{
	kref_put_mutex(&arena->ref, shmk_arena_release, &shmk_registry_lock);
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
}

/*
 * Control region updates are a seqcount for the readers in userspace: the
 * epoch is odd while the member table changes, and each change advances it
 * by two. Called with the arena lock held.
 */
void shmk_ctrl_write_begin(struct shmk_arena *arena)
{
	lockdep_assert_held(&arena->lock);
	WRITE_ONCE(arena->ctrl->epoch, arena->ctrl->epoch + 1);
	smp_wmb();	/* epoch odd before any table change */
}

void shmk_ctrl_write_end(struct shmk_arena *arena)
{
	lockdep_assert_held(&arena->lock);
	smp_wmb();	/* table changes before epoch even */
	WRITE_ONCE(arena->ctrl->epoch, arena->ctrl->epoch + 1);
}

/* Member slot @id (1-based) in the control region. */
struct shmk_ctrl_member *shmk_ctrl_slot(struct shmk_arena *arena, u32 id)
{
	return (void *)arena->ctrl + SHMK_CTRL_MEMBERS_OFFSET +
	       (size_t)(id - 1) * SHMK_CTRL_MEMBER_STRIDE;
}

/*
 * Called by shmk_exit() after every file is gone: what is left are
 * persistent arenas still linked. Their pages go with the last reference.
 */
static struct shmk_arena *shmk_first_linked(void)
{
	struct shmk_arena *arena;

	lockdep_assert_held(&shmk_registry_lock);
	list_for_each_entry(arena, &shmk_arena_list, node) {
		if (arena->linked)
			return arena;
	}
	return NULL;
}

void shmk_arenas_destroy_all(void)
{
	struct shmk_arena *arena;

	for (;;) {
		mutex_lock(&shmk_registry_lock);
		arena = shmk_first_linked();
		if (arena)
			shmk_arena_unlink(arena);
		mutex_unlock(&shmk_registry_lock);
		if (!arena)
			break;
		shmk_arena_put(arena);
	}
	WARN_ON(!list_empty(&shmk_arena_list));
}

/* ---- mmap ---------------------------------------------------------- */

static void shmk_vm_open(struct vm_area_struct *vma)
{
	shmk_arena_get(vma->vm_private_data);
}

static void shmk_vm_close(struct vm_area_struct *vma)
{
	shmk_arena_put(vma->vm_private_data);
}

/*
 * vmf->pgoff is the file page offset, which is also the index in
 * arena->pages: control pages first, then user pages. ->mmap checked that
 * the VMA lies in one region and VM_DONTEXPAND keeps it there.
 */
static vm_fault_t shmk_vm_fault(struct vm_fault *vmf)
{
	struct shmk_arena *arena = vmf->vma->vm_private_data;
	struct page *page;

	if (vmf->pgoff >= arena->nr_pages)
		return VM_FAULT_SIGBUS;
	page = arena->pages[vmf->pgoff];
	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct shmk_vm_ops = {
	.open = shmk_vm_open,
	.close = shmk_vm_close,
	.fault = shmk_vm_fault,
};

/*
 * Maps the control region (read-only, offset 0) or part of the user region
 * (offset ctrl_size and up; read-only for an RDONLY member). Only the
 * process that attached may map, only while its membership is live, only
 * MAP_SHARED, and only inside one region. Mappings are not inherited by
 * fork (VM_DONTCOPY) and cannot grow (VM_DONTEXPAND). Each VMA keeps the
 * arena alive, so a mapping stays valid after the membership ends.
 */
int shmk_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct shmk_file *sf = file->private_data;
	struct shmk_member *m = shmk_file_member(sf);
	struct shmk_arena *arena;
	unsigned long pgoff = vma->vm_pgoff;
	unsigned long npages = vma_pages(vma);
	bool readonly;

	if (!m)
		return -ENOTCONN;
	if (!shmk_is_owner(m))
		return -EPERM;
	if (READ_ONCE(m->state) != SHMK_MS_LIVE)
		return -ENOTCONN;
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;

	arena = m->arena;
	if (pgoff < arena->nr_ctrl_pages) {
		if (npages > arena->nr_ctrl_pages - pgoff)
			return -EINVAL;
		readonly = true;
	} else {
		if (pgoff >= arena->nr_pages ||
		    npages > arena->nr_pages - pgoff)
			return -EINVAL;
		readonly = m->flags & SHMK_MEMBER_F_RDONLY;
	}

	if (readonly) {
		if (vma->vm_flags & VM_WRITE)
			return -EPERM;
		shmk_vm_flags_clear(vma, VM_MAYWRITE);
	}
	shmk_vm_flags_set(vma, VM_DONTCOPY | VM_DONTEXPAND);
	vma->vm_ops = &shmk_vm_ops;
	vma->vm_private_data = arena;
	shmk_arena_get(arena);
	return 0;
}
