// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The event dispatcher: each event reads straight through model -> pages -> timeline. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "account.h"
#include "procfile.h"
#include "resolve.h"
#include "strtab.h"
#include "util.h"

#define HUGE_SIZE (2ull << 20)
#define MAP_STACK_FLAG 0x20000
#define MAP_FIXED_FLAG 0x10
#define MAP_SHARED_FLAG 0x01
#define MAP_GROWSDOWN_FLAG 0x100
#define PROT_EXEC_FLAG 0x4
#define MADV_DONTNEED 4

/* bytes times a weight, rounded: a hostile recording's sizes times a large weight are beyond
 * int64 (and llround's range), and the remainder taken from them must not overflow either */
static int64_t weighted(double d)
{
	if (!(d < 0x1p61)) /* NaN too */
		return INT64_C(1) << 61;
	if (d < -0x1p61)
		return -(INT64_C(1) << 61);
	return llround(d);
}

/* --sample-bytes: the pages of a stack's bucket come from records of growth in the sample, each
 * standing for 1 / its chance as much (Horvitz-Thompson, as Go's and jemalloc's heap profiles):
 * the bucket takes that estimate, and its label's bucket of unsampled growth the difference, so
 * that every label, category and total stays exact. Bytes leaving a stack's bucket (frees, a
 * copy-on-write) take its average weight, all of it with its last page. The remainder may go
 * below 0 where the estimates overshoot. */
static void sampled_moved(void *ctx, uint32_t b, int64_t bytes, unsigned views)
{
	struct account *a = ctx;
	struct bucket *bk = &a->tl.buckets[b];
	struct sampled_bucket *sb;
	int64_t scaled, rest;

	/* the process view alone: its categories take bytes, whatever their split */
	if (!bk->proc || bk->stack_id < 0 || !(views & PAGES_TREE)) {
		timeline__moved(&a->tl, b, bytes, views);
		return;
	}
	if (b >= a->nsb) {
		size_t n = a->nsb;

		GROW(a->sb, a->nsb, (size_t)b + 1);
		memset(a->sb + n, 0, (a->nsb - n) * sizeof(*a->sb));
	}
	sb = &a->sb[b];
	if (bytes > 0 && a->grow_scale)
		scaled = weighted((double)bytes * a->grow_scale);
	else if (sb->real > 0 && bytes <= -sb->real)
		scaled = -bk->cur;
	else if (sb->real > 0)
		scaled = weighted((double)bytes * (double)bk->cur / (double)sb->real);
	else
		scaled = weighted((double)bytes * a->sample_scale);
	if (__builtin_sub_overflow(bytes, scaled, &rest))
		rest = bytes < 0 ? INT64_MIN : INT64_MAX;
	sb->real += bytes;
	if (!sb->rest) {
		struct proc *p = bk->proc;
		int label = a->grow_rest_label >= 0 ? a->grow_rest_label : bk->label;

		sb->rest = timeline__bucket(&a->tl, p, label, TM_STACK_UNSAMPLED); /* may move bk */
		sb = &a->sb[b];
	}
	timeline__moved(&a->tl, b, scaled, views);
	timeline__moved(&a->tl, sb->rest, rest, views);
}

/* The weight of a record's bytes: 1 / the chance it had (extra2's low half, times 2^32) */
static void sample_weight(struct account *a, const struct tm_event *e, struct proc *p, int member)
{
	a->grow_scale = a->sample_scale && e->stack_id >= 0 ?
				(TM_RSS_CHANCE(e->extra2) ? 4294967296.0 / (double)TM_RSS_CHANCE(e->extra2) : a->sample_scale) : 0;
	a->grow_rest_label = a->grow_scale ? resolve__classify(a, p, member, e->addr, TM_STACK_UNSAMPLED,
							       e->kind == TM_EV_COW ? TM_CAUSE_FAULT : e->cause,
							       e->flags & TM_F_ON_STACK) : -1;
}

struct account *account__new(const struct account_opts *o)
{
	struct account *a = xcalloc(1, sizeof(*a));
	uint32_t chance = poisson_chance32(o->sample_bytes, PAGE_SIZE);

