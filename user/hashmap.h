/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Open-addressing u64 -> u64 hash map (linear probing, backward-shift deletion).
 * It holds the per-page records, so it is built for millions of entries. */
#ifndef TM_HASHMAP_H
#define TM_HASHMAP_H
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

struct hashmap;

struct hashmap *hashmap__new(void);
void hashmap__free(struct hashmap *m);
size_t hashmap__size(const struct hashmap *m);
/* Pointer to the value of key, or NULL. Valid until the next insert or delete. */
uint64_t *hashmap__find(struct hashmap *m, uint64_t key);
/* Pointer to the value of key, inserted as 0 when absent (*created set accordingly). */
uint64_t *hashmap__upsert(struct hashmap *m, uint64_t key, bool *created);
bool hashmap__delete(struct hashmap *m, uint64_t key);
/* Iterate: start with *pos = 0; returns false at the end. Deleting the returned key during
 * the walk is allowed if the walk then restarts from the same *pos - 1 (see hashmap.c). */
bool hashmap__next(const struct hashmap *m, size_t *pos, uint64_t *key, uint64_t *val);
size_t hashmap__capacity(const struct hashmap *m);
/* Start loading the slot where key's probe begins (a lookup soon after finds it in cache). */
void hashmap__prefetch(const struct hashmap *m, uint64_t key);
/* Whether inserting a key not in the map would grow (rehash) it. */
bool hashmap__full(const struct hashmap *m);
/* Slot access for cursor walks: true if slot i holds an entry. */
bool hashmap__slot(const struct hashmap *m, size_t i, uint64_t *key, uint64_t *val);

#endif
