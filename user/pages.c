// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>
#include <linux/types.h>
#include "hashmap.h"
#include "pages.h"
#include "taskmem.h"
#include "util.h"

#define FAULT_AROUND (64ull << 10) /* fault_around_bytes' default */
#define HUGE_PAGE (2ull << 20)
#define REC_BUCKET_MASK ((1ull << PAGES_BUCKET_BITS) - 1)
#define REC_DUP (1ull << PAGES_BUCKET_BITS) /* in the process view only */
#define REC_SHIFT (PAGES_BUCKET_BITS + 1)

struct pages {
	/* page address -> bytes << REC_SHIFT | REC_DUP if the record does not count itself | bucket */
	struct hashmap *rec[TM_NR_MEMBERS];
	/* key -> frame id, for the (few) records that reference a frame; made on first use */
	struct hashmap *frame_of[TM_NR_MEMBERS];
	struct frames *fr;
	size_t cursor[TM_NR_MEMBERS];       /* where take_any's walk goes on */
	/* the range free in progress (a syscall's frees come as several RSS changes): where each
	 * member's walk through it stopped */
	uint64_t rng_start, rng_end, rng_ts, rng_next[TM_NR_MEMBERS];
	pages_moved_fn moved;
	void *ctx;
};

struct pages *pages__new(pages_moved_fn moved, void *ctx, struct frames *fr)
{
	struct pages *pg = xcalloc(1, sizeof(*pg));
	int i;

	for (i = 0; i < TM_NR_MEMBERS; i++)
		pg->rec[i] = hashmap__new();
	pg->moved = moved;
	pg->ctx = ctx;
	pg->fr = fr;
	return pg;
}

void pages__free(struct pages *pg)
{
	int i;

	if (!pg)
		return;
	for (i = 0; i < TM_NR_MEMBERS; i++) {
		hashmap__free(pg->rec[i]);
		hashmap__free(pg->frame_of[i]);
	}
	free(pg);
}

static inline uint64_t rec_bytes(uint64_t v)
{
	return v >> REC_SHIFT;
}

static inline uint32_t rec_bucket(uint64_t v)
{
	return (uint32_t)(v & REC_BUCKET_MASK);
}

static inline unsigned rec_views(uint64_t v)
{
	return v & REC_DUP ? PAGES_PROC : PAGES_PROC | PAGES_TREE;
}

static uint32_t frame_at(struct pages *pg, int member, uint64_t key)
{
	uint64_t *id = pg->frame_of[member] ? hashmap__find(pg->frame_of[member], key) : NULL;

	return id ? (uint32_t)*id : 0;
}

static void frame_link(struct pages *pg, int member, uint64_t key, uint32_t id)
{
	if (!pg->frame_of[member])
		pg->frame_of[member] = hashmap__new();
	*hashmap__upsert(pg->frame_of[member], key, NULL) = id;
	frames__get(pg->fr, id)->refs++;
}

/* The record at key is gone or counts itself now: it no longer references its frame, which
 * leaves the tree view with its last reference. */
static void frame_unlink(struct pages *pg, int member, uint64_t key)
{
	uint32_t id = frame_at(pg, member, key);
	struct frame *f;

	if (!id)
		return;
	hashmap__delete(pg->frame_of[member], key);
	f = frames__get(pg->fr, id);
	if (--f->refs)
		return;
	pg->moved(pg->ctx, f->bucket, -(int64_t)f->bytes, PAGES_TREE);
	frames__drop(pg->fr, id);
}

/* A record that references a frame gained or lost bytes: a frame it alone holds follows it
 * (the tree then sees what the process does); one shared keeps its bytes while others hold it. */
static void frame_follow(struct pages *pg, int member, uint64_t key, int64_t delta)
{
	uint32_t id = frame_at(pg, member, key);
	struct frame *f = id ? frames__get(pg->fr, id) : NULL;

	if (!f || f->refs != 1)
		return;
	if (delta < 0 && (uint64_t)-delta > f->bytes)
		delta = -(int64_t)f->bytes;
	f->bytes += delta;
	pg->moved(pg->ctx, f->bucket, delta, PAGES_TREE);
}