	a->o = *o;
	a->w = world__new(&o->world);
	a->grow_rest_label = -1;
	if (chance) {
		a->sample_scale = 4294967296.0 / chance;
		a->unsampled_ss = xcalloc(1, sizeof(*a->unsampled_ss) + sizeof(a->unsampled_ss->frames[0]));
		a->unsampled_ss->n = 1;
		a->unsampled_ss->ips = xcalloc(1, sizeof(*a->unsampled_ss->ips));
		a->unsampled_ss->maps = xcalloc(1, sizeof(*a->unsampled_ss->maps));
		a->unsampled_ss->frames[0] = intern("[unsampled]");
		model__init(&a->m, sampled_moved, a);
	} else {
		model__init(&a->m, timeline__moved, &a->tl);
	}
	a->stack_users = hashmap__new();
	a->fmaps = hashmap__new();
	a->fsrcs = hashmap__new();
	timeline__init(&a->tl, o->start_ts, o->interval_ns);
	/* the kernel's share from events: sampled as the cgroup is, at most 20 times a second */
	a->kern.interval_ns = o->interval_ns > 50000000ull ? o->interval_ns : 50000000ull;
	return a;
}

void account__free(struct account *a)
{
	size_t i;

	if (!a)
		return;
	for (i = 0; i < a->m.nprocs; i++) {
		account__free_stacks(a->m.procs[i]);
		account__free_pycode(a->m.procs[i]);
	}
	model__free(&a->m);
	hashmap__free(a->stack_users);
	account__free_frame_maps(a);
	world__free(a->w);
	timeline__free(&a->tl);
	oom__free(&a->oom);
	kernel__free(&a->kern);
	free(a->sb);
	if (a->unsampled_ss) {
		free(a->unsampled_ss->ips);
		free(a->unsampled_ss->maps);
		free(a->unsampled_ss);
	}
	free(a);
}

struct proc *account__add_root(struct account *a, pid_t pid)
{
	struct proc *p = proc_new(&a->m, pid, a->o.start_ts);

	p->prelaunch = true;
	kernel__proc_start(&a->kern, (uint32_t)pid);
	return p;
}

bool account__oom_victim(struct account *a, pid_t pid)
{
	struct proc *p = proc_of_pid(&a->m, pid);

	return p && p->oom_victim;
}

bool account__alive(struct account *a, pid_t pid)
{
	struct proc *p = proc_of_pid(&a->m, pid);

	return p && p->alive;
}

static struct pages *pages_of(struct proc *p)
{
	return p->mm ? p->mm->pages : NULL;
}

/* ---- RSS changes ---- */

/* The address space an RSS change is about, made or found as the event's cause says. */
static struct mm *mm_for_rss(struct account *a, const struct tm_event *e)
{
	struct mm *mm = mm_find(&a->m, e->mm_id);
	struct proc *p;

	/* an id still held by a dead mm whose end we missed, now a new process's new mm */
	if (mm && mm->dead && mm->proc && (pid_t)e->tgid != mm->proc->pid &&
	    ((e->flags & TM_F_CURR) || e->cause == TM_CAUSE_EXEC || e->cause == TM_CAUSE_FORK)) {
		if (mm->total) /* its pages are gone: the kernel reused its struct */
			timeline__kernel(&a->tl, mm->proc, -mm->total);
		mm->last[TM_FILEPAGES] = mm->last[TM_ANONPAGES] = mm->last[TM_SHMEMPAGES] = 0;
		mm->total = 0;
		mm_forget(&a->m, mm);
		a->st.mm_reused++;
		mm = NULL;
	}
	if (mm)
		return mm;
	if (e->cause == TM_CAUSE_FORK) {
		/* the child's copy of the parent's pages; the child is named by the fork event */
		mm = mm_new(&a->m, e->mm_id, NULL);
		mm_pend(&a->m, e->tid, mm);
		return mm;
	}
	p = proc_of_pid(&a->m, (pid_t)e->tgid);
	if (!p) {
		a->st.orphan_events++;
		return NULL;
	}
	switch (e->cause) {
	case TM_CAUSE_EXEC:
		/* execve is building the next image's address space */
		if (p->mm)
			p->mm->dead = true;
		if (p->mm || p->exec_seen || p->prelaunch)
			p = proc_new(&a->m, p->pid, e->ts);
		return mm_new(&a->m, e->mm_id, p);
	case TM_CAUSE_EXEC_OLD:
	case TM_CAUSE_EXIT:
	case TM_CAUSE_NONE:
		/* first seen mid-life: its earlier growth was never seen, so it is not counted */
		mm = mm_new(&a->m, e->mm_id, p);
		mm->unknown_base = true;
		mm->dead = e->cause != TM_CAUSE_NONE;
		return mm;
	default:
		if (p->mm && p->mm->mm_id == ATTACH_MM_ID) {
			/* -p: the address space found at attach now shows its id */
			mm = p->mm;
			mm_rename(&a->m, mm, e->mm_id);
			return mm;
		}
		if (p->mm) {
			p->mm->dead = true; /* a new address space for this process: the old one is gone */
			p->mm = NULL;
		}
		return mm_new(&a->m, e->mm_id, p);
	}
}

