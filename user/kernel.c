// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernel.h"
#include "model.h"
#include "oom.h"
#include "util.h"
#include "world.h"

/* "Key:\t123 kB" or "Key:\t123" of a status text; 0 if it is not there */
static uint64_t status_value(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

/* v1: the tree's live threads and page tables, from each live process's status */
static void tree_counts(struct model *m, struct world *w, uint64_t *threads, uint64_t *pte)
{
	size_t i;

	*threads = *pte = 0;
	for (i = 0; i < m->nprocs; i++) {
		struct proc *p = m->procs[i];
		char *text;

		if (!p->alive)
			continue;
		text = world__proc_text(w, p->pid, "status");
		if (!text)
			continue; /* gone since its exit event was queued: nothing of it is left */
		*threads += status_value(text, "\nThreads:");
		*pte += status_value(text, "\nVmPTE:") * 1024;
		free(text);
	}
}

static uint64_t live_procs(const struct model *m)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < m->nprocs; i++)
		n += m->procs[i]->alive;
	return n;
}

void kernel__sample(struct kernel_state *k, struct model *m, struct world *w, const struct cg_sample *s)
{
	struct kernel_sample ks = { .ts = s->ts, .sock = s->c.sock };
	uint64_t threads, known;

	if (s->version == 2) {
		ks.stacks = s->c.kernel_stack;
		ks.pagetables = s->c.pagetables;
		ks.slab = s->c.slab;
		/* "kernel" (5.18+) is all of it but the sockets; before it, the parts */
		ks.total = (s->c.kmem ? s->c.kmem : ks.stacks + ks.pagetables + ks.slab) + ks.sock;
	} else {
		/* at most a status file per live process per ms of the run (by the samples' own
		 * times, so that a replay asks the same questions) */
		if (!k->swept || s->ts - k->swept_ts >= live_procs(m) * 1000000ull) {
			tree_counts(m, w, &k->threads, &k->pte);
			k->swept_ts = s->ts;
			k->swept = true;
		}
		threads = k->threads;
		ks.pagetables = k->pte;
		ks.threads = (uint32_t)threads;
		ks.stacks = threads * KERNEL_THREAD_SIZE;
		known = ks.stacks + ks.pagetables;
		/* v1 charges sockets to kmem.tcp only; slab and the rest of kmem are not told apart */
		ks.slab = s->c.kmem > known ? s->c.kmem - known : 0;
		ks.total = s->c.kmem + ks.sock;
		if (s->c.kmem_max > k->kmem_max)
			k->kmem_max = s->c.kmem_max;
	}
	k->version = s->version;
	k->run_cgroup = s->flags & CG_SAMPLE_RUN;
	GROW(k->s, k->cap, k->n + 1);
	k->s[k->n++] = ks;
}

void kernel__free(struct kernel_state *k)
{
	free(k->s);
	memset(k, 0, sizeof(*k));
}
