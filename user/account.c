// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "account.h"
#include "demangle.h"
#include "elfsyms.h"
#include "perfmap.h"
#include "resolve.h"
#include "strtab.h"
#include "util.h"

#define PAGE_SIZE 4096ull
#define HUGE_SIZE (2ull << 20)
#define FAULT_AROUND (64ull << 10) /* fault_around_bytes' default */
#define REC_BUCKET_BITS 24
#define REC_BUCKET_MASK ((1ull << REC_BUCKET_BITS) - 1)
#define MAX_BUCKETS (1u << REC_BUCKET_BITS)
#define MAP_STACK_FLAG 0x20000
#define MAP_FIXED_FLAG 0x10
#define MAP_GROWSDOWN_FLAG 0x100
#define MADV_DONTNEED 4

const char *const cat_names[NR_CATS] = { "stack", "heap", "runtime", "file", "other" };

int64_t categories_with_unattributed(const int64_t cat[NR_CATS], int64_t kernel, int64_t out[NR_CATS])
{
	int64_t sum = 0;
	int c;

	for (c = 0; c < NR_CATS; c++) {
		out[c] = cat[c];
		sum += cat[c];
	}
	out[CAT_OTHER] += kernel - sum;
	return kernel - sum;
}

/* ---- labels ---- */

static struct label *labels;
static size_t nlabels, labelcap;

int label_id(enum tm_cat cat, const char *name)
{
	size_t i;

	name = intern(name);
	for (i = 0; i < nlabels; i++) /* a few dozen labels: a scan is fine */
		if (labels[i].cat == cat && labels[i].name == name)
			return (int)i;
	GROW(labels, labelcap, nlabels + 1);
	labels[nlabels] = (struct label){ cat, name };
	return (int)nlabels++;
}

const struct label *label_get(int id)
{
	return &labels[id];
}

/* ---- processes and mms ---- */

struct account *account__new(const struct account_opts *o)
{
	struct account *a = xcalloc(1, sizeof(*a));

	a->o = *o;
	a->cur_proc = hashmap__new();
	a->mms = hashmap__new();
	a->pending_mm = hashmap__new();
	a->stack_users = hashmap__new();
	if (o->load_unwind && o->commit_unwind && o->set_unwind) {
		a->unwind = unwind__cache_new(o->load_unwind, o->commit_unwind, o->ctx);
		unwind__preload(a->unwind);
	}
	a->next_sample = o->start_ts + o->interval_ns;
	/* bucket 0 takes bytes when the bucket table is full (counted in unplaced) */
	GROW(a->buckets, a->bucketcap, 1);
	a->buckets[0].label = label_id(CAT_OTHER, "[bucket-table-full]");
	a->buckets[0].stack_id = -1;
	a->nbuckets = 1;
	return a;
}

static struct proc *proc_new(struct account *a, pid_t pid, uint64_t ts)
{
	struct proc *p = xcalloc(1, sizeof(*p)), *prev;
	uint64_t *slot = hashmap__upsert(a->cur_proc, (uint64_t)pid, NULL);

	prev = (struct proc *)(uintptr_t)*slot;
	p->idx = (uint32_t)a->nprocs;
	p->pid = pid;
	p->uid = (uid_t)-1;
	p->gen = prev ? prev->gen + 1 : 0;
	p->comm = intern(prev ? prev->comm : "?");
	p->exe = intern("");
	p->alive = true;
	p->start_ts = ts;
	p->stacks = hashmap__new();
	p->bucket_idx = hashmap__new();
	p->stack_labels = hashmap__new();
	if (prev && prev->alive) {
		prev->alive = false; /* replaced by exec */
		prev->end_ts = ts;
	}
	*slot = (uint64_t)(uintptr_t)p;
	GROW(a->procs, a->proccap, a->nprocs + 1);
	a->procs[a->nprocs++] = p;
	return p;
}

static struct proc *proc_of_pid(struct account *a, pid_t pid)
{
	uint64_t *slot = hashmap__find(a->cur_proc, (uint64_t)pid);

	return slot ? (struct proc *)(uintptr_t)*slot : NULL;
}

struct proc *account__add_root(struct account *a, pid_t pid)
{
	struct proc *p = proc_new(a, pid, a->o.start_ts);

	p->prelaunch = true;
	return p;
}

static struct mm *mm_new(struct account *a, uint32_t mm_id, struct proc *p)
{
	struct mm *mm = xcalloc(1, sizeof(*mm));
	int i;

	mm->mm_id = mm_id;
	mm->proc = p;
	for (i = 0; i < TM_NR_MEMBERS; i++)
		mm->pages[i] = hashmap__new();
	*hashmap__upsert(a->mms, mm_id, NULL) = (uint64_t)(uintptr_t)mm;
	if (p && !p->mm)
		p->mm = mm;
	return mm;
}

#define ATTACH_MM_ID 0 /* placeholder id of an attached process's mm until its first event */

static struct mm *mm_find(struct account *a, uint32_t mm_id)
{
	uint64_t *slot = hashmap__find(a->mms, mm_id);

	return slot ? (struct mm *)(uintptr_t)*slot : NULL;
}

static void mm_free(struct mm *mm)
{
	int i;

	for (i = 0; i < TM_NR_MEMBERS; i++)
		hashmap__free(mm->pages[i]);
	free(mm);
}

/* ---- buckets, dirty tracking and the peak ---- */

static void mark_proc(struct account *a, struct proc *p)
{
	p->sampled_dirty = true;
	if (p->dirty)
		return;
	p->dirty = true;
	GROW(a->dirty_procs, a->dirty_proc_cap, a->ndirty_procs + 1);
	a->dirty_procs[a->ndirty_procs++] = p;
}