/* The mapping of the file or shared memory page at addr, and where the page is (pages.h); NULL
 * if its mapping is not known. A mapping made since the maps were read (shmat makes one without
 * mmap) is looked for once more. */
static const struct map_entry *page_file(struct account *a, struct proc *p, uint64_t addr, struct pages_file *f)
{
	const struct map_entry *m = account__find_map(a, p, addr);

	if (!m && !p->maps_stale) {
		p->maps_stale = true;
		p->maps_moved = true;
		m = account__find_map(a, p, addr);
	}
	if (!m || !map_entry__is_file(m))
		return NULL;
	/* only the entry's cache is written */
	*f = (struct pages_file){ frames__obj_ident(m->dev, m->ino), m->start, m->end, m->off,
				  &((struct map_entry *)m)->frame };
	return m;
}

/* The bucket of file or shared memory bytes of mapping m: their label is a function of the
 * mapping's path (classify.c: file/NAME, shared/...), found once per entry, and the bucket the
 * entry gave last is taken again if it is p's of that label and stack. An event on a known
 * mapping then hashes no string and probes no table (60k mapped files: 4 lookups per fault in
 * tables of 60k entries were half the tool's time). */
static uint32_t map_bucket(struct account *a, struct proc *p, const struct map_entry *m, const struct tm_event *e)
{
	struct map_entry *c = (struct map_entry *)m; /* only its caches are written */
	const struct bucket *bk;

	if (c->label_member != e->member + 1) {
		c->label = resolve__classify(a, p, e->member, e->addr, e->stack_id, e->cause, e->flags & TM_F_ON_STACK);
		c->label_member = (uint8_t)(e->member + 1);
	}
	bk = c->bucket < a->tl.nbuckets ? &a->tl.buckets[c->bucket] : NULL;
	if (!bk || bk->proc != p || bk->label != c->label || bk->stack_id != e->stack_id)
		c->bucket = timeline__bucket(&a->tl, p, c->label, e->stack_id);
	return c->bucket;
}

/* Growth: a record for the new bytes, in the bucket of their label and stack. */
static void rss_grew(struct account *a, struct mm *mm, const struct tm_event *e, int64_t delta)
{
	uint64_t key = PAGES_UNPLACED;
	const struct map_entry *m = NULL;
	struct pages_file f;
	struct proc *p = mm->proc;
	struct bucket *bk;
	uint32_t b;

	if (e->cause == TM_CAUSE_FAULT || e->cause == TM_CAUSE_SYSCALL)
		key = e->addr & ~(delta >= (int64_t)HUGE_SIZE ? HUGE_SIZE - 1 : PAGE_SIZE - 1);
	if (key == PAGES_UNPLACED)
		a->st.unplaced_bytes += delta;
	if (e->stack_id == TM_STACK_UNSAMPLED)
		a->st.unsampled++;
	else if (e->stack_id < 0 && (e->flags & TM_F_CURR))
		a->st.stacks_missing++;
	if (!p) {
		/* a forked child's copy before its fork event: placed when it is named */
		pages__add_pending(mm->pages, e->member, delta);
	} else {
		/* a page of a file or shared memory: counted once however many processes map it */
		if (e->member != TM_ANONPAGES && key != PAGES_UNPLACED) {
			m = page_file(a, p, e->addr, &f);
			if (!m)
				a->st.file_unmatched += delta;
		}
		/* classify labels file and shared memory pages by their mapping's path alone */
		if (m && e->addr && (e->member == TM_FILEPAGES || e->member == TM_SHMEMPAGES))
			b = map_bucket(a, p, m, e);
		else
			b = timeline__bucket(&a->tl, p, resolve__classify(a, p, e->member, e->addr, e->stack_id, e->cause, e->flags & TM_F_ON_STACK),
					     e->stack_id);
		bk = &a->tl.buckets[b];
		if (!bk->cur && !bk->peak) {
			uint32_t reads = p->maps_reads;

			account__stack(a, p, e->stack_id); /* symbolize while the process lives */
			if (p->maps_reads != reads)
				f.frame = NULL; /* it pointed into the maps that reading them again freed */
		}
		a->tl.buckets[b].grows++;
		if (a->sample_scale) /* else the weight is 0 and the label -1 already */
			sample_weight(a, e, p, e->member);
		if (m)
			pages__add_file(mm->pages, e->member, key, b, delta, &f);
		else
			pages__add(mm->pages, e->member, key, b, delta);
		a->grow_scale = 0;
		a->grow_rest_label = -1;
	}
	timeline__grew(&a->tl, p, e->ts);
}

