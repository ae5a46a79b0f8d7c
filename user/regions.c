// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Interval set of mappings per process, kept sorted and non-overlapping in chunks: a process
 * with 60k mappings changes one chunk per mmap, not the whole array, and a forked child holds
 * its parent's chunks (refcounted) until one of them writes there. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "regions.h"
#include "util.h"

#define RS_CHUNK 64

struct rs_chunk {
	uint32_t refs; /* region sets holding it: copied before a write while > 1 */
	uint32_t n;    /* never 0 in a set */
	struct region r[RS_CHUNK];
};

static void chunk_put(struct rs_chunk *c)
{
	if (!--c->refs)
		free(c);
}

/* The first chunk whose last region ends after addr (rs->nc if none). */
static size_t chunk_idx(const struct region_set *rs, uint64_t addr)
{
	size_t lo = 0, hi = rs->nc;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct rs_chunk *c = rs->c[mid];

		if (c->r[c->n - 1].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The first region of c that ends after addr (c->n if none). */
static uint32_t lower(const struct rs_chunk *c, uint64_t addr)
{
	uint32_t lo = 0, hi = c->n;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (c->r[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Chunk ci, this set's own: a shared one is copied first. */
static struct rs_chunk *own(struct region_set *rs, size_t ci)
{
	struct rs_chunk *c = rs->c[ci], *copy;

	if (c->refs == 1)
		return c;
	copy = xcalloc(1, sizeof(*copy));
	copy->n = c->n;
	memcpy(copy->r, c->r, c->n * sizeof(c->r[0]));
	copy->refs = 1;
	c->refs--;
	rs->c[ci] = copy;
	return copy;
}

static void top_insert(struct region_set *rs, size_t ci, struct rs_chunk *c)
{
	GROW(rs->c, rs->cap, rs->nc + 1);
	memmove(&rs->c[ci + 1], &rs->c[ci], (rs->nc - ci) * sizeof(*rs->c));
	rs->c[ci] = c;
	rs->nc++;
}

static void top_delete(struct region_set *rs, size_t ci)
{
	chunk_put(rs->c[ci]);
	memmove(&rs->c[ci], &rs->c[ci + 1], (rs->nc - ci - 1) * sizeof(*rs->c));
	rs->nc--;
}

/* r at position j of chunk ci, splitting a full chunk in halves first. */
static void chunk_insert(struct region_set *rs, size_t ci, uint32_t j, const struct region *r)
{
	struct rs_chunk *c = own(rs, ci);

	if (c->n == RS_CHUNK) {
		struct rs_chunk *hi = xcalloc(1, sizeof(*hi));

		hi->refs = 1;
		hi->n = c->n / 2;
		c->n -= hi->n;
		memcpy(hi->r, &c->r[c->n], hi->n * sizeof(c->r[0]));
		top_insert(rs, ci + 1, hi);
		if (j > c->n) {
			j -= c->n;
			c = hi;
		}
	}
	memmove(&c->r[j + 1], &c->r[j], (c->n - j) * sizeof(c->r[0]));
	c->r[j] = *r;
	c->n++;
	rs->n++;
}

/* Chunks ci and ci + 1 made one if they fit in half a chunk: after removals the chunks stay
 * full enough that the pointer array is O(n / RS_CHUNK). */
static void maybe_merge(struct region_set *rs, size_t ci)
{
	struct rs_chunk *a, *b;

	if (ci + 1 >= rs->nc || rs->c[ci]->n + rs->c[ci + 1]->n > RS_CHUNK / 2)
		return;
	a = own(rs, ci);
	b = rs->c[ci + 1];
	memcpy(&a->r[a->n], b->r, b->n * sizeof(b->r[0]));
	a->n += b->n;
	top_delete(rs, ci + 1);
}

void regions__remove(struct region_set *rs, uint64_t start, uint64_t end)
{
	size_t ci = chunk_idx(rs, start), first = ci;

	if (end <= start)
		return;
	rs->gen++;
	while (ci < rs->nc) {
		struct rs_chunk *c = rs->c[ci];
		uint32_t i = lower(c, start), j;
		bool more;

		if (i == c->n || c->r[i].start >= end)
			break;
		if (c->r[i].start < start && c->r[i].end > end) {
			/* a hole in the middle: split in two */
			struct region tail = c->r[i];

			own(rs, ci)->r[i].end = start;
			tail.start = end;
			chunk_insert(rs, ci, i + 1, &tail);
			return;
		}
		if (i == 0 && c->r[0].start >= start && c->r[c->n - 1].end <= end) {
			/* all of it goes: no copy of a shared chunk just to empty it */
			rs->n -= c->n;
			top_delete(rs, ci);
			continue;
		}
		c = own(rs, ci);
		if (c->r[i].start < start) {
			c->r[i].end = start;
			i++;
		}
		for (j = i; j < c->n && c->r[j].end <= end; j++)
			;
		more = j == c->n; /* the range may go on in the next chunk */
		if (j < c->n && c->r[j].start < end)
			c->r[j].start = end;
		if (j > i) {
			memmove(&c->r[i], &c->r[j], (c->n - j) * sizeof(c->r[0]));
			c->n -= j - i;
			rs->n -= j - i;
		}
		if (!c->n) {
			top_delete(rs, ci);
			continue;
		}
		if (!more)
			break;
		ci++;
	}
	maybe_merge(rs, first);
	if (first)
		maybe_merge(rs, first - 1);
}

void regions__insert(struct region_set *rs, const struct region *r)
{
	size_t ci;

	if (r->end <= r->start)
		return;
	regions__remove(rs, r->start, r->end); /* moves gen */
	ci = chunk_idx(rs, r->start);
	if (ci < rs->nc) {
		chunk_insert(rs, ci, lower(rs->c[ci], r->start), r);
		return;
	}
	if (!rs->nc) {
		struct rs_chunk *c = xcalloc(1, sizeof(*c));

		c->refs = 1;
		top_insert(rs, 0, c);
	}
	ci = rs->nc - 1; /* after every region: the last chunk's end */
	chunk_insert(rs, ci, rs->c[ci]->n, r);
}

const struct region *regions__find(const struct region_set *rs, uint64_t addr)
{
	size_t ci = chunk_idx(rs, addr);
	const struct rs_chunk *c;
	uint32_t i;

	if (ci == rs->nc)
		return NULL;
	c = rs->c[ci];
	i = lower(c, addr); /* < c->n: its last region ends after addr */
	return c->r[i].start <= addr ? &c->r[i] : NULL;
}

void regions__set_label(struct region_set *rs, uint64_t addr, int label)
{
	size_t ci = chunk_idx(rs, addr);
	uint32_t i;

	if (ci == rs->nc)
		return;
	i = lower(rs->c[ci], addr);
	if (rs->c[ci]->r[i].start <= addr) {
		own(rs, ci)->r[i].label = label;
		rs->gen++;
	}
}

void regions__move(struct region_set *rs, uint64_t old, uint64_t len, uint64_t new_addr)
{
	const struct region *r = regions__find(rs, old);
	struct region moved;

	if (!r)
		return;
	moved = *r;
	regions__remove(rs, old, old + len);
	moved.start = new_addr;
	moved.end = new_addr + len;
	regions__insert(rs, &moved);
}

void regions__share(struct region_set *dst, const struct region_set *src)
{
	size_t i;

	if (dst == src)
		return;
	regions__clear(dst); /* a new gen */
	GROW(dst->c, dst->cap, src->nc);
	for (i = 0; i < src->nc; i++) {
		dst->c[i] = src->c[i];
		dst->c[i]->refs++;
	}
	dst->nc = src->nc;
	dst->n = src->n;
}

void regions__clear(struct region_set *rs)
{
	uint64_t gen = rs->gen + 1;
	size_t i;

	for (i = 0; i < rs->nc; i++)
		chunk_put(rs->c[i]);
	free(rs->c);
	*rs = (struct region_set){ .gen = gen };
}

const struct region *regions__at(const struct region_set *rs, size_t i)
{
	size_t ci;

	for (ci = 0; ci < rs->nc; i -= rs->c[ci]->n, ci++)
		if (i < rs->c[ci]->n)
			return &rs->c[ci]->r[i];
	return NULL;
}
