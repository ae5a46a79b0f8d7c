// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Which files get unwind tables (within the run's kernel-memory budget), and which text
 * mappings of a process use them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "hashmap.h"
#include "procfile.h"
#include "strtab.h"
#include "unwind.h"
#include "util.h"

/* The kernel memory of all tables (BPF arrays, 16 bytes a row), a budget for the run: 64
 * slots of tables as large as a program can make them would pin gigabytes (issue 15.3) */
static uint64_t memory_budget = UNWIND_MEMORY_DEFAULT;
/* files whose table was over a budget (its build, or the memory left): process-wide, as the
 * symbol tables' and perf maps' counts */
static size_t over_budget;

void unwind__set_memory_budget(uint64_t bytes)
{
	memory_budget = bytes;
}

size_t unwind__over_budget(void)
{
	return over_budget;
}

struct unwind_cache {
	/* "dev:ino" (interned) -> file index + 1 | rows << 32, or 0: walked by frame pointers.
	 * By file, not path: hard links or bind mounts of one file are one table */
	struct hashmap *files;
	unwind_load_fn load;
	unwind_commit_fn commit;
	void *ctx;
	size_t loaded, skipped, rows;
	size_t pending, pending_rows; /* loaded, not yet committed */
	uint64_t ino[TM_MAX_UNWIND_FILES]; /* of each loaded file */
};

struct unwind_cache *unwind__cache_new(unwind_load_fn load, unwind_commit_fn commit, void *ctx)
{
	struct unwind_cache *c = xcalloc(1, sizeof(*c));

	c->files = hashmap__new();
	c->load = load;
	c->commit = commit;
	c->ctx = ctx;
	return c;
}

void unwind__cache_free(struct unwind_cache *c)
{
	if (!c)
		return;
	hashmap__free(c->files);
	free(c);
}

/* bytes of kernel memory a table of n rows takes (tracer__load_unwind: 8-aligned elements) */
static uint64_t table_bytes(size_t n)
{
	return (uint64_t)n * ((sizeof(struct tm_unwind_row) + 7) & ~(size_t)7);
}

/* The slot of the file r names (its device and inode as the kernel names them): its file
 * index + 1 (0: walked by frame pointers) | its rows << 32 */
static uint64_t file_slot(struct unwind_cache *c, const struct file_ref *r)
{
	const char *path = r->path, *key = file_key(r->dev, r->ino);
	struct unwind_table t;
	uint64_t *slot, v = 0, ino = r->ino;
	struct stat st;
	bool created;
	int idx, fd;

	slot = hashmap__upsert(c->files, (uint64_t)(uintptr_t)key, &created);
	if (!created)
		return *slot;
	fd = open_ref(r, &st);
	if (fd < 0) { /* gone, or not the mapped file: another process may show it */
		hashmap__delete(c->files, (uint64_t)(uintptr_t)key);
		return 0;
	}
	idx = unwind__build_fd(fd, &t);
	close(fd);
	if (idx == -EFBIG || idx == -E2BIG) {
		c->skipped++;
		over_budget++;
		if (verbose)
			p_warn("no unwind table for %s: %s", path,
			       idx == -EFBIG ? "too many functions" : "more rows than a table may have");
	}
	/* open_ref checked the identity: this is only a second look */
	if (!idx && t.inode.ino != ino)
		idx = -ESTALE;
	if (idx) {
		unwind__table_free(&t);
		return 0;
	}
	if (unwind__frameless(&t)) {
		if (table_bytes(c->rows + t.n) > memory_budget) {
			idx = -EDQUOT;
			over_budget++;
		} else {
			idx = c->loaded < TM_MAX_UNWIND_FILES ? c->load(c->ctx, &t) : -ENOSPC;
		}
		if (idx >= 0 && idx < TM_MAX_UNWIND_FILES) {
			v = ((uint64_t)idx + 1) | (uint64_t)t.n << 32;
			c->ino[idx] = t.inode.ino;
			c->loaded++;
			c->pending++;
			c->pending_rows += t.n;
			c->rows += t.n;
		} else {
			c->skipped++;
			if (verbose)
				p_warn("no unwind table for %s: %s", path,
				       idx == -EDQUOT ? "over the memory budget (--unwind-memory)" : strerror(-idx));
		}
	}
	unwind__table_free(&t);
	*slot = v; /* still valid: nothing else inserts into c->files meanwhile */
	return v;
}

