// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hashmap.h"
#include "procmaps.h"
#include "strtab.h"
#include "util.h"

/* A snapshot that equal ones share: the children of a fork read maps equal to their parent's
 * (a copy each, with the regions 1.6 MiB per child of a process with 30k mappings). Found by a
 * hash of its entries; freed with its last user. */
struct pm_body {
	uint32_t refs;
	uint64_t hash;
	struct pm_body *next; /* another body with the same hash */
	size_t n;
	struct map_entry e[];
};

static struct hashmap *bodies; /* hash -> struct pm_body * (first of its chain) */

static uint64_t entries_hash(const struct map_entry *e, size_t n)
{
	uint64_t h = n * 0x9e3779b97f4a7c15ull;
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t v[] = { e[i].start, e[i].end, e[i].off, e[i].ino,
				 (uint64_t)e[i].dev << 3 | e[i].exec << 2 | e[i].write << 1 | e[i].shared,
				 (uint64_t)(uintptr_t)e[i].path }; /* interned: equal paths, equal pointers */
		size_t k;

		for (k = 0; k < sizeof(v) / sizeof(v[0]); k++)
			h = (h ^ v[k]) * 0xff51afd7ed558ccdull;
	}
	return h ^ h >> 29;
}

static bool entries_equal(const struct map_entry *a, const struct map_entry *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i].start != b[i].start || a[i].end != b[i].end || a[i].off != b[i].off || a[i].ino != b[i].ino ||
		    a[i].dev != b[i].dev || a[i].exec != b[i].exec || a[i].write != b[i].write ||
		    a[i].shared != b[i].shared || a[i].path != b[i].path)
			return false;
	return true;
}

/* pm's own entries become a shared snapshot: an equal one if there is one. */
static void share_entries(struct procmaps *pm)
{
	uint64_t h = entries_hash(pm->e, pm->n), *slot;
	struct pm_body *b;

	if (!pm->n)
		return;
	if (!bodies)
		bodies = hashmap__new();
	slot = hashmap__upsert(bodies, h, NULL);
	for (b = (struct pm_body *)(uintptr_t)*slot; b; b = b->next)
		if (b->n == pm->n && entries_equal(b->e, pm->e, pm->n))
			break;
	if (b) {
		b->refs++;
	} else {
		b = xcalloc(1, sizeof(*b) + pm->n * sizeof(b->e[0]));
		b->refs = 1;
		b->hash = h;
		b->n = pm->n;
		memcpy(b->e, pm->e, pm->n * sizeof(b->e[0]));
		b->next = (struct pm_body *)(uintptr_t)*slot;
		*slot = (uint64_t)(uintptr_t)b;
	}
	free(pm->e);
	pm->e = b->e;
	pm->cap = pm->n;
	pm->body = b;
}

/* pm lets go of its shared snapshot (its entries are then gone). */
static void pm_unshare(struct procmaps *pm)
{
	struct pm_body *b = pm->body, *prev;
	uint64_t *slot;

	if (!b)
		return;
	if (!--b->refs) {
		slot = hashmap__find(bodies, b->hash);
		prev = (struct pm_body *)(uintptr_t)*slot;
		if (prev == b) {
			*slot = (uint64_t)(uintptr_t)b->next;
		} else {
			while (prev->next != b)
				prev = prev->next;
			prev->next = b->next;
		}
		if (!*slot)
			hashmap__delete(bodies, b->hash);
		free(b);
		if (!hashmap__size(bodies)) { /* nothing left to find: no table kept either */
			hashmap__free(bodies);
			bodies = NULL;
		}
	}
	pm->body = NULL;
	pm->e = NULL;
	pm->n = pm->cap = 0;
}

/* The entry of the line at *line into *m, *line moved to the next: 1, or 0 for a malformed
 * line (skipped, not trusted), -1 at the end. */
static int next_entry(const char **line, struct map_entry *m)
{
	const char *nl;
	char buf[4096 + 256], perms[8] = "", path[4096] = "", *p = path;
	unsigned long long start, end, off, ino;
	unsigned int major, minor;
	size_t len;
	int n;

	if (!*line || !**line)
		return -1;
	nl = strchr(*line, '\n');
	len = nl ? (size_t)(nl - *line) : strlen(*line);
	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	memcpy(buf, *line, len);
	buf[len] = 0;
	*line = nl ? nl + 1 : NULL;
	n = sscanf(buf, "%llx-%llx %7s %llx %x:%x %llu %4095[^\n]", &start, &end, perms, &off, &major, &minor,
		   &ino, path);
	if (n < 7 || end <= start)
		return 0;
	while (*p == ' ')
		p++;
	*m = (struct map_entry){
		.start = start,
		.end = end,
		.off = off,
		.ino = ino,
		.dev = (major & 0xfff) << 20 | (minor & 0xfffff),
		.exec = perms[2] == 'x',
		.write = perms[1] == 'w',
		.shared = perms[3] == 's',
		.path = intern(p),
	};
	return 1;
}