static void bucket_add(struct account *a, uint32_t b, int64_t bytes)
{
	struct bucket *bk = &a->buckets[b];
	enum tm_cat cat = label_get(bk->label)->cat;

	if (!bk->dirty) {
		bk->dirty = true;
		GROW(a->dirty_buckets, a->dirty_bucket_cap, a->ndirty_buckets + 1);
		a->dirty_buckets[a->ndirty_buckets++] = b;
	}
	if (!bk->sampled_dirty) {
		bk->sampled_dirty = true;
		GROW(a->sdirty_buckets, a->sdirty_bucket_cap, a->nsdirty_buckets + 1);
		a->sdirty_buckets[a->nsdirty_buckets++] = b;
	}
	bk->cur += bytes;
	if (bk->proc) {
		bk->proc->cat[cat] += bytes;
		mark_proc(a, bk->proc);
	}
	a->cat[cat] += bytes;
	a->changed = true;
}

static uint32_t bucket_get(struct account *a, struct proc *p, int label, int32_t stack_id)
{
	/* stack ids are 31-bit hashes: label and id fill the key, one map per process */
	uint64_t key = (uint64_t)(uint32_t)label << 32 | (stack_id < 0 ? 0 : (uint64_t)stack_id + 1);
	bool created;
	uint64_t *slot = hashmap__upsert(p->bucket_idx, key, &created);

	if (created) {
		if (a->nbuckets >= MAX_BUCKETS) {
			*slot = 0;
			return 0;
		}
		GROW(a->buckets, a->bucketcap, a->nbuckets + 1);
		a->buckets[a->nbuckets] = (struct bucket){ .proc = p, .label = label, .stack_id = stack_id };
		*slot = a->nbuckets++;
	}
	return (uint32_t)*slot;
}

/* The tree is at a new peak and about to go down: freeze what changed since the last freeze. */
static void snapshot_peak(struct account *a)
{
	size_t i;

	for (i = 0; i < a->ndirty_buckets; i++) {
		struct bucket *bk = &a->buckets[a->dirty_buckets[i]];

		bk->peak = bk->cur;
		bk->dirty = false;
	}
	a->ndirty_buckets = 0;
	for (i = 0; i < a->ndirty_procs; i++) {
		struct proc *p = a->dirty_procs[i];

		memcpy(p->peak_cat, p->cat, sizeof(p->cat));
		p->peak_kernel = p->kernel;
		p->dirty = false;
	}
	a->ndirty_procs = 0;
	memcpy(a->peak_cat, a->cat, sizeof(a->cat));
	a->at_peak = false;
}

/* ---- timeline ---- */

static void add_sample_proc(struct account *a, struct proc *p, int64_t kernel, const int64_t cat[NR_CATS])
{
	struct sample_proc *sp;

	GROW(a->sprocs, a->sproccap, a->nsprocs + 1);
	sp = &a->sprocs[a->nsprocs++];
	sp->proc = p->idx;
	sp->kernel = kernel;
	memcpy(sp->cat, cat, sizeof(sp->cat));
}

static void take_sample(struct account *a, uint64_t t)
{
	struct sample *s;
	size_t i;

	GROW(a->samples, a->samplecap, a->nsamples + 1);
	s = &a->samples[a->nsamples++];
	s->t = t - a->o.start_ts;
	s->kernel = a->kernel;
	memcpy(s->cat, a->cat, sizeof(a->cat));
	s->first = a->nsprocs;
	/* processes with memory now, or that changed since the last sample */
	for (i = 0; i < a->nprocs; i++) {
		struct proc *p = a->procs[i];

		if (!p->kernel && !p->sampled_dirty)
			continue;
		p->sampled_dirty = false;
		add_sample_proc(a, p, p->kernel, p->cat);
	}
	s->n = a->nsprocs - s->first;
	/* buckets as deltas: the cost follows what changed, not how many stacks exist */
	s->bfirst = a->nsbuckets;
	GROW(a->sbuckets, a->sbucketcap, a->nsbuckets + a->nsdirty_buckets);
	for (i = 0; i < a->nsdirty_buckets; i++) {
		struct bucket *bk = &a->buckets[a->sdirty_buckets[i]];

		bk->sampled_dirty = false;
		a->sbuckets[a->nsbuckets++] = (struct sample_bucket){ a->sdirty_buckets[i], bk->cur };
	}
	a->nsdirty_buckets = 0;
	s->bn = a->nsbuckets - s->bfirst;
	s->absolute = false;
	a->changed = false;
}

static void advance_time(struct account *a, uint64_t ts)
{
	if (ts < a->last_ts)
		ts = a->last_ts; /* CPUs' events interleave slightly out of order */
	a->last_ts = ts;
	if (ts < a->next_sample)
		return;
	/* only changed intervals are stored: the cost follows activity, not elapsed time */
	if (a->changed)
		take_sample(a, a->next_sample);
	a->next_sample = ts - (ts - a->o.start_ts) % a->o.interval_ns + a->o.interval_ns;
}

/* ---- page records ---- */

static inline uint64_t rec_bytes(uint64_t v)
{
	return v >> REC_BUCKET_BITS;
}

static void rec_add(struct account *a, struct mm *mm, int member, uint64_t key, uint32_t b, uint64_t bytes)
{
	bool created;
	uint64_t *v = hashmap__upsert(mm->pages[member], key, &created);

	if (created)
		*v = b;
	else
		b = (uint32_t)(*v & REC_BUCKET_MASK); /* the page keeps its first owner */
	*v += bytes << REC_BUCKET_BITS;
	bucket_add(a, b, (int64_t)bytes);
	mm->attributed += (int64_t)bytes;
}