void pages__add(struct pages *pg, int member, uint64_t key, uint32_t b, uint64_t bytes)
{
	bool created;
	uint64_t *v = hashmap__upsert(pg->rec[member], key, &created);

	if (created)
		*v = b;
	else
		b = rec_bucket(*v); /* the page keeps its first owner */
	*v += bytes << REC_SHIFT;
	pg->moved(pg->ctx, b, (int64_t)bytes, rec_views(*v));
	if (*v & REC_DUP)
		frame_follow(pg, member, key, (int64_t)bytes);
}

void pages__add_ident(struct pages *pg, int member, uint64_t key, uint32_t b, uint64_t bytes, uint64_t ident)
{
	uint64_t *v = hashmap__find(pg->rec[member], key);
	uint32_t id;

	if (v) { /* more bytes at a page already held: they go with it */
		pages__add(pg, member, key, b, bytes);
		return;
	}
	id = frames__find(pg->fr, ident);
	if (!id) { /* the first record of the page: its bytes are the frame's */
		id = frames__make(pg->fr, ident, b, bytes);
		pg->moved(pg->ctx, b, (int64_t)bytes, PAGES_TREE);
	}
	*hashmap__upsert(pg->rec[member], key, NULL) = bytes << REC_SHIFT | REC_DUP | b;
	frame_link(pg, member, key, id);
	pg->moved(pg->ctx, b, (int64_t)bytes, PAGES_PROC);
}

void pages__add_pending(struct pages *pg, int member, uint64_t bytes)
{
	bool created;
	uint64_t *v = hashmap__upsert(pg->rec[member], PAGES_UNPLACED, &created);

	if (created)
		*v = REC_DUP;
	*v += bytes << REC_SHIFT;
	pg->moved(pg->ctx, rec_bucket(*v), (int64_t)bytes, rec_views(*v));
}

/* Take up to want bytes from the record at key; returns what it took. */
static uint64_t rec_take(struct pages *pg, int member, uint64_t key, uint64_t want)
{
	uint64_t *v = hashmap__find(pg->rec[member], key), have, take, val;

	if (!v)
		return 0;
	val = *v;
	have = rec_bytes(val);
	take = want < have ? want : have;
	pg->moved(pg->ctx, rec_bucket(val), -(int64_t)take, rec_views(val));
	if (take == have) {
		hashmap__delete(pg->rec[member], key);
		if (val & REC_DUP)
			frame_unlink(pg, member, key);
	} else {
		*hashmap__find(pg->rec[member], key) -= take << REC_SHIFT;
		if (val & REC_DUP)
			frame_follow(pg, member, key, -(int64_t)take);
	}
	return take;
}

/* Walk the member's records from a cursor. */
void pages__take_any(struct pages *pg, int member, uint64_t want)
{
	struct hashmap *h = pg->rec[member];
	size_t cap = hashmap__capacity(h), scanned = 0;

	while (want && hashmap__size(h) && scanned < 2 * cap) {
		uint64_t key, val;
		size_t i = pg->cursor[member] % cap;

		if (hashmap__slot(h, i, &key, &val))
			want -= rec_take(pg, member, key, want);
		else
			pg->cursor[member]++;
		scanned++;
	}
}

/* The page is in the record at its own address, or in the fault-around block that mapped it,
 * keyed by the page that faulted then, within the same 64 KiB-aligned window
 * (mm/memory.c do_fault_around). */
uint64_t pages__take_near(struct pages *pg, int member, uint64_t addr, uint64_t want)
{
	uint64_t page = addr & ~(PAGE_SIZE - 1), win = addr & ~(FAULT_AROUND - 1), key, took;

	took = rec_take(pg, member, page, want);
	for (key = win; key < win + FAULT_AROUND && took < want; key += PAGE_SIZE)
		if (key != page)
			took += rec_take(pg, member, key, want - took);
	return took;
}

/* Up to want bytes from the records keyed in [start, end), walking the member's records (for a
 * range much larger than the records held). */
static uint64_t take_keyed(struct pages *pg, int member, uint64_t start, uint64_t end, uint64_t want)
{
	struct hashmap *h = pg->rec[member];
	uint64_t key, val, took = 0;
	size_t pos = 0;

	while (took < want && hashmap__next(h, &pos, &key, &val)) {
		if (key < start || key >= end || key == PAGES_UNPLACED)
			continue;
		took += rec_take(pg, member, key, want - took);
		if (!hashmap__find(h, key))
			pos--; /* backward-shift may have moved an entry into this slot */
	}
	return took;
}