/* A free: the records it took, by range when a syscall says where, else near the fault, else
 * wherever records are. */
static void rss_fell(struct account *a, struct mm *mm, const struct tm_event *e, uint64_t want)
{
	uint64_t nr = e->arg >> 32;
	struct proc *p = mm->proc;
	int member = e->member;

	/* brk has one argument: its len is whatever rsi held */
	if (e->cause == TM_CAUSE_SYSCALL && (e->len || nr == 12)) {
		uint64_t start = e->addr, end = e->addr + e->len;

		if (nr == 12 && p) { /* brk shrink: [new break, old break) */
			start = e->addr;
			end = p->brk > start ? p->brk : start;
		} else if (nr == 25 && e->extra < e->len) { /* mremap shrink: the tail */
			start = e->addr + e->extra;
		}
		if (end > start) {
			pages__take_range(mm->pages, member, start, end, e->extra3, want);
			return;
		}
	}
	if (e->cause == TM_CAUSE_FAULT) {
		uint64_t lo = 0, hi = UINT64_MAX;

		/* a fault-around block never crosses a mapping: a copy-on-write in a library's data
		 * that took the next file's page in its window (ld.so.cache's) left that file's munmap
		 * a page short, and the page counted until the process ended */
		if (p)
			procmaps__file_span(&p->maps, e->addr, &lo, &hi);
		want -= pages__take_near(mm->pages, member, e->addr, lo, hi, want);
	}
	pages__take_any(mm->pages, member, want);
}

static void on_rss(struct account *a, const struct tm_event *e)
{
	struct mm *mm = mm_for_rss(a, e);
	int64_t delta;
	int member = e->member;

	a->st.rss_events++;
	/* page tables are the mm's: a vfork child running on its parent's mm carries the parent's,
	 * which the parent's own records count */
	if ((e->flags & TM_F_PGTABLES) && (!mm || !mm->proc || mm->proc->pid == (pid_t)e->tgid))
		kernel__event(&a->kern, e);
	if (!mm || member >= TM_NR_MEMBERS)
		return;
	delta = (int64_t)e->ret - mm->last[member];
	mm->last[member] = (int64_t)e->ret;
	if (mm->unknown_base || (mm->proc && mm->proc->prelaunch)) {
		mm_maybe_forget(&a->m, mm);
		return;
	}
	if (!delta)
		return;
	mm->total += delta;
	timeline__rss(&a->tl, mm->proc, delta);
	if (delta > 0)
		rss_grew(a, mm, e, delta);
	else
		rss_fell(a, mm, e, (uint64_t)-delta);
	mm_maybe_forget(&a->m, mm);
}

/* ---- mappings ---- */