/* Take up to want bytes from the record at key; returns what it took. */
static uint64_t rec_take(struct account *a, struct mm *mm, int member, uint64_t key, uint64_t want)
{
	uint64_t *v = hashmap__find(mm->pages[member], key), have, take;

	if (!v)
		return 0;
	have = rec_bytes(*v);
	take = want < have ? want : have;
	bucket_add(a, (uint32_t)(*v & REC_BUCKET_MASK), -(int64_t)take);
	mm->attributed -= (int64_t)take;
	if (take == have)
		hashmap__delete(mm->pages[member], key);
	else
		*v -= take << REC_BUCKET_BITS;
	return take;
}

/* Free bytes whose pages are not known: walk the member's records from a cursor. */
static void take_any(struct account *a, struct mm *mm, int member, uint64_t want)
{
	struct hashmap *h = mm->pages[member];
	size_t cap = hashmap__capacity(h), scanned = 0;

	while (want && hashmap__size(h) && scanned < 2 * cap) {
		uint64_t key, val;
		size_t i = mm->cursor[member] % cap;

		if (hashmap__slot(h, i, &key, &val))
			want -= rec_take(a, mm, member, key, want);
		else
			mm->cursor[member]++;
		scanned++;
	}
}

/* A fault that freed a page (copy-on-write of a file page): the page is in the record at its
 * own address, or in the fault-around block that mapped it, keyed by the page that faulted
 * then, within the same 64 KiB-aligned window (mm/memory.c do_fault_around). */
static uint64_t take_near(struct account *a, struct mm *mm, int member, uint64_t addr, uint64_t want)
{
	uint64_t page = addr & ~(PAGE_SIZE - 1), win = addr & ~(FAULT_AROUND - 1), key, took;

	took = rec_take(a, mm, member, page, want);
	for (key = win; key < win + FAULT_AROUND && took < want; key += PAGE_SIZE)
		if (key != page)
			took += rec_take(a, mm, member, key, want - took);
	return took;
}

/* Up to want bytes from the records keyed in [start, end), walking the member's records (for a
 * range much larger than the records held). */
static uint64_t take_keyed(struct account *a, struct mm *mm, int member, uint64_t start, uint64_t end,
			   uint64_t want)
{
	struct hashmap *h = mm->pages[member];
	uint64_t key, val, took = 0;
	size_t pos = 0;

	while (took < want && hashmap__next(h, &pos, &key, &val)) {
		if (key < start || key >= end || key == UNPLACED_KEY)
			continue;
		took += rec_take(a, mm, member, key, want - took);
		if (!hashmap__find(h, key))
			pos--; /* backward-shift may have moved an entry into this slot */
	}
	return took;
}

/* A syscall freed want bytes of member in [start, end) (munmap, madvise(DONTNEED), brk shrink,
 * mremap): take them from the records in the range, in address order. The kernel reports such
 * a free as several RSS changes, so each takes only its own bytes (a timeline sample between
 * two of them then matches the kernel), and the next one goes on where this one stopped. */
static void take_range(struct account *a, struct mm *mm, int member, uint64_t start, uint64_t end,
		       uint64_t sys_ts, uint64_t want)
{
	struct hashmap *h = mm->pages[member];
	uint64_t pages = (end - start) / PAGE_SIZE, took = 0, addr;
	int m;

	if (start != mm->rng_start || end != mm->rng_end || sys_ts != mm->rng_ts) { /* another syscall */
		mm->rng_start = start;
		mm->rng_end = end;
		mm->rng_ts = sys_ts;
		for (m = 0; m < TM_NR_MEMBERS; m++)
			mm->rng_next[m] = start & ~(PAGE_SIZE - 1);
	}
	if (pages > hashmap__size(h) * 4) { /* few records in a big range: walk the records */
		take_keyed(a, mm, member, start, end, want);
		return;
	}
	for (addr = mm->rng_next[member]; addr < end && took < want; addr += PAGE_SIZE) {
		took += rec_take(a, mm, member, addr, want - took);
		if (took >= want && hashmap__find(h, addr))
			break; /* this record still holds bytes: the next change starts here */
	}
	mm->rng_next[member] = addr;
}

/* The syscall that unmapped [start, end) returned: nothing there is resident any more, so
 * records its RSS changes did not take (a page counted twice when two CPUs faulted at once)
 * go too, without a kernel change: the attributed total heals towards the kernel's. */
static void sweep_range(struct account *a, struct mm *mm, uint64_t start, uint64_t end)
{
	int member;

	for (member = 0; mm && end > start && member < TM_NR_MEMBERS; member++) {
		struct hashmap *h = mm->pages[member];
		uint64_t pages = (end - start) / PAGE_SIZE, addr;

		if (!hashmap__size(h))
			continue;
		if (pages > hashmap__size(h) * 4) {
			take_keyed(a, mm, member, start, end, UINT64_MAX);
			continue;
		}
		for (addr = start & ~(PAGE_SIZE - 1); addr < end; addr += PAGE_SIZE)
			rec_take(a, mm, member, addr, UINT64_MAX);
	}
}

/* mremap moved [old, old+len) to new_addr: its records move with it. */
static void move_range(struct mm *mm, uint64_t old, uint64_t len, uint64_t new_addr)
{
	int member;

	for (member = 0; member < TM_NR_MEMBERS; member++) {
		struct hashmap *h = mm->pages[member];
		size_t pos = 0, n = 0, i;
		uint64_t key, val, (*moved)[2] = NULL;

		while (hashmap__next(h, &pos, &key, &val)) {
			if (key < old || key >= old + len || key == UNPLACED_KEY)
				continue;
			moved = xrealloc(moved, (n + 1) * sizeof(*moved));
			moved[n][0] = key - old + new_addr;
			moved[n++][1] = val;
		}
		for (i = 0; i < n; i++)
			hashmap__delete(h, moved[i][0] - new_addr + old);
		for (i = 0; i < n; i++)
			*hashmap__upsert(h, moved[i][0], NULL) = moved[i][1];
		free(moved);
	}
}

