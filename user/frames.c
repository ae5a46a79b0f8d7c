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
	struct hashmap *by_ident; /* ident -> id */
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

uint32_t frames__find(struct frames *fr, uint64_t ident)
{
	uint64_t *v = ident ? hashmap__find(fr->by_ident, ident) : NULL;

	return v ? (uint32_t)*v : 0;
}

uint32_t frames__make(struct frames *fr, uint64_t ident, uint32_t bucket, uint64_t bytes)
{
	uint32_t id;

	if (fr->nfree) {
		id = fr->free_ids[--fr->nfree];
	} else {
		GROW(fr->f, fr->cap, fr->n + 1);
		id = (uint32_t)fr->n++;
	}
	fr->f[id] = (struct frame){ .ident = ident, .bytes = bytes, .bucket = bucket };
	if (ident)
		*hashmap__upsert(fr->by_ident, ident, NULL) = id;
	return id;
}

struct frame *frames__get(struct frames *fr, uint32_t id)
{
	return &fr->f[id];
}

void frames__drop(struct frames *fr, uint32_t id)
{
	struct frame *f = &fr->f[id];

	if (f->ident)
		hashmap__delete(fr->by_ident, f->ident);
	*f = (struct frame){ 0 };
	GROW(fr->free_ids, fr->freecap, fr->nfree + 1);
	fr->free_ids[fr->nfree++] = id;
}

uint64_t frames__count(const struct frames *fr)
{
	return fr->n - 1 - fr->nfree;
}