static void on_mmap(struct account *a, struct proc *p, const struct tm_event *e)
{
	struct region r = {
		.start = e->ret,
		.end = e->ret + ((e->len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)),
		.kind = (int64_t)e->extra >= 0 && !(e->arg >> 32 & 0x20) ? REG_FILE : REG_MMAP,
		.flags = (uint32_t)(e->arg >> 32),
		.caller = e->extra2,
		.stack_id = e->stack_id,
		.label = -1,
	};
	const struct region *outer = r.kind == REG_MMAP && (r.flags & MAP_FIXED_FLAG) ? regions__find(&p->regions, r.start) : NULL;

	if (r.flags & MAP_FIXED_FLAG) /* what was mapped there before is gone */
		pages__sweep(pages_of(p), r.start, r.end);
	/* reserve, then commit with MAP_FIXED inside (JVM heaps, Go, V8): the reservation says
	 * what the memory is for, the commit only where it starts */
	if (outer && outer->kind == REG_MMAP && outer->end >= r.end) {
		r.caller = outer->caller;
		r.stack_id = outer->stack_id;
		r.flags |= outer->flags & (MAP_STACK_FLAG | MAP_GROWSDOWN_FLAG);
	}
	regions__insert(&p->regions, &r);
	if (r.kind == REG_FILE || (r.flags & MAP_SHARED_FLAG)) { /* shared memory: pages by object */
		p->maps_stale = true;
		if ((r.flags & MAP_FIXED_FLAG) || (e->arg & PROT_EXEC_FLAG))
			p->maps_moved = true;
		else
			p->maps_new++;
	}
}

static void on_mapping(struct account *a, struct proc *p, const struct tm_event *e)
{
	switch (e->kind) {
	case TM_EV_MMAP:
		on_mmap(a, p, e);
		break;
	case TM_EV_MUNMAP:
		pages__sweep(pages_of(p), e->addr, e->addr + e->len);
		regions__remove(&p->regions, e->addr, e->addr + e->len);
		p->maps_stale = true;
		p->maps_moved = true;
		break;
	case TM_EV_MREMAP:
		if (e->arg < e->len) /* shrunk: the tail is gone */
			pages__sweep(pages_of(p), e->addr + e->arg, e->addr + e->len);
		if (e->ret != e->addr && p->mm)
			pages__move(p->mm->pages, e->addr, e->len < e->arg ? e->len : e->arg, e->ret);
		regions__move(&p->regions, e->addr, e->len, e->ret);
		p->maps_stale = true;
		p->maps_moved = true;
		break;
	case TM_EV_BRK:
		if (p->brk > e->ret && e->ret >= p->start_brk && p->start_brk)
			pages__sweep(pages_of(p), e->ret, p->brk);
		if (!p->start_brk)
			p->start_brk = e->ret;
		p->brk = e->ret;
		break;
	case TM_EV_MADVISE:
		if (e->arg == MADV_DONTNEED)
			pages__sweep(pages_of(p), e->addr, e->addr + e->len);
		break;
	}
}

/* ---- process lifecycle ---- */

struct fork_ctx {
	struct account *a;
	struct proc *child;
};

/* pages_bucket_fn: the child's copy is under the label and stack of the parent's bytes */
static uint32_t child_bucket(void *ctx, uint32_t parent_bucket)
{
	struct fork_ctx *fc = ctx;
	const struct bucket *pb = &fc->a->tl.buckets[parent_bucket];
	int32_t stack_id = pb->stack_id; /* pb moves when timeline__bucket grows the table */
	uint32_t b;

	if (!pb->proc) /* the bucket table was full */
		return parent_bucket;
	b = timeline__bucket(&fc->a->tl, fc->child, pb->label, stack_id);
	account__stack(fc->a, fc->child, stack_id); /* the parent may exit first */
	/* --sample-bytes: the copy stands for what the parent's bytes stood for */
	pb = &fc->a->tl.buckets[parent_bucket];
	fc->a->grow_scale = parent_bucket < fc->a->nsb && fc->a->sb[parent_bucket].real > 0 ?
				    (double)pb->cur / (double)fc->a->sb[parent_bucket].real : 0;
	fc->a->grow_rest_label = parent_bucket < fc->a->nsb && fc->a->sb[parent_bucket].rest ?
					 fc->a->tl.buckets[fc->a->sb[parent_bucket].rest].label : -1;
	return b;
}