/* Put the tables loaded since the last call in place. If the kernel refuses, their slots stay
 * handed out: a walk that reaches such code finds no row there and ends (cfi_no_row). */
static void commit(struct unwind_cache *c)
{
	int err;

	if (!c->pending)
		return;
	err = c->commit(c->ctx);
	if (err) {
		c->skipped += c->pending;
		c->loaded -= c->pending;
		c->rows -= c->pending_rows;
		if (verbose)
			p_warn("unwind tables not usable: %s", strerror(-err));
	}
	c->pending = c->pending_rows = 0;
}

int unwind__proc_ranges(struct unwind_cache *c, pid_t pid, const struct procmaps *pm, struct tm_unwind_proc *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < pm->n; i++) {
		const struct map_entry *m = &pm->e[i];
		struct tm_unwind_range r;
		struct file_ref fr = { .pid = pid, .start = m->start, .end = m->end, .ino = m->ino, .dev = m->dev,
				       .path = m->path };
		uint64_t v;
		uint32_t j, small = 0;

		if (!m->exec || !map_entry__is_file(m) || !m->ino || !(v = file_slot(c, &fr)))
			continue;
		r = (struct tm_unwind_range){ .start = m->start, .end = m->end, .off = m->off,
					      .file = (uint32_t)(v & 0xffffffff) - 1, .nrows = (uint32_t)(v >> 32) };
		/* the same path may be another file for the process (another mount namespace, a
		 * library replaced since): a wrong table would make up frames */
		if (m->ino && m->ino != c->ino[r.file])
			continue;
		if (out->n < TM_UNWIND_RANGES) {
			out->r[out->n++] = r;
			continue;
		}
		/* more than fit: keep the largest text mappings */
		for (j = 1; j < out->n; j++)
			if (out->r[j].end - out->r[j].start < out->r[small].end - out->r[small].start)
				small = j;
		if (out->r[small].end - out->r[small].start < r.end - r.start)
			out->r[small] = r;
	}
	commit(c);
	return (int)out->n;
}

void unwind__preload(struct unwind_cache *c)
{
	static const char *const libs[] = { "libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1" };
	struct procmaps pm = {};
	char path[4096];
	struct stat st;

	if (procmaps__read(&pm, getpid()))
		return;
	for (size_t i = 0; i < pm.n; i++) {
		const struct map_entry *m = &pm.e[i];
		const char *p = m->path, *base = basename_of(p);
		struct file_ref fr = { .pid = getpid(), .start = m->start, .end = m->end, .ino = m->ino, .dev = m->dev,
				       .path = p };

		if (!m->exec || !map_entry__is_file(m))
			continue;
		if (!strncmp(base, "ld-linux", 8))
			file_slot(c, &fr);
		if (strcmp(base, "libc.so.6"))
			continue;
		/* the tool's own libraries, beside its libc (not mapped by it: by path) */
		for (size_t j = 0; j < sizeof(libs) / sizeof(*libs); j++) {
			snprintf(path, sizeof(path), "%.*s%s", (int)(base - p), p, libs[j]);
			if (stat(path, &st) || !S_ISREG(st.st_mode))
				continue;
			fr = (struct file_ref){ .ino = st.st_ino, .dev = kernel_dev(st.st_dev), .path = path, .own_root = true };
			file_slot(c, &fr);
		}
	}
	commit(c);
	procmaps__clear(&pm);
}

void unwind__stats(const struct unwind_cache *c, size_t *loaded, size_t *skipped, size_t *rows)
{
	*loaded = c->loaded;
	*skipped = c->skipped;
	*rows = c->rows;
}
