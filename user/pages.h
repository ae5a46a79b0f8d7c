/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Who holds each resident page of one address space: per RSS counter (member), a record per
 * page (or huge page, or fault-around block, or PAGES_UNPLACED) of the bytes it holds and the
 * bucket they are counted in. Every byte a record gains or loses is reported through one
 * callback, so the records know nothing of what a bucket is. */
#ifndef TM_PAGES_H
#define TM_PAGES_H
#include <stdint.h>

#ifndef PAGE_SIZE
#define PAGE_SIZE 4096ull
#endif
#define PAGES_BUCKET_BITS 24 /* bucket ids are below 1 << PAGES_BUCKET_BITS */
#define PAGES_UNPLACED 1ull  /* the key of bytes whose address is unknown */

/* bytes (signed) were added to, or taken from, bucket */
typedef void (*pages_moved_fn)(void *ctx, uint32_t bucket, int64_t bytes);

struct pages;
struct pages *pages__new(pages_moved_fn moved, void *ctx);
void pages__free(struct pages *pg);
/* bytes of member came in at key (a page address, or PAGES_UNPLACED), for bucket; a record
 * that exists keeps its first bucket. */
void pages__add(struct pages *pg, int member, uint64_t key, uint32_t bucket, uint64_t bytes);
/* Free want bytes whose pages are not known, from wherever records are. */
void pages__take_any(struct pages *pg, int member, uint64_t want);
/* A fault freed a page at addr (copy-on-write of a file page): up to want bytes from its record
 * or its fault-around block's; returns what it took. */
uint64_t pages__take_near(struct pages *pg, int member, uint64_t addr, uint64_t want);
/* One of the RSS changes of the syscall at sys_ts that freed [start, end): want bytes from the
 * records there, in address order, going on where its previous change stopped. */
void pages__take_range(struct pages *pg, int member, uint64_t start, uint64_t end, uint64_t sys_ts,
		       uint64_t want);
/* [start, end) is unmapped: every record there goes (pg may be NULL). */
void pages__sweep(struct pages *pg, uint64_t start, uint64_t end);
/* mremap moved [old, old+len) to new_addr: its records move with it. */
void pages__move(struct pages *pg, uint64_t old, uint64_t len, uint64_t new_addr);
/* The address space is gone: every record goes. */
void pages__drain(struct pages *pg);
/* The record at key, in each member, is counted in bucket from now on. */
void pages__rebucket(struct pages *pg, uint64_t key, uint32_t bucket);
#endif