static void on_fork(struct account *a, const struct tm_event *e)
{
	struct proc *parent = proc_of_pid(&a->m, (pid_t)e->tgid);
	struct proc *child = proc_new(&a->m, (pid_t)e->extra, e->ts);
	struct mm *mm = mm_take_pending(&a->m, e->tid);

	child->comm = intern(e->comm);
	proc_inherit(child, parent);
	kernel__proc_start(&a->kern, (uint32_t)e->extra);
	if (mm) {
		struct fork_ctx fc = { a, child };
		uint32_t b;

		mm->proc = child;
		child->mm = mm;
		child->kernel = mm->total;
		/* the parent's anonymous pages, shared until a write copies one (pages__cow) */
		if (parent && parent->mm && !mm->unknown_base)
			pages__fork(parent->mm->pages, mm->pages, child_bucket, &fc);
		a->grow_scale = 0;
		a->grow_rest_label = -1;
		/* what the kernel copied beyond them (file pages of private mappings, pages the
		 * parent's records missed) stays unplaced */
		b = timeline__bucket(&a->tl, child, label_id(CAT_OTHER, "inherited"), -1);
		pages__rebucket(mm->pages, PAGES_UNPLACED, b);
		timeline__mark_proc(&a->tl, child);
		timeline__grew(&a->tl, child, e->ts);
	}
}

/* A write fault on a present page: if it is an anonymous page the tree shares, the write gives
 * this process a copy of its own (no RSS change): new memory of the faulting stack. */
static void on_cow(struct account *a, const struct tm_event *e)
{
	struct proc *p = proc_of_pid(&a->m, (pid_t)e->tgid);
	uint32_t b;

	if (!p || !p->mm || !pages__cow_shared(p->mm->pages, e->addr))
		return;
	a->st.cow_copies++;
	b = timeline__bucket(&a->tl, p, resolve__classify(a, p, TM_ANONPAGES, e->addr, e->stack_id, TM_CAUSE_FAULT,
						 e->flags & TM_F_ON_STACK), e->stack_id);
	if (!a->tl.buckets[b].cur && !a->tl.buckets[b].peak)
		account__stack(a, p, e->stack_id);
	sample_weight(a, e, p, TM_ANONPAGES);
	pages__cow(p->mm->pages, e->addr, b);
	a->grow_scale = 0;
	a->grow_rest_label = -1;
	timeline__grew(&a->tl, p, e->ts);
}

/* The process is gone before its maps could be read: its binary's code, from what the exec
 * event recorded, still names the frames in the program itself (not those in libraries). */
static void maps_from_exec(struct account *a, struct proc *p, const struct tm_exec_event *x)
{
	/* the exec's inode is the file execve was given (a script's, not its interpreter's): it
	 * names exe only where exe was found by it */
	uint64_t ino = p->exe_own_root ? x->ino : 0, off;
	uint32_t dev = p->exe_own_root ? x->dev : 0;
	struct file_ref f = { .pid = p->pid, .ino = ino, .dev = dev, .path = p->exe ? p->exe : "", .exe = true,
			      .own_root = p->exe_own_root };

	if (!p->exe || !world__text_offset(a->w, &f, &off) || x->end_code <= x->start_code)
		return;
	procmaps__reset(&p->maps);
	procmaps__add(&p->maps, &(struct map_entry){ .start = x->start_code & ~4095ull, .end = x->end_code,
						     .off = off - (x->start_code & 4095), .ino = ino, .dev = dev,
						     .exec = true, .path = p->exe });
}

static void on_exec(struct account *a, const struct tm_event *e)
{
	const struct tm_exec_event *x = e->flags & TM_F_EXEC_INFO ? (const struct tm_exec_event *)e : NULL;
	struct proc *p = proc_of_pid(&a->m, (pid_t)e->tgid);
	char exe[TM_PATH_LEN];
	bool known = true; /* p->exe is the file that ran */

	/* the launched command waits for its code's unwind tables (live runs only) */
	world__exec_hold(a->w, (pid_t)e->tgid, e->ts);
	/* reuse an image already begun by execve's mm setup (or a vfork child's) */
	if (!p || p->exec_seen || p->prelaunch)
		p = proc_new(&a->m, (pid_t)e->tgid, e->ts);
	p->exec_seen = true;
	p->comm = intern(e->comm);
	p->start_brk = e->extra;
	p->brk = e->ret;
	p->start_stack = e->extra2;
	p->stack_rlim = e->extra3;
	regions__clear(&p->regions);
	procmaps__reset(&p->maps);
	if (world__exe(a->w, (pid_t)e->tgid, exe, sizeof(exe)) > 0) {
		p->exe = intern(exe);
	} else if (x && x->filename[0]) { /* already gone: the path execve was given */
		char real[PATH_MAX];

		/* resolved from the tool's cwd, which may not be the process's (make's ./app in
		 * another directory): kept only if it is the file that ran, else left as given,
		 * unresolved, so that no other file's symbols name its frames */
		known = world__exec_file(a->w, x->filename, x->ino, x->dev, real, sizeof(real));
		p->exe = intern(known ? real : x->filename);
		p->exe_own_root = known;
	}
	if (p->exe && known) {
		struct file_ref f = { .pid = p->pid, .ino = p->exe_own_root ? x->ino : 0, .dev = p->exe_own_root ? x->dev : 0,
				      .path = p->exe, .exe = true, .own_root = p->exe_own_root };

		p->is_go = world__is_go(a->w, &f);
		if (x) { /* its inode: a CPython executable's frames are read from now on */
			f.ino = x->ino;
			f.dev = x->dev;
			world__py_exec(a->w, p->pid, &f, x->filename);
		}
	}
	if (account__read_maps(a, p) && x && known)
		maps_from_exec(a, p, x);
}

