/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Pages more than one address space of the tree can hold, counted once: a file or shared
 * memory page by its object and offset, an anonymous page by the fork that shared it. A frame
 * holds the bytes the tree view counts for the page (in the bucket of the record that first
 * brought it in) while records reference it. Frame id 0 is "none". */
#ifndef TM_FRAMES_H
#define TM_FRAMES_H
#include <stdbool.h>
#include <stdint.h>

struct frame {
	uint64_t ident;  /* its identity (0: an anonymous page shared by fork) */
	uint64_t bytes;  /* counted once in the tree view, in bucket */
	uint32_t bucket;
	uint32_t refs;   /* records that reference it */
};

struct frames;
struct frames *frames__new(void);
void frames__free(struct frames *fr);
/* The identity of the object (dev, ino), for frames__page_ident. */
uint64_t frames__obj_ident(uint64_t dev, uint64_t ino);
/* The identity of the page at file offset off of the object obj: never 0. */
uint64_t frames__page_ident(uint64_t obj, uint64_t off);
/* The same in one: frames__page_ident(frames__obj_ident(dev, ino), off). */
uint64_t frames__file_ident(uint64_t dev, uint64_t ino, uint64_t off);
/* The frame of ident, or 0. */
uint32_t frames__find(struct frames *fr, uint64_t ident);
/* A frames__take of ident follows soon: its slot in the table starts loading, unless hint (a
 * frame id the caller keeps for it, or NULL) is its frame. */
void frames__prefetch(struct frames *fr, uint64_t ident, const uint32_t *hint);
/* The frame of ident (not 0): the live one, else a new one (*made) holding bytes in bucket.
 * hint, if not NULL, is a frame id the caller keeps for ident: tried before the table (a dead
 * frame of ident keeps its id), then set to the frame's. */
uint32_t frames__take(struct frames *fr, uint64_t ident, uint32_t bucket, uint64_t bytes, uint32_t *hint,
		      bool *made);
/* A new frame (no references yet: linked before the next find, which takes a frame without
 * references for none); ident 0 is not looked up. */
uint32_t frames__make(struct frames *fr, uint64_t ident, uint32_t bucket, uint64_t bytes);
struct frame *frames__get(struct frames *fr, uint32_t id);
/* The frame has no references left: its id may be reused (a page's with an ident when the
 * ident comes again, or once the table would grow). */
void frames__drop(struct frames *fr, uint32_t id);
/* Frames alive now (for tests and stats). */
uint64_t frames__count(const struct frames *fr);
#endif
