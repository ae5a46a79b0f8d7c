// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>
#include "oom.h"
#include "util.h"

void oom__free(struct oom_state *o)
{
	free(o->own);
	o->own = NULL;
	o->nown = o->owncap = 0;
}

void oom__cgroup(struct oom_state *o, const struct cg_sample *s)
{
	if (s->flags & CG_SAMPLE_OWN) {
		GROW(o->own, o->owncap, o->nown + 1);
		o->own[o->nown++] = *s;
		return;
	}
	if (!o->have_ctx)
		o->ctx_first = *s;
	o->ctx_last = *s;
	o->have_ctx = true;
}

void oom__victim(struct oom_state *o, const struct tm_event *e)
{
	if (!o->kills++)
		o->first = *e;
}
