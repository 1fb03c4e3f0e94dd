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
 * each membership holds one, and a mapping holds its file, hence its
 * membership. A non-persistent arena is unlinked when its last live member
 * ends, a persistent one by SHMK_IOC_REMOVE, when its IPC namespace dies,
 * or at module unload (registry.c). The pages go with the last reference.
 *
 * Creation allocates the pages with no lock held: the arena is charged to
 * its namespace and user first (registry.c), then filled, then linked by
 * the caller, who may find that a racing creator linked the name first.
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

#define SHMK_GFP	(GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN | \
			 __GFP_RETRY_MAYFAIL)

/* Frees the pages allocated so far (the array is zeroed at creation). */
static void shmk_arena_free_pages(struct shmk_arena *arena)
{
	unsigned long i, n = 0;

	if (!arena->pages)
		return;
	for (i = 0; i < arena->nr_pages && arena->pages[i]; i++) {
		__free_page(arena->pages[i]);
		n++;
	}
	atomic_long_sub(n, &shmk_stat_pages);
	kvfree(arena->pages);
}

static void shmk_arena_free(struct shmk_arena *arena)
{
	if (arena->user)
		vunmap(arena->user);
	if (arena->ctrl)
		vunmap(arena->ctrl);
	shmk_arena_free_pages(arena);
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

/* The pages, zeroed and charged to the caller's memcg, then mapped. */
static int shmk_arena_populate(struct shmk_arena *arena)
{
	unsigned long i;

	for (i = 0; i < arena->nr_pages; i++) {
		arena->pages[i] = alloc_page(SHMK_GFP);
		if (!arena->pages[i])
			return -ENOMEM;
		atomic_long_inc(&shmk_stat_pages);
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	arena->ctrl = vmap(arena->pages, arena->nr_ctrl_pages, VM_MAP,
			   PAGE_KERNEL);
	if (!arena->ctrl)
		return -ENOMEM;
	arena->user = vmap(arena->pages + arena->nr_ctrl_pages,
			   arena->nr_pages - arena->nr_ctrl_pages, VM_MAP,
			   PAGE_KERNEL);
	if (!arena->user)
		return -ENOMEM;
	return 0;
}

/*
 * Creates an arena owned by the current task's credentials, charged to its
 * user and to @ipc_ns, not yet linked under @name. Called with no lock
 * held: the page loop takes as long as the arena is big. Returns the
 * arena with one reference, for the caller to link (which hands it to
 * the registry) or put; or an ERR_PTR.
 */
struct shmk_arena *shmk_arena_create(struct ipc_namespace *ipc_ns,
				     const char *name, u64 size, umode_t mode,
				     u32 member_max, bool persistent)
{
	struct shmk_arena *arena;
	size_t ctrl_bytes;
	int err = -ENOMEM;

	if (size == 0)
		return ERR_PTR(-EINVAL);
	if (size > shmk_max_arena_size)
		return ERR_PTR(-EFBIG);

	arena = kzalloc(sizeof(*arena), GFP_KERNEL_ACCOUNT);
	if (!arena)
		return ERR_PTR(-ENOMEM);

	kref_init(&arena->ref);
	INIT_LIST_HEAD(&arena->node);
	INIT_LIST_HEAD(&arena->ns_node);
	mutex_init(&arena->lock);
	strscpy(arena->name, name, sizeof(arena->name));
	arena->uid = current_euid();
	arena->gid = current_egid();
	arena->mode = mode;
	arena->persistent = persistent;
	/* the caller checked member_max <= shmk_max_members */
	arena->member_max = member_max ? member_max : shmk_max_members;
	arena->created_ns = ktime_get_ns();
	arena->user_ns = get_user_ns(current_user_ns());
	arena->pid_ns = get_pid_ns(task_active_pid_ns(current));

	ctrl_bytes = SHMK_CTRL_MEMBERS_OFFSET +
		     (size_t)arena->member_max * SHMK_CTRL_MEMBER_STRIDE;
	arena->ctrl_size = PAGE_ALIGN(ctrl_bytes);
	arena->user_size = PAGE_ALIGN(size);
	arena->nr_ctrl_pages = arena->ctrl_size >> PAGE_SHIFT;
	arena->nr_pages = arena->nr_ctrl_pages +
			  (arena->user_size >> PAGE_SHIFT);

	/* Sized by user input and limited by the memcg: fail quietly. */
	arena->slots = kcalloc(arena->member_max, sizeof(*arena->slots),
			       GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	arena->pages = kvcalloc(arena->nr_pages, sizeof(*arena->pages),
				GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!arena->slots || !arena->pages)
		goto err_free;

	/* Charged before the pages exist: limits hold during the loop. */
	err = shmk_registry_charge(arena, ipc_ns);
	if (err)
		goto err_free;
	err = shmk_arena_populate(arena);
	if (err) {
		shmk_arena_put(arena);
		return ERR_PTR(err);
	}
	shmk_ctrl_init(arena);
	return arena;

err_free:
	shmk_arena_free(arena);
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
	struct vfsmount *unpin;

	shmk_registry_uncharge(arena, &unpin);
	mutex_unlock(&shmk_registry_lock);
	shmk_arena_free(arena);
	if (unpin)
		mntput(unpin);
}

/* Must not be called with shmk_registry_lock held. */
void shmk_arena_put(struct shmk_arena *arena)
{
	kref_put_mutex(&arena->ref, shmk_arena_release, &shmk_registry_lock);
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

/*
 * A mapping reaches its arena through its file's membership (the VMA
 * holds the file, the file its member, the member the arena), so it stays
 * valid after the membership ends. @vm_private_data is the mm the mapping
 * was made in: a copy of it in another mm (fork after MADV_DOFORK undid
 * VM_DONTCOPY) is refused every page, so the arena never reaches a process
 * that did not map it. Shared file mappings are not copied with their
 * page tables, so every access of a copy comes through here.
 */
static vm_fault_t shmk_vm_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct shmk_file *sf = vma->vm_file->private_data;
	struct shmk_arena *arena = shmk_file_member(sf)->arena;
	struct page *page;

	if (vma->vm_private_data != vma->vm_mm)
		return VM_FAULT_SIGBUS;
	/* vmf->pgoff indexes arena->pages: control pages, then user pages. */
	if (vmf->pgoff >= arena->nr_pages)
		return VM_FAULT_SIGBUS;
	page = arena->pages[vmf->pgoff];
	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct shmk_vm_ops = {
	.fault = shmk_vm_fault,
};

/*
 * Maps the control region (read-only, offset 0) or part of the user region
 * (offset ctrl_size and up; read-only for an RDONLY member). Only the
 * process that attached may map, only while its membership is live, only
 * MAP_SHARED, and only inside one region. Mappings are not inherited by
 * fork (VM_DONTCOPY; a copy forced with MADV_DOFORK faults SIGBUS) and
 * cannot grow (VM_DONTEXPAND).
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
	vma->vm_private_data = vma->vm_mm;
	return 0;
}
