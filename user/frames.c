// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>
#include "frames.h"
#include "hashmap.h"
#include "util.h"

struct frames {
	struct frame *f;     /* by id; f[0] unused */
	size_t n, cap;
	uint32_t *free_ids;  /* dropped ids, reused first */
	size_t nfree, freecap;
	/* ident -> id, of live frames and of dead ones (no references) kept with their id until
	 * the table would grow: a page freed and faulted again (a file's page dropped by
	 * madvise, then read) probes the table once, not twice, and a drop probes it not at all
	 * (tables of 60k files' pages miss the cache at every probe) */
	struct hashmap *by_ident;
	size_t ndead;
};

struct frames *frames__new(void)
{
	struct frames *fr = xcalloc(1, sizeof(*fr));

	GROW(fr->f, fr->cap, 1);
	fr->n = 1;
	fr->by_ident = hashmap__new();
	return fr;
}

void frames__free(struct frames *fr)
{
	if (!fr)
		return;
	free(fr->f);
	free(fr->free_ids);
	hashmap__free(fr->by_ident);
	free(fr);
}

static uint64_t mix(uint64_t k)
{
	k ^= k >> 30;
	k *= 0xbf58476d1ce4e5b9ull;
	k ^= k >> 27;
	k *= 0x94d049bb133111ebull;
	k ^= k >> 31;
	return k;
}

uint64_t frames__obj_ident(uint64_t dev, uint64_t ino)
{
	return mix(mix(dev ^ 0x9e3779b97f4a7c15ull) ^ ino);
}

uint64_t frames__page_ident(uint64_t obj, uint64_t off)
{
	/* a 64-bit hash: two pages taken for one would need a collision among live frames */
	uint64_t h = mix(obj ^ (off >> 12));

	return h ? h : 1;
}

uint64_t frames__file_ident(uint64_t dev, uint64_t ino, uint64_t off)
{
	return frames__page_ident(frames__obj_ident(dev, ino), off);
}

/* A frame in the table without references is dead: found as none, its id reused by a make
 * of its ident. */
static bool dead(const struct frames *fr, uint32_t id)
{
	return !fr->f[id].refs;
}

uint32_t frames__find(struct frames *fr, uint64_t ident)
{
	uint64_t *v = ident ? hashmap__find(fr->by_ident, ident) : NULL;

	return v && !dead(fr, (uint32_t)*v) ? (uint32_t)*v : 0;
}

/* Whether hint holds the id of ident's frame, live or dead (a frame's ident is in the table
 * until its id is freed, which clears it). */
static bool hint_holds(const struct frames *fr, uint64_t ident, const uint32_t *hint)
{
	return hint && *hint && *hint < fr->n && fr->f[*hint].ident == ident;
}

void frames__prefetch(struct frames *fr, uint64_t ident, const uint32_t *hint)
{
	if (!hint_holds(fr, ident, hint))
		hashmap__prefetch(fr->by_ident, ident);
}

static void free_id(struct frames *fr, uint32_t id)
{
	fr->f[id] = (struct frame){ 0 };
	GROW(fr->free_ids, fr->freecap, fr->nfree + 1);
	fr->free_ids[fr->nfree++] = id;
}

/* The dead frames leave the table (rebuilt with the live ones): when at least half of it is
 * dead, so that each costs its share of one pass. */
static void purge(struct frames *fr)
{
	struct hashmap *live = hashmap__new();
	uint64_t ident, id;
	size_t pos = 0;

	while (hashmap__next(fr->by_ident, &pos, &ident, &id)) {
		if (dead(fr, (uint32_t)id))
			free_id(fr, (uint32_t)id);
		else
			*hashmap__upsert(live, ident, NULL) = id;
	}
	hashmap__free(fr->by_ident);
	fr->by_ident = live;
	fr->ndead = 0;
}

uint32_t frames__make(struct frames *fr, uint64_t ident, uint32_t bucket, uint64_t bytes)
{
	uint64_t *slot = NULL;
	bool created = true;
	uint32_t id;

	if (ident) {
		if (fr->ndead * 2 >= hashmap__size(fr->by_ident) && hashmap__full(fr->by_ident))
			purge(fr);
		slot = hashmap__upsert(fr->by_ident, ident, &created);
	}
	if (!created) { /* its dead frame comes back */
		id = (uint32_t)*slot;
		fr->ndead--;
	} else if (fr->nfree) {
		id = fr->free_ids[--fr->nfree];
	} else {
		GROW(fr->f, fr->cap, fr->n + 1);
		id = (uint32_t)fr->n++;
	}
	fr->f[id] = (struct frame){ .ident = ident, .bytes = bytes, .bucket = bucket };
	if (slot)
		*slot = id;
	return id;
}

uint32_t frames__take(struct frames *fr, uint64_t ident, uint32_t bucket, uint64_t bytes, uint32_t *hint,
		      bool *made)
{
	uint32_t id = 0;

	if (hint_holds(fr, ident, hint)) {
		id = *hint;
	} else {
		uint64_t *v = hashmap__find(fr->by_ident, ident);

		id = v ? (uint32_t)*v : 0;
	}
	*made = !id || dead(fr, id);
	if (!id) {
		id = frames__make(fr, ident, bucket, bytes);
	} else if (*made) { /* its dead frame comes back, the table unchanged */
		fr->f[id] = (struct frame){ .ident = ident, .bytes = bytes, .bucket = bucket };
		fr->ndead--;
	}
	if (hint)
		*hint = id;
	return id;
}

struct frame *frames__get(struct frames *fr, uint32_t id)
{
	return &fr->f[id];
}

void frames__drop(struct frames *fr, uint32_t id)
{
	struct frame *f = &fr->f[id];

	if (f->ident) { /* stays in the table, dead */
		f->refs = 0;
		f->bytes = 0;
		fr->ndead++;
		return;
	}
	free_id(fr, id);
}

uint64_t frames__count(const struct frames *fr)
{
	return fr->n - 1 - fr->nfree - fr->ndead;
}
