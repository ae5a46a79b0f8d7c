/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* How each mapping of a process was made (seen at its mmap/brk): a sorted, non-overlapping
 * interval set. */
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
struct region_set {
	struct region *r;
	size_t n, cap;
};
/* Replace whatever lies in [r->start, r->end) by r. */
void regions__insert(struct region_set *rs, const struct region *r);
void regions__remove(struct region_set *rs, uint64_t start, uint64_t end);
/* Move [old, old+len) to new (mremap). */
void regions__move(struct region_set *rs, uint64_t old, uint64_t len, uint64_t new_addr);
struct region *regions__find(struct region_set *rs, uint64_t addr);
void regions__copy(struct region_set *dst, const struct region_set *src);
#endif
