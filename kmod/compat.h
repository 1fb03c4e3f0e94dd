/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Compatibility with the kernels shmk is built for. Debian 12 ships 6.1,
 * which predates vm_flags_set()/vm_flags_clear() (added in 6.3, when
 * vma->vm_flags became read-only for everyone else). kmod/Kbuild defines
 * SHMK_HAVE_VM_FLAGS_SET when the target's <linux/mm.h> has them.
 */
#ifndef _SHMK_COMPAT_H
#define _SHMK_COMPAT_H

#include <linux/mm.h>

#ifdef SHMK_HAVE_VM_FLAGS_SET
static inline void shmk_vm_flags_set(struct vm_area_struct *vma,
				     vm_flags_t flags)
{
	vm_flags_set(vma, flags);
}

static inline void shmk_vm_flags_clear(struct vm_area_struct *vma,
				       vm_flags_t flags)
{
	vm_flags_clear(vma, flags);
}
#else
static inline void shmk_vm_flags_set(struct vm_area_struct *vma,
				     vm_flags_t flags)
{
	vma->vm_flags |= flags;
}

static inline void shmk_vm_flags_clear(struct vm_area_struct *vma,
				       vm_flags_t flags)
{
	vma->vm_flags &= ~flags;
}
#endif

#endif /* _SHMK_COMPAT_H */
