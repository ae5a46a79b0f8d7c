// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>
#include "hashmap.h"
#include "util.h"

/* A key beside its value: a probe of a big table misses once for both (tables of 60k labels,
 * buckets and frames were probed at every event), the used bytes are dense enough to stay in
 * cache. */
struct slot {
	uint64_t key, val;
};

struct hashmap {
	struct slot *s;
	uint8_t *used;
	size_t cap;  /* power of two */
	size_t size;
};

static inline size_t hash64(uint64_t k)
{
	/* splitmix64 finalizer: page addresses differ only in high bits */
	k ^= k >> 30;
	k *= 0xbf58476d1ce4e5b9ull;
	k ^= k >> 27;
	k *= 0x94d049bb133111ebull;
	k ^= k >> 31;
	return (size_t)k;
}

struct hashmap *hashmap__new(void)
{
	return xcalloc(1, sizeof(struct hashmap));
}

void hashmap__free(struct hashmap *m)
{
	if (!m)
		return;
	free(m->s);
	free(m->used);
	free(m);
}

size_t hashmap__size(const struct hashmap *m)
{
	return m->size;
}

size_t hashmap__capacity(const struct hashmap *m)
{
	return m->cap;
}

static size_t probe(const struct hashmap *m, uint64_t key, bool *found)
{
	size_t mask = m->cap - 1, i = hash64(key) & mask;

	while (m->used[i]) {
		if (m->s[i].key == key) {
			*found = true;
			return i;
		}
		i = (i + 1) & mask;
	}
	*found = false;
	return i;
}

static void rehash(struct hashmap *m, size_t ncap)
{
	struct hashmap old = *m;
	size_t i;

	m->cap = ncap;
	m->s = xcalloc(ncap, sizeof(*m->s));
	m->used = xcalloc(ncap, 1);
	for (i = 0; i < old.cap; i++) {
		bool found;
		size_t j;

		if (!old.used[i])
			continue;
		j = probe(m, old.s[i].key, &found);
		m->used[j] = 1;
		m->s[j] = old.s[i];
	}
	free(old.s);
	free(old.used);
}

uint64_t *hashmap__find(struct hashmap *m, uint64_t key)
{
	bool found;
	size_t i;

	if (!m->size)
		return NULL;
	i = probe(m, key, &found);
	return found ? &m->s[i].val : NULL;
}

void hashmap__prefetch(const struct hashmap *m, uint64_t key)
{
	size_t i;

	if (!m->cap)
		return;
	i = hash64(key) & (m->cap - 1);
	__builtin_prefetch(&m->s[i]);
	__builtin_prefetch(&m->used[i]);
}

bool hashmap__full(const struct hashmap *m)
{
	return (m->size + 1) * 10 > m->cap * 7;
}

uint64_t *hashmap__upsert(struct hashmap *m, uint64_t key, bool *created)
{
	bool found;
	size_t i;

	if (hashmap__full(m))
		rehash(m, m->cap ? m->cap * 2 : 16);
	i = probe(m, key, &found);
	if (created)
		*created = !found;
	if (!found) {
		m->used[i] = 1;
		m->s[i] = (struct slot){ key, 0 };
		m->size++;
	}
	return &m->s[i].val;
}

bool hashmap__delete(struct hashmap *m, uint64_t key)
{
	size_t mask, i, j;
	bool found;

	if (!m->size)
		return false;
	i = probe(m, key, &found);
	if (!found)
		return false;
	mask = m->cap - 1;
	/* backward-shift: move later entries of the probe run into the hole */
	for (j = (i + 1) & mask; m->used[j]; j = (j + 1) & mask) {
		size_t home = hash64(m->s[j].key) & mask;

		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->s[i] = m->s[j];
			i = j;
		}
	}
	m->used[i] = 0;
	m->size--;
	return true;
}

bool hashmap__slot(const struct hashmap *m, size_t i, uint64_t *key, uint64_t *val)
{
	if (i >= m->cap || !m->used[i])
		return false;
	*key = m->s[i].key;
	*val = m->s[i].val;
	return true;
}

bool hashmap__next(const struct hashmap *m, size_t *pos, uint64_t *key, uint64_t *val)
{
	while (*pos < m->cap) {
		size_t i = (*pos)++;

		if (m->used[i]) {
			*key = m->s[i].key;
			*val = m->s[i].val;
			return true;
		}
	}
	return false;
}