/* The kernel reports such a free (munmap, madvise(DONTNEED), brk shrink, mremap) as several RSS
 * changes, so each takes only its own bytes (a timeline sample between two of them then matches
 * the kernel), and the next one goes on where this one stopped. */
void pages__take_range(struct pages *pg, int member, uint64_t start, uint64_t end, uint64_t sys_ts,
		       uint64_t want)
{
	struct hashmap *h = pg->rec[member];
	uint64_t pages = (end - start) / PAGE_SIZE, took = 0, addr;
	int m;

	if (start != pg->rng_start || end != pg->rng_end || sys_ts != pg->rng_ts) { /* another syscall */
		pg->rng_start = start;
		pg->rng_end = end;
		pg->rng_ts = sys_ts;
		for (m = 0; m < TM_NR_MEMBERS; m++)
			pg->rng_next[m] = start & ~(PAGE_SIZE - 1);
	}
	if (pages > hashmap__size(h) * 4) { /* few records in a big range: walk the records */
		take_keyed(pg, member, start, end, want);
		return;
	}
	for (addr = pg->rng_next[member]; addr < end && took < want; addr += PAGE_SIZE) {
		took += rec_take(pg, member, addr, want - took);
		if (took >= want && hashmap__find(h, addr))
			break; /* this record still holds bytes: the next change starts here */
	}
	pg->rng_next[member] = addr;
}

/* The syscall that unmapped [start, end) returned: nothing there is resident any more, so
 * records its RSS changes did not take (a page counted twice when two CPUs faulted at once)
 * go too, without a kernel change: the attributed total heals towards the kernel's. */
void pages__sweep(struct pages *pg, uint64_t start, uint64_t end)
{
	int member;

	for (member = 0; pg && end > start && member < TM_NR_MEMBERS; member++) {
		struct hashmap *h = pg->rec[member];
		uint64_t pages = (end - start) / PAGE_SIZE, addr;

		if (!hashmap__size(h))
			continue;
		if (pages > hashmap__size(h) * 4) {
			take_keyed(pg, member, start, end, UINT64_MAX);
			continue;
		}
		for (addr = start & ~(PAGE_SIZE - 1); addr < end; addr += PAGE_SIZE)
			rec_take(pg, member, addr, UINT64_MAX);
	}
}

void pages__move(struct pages *pg, uint64_t old, uint64_t len, uint64_t new_addr)
{
	int member;

	for (member = 0; member < TM_NR_MEMBERS; member++) {
		struct hashmap *h = pg->rec[member];
		size_t pos = 0, n = 0, i;
		uint64_t key, val, (*moved)[2] = NULL;

		while (hashmap__next(h, &pos, &key, &val)) {
			if (key < old || key >= old + len || key == PAGES_UNPLACED)
				continue;
			moved = xrealloc(moved, (n + 1) * sizeof(*moved));
			moved[n][0] = key - old + new_addr;
			moved[n++][1] = val;
		}
		for (i = 0; i < n; i++)
			hashmap__delete(h, moved[i][0] - new_addr + old);
		for (i = 0; i < n; i++)
			*hashmap__upsert(h, moved[i][0], NULL) = moved[i][1];
		for (i = 0; pg->frame_of[member] && i < n; i++) {
			uint64_t *id = hashmap__find(pg->frame_of[member], moved[i][0] - new_addr + old);

			if (id) {
				uint64_t fid = *id;

				hashmap__delete(pg->frame_of[member], moved[i][0] - new_addr + old);
				*hashmap__upsert(pg->frame_of[member], moved[i][0], NULL) = fid;
			}
		}
		free(moved);
	}
}

void pages__drain(struct pages *pg)
{
	int member;

	for (member = 0; member < TM_NR_MEMBERS; member++)
		pages__take_any(pg, member, UINT64_MAX);
}

void pages__rebucket(struct pages *pg, uint64_t key, uint32_t b)
{
	int member;

	for (member = 0; member < TM_NR_MEMBERS; member++) {
		uint64_t *v = hashmap__find(pg->rec[member], key), val;

		if (v) {
			val = *v;
			*v = rec_bytes(val) << REC_SHIFT | b;
			pg->moved(pg->ctx, rec_bucket(val), -(int64_t)rec_bytes(val), rec_views(val));
			pg->moved(pg->ctx, b, (int64_t)rec_bytes(val), PAGES_PROC | PAGES_TREE);
			if (val & REC_DUP)
				frame_unlink(pg, member, key);
		}
	}
}

