/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Snapshots of /proc/PID/maps, kept until the process exits (an image exec'd away keeps its
 * own), so that its stacks can be symbolized and its pages classified. Equal snapshots are one
 * in memory (a forked child's maps are its parent's: 400 children of a process with 30k
 * mappings hold one copy). */
#ifndef TM_PROCMAPS_H
#define TM_PROCMAPS_H
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct map_entry {
	uint64_t start, end, off, ino;
	uint32_t dev;     /* the file's device, major << 20 | minor (as the kernel's dev_t) */
	bool exec, write, shared;
	/* account.c's caches, never compared: the label of the entry's file or shared memory pages
	 * (a function of path and member) and the bucket they last went to (checked before use) */
	uint8_t label_member; /* the member label is for, + 1; 0: none yet */
	int label;
	uint32_t bucket;
	uint32_t frame;   /* the frame of the page that came in last (pages_file.frame) */
	const char *path; /* interned; "" for anonymous, "[heap]", "[stack]", "[vdso]"... */
};

struct pm_body;
struct procmaps {
	struct map_entry *e; /* read-only for users: changed through the functions below */
	size_t n, cap;
	uint32_t gen;     /* bumped at each parse or copy: what was derived from them is stale */
	struct pm_body *body; /* the shared snapshot e belongs to, or NULL: e is this one's own */
	size_t hint;      /* the entry procmaps__find gave last (it looks there first) */
};

/* Parse text in /proc/PID/maps format (shared with any equal snapshot); returns 0 or -errno. */
int procmaps__parse(struct procmaps *pm, const char *text);
/* /proc/PID/maps as text (*text, caller frees, NUL-terminated, *len bytes): 0 or -errno
 * (gone; -ESRCH for a zombie's empty maps). */
int procmaps__read_text(pid_t pid, char **text, size_t *len);
/* Read /proc/PID/maps into pm (replacing its contents); 0 or -errno (process gone...). */
int procmaps__read(struct procmaps *pm, pid_t pid);
const struct map_entry *procmaps__find(struct procmaps *pm, uint64_t addr);
/* The adjacent entries of addr's file around it, [*lo, *hi) (one mapping may have been split
 * since: a library's RELRO made read-only); *lo and *hi left as they are for anonymous memory
 * or an address not in the maps. */
void procmaps__file_span(struct procmaps *pm, uint64_t addr, uint64_t *lo, uint64_t *hi);
/* dst holds what src holds (sharing its snapshot). */
void procmaps__copy(struct procmaps *dst, const struct procmaps *src);
/* Empty, gen unchanged (what it held is gone, nothing was read). */
void procmaps__reset(struct procmaps *pm);
/* m appended, in pm's own copy of a shared snapshot. */
void procmaps__add(struct procmaps *pm, const struct map_entry *m);
/* Empty, and free what no other procmaps shares. */
void procmaps__clear(struct procmaps *pm);
static inline bool map_entry__is_file(const struct map_entry *m)
{
	return m->path[0] == '/';
}
#endif