int procmaps__parse(struct procmaps *pm, const char *text)
{
	const struct pm_body *had = pm->body;
	const char *line = text;
	struct map_entry m, *e;
	size_t lines = 1, k = 0;
	int r = -1;

	pm->gen++;
	/* what pm shares already (a forked child's maps are its parent's): matched line by line,
	 * nothing allocated while it holds */
	while (had && (r = next_entry(&line, &m)) >= 0) {
		if (!r)
			continue;
		if (k == had->n || !entries_equal(&had->e[k], &m, 1))
			break; /* m is the first entry that differs */
		k++;
	}
	if (had && r < 0 && k == had->n)
		return 0;
	/* sized once: a doubling array per read of 30k lines, in each of hundreds of forked
	 * children, left the heap fragmented to 3 times what it held */
	for (const char *c = line; c && (c = strchr(c, '\n')); c++)
		lines++;
	e = xcalloc(k + 1 + lines, sizeof(*e));
	if (k)
		memcpy(e, had->e, k * sizeof(*e));
	if (had && r > 0)
		e[k++] = m;
	if (pm->body)
		pm_unshare(pm);
	else
		free(pm->e);
	pm->e = e;
	pm->n = k;
	pm->cap = k + 1 + lines;
	while ((r = next_entry(&line, &m)) >= 0)
		if (r)
			pm->e[pm->n++] = m;
	share_entries(pm);
	return 0;
}

/* A process's maps are at most 65,530 mappings (vm.max_map_count) of a line each: 256 MiB is
 * far beyond that, and bounds what a hostile one costs */
#define PROCMAPS_MAX (256u << 20)

int procmaps__read_text(pid_t pid, char **out, size_t *outlen)
{
	char fn[64];
	int err;

	snprintf(fn, sizeof(fn), "/proc/%d/maps", pid);
	err = read_whole(fn, PROCMAPS_MAX, out, outlen);
	if (!err && !*outlen) { /* a zombie's maps are empty: keep the old snapshot */
		free(*out);
		*out = NULL;
		err = -ESRCH;
	}
	return err;
}

int procmaps__read(struct procmaps *pm, pid_t pid)
{
	char *text;
	size_t len;
	int err = procmaps__read_text(pid, &text, &len);

	if (!err)
		err = procmaps__parse(pm, text);
	free(text);
	return err;
}

const struct map_entry *procmaps__find(struct procmaps *pm, uint64_t addr)
{
	size_t lo = 0, hi = pm->n, h = pm->hint;

	/* the entry the last find gave, or the one beside it on addr's side: faults go through a
	 * mapping, or from one mapping to the next (tens of thousands of them: a binary search
	 * missed the cache at each of its last steps) */
	if (h < pm->n) {
		if (addr < pm->e[h].start)
			h--;
		else if (addr >= pm->e[h].end)
			h++;
		if (h < pm->n && addr >= pm->e[h].start && addr < pm->e[h].end) {
			pm->hint = h;
			return &pm->e[h];
		}
	}
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (addr < pm->e[mid].start)
			hi = mid;
		else if (addr >= pm->e[mid].end)
			lo = mid + 1;
		else
			return &pm->e[(pm->hint = mid)];
	}
	return NULL;
}

void procmaps__file_span(struct procmaps *pm, uint64_t addr, uint64_t *lo, uint64_t *hi)
{
	const struct map_entry *m = procmaps__find(pm, addr);
	size_t i, j;

	if (!m || !m->ino)
		return;
	i = j = (size_t)(m - pm->e);
	while (i > 0 && pm->e[i - 1].end == pm->e[i].start && pm->e[i - 1].ino == m->ino && pm->e[i - 1].dev == m->dev)
		i--;
	while (j + 1 < pm->n && pm->e[j + 1].start == pm->e[j].end && pm->e[j + 1].ino == m->ino && pm->e[j + 1].dev == m->dev)
		j++;
	*lo = pm->e[i].start;
	*hi = pm->e[j].end;
}

void procmaps__copy(struct procmaps *dst, const struct procmaps *src)
{
	if (dst == src)
		return;
	dst->gen++;
	if (src->body) {
		src->body->refs++;
		procmaps__clear(dst);
		dst->e = src->e;
		dst->n = dst->cap = src->n;
		dst->body = src->body;
		return;
	}
	procmaps__reset(dst);
	GROW(dst->e, dst->cap, src->n);
	if (src->n)
		memcpy(dst->e, src->e, src->n * sizeof(*src->e));
	dst->n = src->n;
}

void procmaps__reset(struct procmaps *pm)
{
	pm_unshare(pm);
	pm->n = 0;
}

void procmaps__add(struct procmaps *pm, const struct map_entry *m)
{
	if (pm->body) { /* a copy of one's own first */
		struct procmaps own = { .gen = pm->gen };

		GROW(own.e, own.cap, pm->n + 1);
		memcpy(own.e, pm->e, pm->n * sizeof(*pm->e));
		own.n = pm->n;
		pm_unshare(pm);
		*pm = own;
	}
	GROW(pm->e, pm->cap, pm->n + 1);
	pm->e[pm->n++] = *m;
}

void procmaps__clear(struct procmaps *pm)
{
	if (pm->body)
		pm_unshare(pm);
	else
		free(pm->e);
	pm->e = NULL;
	pm->n = pm->cap = 0;
}
