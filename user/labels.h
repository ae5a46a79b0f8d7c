/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What resident bytes are: a category (stack, heap, runtime, file, shared, other) and a finer label
 * under it, e.g. stack/goroutine. Label ids are handed out in order of first use, never reused
 * within a run. */
#ifndef TM_LABELS_H
#define TM_LABELS_H
#include <stdint.h>

/* shared: shared memory (SysV, POSIX, MAP_SHARED anonymous, memfd, tmpfs), by object */
enum tm_cat { CAT_STACK, CAT_HEAP, CAT_RUNTIME, CAT_FILE, CAT_SHARED, CAT_OTHER, NR_CATS };
extern const char *const cat_names[NR_CATS];
/* out = cat, with the bytes no record holds (kernel - sum, returned) added to other: the
 * categories every output shows always add up to the kernel's counters. */
int64_t categories_with_unattributed(const int64_t cat[NR_CATS], int64_t kernel, int64_t out[NR_CATS]);

struct label {
	enum tm_cat cat;
	const char *name; /* interned */
};
/* The id of cat/name, made on first use. */
int label_id(enum tm_cat cat, const char *name);
const struct label *label_get(int id);
/* The label of shared memory pages mapped from the object at path (a /proc/PID/maps path, or
 * NULL when the mapping is not known): shared/sysv, shared/anon (MAP_SHARED|MAP_ANONYMOUS),
 * shared/memfd:NAME, shared/posix:NAME (/dev/shm), shared/tmpfs. */
int shared_label(const char *path);
/* Forget every label (ids start again from 0): for harnesses that run many inputs. */
void labels__free(void);
#endif