static void on_exit_ev(struct account *a, const struct tm_event *e)
{
	struct proc *p = proc_of_pid(&a->m, (pid_t)e->tgid);

	kernel__proc_exit(&a->kern, e->tgid, e->ts);
	if (!p)
		return;
	p->alive = false;
	p->end_ts = e->ts;
	proc_set_exit(p, e->extra2, e->extra3);
	account__release_stacks(a, p);
	proc_gone(p);
	if (p->mm) {
		p->mm->dead = true;
		mm_maybe_forget(&a->m, p->mm);
	}
}

void account__event(struct account *a, const struct tm_event *e)
{
	struct proc *p;

	a->st.events++;
	world__event_time(a->w, e->ts);
	timeline__advance(&a->tl, &a->m, e->ts);
	switch (e->kind) {
	case TM_EV_RSS:
		on_rss(a, e);
		return;
	case TM_EV_FORK:
		on_fork(a, e);
		return;
	case TM_EV_EXEC:
		on_exec(a, e);
		return;
	case TM_EV_EXIT:
		on_exit_ev(a, e);
		return;
	case TM_EV_COW:
		on_cow(a, e);
		return;
	case TM_EV_OOM:
		p = proc_of_pid(&a->m, (pid_t)e->tgid);
		if (p)
			p->oom_victim = true;
		oom__victim(&a->oom, e);
		return;
	case TM_EV_KSTAT:
		kernel__event(&a->kern, e);
		return;
	case TM_EV_PYCODE:
		p = proc_of_pid(&a->m, (pid_t)e->tgid);
		if (p)
			account__py_code(a, p, (const struct tm_py_code_event *)e);
		else
			a->st.orphan_events++;
		return;
	}
	p = proc_of_pid(&a->m, (pid_t)e->tgid);
	if (!p) {
		a->st.orphan_events++;
		return;
	}
	on_mapping(a, p, e);
}

void account__cgroup(struct account *a, const struct cg_sample *s)
{
	oom__cgroup(&a->oom, s);
	if (s->flags & CG_SAMPLE_KERNEL)
		kernel__sample(&a->kern, &a->m, a->w, s);
}

void account__finish(struct account *a, uint64_t end_ts)
{
	size_t i;

	/* exit records lost to a full ring buffer: the kernel-side map still has them */
	for (i = 0; i < a->m.nprocs; i++) {
		struct proc *p = a->m.procs[i];
		struct tm_exit ex;

		if (p->alive && !p->prelaunch && !world__exit_info(a->w, p->pid, &ex) &&
		    (i + 1 == a->m.nprocs || proc_of_pid(&a->m, p->pid) == p)) {
			p->alive = false;
			p->end_ts = end_ts;
			proc_set_exit(p, ex.exit_code, ex.maxrss_bytes);
			kernel__proc_exit(&a->kern, (uint32_t)p->pid, end_ts);
		}
	}
	kernel__finish(&a->kern, end_ts);
	timeline__finish(&a->tl, &a->m, end_ts);
	/* every stack a report may show, whatever the outputs asked for: the reports only read */
	for (i = 0; i < a->tl.nbuckets; i++)
		if (a->tl.buckets[i].proc)
			account__stack(a, a->tl.buckets[i].proc, a->tl.buckets[i].stack_id);
	world__unwind_stats(a->w, &a->st.cfi_tables, &a->st.cfi_skipped, &a->st.cfi_rows);
}
