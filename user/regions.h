/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* How each mapping of a process was made (seen at its mmap/brk): a sorted, non-overlapping
 * interval set, in chunks that a forked child shares with its parent until either writes one. */
#ifndef TM_REGIONS_H
#define TM_REGIONS_H
#include <stddef.h>
#include <stdint.h>

enum region_kind { REG_MMAP = 1, REG_FILE };
struct region {
	uint64_t start, end;
	uint32_t kind;
	uint32_t flags;   /* mmap flags */
	uint64_t caller;  /* return address into the mmap caller */
	int32_t stack_id;
	int label;        /* cached classification, -1 until first needed */
};
struct rs_chunk;
/* Chunks of up to RS_CHUNK regions in address order: a change costs O(log n + RS_CHUNK + n /
 * RS_CHUNK), and a fork copies only the chunk pointers. Zero-initialised is empty. */
struct region_set {
	struct rs_chunk **c;
	size_t nc, cap;
	size_t n;         /* regions in all */
	uint64_t gen;     /* changes with every write to the set (a find's answer holds while it stays) */
};
/* Replace whatever lies in [r->start, r->end) by r. */
void regions__insert(struct region_set *rs, const struct region *r);
void regions__remove(struct region_set *rs, uint64_t start, uint64_t end);
/* Move [old, old+len) to new (mremap). */
void regions__move(struct region_set *rs, uint64_t old, uint64_t len, uint64_t new_addr);
/* The region holding addr, or NULL; valid until the set next changes. */
const struct region *regions__find(const struct region_set *rs, uint64_t addr);
/* Cache the classification of the region holding addr (a write: the set's own copy). */
void regions__set_label(struct region_set *rs, uint64_t addr, int label);
/* dst (emptied first) holds what src holds, sharing its chunks until either writes one. */
void regions__share(struct region_set *dst, const struct region_set *src);
/* Empty the set and free what no other set shares. */
void regions__clear(struct region_set *rs);
/* The i-th region in address order (i < rs->n), for tests: O(n / RS_CHUNK). */
const struct region *regions__at(const struct region_set *rs, size_t i);
#endif