/* An address space that is gone is dropped, so that a new mm reusing its id starts afresh
 * (rss_stat's mm id is a hash of the mm's address, which the kernel reuses). */
static void mm_forget(struct account *a, struct mm *mm)
{
	int member;

	for (member = 0; member < TM_NR_MEMBERS; member++)
		take_any(a, mm, member, UINT64_MAX); /* freed unseen, if anything is left */
	if (mm->proc && mm->proc->mm == mm)
		mm->proc->mm = NULL;
	hashmap__delete(a->mms, mm->mm_id);
	mm_free(mm);
}

static void mm_maybe_forget(struct account *a, struct mm *mm)
{
	if (mm->dead && !mm->last[TM_FILEPAGES] && !mm->last[TM_ANONPAGES] && !mm->last[TM_SHMEMPAGES])
		mm_forget(a, mm);
}

/* ---- stacks ---- */

const char *account__frame_name(struct account *a, struct proc *p, uint64_t ip, bool *known)
{
	const struct map_entry *m = account__find_map(a, p, ip);
	char buf[512];
	bool dummy;

	if (!known)
		known = &dummy;
	*known = false;
	if (!m || !map_entry__is_file(m)) { /* JIT code lives in anonymous memory */
		const char *jit = perfmap__lookup(p->pid, p->uid, a->o.perfmap_not_before, ip);

		if (jit) {
			*known = true;
			return jit;
		}
	}
	if (!m)
		return intern("[unknown]");
	if (map_entry__is_file(m)) {
		const struct elf_syms *es = elfsyms__get(m->path);
		uint64_t off = 0;
		const char *sym = es ? elfsyms__lookup(es, ip - m->start + m->off, &off) : NULL;

		if (sym) {
			*known = true;
			return demangle(sym);
		}
		snprintf(buf, sizeof(buf), "%s+0x%llx", basename_of(m->path),
			 (unsigned long long)(ip - m->start + m->off));
		return intern(buf);
	}
	*known = m->path[0] == '[';
	return intern(m->path[0] ? m->path : "[anon]");
}

const struct symstack *account__stack(struct account *a, struct proc *p, int32_t id)
{
	uint64_t ips[TM_MAX_STACK_DEPTH], *slot;
	struct symstack *ss;
	bool created;
	int n, i;

	if (id < 0)
		return NULL;
	slot = hashmap__upsert(p->stacks, (uint64_t)id, &created);
	if (!created)
		return (const struct symstack *)(uintptr_t)*slot;
	n = a->o.read_stack(a->o.ctx, id, ips, TM_MAX_STACK_DEPTH);
	if (n < 0) {
		a->st.stacks_unreadable++; /* freed after its last user exited, before we read it */
		n = 0;
	}
	ss = xcalloc(1, sizeof(*ss) + n * sizeof(ss->frames[0]));
	ss->n = n;
	for (i = 0; i < n; i++) {
		bool known;

		/* return addresses point after the call: look up the call itself */
		ss->frames[i] = account__frame_name(a, p, i ? ips[i] - 1 : ips[i], &known);
		if (!known)
			ss->unknown++;
	}
	if (ss->unknown) {
		ss->ips = xcalloc(n, sizeof(*ss->ips));
		memcpy(ss->ips, ips, n * sizeof(*ips));
	}
	a->st.frames += n;
	a->st.frames_unknown += ss->unknown;
	if (p->alive)
		(*hashmap__upsert(a->stack_users, (uint64_t)id, NULL))++;
	*slot = (uint64_t)(uintptr_t)ss;
	return ss;
}

void account__resymbolize(struct account *a)
{
	const char *unknown = intern("[unknown]"), *anon = intern("[anon]");
	size_t i, pos;
	uint64_t id, v;

	perfmap__expire();
	for (i = 0; i < a->nprocs; i++) {
		struct proc *p = a->procs[i];

		for (pos = 0; hashmap__next(p->stacks, &pos, &id, &v);) {
			struct symstack *ss = (struct symstack *)(uintptr_t)v;
			int k;

			for (k = 0; ss && ss->ips && k < ss->n; k++) {
				uint64_t ip = k ? ss->ips[k] - 1 : ss->ips[k];
				const struct map_entry *m = procmaps__find(&p->maps, ip);
				const char *jit;

				if ((m && map_entry__is_file(m)) ||
				    (ss->frames[k] != unknown && ss->frames[k] != anon))
					continue;
				jit = perfmap__lookup(p->pid, p->uid, a->o.perfmap_not_before, ip);
				if (jit && jit != ss->frames[k]) {
					ss->frames[k] = jit;
					ss->unknown--;
					a->st.frames_unknown--;
				}
			}
		}
	}
}

static int refresh_maps(struct account *a, struct proc *p)
{
	char path[32];
	struct stat st;
	int err;

	p->maps_stale = false;
	if (!p->alive)
		return -ESRCH;
	err = procmaps__read(&p->maps, p->pid);
	snprintf(path, sizeof(path), "/proc/%d", p->pid);
	if (!err && !stat(path, &st))
		p->uid = st.st_uid;
	if (err) {
		a->st.maps_read_failed++;
		return err;
	}
	p->maps_read = true;
	if (a->unwind) { /* the BPF walk learns where code without frame pointers is */
		struct tm_unwind_proc up;

		unwind__proc_ranges(a->unwind, &p->maps, &up);
		if (a->o.set_unwind(a->o.ctx, (uint32_t)p->pid, &up))
			a->st.unwind_set_failed++;
	}
	return 0;
}

const struct map_entry *account__find_map(struct account *a, struct proc *p, uint64_t addr)
{
	const struct map_entry *m = procmaps__find(&p->maps, addr);

	if (!m && p->maps_stale && !refresh_maps(a, p))
		m = procmaps__find(&p->maps, addr);
	return m;
}

