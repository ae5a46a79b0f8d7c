// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Interval set of mappings per process, kept sorted and non-overlapping. */
#include <string.h>
#include "regions.h"
#include "util.h"

static size_t lower(const struct region_set *rs, uint64_t addr)
{
	size_t lo = 0, hi = rs->n; /* first region with end > addr */

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (rs->r[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void regions__remove(struct region_set *rs, uint64_t start, uint64_t end)
{
	size_t i = lower(rs, start), j;

	if (i < rs->n && rs->r[i].start < start && rs->r[i].end > end) {
		/* a hole in the middle: split in two */
		GROW(rs->r, rs->cap, rs->n + 1);
		memmove(&rs->r[i + 1], &rs->r[i], (rs->n - i) * sizeof(*rs->r));
		rs->n++;
		rs->r[i].end = start;
		rs->r[i + 1].start = end;
		return;
	}
	if (i < rs->n && rs->r[i].start < start) {
		rs->r[i].end = start;
		i++;
	}
	for (j = i; j < rs->n && rs->r[j].end <= end; j++)
		;
	if (j < rs->n && rs->r[j].start < end)
		rs->r[j].start = end;
	if (j > i) {
		memmove(&rs->r[i], &rs->r[j], (rs->n - j) * sizeof(*rs->r));
		rs->n -= j - i;
	}
}

void regions__insert(struct region_set *rs, const struct region *r)
{
	size_t i;

	if (r->end <= r->start)
		return;
	regions__remove(rs, r->start, r->end);
	i = lower(rs, r->start);
	GROW(rs->r, rs->cap, rs->n + 1);
	memmove(&rs->r[i + 1], &rs->r[i], (rs->n - i) * sizeof(*rs->r));
	rs->r[i] = *r;
	rs->n++;
}

struct region *regions__find(struct region_set *rs, uint64_t addr)
{
	size_t i = lower(rs, addr);

	if (i < rs->n && rs->r[i].start <= addr)
		return &rs->r[i];
	return NULL;
}

void regions__move(struct region_set *rs, uint64_t old, uint64_t len, uint64_t new_addr)
{
	struct region *r = regions__find(rs, old), moved;

	if (!r)
		return;
	moved = *r;
	regions__remove(rs, old, old + len);
	moved.start = new_addr;
	moved.end = new_addr + len;
	regions__insert(rs, &moved);
}

void regions__copy(struct region_set *dst, const struct region_set *src)
{
	dst->n = 0;
	GROW(dst->r, dst->cap, src->n);
	if (src->n)
		memcpy(dst->r, src->r, src->n * sizeof(*src->r));
	dst->n = src->n;
}
