/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Who holds each resident page of one address space: per RSS counter (member), records of the
 * bytes held at a key (a page address, a huge page's, or PAGES_UNPLACED) and the bucket they
 * are counted in; adjacent pages of one bucket that count themselves are one record (a run),
 * so that the records follow allocations, not pages; lookups and frees by range take time in
 * the records they touch. Every byte a record gains or loses is reported through one
 * callback, so the records know nothing of what a bucket is.
 * Two views: the process view (what each address space holds, as the kernel counts it) takes
 * every record's bytes; the tree view (each page once) takes a record's bytes only if the
 * record counts itself. A record of a page other address spaces of the tree may hold (a file
 * or shared memory page, an anonymous page shared by fork) references a frame (frames.h)
 * instead, which the tree view counts once; a fork's copy not yet placed is in no tree view. */
#ifndef TM_PAGES_H
#define TM_PAGES_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "frames.h"

#ifndef PAGE_SIZE
#define PAGE_SIZE 4096ull
#endif
#define PAGES_BUCKET_BITS 24 /* bucket ids are below 1 << PAGES_BUCKET_BITS */
#define PAGES_UNPLACED 1ull  /* the key of bytes whose address is unknown */

#define PAGES_PROC 1u /* the process view: what each address space holds */
#define PAGES_TREE 2u /* the tree view: each page once */

/* bytes (signed) were added to, or taken from, bucket, in views (PAGES_PROC | PAGES_TREE) */
typedef void (*pages_moved_fn)(void *ctx, uint32_t bucket, int64_t bytes, unsigned views);
/* The bucket of a forked child's copy of bytes the parent holds in bucket. */
typedef uint32_t (*pages_bucket_fn)(void *ctx, uint32_t bucket);

struct pages;
/* frames: the tree's table, shared by every address space of the run */
struct pages *pages__new(pages_moved_fn moved, void *ctx, struct frames *fr);
void pages__free(struct pages *pg);
/* bytes of member came in at key (a page address, or PAGES_UNPLACED), for bucket; a record
 * that exists keeps its first bucket (and whether it counts itself). */
void pages__add(struct pages *pg, int member, uint64_t key, uint32_t bucket, uint64_t bytes);
/* The same for a page of a file or shared memory object (ident: frames__file_ident): counted
 * once over the tree, in the bucket of the first record of it. */
void pages__add_ident(struct pages *pg, int member, uint64_t key, uint32_t bucket, uint64_t bytes,
		      uint64_t ident);
/* Where a file or shared memory page is: the mapping [start, end) maps the object obj
 * (frames__obj_ident) from file offset off. */
struct pages_file {
	uint64_t obj, start, end, off;
	uint32_t *frame; /* a cache of the faulting page's frame the caller keeps (or NULL) */
};
/* pages__add_ident for bytes of a file or shared memory mapping, each page by its identity. A
 * fault-around block (one fault, several pages: a 64 KiB window, or a large folio) is placed
 * page by page, each counted once over the tree: the faulting page, then the pages of its
 * window (64 KiB, or the block's size rounded up to a power of two, aligned) in the mapping
 * that the member does not hold, in address order (the kernel maps those it has cached);
 * bytes beyond them stay with the faulting page. */
void pages__add_file(struct pages *pg, int member, uint64_t key, uint32_t bucket, uint64_t bytes,
		     const struct pages_file *f);
/* A fork's copy of the parent's pages, seen before the fork names the child: unplaced, and in
 * no tree view (the parent's records count those pages). */
void pages__add_pending(struct pages *pg, int member, uint64_t bytes);
/* The fork is known: the child gets the parent's anonymous records at the same addresses,
 * sharing them (frames), in the buckets bucket_of gives; as many bytes leave the child's
 * pending record. Returns the bytes shared. */
uint64_t pages__fork(struct pages *parent, struct pages *child, pages_bucket_fn bucket_of, void *ctx);
/* A write fault at addr on a present page: whether the anonymous page there is shared with
 * another address space of the tree (so that the write copies it). */
bool pages__cow_shared(struct pages *pg, uint64_t addr);
/* The write copied it: the page at addr is its own, new memory in bucket. */
void pages__cow(struct pages *pg, uint64_t addr, uint32_t bucket);
/* Free want bytes whose pages are not known, from wherever records are. */
void pages__take_any(struct pages *pg, int member, uint64_t want);
/* A fault freed a page at addr (copy-on-write of a file page): up to want bytes from its record
 * or its fault-around block's, looked for within [lo, hi) (its file's mappings; 0, UINT64_MAX:
 * not known); returns what it took. */
uint64_t pages__take_near(struct pages *pg, int member, uint64_t addr, uint64_t lo, uint64_t hi, uint64_t want);
/* One of the RSS changes of the syscall at sys_ts that freed [start, end): up to want bytes
 * from the records there, in address order, going on where its previous change stopped;
 * returns what it took. */
uint64_t pages__take_range(struct pages *pg, int member, uint64_t start, uint64_t end, uint64_t sys_ts,
			   uint64_t want);
/* [start, end) is unmapped: every record there goes (pg may be NULL). */
void pages__sweep(struct pages *pg, uint64_t start, uint64_t end);
/* mremap moved [old, old+len) to new_addr: its records move with it. */
void pages__move(struct pages *pg, uint64_t old, uint64_t len, uint64_t new_addr);
/* The address space is gone: every record goes. */
void pages__drain(struct pages *pg);
/* The record at key, in each member, counts itself in bucket from now on. */
void pages__rebucket(struct pages *pg, uint64_t key, uint32_t bucket);
/* Records held now, over all members (for tests and stats): a run of pages is one. */
size_t pages__records(const struct pages *pg);
#endif