/* ---- sharing across fork ---- */

uint64_t pages__fork(struct pages *parent, struct pages *child, pages_bucket_fn bucket_of, void *ctx)
{
	struct hashmap *h = parent->rec[TM_ANONPAGES];
	uint64_t key, val, shared = 0;
	size_t pos = 0;

	while (hashmap__next(h, &pos, &key, &val)) {
		uint32_t id, cb;
		bool created;
		uint64_t *cv;

		if (key == PAGES_UNPLACED)
			continue;
		if (!(val & REC_DUP)) {
			/* first shared: the parent's counted bytes become the frame's, in the same
			 * bucket (the tree view does not change) */
			id = frames__make(parent->fr, 0, rec_bucket(val), rec_bytes(val));
			*hashmap__find(h, key) = val | REC_DUP;
			frame_link(parent, TM_ANONPAGES, key, id);
		} else {
			id = frame_at(parent, TM_ANONPAGES, key);
			if (!id)
				continue;
		}
		cv = hashmap__upsert(child->rec[TM_ANONPAGES], key, &created);
		if (!created)
			continue;
		cb = bucket_of(ctx, rec_bucket(val));
		*cv = rec_bytes(val) << REC_SHIFT | REC_DUP | cb;
		frame_link(child, TM_ANONPAGES, key, id);
		child->moved(child->ctx, cb, (int64_t)rec_bytes(val), PAGES_PROC);
		shared += rec_bytes(val);
	}
	rec_take(child, TM_ANONPAGES, PAGES_UNPLACED, shared);
	return shared;
}

/* A shared huge page a write splits into pages (the kernel splits its mapping and copies
 * only the page written): a record per page, each referencing the huge page's frame. */
static void split_huge(struct pages *pg, uint64_t huge, uint32_t id)
{
	uint64_t *v = hashmap__find(pg->rec[TM_ANONPAGES], huge), val = *v, addr;
	uint64_t n = rec_bytes(val) / PAGE_SIZE;

	*v = PAGE_SIZE << REC_SHIFT | (val & (REC_DUP | REC_BUCKET_MASK));
	for (addr = huge + PAGE_SIZE; addr < huge + n * PAGE_SIZE; addr += PAGE_SIZE) {
		bool created;
		uint64_t *pv = hashmap__upsert(pg->rec[TM_ANONPAGES], addr, &created);

		if (!created) { /* held already: the page's bytes stay with the first record */
			*hashmap__find(pg->rec[TM_ANONPAGES], huge) += PAGE_SIZE << REC_SHIFT;
			continue;
		}
		*pv = PAGE_SIZE << REC_SHIFT | (val & (REC_DUP | REC_BUCKET_MASK));
		frame_link(pg, TM_ANONPAGES, addr, id);
	}
}

bool pages__cow_shared(struct pages *pg, uint64_t addr)
{
	uint64_t page = addr & ~(PAGE_SIZE - 1), huge = addr & ~(HUGE_PAGE - 1), *v;
	uint32_t id;

	if (!pg || !pg->frame_of[TM_ANONPAGES])
		return false;
	v = hashmap__find(pg->rec[TM_ANONPAGES], page);
	if (!v && (v = hashmap__find(pg->rec[TM_ANONPAGES], huge)) && rec_bytes(*v) > PAGE_SIZE &&
	    (id = frame_at(pg, TM_ANONPAGES, huge)) && frames__get(pg->fr, id)->refs > 1) {
		split_huge(pg, huge, id);
		v = hashmap__find(pg->rec[TM_ANONPAGES], page);
	}
	if (!v || !(*v & REC_DUP))
		return false;
	id = frame_at(pg, TM_ANONPAGES, page);
	return id && frames__get(pg->fr, id)->refs > 1;
}

void pages__cow(struct pages *pg, uint64_t addr, uint32_t b)
{
	uint64_t page = addr & ~(PAGE_SIZE - 1), *v = hashmap__find(pg->rec[TM_ANONPAGES], page);
	uint64_t bytes;

	if (!v)
		return;
	bytes = rec_bytes(*v);
	rec_take(pg, TM_ANONPAGES, page, bytes);
	pages__add(pg, TM_ANONPAGES, page, b, bytes);
}
