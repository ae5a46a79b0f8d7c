// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>
#include "model.h"
#include "strtab.h"
#include "util.h"

void model__init(struct model *m, pages_moved_fn moved, void *ctx)
{
	m->cur_proc = hashmap__new();
	m->mms = hashmap__new();
	m->pending_mm = hashmap__new();
	m->moved = moved;
	m->moved_ctx = ctx;
	m->frames = frames__new();
}

static void mm_free(struct mm *mm)
{
	pages__free(mm->pages);
	free(mm);
}

void model__free(struct model *m)
{
	size_t pos = 0, i;
	uint64_t k, v;

	while (hashmap__next(m->mms, &pos, &k, &v))
		mm_free((struct mm *)(uintptr_t)v);
	for (i = 0; i < m->nprocs; i++) {
		struct proc *p = m->procs[i];

		hashmap__free(p->stacks);
		hashmap__free(p->pycode);
		hashmap__free(p->stack_labels);
		hashmap__free(p->bucket_idx);
		procmaps__clear(&p->maps);
		regions__clear(&p->regions);
		free(p->memo);
		free(p);
	}
	free(m->procs);
	hashmap__free(m->cur_proc);
	hashmap__free(m->mms);
	hashmap__free(m->pending_mm);
	frames__free(m->frames);
}

struct proc *proc_new(struct model *m, pid_t pid, uint64_t ts)
{
	struct proc *p = xcalloc(1, sizeof(*p)), *prev;
	uint64_t *slot = hashmap__upsert(m->cur_proc, (uint64_t)pid, NULL);

	prev = (struct proc *)(uintptr_t)*slot;
	p->idx = (uint32_t)m->nprocs;
	p->pid = pid;
	p->uid = (uid_t)-1;
	p->gen = prev ? prev->gen + 1 : 0;
	p->comm = intern(prev ? prev->comm : "?");
	p->exe = intern("");
	p->alive = true;
	p->start_ts = ts;
	p->stacks = hashmap__new();
	p->pycode = hashmap__new();
	p->bucket_idx = hashmap__new();
	p->stack_labels = hashmap__new();
	if (prev && prev->alive) {
		prev->alive = false; /* replaced by exec */
		prev->end_ts = ts;
		regions__clear(&prev->regions); /* they classify its faults: it has no more */
		free(prev->memo);
		prev->memo = NULL;
	}
	*slot = (uint64_t)(uintptr_t)p;
	GROW(m->procs, m->proccap, m->nprocs + 1);
	m->procs[m->nprocs++] = p;
	return p;
}

struct proc *proc_of_pid(struct model *m, pid_t pid)
{
	uint64_t *slot = hashmap__find(m->cur_proc, (uint64_t)pid);

	return slot ? (struct proc *)(uintptr_t)*slot : NULL;
}

void proc_inherit(struct proc *child, struct proc *parent)
{
	if (!parent)
		return;
	child->exe = parent->exe;
	child->exe_own_root = parent->exe_own_root;
	child->uid = parent->uid; /* fork copies its credentials: its perf map's owner, from the start */
	child->is_go = parent->is_go;
	child->start_brk = parent->start_brk;
	child->brk = parent->brk;
	child->start_stack = parent->start_stack;
	child->stack_rlim = parent->stack_rlim;
	procmaps__copy(&child->maps, &parent->maps);
	regions__share(&child->regions, &parent->regions);
}

void proc_set_exit(struct proc *p, uint64_t code, uint64_t maxrss)
{
	p->kernel_hiwater = (int64_t)maxrss;
	/* task->exit_code is a wait status: report it the way a shell would */
	p->exit_code = code & 0x7f ? 128 + (int)(code & 0x7f) : (int)(code >> 8 & 0xff);
}

void proc_gone(struct proc *p)
{
	free(p->memo); /* 1.5 KiB a process, never read again */
	p->memo = NULL;
	regions__clear(&p->regions);
	procmaps__clear(&p->maps);
}

struct mm *mm_new(struct model *m, uint32_t mm_id, struct proc *p)
{
	struct mm *mm = xcalloc(1, sizeof(*mm));

	mm->mm_id = mm_id;
	mm->proc = p;
	mm->pages = pages__new(m->moved, m->moved_ctx, m->frames);
	*hashmap__upsert(m->mms, mm_id, NULL) = (uint64_t)(uintptr_t)mm;
	m->last_mm = mm;
	if (p && !p->mm)
		p->mm = mm;
	return mm;
}

struct mm *mm_find(struct model *m, uint32_t mm_id)
{
	uint64_t *slot;

	if (m->last_mm && m->last_mm->mm_id == mm_id)
		return m->last_mm;
	slot = hashmap__find(m->mms, mm_id);
	if (!slot)
		return NULL;
	m->last_mm = (struct mm *)(uintptr_t)*slot;
	return m->last_mm;
}

void mm_rename(struct model *m, struct mm *mm, uint32_t mm_id)
{
	hashmap__delete(m->mms, mm->mm_id);
	mm->mm_id = mm_id;
	*hashmap__upsert(m->mms, mm_id, NULL) = (uint64_t)(uintptr_t)mm;
	m->last_mm = mm;
}

void mm_forget(struct model *m, struct mm *mm)
{
	pages__drain(mm->pages); /* freed unseen, if anything is left */
	if (mm->proc && mm->proc->mm == mm)
		mm->proc->mm = NULL;
	hashmap__delete(m->mms, mm->mm_id);
	if (m->last_mm == mm)
		m->last_mm = NULL;
	mm_free(mm);
}

void mm_maybe_forget(struct model *m, struct mm *mm)
{
	if (mm->dead && !mm->last[TM_FILEPAGES] && !mm->last[TM_ANONPAGES] && !mm->last[TM_SHMEMPAGES])
		mm_forget(m, mm);
}

void mm_pend(struct model *m, uint32_t tid, struct mm *mm)
{
	*hashmap__upsert(m->pending_mm, tid, NULL) = (uint64_t)(uintptr_t)mm;
}

struct mm *mm_take_pending(struct model *m, uint32_t tid)
{
	uint64_t *slot = hashmap__find(m->pending_mm, tid);
	struct mm *mm;

	if (!slot)
		return NULL;
	mm = (struct mm *)(uintptr_t)*slot;
	hashmap__delete(m->pending_mm, tid);
	return mm;
}