void account__refresh_maps(struct account *a)
{
	size_t i;

	for (i = 0; i < a->nprocs; i++) {
		struct proc *p = a->procs[i];

		if (p->alive && (p->maps_stale || !p->maps_read))
			refresh_maps(a, p);
	}
}

/* ---- events ---- */

static struct mm *mm_for_rss(struct account *a, const struct tm_event *e)
{
	struct mm *mm = mm_find(a, e->mm_id);
	struct proc *p;

	/* an id still held by a dead mm whose end we missed, now a new process's new mm */
	if (mm && mm->dead && mm->proc && (pid_t)e->tgid != mm->proc->pid &&
	    ((e->flags & TM_F_CURR) || e->cause == TM_CAUSE_EXEC || e->cause == TM_CAUSE_FORK)) {
		if (mm->total) {
			a->kernel -= mm->total; /* its pages are gone: the kernel reused its struct */
			mm->proc->kernel -= mm->total;
			mark_proc(a, mm->proc);
		}
		mm->last[TM_FILEPAGES] = mm->last[TM_ANONPAGES] = mm->last[TM_SHMEMPAGES] = 0;
		mm->total = 0;
		mm_forget(a, mm);
		a->st.mm_reused++;
		mm = NULL;
	}
	if (mm)
		return mm;
	if (e->cause == TM_CAUSE_FORK) {
		/* the child's copy of the parent's pages; the child is named by the fork event */
		mm = mm_new(a, e->mm_id, NULL);
		*hashmap__upsert(a->pending_mm, e->tid, NULL) = (uint64_t)(uintptr_t)mm;
		return mm;
	}
	p = proc_of_pid(a, (pid_t)e->tgid);
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
			p = proc_new(a, p->pid, e->ts);
		return mm_new(a, e->mm_id, p);
	case TM_CAUSE_EXEC_OLD:
	case TM_CAUSE_EXIT:
	case TM_CAUSE_NONE:
		/* first seen mid-life: its earlier growth was never seen, so it is not counted */
		mm = mm_new(a, e->mm_id, p);
		mm->unknown_base = true;
		mm->dead = e->cause != TM_CAUSE_NONE;
		return mm;
	default:
		if (p->mm && p->mm->mm_id == ATTACH_MM_ID) {
			/* -p: the address space found at attach now shows its id */
			mm = p->mm;
			hashmap__delete(a->mms, ATTACH_MM_ID);
			mm->mm_id = e->mm_id;
			*hashmap__upsert(a->mms, e->mm_id, NULL) = (uint64_t)(uintptr_t)mm;
			return mm;
		}
		if (p->mm) {
			p->mm->dead = true; /* a new address space for this process: the old one is gone */
			p->mm = NULL;
		}
		return mm_new(a, e->mm_id, p);
	}
}

static void on_rss(struct account *a, const struct tm_event *e)
{
	struct mm *mm = mm_for_rss(a, e);
	int64_t delta;
	struct proc *p;
	int member = e->member;

	a->st.rss_events++;
	if (!mm || member >= TM_NR_MEMBERS)
		return;
	delta = (int64_t)e->ret - mm->last[member];
	mm->last[member] = (int64_t)e->ret;
	if (mm->unknown_base || (mm->proc && mm->proc->prelaunch)) {
		mm_maybe_forget(a, mm);
		return;
	}
	if (!delta)
		return;
	if (delta < 0 && a->at_peak)
		snapshot_peak(a);
	mm->total += delta;
	a->kernel += delta;
	p = mm->proc;
	if (p) {
		p->kernel += delta;
		mark_proc(a, p);
	}
	a->changed = true;

	if (delta > 0) {
		uint64_t key = UNPLACED_KEY;
		int label;
		uint32_t b;

		if (e->cause == TM_CAUSE_FAULT || e->cause == TM_CAUSE_SYSCALL)
			key = e->addr & ~(delta >= (int64_t)HUGE_SIZE ? HUGE_SIZE - 1 : PAGE_SIZE - 1);
		if (key == UNPLACED_KEY)
			a->st.unplaced_bytes += delta;
		if (e->stack_id < 0 && (e->flags & TM_F_CURR))
			a->st.stacks_missing++;
		if (!p) {
			/* a forked child's copy before its fork event: placed when it is named */
			rec_add(a, mm, member, key, 0, delta);
		} else {
			label = resolve__classify(a, p, member, e->addr, e->stack_id, e->cause);
			b = bucket_get(a, p, label, e->stack_id);
			if (!a->buckets[b].cur && !a->buckets[b].peak)
				account__stack(a, p, e->stack_id); /* symbolize while the process lives */
			a->buckets[b].grows++;
			rec_add(a, mm, member, key, b, delta);
		}
		if (p && p->kernel > p->own_peak) {
			p->own_peak = p->kernel;
			p->own_peak_ts = e->ts;
			memcpy(p->own_peak_cat, p->cat, sizeof(p->cat));
		}
		if (a->kernel > a->peak_kernel) {
			a->peak_kernel = a->kernel;
			a->peak_ts = e->ts;
			a->at_peak = true;
		}
	} else {
		uint64_t want = -delta, nr = e->arg >> 32;

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
				take_range(a, mm, member, start, end, e->extra3, want);
				mm_maybe_forget(a, mm);
				return;
			}
		}
		if (e->cause == TM_CAUSE_FAULT)
			want -= take_near(a, mm, member, e->addr, want);
		take_any(a, mm, member, want);
	}
	mm_maybe_forget(a, mm);
}

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
	struct region *outer = r.kind == REG_MMAP && (r.flags & MAP_FIXED_FLAG) ? regions__find(&p->regions, r.start) : NULL;

	if (r.flags & MAP_FIXED_FLAG) /* what was mapped there before is gone */
		sweep_range(a, p->mm, r.start, r.end);
	/* reserve, then commit with MAP_FIXED inside (JVM heaps, Go, V8): the reservation says
	 * what the memory is for, the commit only where it starts */
	if (outer && outer->kind == REG_MMAP && outer->end >= r.end) {
		r.caller = outer->caller;
		r.stack_id = outer->stack_id;
		r.flags |= outer->flags & (MAP_STACK_FLAG | MAP_GROWSDOWN_FLAG);
	}
	regions__insert(&p->regions, &r);
	if (r.kind == REG_FILE)
		p->maps_stale = true;
}

