// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>
#include <linux/types.h>
#include "hashmap.h"
#include "pages.h"
#include "taskmem.h"
#include "util.h"

#define FAULT_AROUND (64ull << 10) /* fault_around_bytes' default */
#define REC_BUCKET_MASK ((1ull << PAGES_BUCKET_BITS) - 1)

struct pages {
	struct hashmap *rec[TM_NR_MEMBERS]; /* page address -> bytes << PAGES_BUCKET_BITS | bucket */
	size_t cursor[TM_NR_MEMBERS];       /* where take_any's walk goes on */
	/* the range free in progress (a syscall's frees come as several RSS changes): where each
	 * member's walk through it stopped */
	uint64_t rng_start, rng_end, rng_ts, rng_next[TM_NR_MEMBERS];
	pages_moved_fn moved;
	void *ctx;
};

struct pages *pages__new(pages_moved_fn moved, void *ctx)
{
	struct pages *pg = xcalloc(1, sizeof(*pg));
	int i;

	for (i = 0; i < TM_NR_MEMBERS; i++)
		pg->rec[i] = hashmap__new();
	pg->moved = moved;
	pg->ctx = ctx;
	return pg;
}

void pages__free(struct pages *pg)
{
	int i;

	if (!pg)
		return;
	for (i = 0; i < TM_NR_MEMBERS; i++)
		hashmap__free(pg->rec[i]);
	free(pg);
}

static inline uint64_t rec_bytes(uint64_t v)
{
	return v >> PAGES_BUCKET_BITS;
}

void pages__add(struct pages *pg, int member, uint64_t key, uint32_t b, uint64_t bytes)
{
	bool created;
	uint64_t *v = hashmap__upsert(pg->rec[member], key, &created);

	if (created)
		*v = b;
	else
		b = (uint32_t)(*v & REC_BUCKET_MASK); /* the page keeps its first owner */
	*v += bytes << PAGES_BUCKET_BITS;
	pg->moved(pg->ctx, b, (int64_t)bytes);
}

/* Take up to want bytes from the record at key; returns what it took. */
static uint64_t rec_take(struct pages *pg, int member, uint64_t key, uint64_t want)
{
	uint64_t *v = hashmap__find(pg->rec[member], key), have, take;

	if (!v)
		return 0;
	have = rec_bytes(*v);
	take = want < have ? want : have;
	pg->moved(pg->ctx, (uint32_t)(*v & REC_BUCKET_MASK), -(int64_t)take);
	if (take == have)
		hashmap__delete(pg->rec[member], key);
	else
		*v -= take << PAGES_BUCKET_BITS;
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
		uint64_t *v = hashmap__find(pg->rec[member], key);

		if (v) {
			uint64_t bytes = rec_bytes(*v);

			pg->moved(pg->ctx, (uint32_t)(*v & REC_BUCKET_MASK), -(int64_t)bytes);
			pg->moved(pg->ctx, b, (int64_t)bytes);
			*v = bytes << PAGES_BUCKET_BITS | b;
		}
	}
}
