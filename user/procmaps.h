/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Snapshots of /proc/PID/maps, kept after the process is gone so that its stacks can still
 * be symbolized and its pages classified. */
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
	const char *path; /* interned; "" for anonymous, "[heap]", "[stack]", "[vdso]"... */
};

struct procmaps {
	struct map_entry *e;
	size_t n, cap;
	uint32_t gen;     /* bumped at each parse or copy: what was derived from them is stale */
};

/* Parse text in /proc/PID/maps format; returns 0 or -errno. */
int procmaps__parse(struct procmaps *pm, const char *text);
/* /proc/PID/maps as text (*text, caller frees, NUL-terminated, *len bytes): 0 or -errno
 * (gone; -ESRCH for a zombie's empty maps). */
int procmaps__read_text(pid_t pid, char **text, size_t *len);
/* Read /proc/PID/maps into pm (replacing its contents); 0 or -errno (process gone...). */
int procmaps__read(struct procmaps *pm, pid_t pid);
const struct map_entry *procmaps__find(const struct procmaps *pm, uint64_t addr);
void procmaps__copy(struct procmaps *dst, const struct procmaps *src);
void procmaps__clear(struct procmaps *pm);
static inline bool map_entry__is_file(const struct map_entry *m)
{
	return m->path[0] == '/';
}
#endif