static void on_fork(struct account *a, const struct tm_event *e)
{
	struct proc *parent = proc_of_pid(a, (pid_t)e->tgid);
	struct proc *child = proc_new(a, (pid_t)e->extra, e->ts);
	uint64_t *pending = hashmap__find(a->pending_mm, e->tid);

	child->comm = intern(e->comm);
	if (parent) {
		child->exe = parent->exe;
		child->is_go = parent->is_go;
		child->start_brk = parent->start_brk;
		child->brk = parent->brk;
		child->start_stack = parent->start_stack;
		child->stack_rlim = parent->stack_rlim;
		procmaps__copy(&child->maps, &parent->maps);
		regions__copy(&child->regions, &parent->regions);
	}
	if (pending) {
		struct mm *mm = (struct mm *)(uintptr_t)*pending;
		int member;
		uint32_t b = bucket_get(a, child, label_id(CAT_OTHER, "inherited"), -1);

		hashmap__delete(a->pending_mm, e->tid);
		mm->proc = child;
		child->mm = mm;
		child->kernel = mm->total;
		/* the pages copied from the parent, counted before the child had a name */
		for (member = 0; member < TM_NR_MEMBERS; member++) {
			uint64_t *v = hashmap__find(mm->pages[member], UNPLACED_KEY);

			if (v) {
				uint64_t bytes = rec_bytes(*v);

				bucket_add(a, 0, -(int64_t)bytes);
				bucket_add(a, b, (int64_t)bytes);
				*v = bytes << REC_BUCKET_BITS | b;
			}
		}
		mark_proc(a, child);
	}
}

/* The process is gone before its maps could be read: its binary's code, from what the exec
 * event recorded, still names the frames in the program itself (not those in libraries). */
static void maps_from_exec(struct proc *p, const struct tm_exec_event *x)
{
	const struct elf_syms *es = p->exe ? elfsyms__get(p->exe) : NULL;
	uint64_t off;

	if (!es || x->end_code <= x->start_code || !elfsyms__text_offset(es, &off))
		return;
	GROW(p->maps.e, p->maps.cap, 1);
	p->maps.e[0] = (struct map_entry){ .start = x->start_code & ~4095ull, .end = x->end_code,
					   .off = off - (x->start_code & 4095), .exec = true, .path = p->exe };
	p->maps.n = 1;
}

static void on_exec(struct account *a, const struct tm_event *e)
{
	const struct tm_exec_event *x = e->flags & TM_F_EXEC_INFO ? (const struct tm_exec_event *)e : NULL;
	struct proc *p = proc_of_pid(a, (pid_t)e->tgid);
	char fn[64], exe[TM_PATH_LEN];
	bool known = true; /* p->exe is the file that ran */
	ssize_t n;

	/* reuse an image already begun by execve's mm setup (or a vfork child's) */
	if (!p || p->exec_seen || p->prelaunch)
		p = proc_new(a, (pid_t)e->tgid, e->ts);
	p->exec_seen = true;
	p->comm = intern(e->comm);
	p->start_brk = e->extra;
	p->brk = e->ret;
	p->start_stack = e->extra2;
	p->stack_rlim = e->extra3;
	p->regions.n = 0;
	p->maps.n = 0;
	snprintf(fn, sizeof(fn), "/proc/%u/exe", e->tgid);
	n = readlink(fn, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		p->exe = intern(exe);
	} else if (x && x->filename[0]) { /* already gone: the path execve was given */
		char real[PATH_MAX];
		struct stat st;

		/* resolved from the tool's cwd, which may not be the process's (make's ./app in
		 * another directory): kept only if it is the file that ran, else left as given,
		 * unresolved, so that no other file's symbols name its frames */
		known = realpath(x->filename, real) && !stat(real, &st) && st.st_ino == x->ino &&
			kernel_dev(st.st_dev) == x->dev;
		p->exe = intern(known ? real : x->filename);
	}
	if (p->exe && known)
		p->is_go = elfsyms__is_go(elfsyms__get(p->exe));
	if (refresh_maps(a, p) && x && known)
		maps_from_exec(p, x);
}

static void proc_set_exit(struct proc *p, uint64_t code, uint64_t maxrss)
{
	p->kernel_hiwater = (int64_t)maxrss;
	/* task->exit_code is a wait status: report it the way a shell would */
	p->exit_code = code & 0x7f ? 128 + (int)(code & 0x7f) : (int)(code >> 8 & 0xff);
}

/* A process is gone and its stacks are symbolized: stacks no live process uses leave the
 * kernel's stack map, whose ids would otherwise run out with many short processes (ASLR makes
 * each one's stacks distinct). */
static void release_stacks(struct account *a, struct proc *p)
{
	size_t pos = 0;
	uint64_t id, v;

	while (hashmap__next(p->stacks, &pos, &id, &v)) {
		uint64_t *users = hashmap__find(a->stack_users, id);

		if (!users || --*users)
			continue;
		hashmap__delete(a->stack_users, id);
		if (a->o.drop_stack)
			a->o.drop_stack(a->o.ctx, (int32_t)id);
	}
}

static void on_exit_ev(struct account *a, const struct tm_event *e)
{
	struct proc *p = proc_of_pid(a, (pid_t)e->tgid);

	if (!p)
		return;
	p->alive = false;
	p->end_ts = e->ts;
	proc_set_exit(p, e->extra2, e->extra3);
	release_stacks(a, p);
	if (p->mm) {
		p->mm->dead = true;
		mm_maybe_forget(a, p->mm);
	}
}

void account__event(struct account *a, const struct tm_event *e)
{
	struct proc *p;

	a->st.events++;
	advance_time(a, e->ts);
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
	}
	p = proc_of_pid(a, (pid_t)e->tgid);
	if (!p) {
		a->st.orphan_events++;
		return;
	}
	switch (e->kind) {
	case TM_EV_MMAP:
		on_mmap(a, p, e);
		break;
	case TM_EV_MUNMAP:
		sweep_range(a, p->mm, e->addr, e->addr + e->len);
		regions__remove(&p->regions, e->addr, e->addr + e->len);
		p->maps_stale = true;
		break;
	case TM_EV_MREMAP:
		if (e->arg < e->len) /* shrunk: the tail is gone */
			sweep_range(a, p->mm, e->addr + e->arg, e->addr + e->len);
		if (e->ret != e->addr && p->mm)
			move_range(p->mm, e->addr, e->len < e->arg ? e->len : e->arg, e->ret);
		regions__move(&p->regions, e->addr, e->len, e->ret);
		p->maps_stale = true;
		break;
	case TM_EV_BRK:
		if (p->brk > e->ret && e->ret >= p->start_brk && p->start_brk)
			sweep_range(a, p->mm, e->ret, p->brk);
		if (!p->start_brk)
			p->start_brk = e->ret;
		p->brk = e->ret;
		break;
	case TM_EV_MADVISE:
		if (e->arg == MADV_DONTNEED)
			sweep_range(a, p->mm, e->addr, e->addr + e->len);
		break;
	}
}

/* The exact peak joins the timeline in its place (samples alone can fall either side of it). */
static void insert_peak_sample(struct account *a)
{
	struct sample *s;
	size_t i, at;

	if (!a->peak_ts)
		return;
	for (at = a->nsamples; at > 0 && a->samples[at - 1].t > a->peak_ts - a->o.start_ts; at--)
		;
	GROW(a->samples, a->samplecap, a->nsamples + 1);
	memmove(&a->samples[at + 1], &a->samples[at], (a->nsamples - at) * sizeof(*a->samples));
	a->nsamples++;
	s = &a->samples[at];
	s->t = a->peak_ts - a->o.start_ts;
	s->kernel = a->peak_kernel;
	memcpy(s->cat, a->peak_cat, sizeof(a->peak_cat));
	s->first = a->nsprocs;
	for (i = 0; i < a->nprocs; i++) {
		struct proc *p = a->procs[i];

		if (p->peak_kernel)
			add_sample_proc(a, p, p->peak_kernel, p->peak_cat);
	}
	s->n = a->nsprocs - s->first;
	s->bfirst = a->nsbuckets;
	for (i = 0; i < a->nbuckets; i++) {
		if (!a->buckets[i].peak)
			continue;
		GROW(a->sbuckets, a->sbucketcap, a->nsbuckets + 1);
		a->sbuckets[a->nsbuckets++] = (struct sample_bucket){ (uint32_t)i, a->buckets[i].peak };
	}
	s->bn = a->nsbuckets - s->bfirst;
	s->absolute = true;
}

/* ---- -p: a process that was already running ---- */

static int64_t status_kb(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p ? strtoll(p + strlen(key), NULL, 10) * 1024 : 0;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, len = 0, r;

	if (!f)
		return NULL;
	do {
		GROW(buf, cap, len + 65536);
		r = fread(buf + len, 1, cap - len - 1, f);
		len += r;
	} while (r);
	fclose(f);
	buf[len] = 0;
	return buf;
}

/* Memory resident before we came: one record per mapping, labelled "pre-existing". */
static void add_preexisting(struct account *a, struct proc *p, struct mm *mm, const char *smaps)
{
	const char *line = smaps;
	uint64_t start = 0, rss = 0, anon = 0;
	char name[300] = "";
	bool have = false;

	for (;;) {
		const char *nl = line ? strchr(line, '\n') : NULL;
		unsigned long long s0 = 0, e0 = 0;
		char path[256] = "", one[512];
		size_t len = line ? (nl ? (size_t)(nl - line) : strlen(line)) : 0;
		bool header;

		/* parse one line at a time: anonymous headers have no path, and %[ would run on */
		if (len >= sizeof(one))
			len = sizeof(one) - 1;
		if (line)
			memcpy(one, line, len);
		one[line ? len : 0] = 0;
		header = line && *line && sscanf(one, "%llx-%llx %*s %*s %*s %*s %255[^\n]", &s0, &e0, path) >= 2;

		if (!line || !*line || header) {
			if (have && rss) {
				bool file = name[0] == '/';
				char lb[340];
				enum tm_cat cat = !strcmp(name, "[heap]") ? CAT_HEAP :
						  !strcmp(name, "[stack]") ? CAT_STACK :
						  p->is_go && ((start >> 32) & 0xff) == 0xc0 ? CAT_HEAP : CAT_OTHER;

				snprintf(lb, sizeof(lb), "pre-existing:%s",
					 file ? basename_of(name) : name[0] ? name :
					 cat == CAT_HEAP ? "[go arena: heap and goroutine stacks]" : "[anon]");
				if (rss > anon)
					rec_add(a, mm, file ? TM_FILEPAGES : TM_SHMEMPAGES, start,
						bucket_get(a, p, label_id(CAT_FILE, lb), -1), rss - anon);
				if (anon)
					rec_add(a, mm, TM_ANONPAGES, start, bucket_get(a, p, label_id(cat, lb), -1), anon);
			}
			if (!line || !*line)
				break;
			start = s0;
			rss = anon = 0;
			{
				char *q = path;

				while (*q == ' ')
					q++;
				snprintf(name, sizeof(name), "%s", q);
			}
			have = true;
		} else if (!strncmp(line, "Rss:", 4)) {
			rss = strtoull(line + 4, NULL, 10) * 1024;
		} else if (!strncmp(line, "Anonymous:", 10)) {
			anon = strtoull(line + 10, NULL, 10) * 1024;
		}
		line = nl ? nl + 1 : NULL;
	}
}

bool account__alive(struct account *a, pid_t pid)
{
	struct proc *p = proc_of_pid(a, pid);

	return p && p->alive;
}

int account__attach(struct account *a, pid_t pid)
{
	char fn[64], *status, *smaps, *stat, exe[TM_PATH_LEN];
	struct proc *p;
	struct mm *mm;
	ssize_t n;
	int i;

	snprintf(fn, sizeof(fn), "/proc/%d/status", pid);
	status = slurp(fn);
	snprintf(fn, sizeof(fn), "/proc/%d/smaps", pid);
	smaps = slurp(fn);
	snprintf(fn, sizeof(fn), "/proc/%d/stat", pid);
	stat = slurp(fn);
	if (!status || !smaps || !stat) {
		free(status);
		free(smaps);
		free(stat);
		return -ESRCH;
	}
	p = proc_new(a, pid, a->o.start_ts);
	p->exec_seen = true;
	{
		const char *c = strstr(status, "Name:");
		char comm[TM_COMM_LEN + 1] = "";

		if (c)
			sscanf(c + 5, " %16[^\n]", comm);
		p->comm = intern(comm);
	}
	snprintf(fn, sizeof(fn), "/proc/%d/exe", pid);
	n = readlink(fn, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		p->exe = intern(exe);
		p->is_go = elfsyms__is_go(elfsyms__get(exe));
	}
	{
		/* after "(comm)": field 28 startstack, 47 start_brk, 48 brk (proc(5)) */
		const char *q = strrchr(stat, ')');
		unsigned long long v;
		int field = 2;

		while (q && *q) {
			q = strchr(q, ' ');
			if (!q)
				break;
			q++;
			field++;
			v = strtoull(q, NULL, 10);
			if (field == 28)
				p->start_stack = v;
			else if (field == 47)
				p->start_brk = v;
			else if (field == 48)
				p->brk = v;
		}
	}
	p->stack_rlim = 8ull << 20;
	refresh_maps(a, p);
	mm = mm_new(a, ATTACH_MM_ID, p);
	mm->last[TM_FILEPAGES] = status_kb(status, "RssFile:");
	mm->last[TM_ANONPAGES] = status_kb(status, "RssAnon:");
	mm->last[TM_SHMEMPAGES] = status_kb(status, "RssShmem:");
	for (i = 0; i < TM_NR_MEMBERS; i++)
		if (i != TM_SWAPENTS)
			mm->total += mm->last[i];
	p->kernel = mm->total;
	a->kernel += mm->total;
	add_preexisting(a, p, mm, smaps);
	mark_proc(a, p);
	if (a->kernel > a->peak_kernel) {
		a->peak_kernel = a->kernel;
		a->peak_ts = a->o.start_ts;
		a->at_peak = true;
	}
	p->own_peak = p->kernel;
	p->own_peak_ts = a->o.start_ts;
	memcpy(p->own_peak_cat, p->cat, sizeof(p->cat));
	free(status);
	free(smaps);
	free(stat);
	return 0;
}

void account__finish(struct account *a, uint64_t end_ts)
{
	size_t i;

	/* exit records lost to a full ring buffer: the kernel-side map still has them */
	for (i = 0; i < a->nprocs; i++) {
		struct proc *p = a->procs[i];
		struct tm_exit ex;

		if (p->alive && !p->prelaunch && a->o.exit_info && !a->o.exit_info(a->o.ctx, p->pid, &ex) &&
		    (i + 1 == a->nprocs || proc_of_pid(a, p->pid) == p)) {
			p->alive = false;
			p->end_ts = end_ts;
			proc_set_exit(p, ex.exit_code, ex.maxrss_bytes);
		}
	}
	if (a->at_peak)
		snapshot_peak(a);
	advance_time(a, end_ts > a->last_ts ? end_ts : a->last_ts);
	if (a->changed)
		take_sample(a, a->last_ts);
	insert_peak_sample(a);
}

void account__free(struct account *a)
{
	size_t pos = 0, i;
	uint64_t k, v;

	if (!a)
		return;
	while (hashmap__next(a->mms, &pos, &k, &v))
		mm_free((struct mm *)(uintptr_t)v);
	for (i = 0; i < a->nprocs; i++) {
		struct proc *p = a->procs[i];

		pos = 0;
		while (hashmap__next(p->stacks, &pos, &k, &v)) {
			struct symstack *ss = (struct symstack *)(uintptr_t)v;

			if (ss)
				free(ss->ips);
			free(ss);
		}
		hashmap__free(p->stacks);
		hashmap__free(p->stack_labels);
		hashmap__free(p->bucket_idx);
		procmaps__clear(&p->maps);
		free(p->regions.r);
		free(p);
	}
	free(a->procs);
	hashmap__free(a->cur_proc);
	hashmap__free(a->mms);
	hashmap__free(a->pending_mm);
	hashmap__free(a->stack_users);
	unwind__cache_free(a->unwind);
	free(a->buckets);
	free(a->dirty_buckets);
	free(a->dirty_procs);
	free(a->samples);
	free(a->sbuckets);
	free(a->sdirty_buckets);
	free(a->sprocs);
	free(a);
}
