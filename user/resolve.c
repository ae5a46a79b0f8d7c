// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Gathers classify()'s input from the account: the facts about an address that are cheap
 * (region, break, main stack) at once, the costly ones (symbolized stacks, the mmap caller's
 * module) only when classify asks, and caches what classify_region and classify_stack decide
 * (per region in region->label, per stack in p->stack_labels).
 */
#include <string.h>
#include "classify.h"
#include "resolve.h"
#include "util.h"

struct resolve_ctx {
	struct account *a;
	struct proc *p;
	const struct region *r;
	uint64_t addr;
	int32_t stack_id;
	bool by_addr; /* the label depends on the address's mapping (map_path), not its region */
};

/* What the process runs, by its executable and then the files it maps (in maps order);
 * rescanned only after its maps were re-read. */
static enum runtime runtime_scan(struct proc *p)
{
	enum runtime rt;
	size_t i;

	rt = classify_runtime_of(basename_of(p->exe ? p->exe : ""));
	for (i = 0; rt == RT_NATIVE && i < p->maps.n; i++)
		if (map_entry__is_file(&p->maps.e[i]))
			rt = classify_runtime_of(basename_of(p->maps.e[i].path));
	p->allocator = NULL;
	for (i = 0; !p->allocator && i < p->maps.n; i++)
		if (map_entry__is_file(&p->maps.e[i]))
			p->allocator = classify_allocator(rt, basename_of(p->maps.e[i].path));
	p->runtime = rt;
	p->runtime_gen = p->maps.gen + 1;
	return rt;
}

static inline enum runtime proc_runtime(struct proc *p)
{
	if (p->is_go)
		return RT_GO;
	if (p->runtime_gen == p->maps.gen + 1)
		return (enum runtime)p->runtime;
	return runtime_scan(p);
}

static struct cl_frames frames_of(const struct symstack *ss)
{
	return (struct cl_frames){ .f = ss ? ss->frames : NULL, .n = ss ? ss->n : 0 };
}

static int region_label(void *ctx)
{
	struct resolve_ctx *c = ctx;
	const struct region *r = c->r;
	const struct map_entry *m;
	struct cl_region reg;
	int label;

	if (r->label >= 0)
		return r->label;
	m = r->caller ? account__find_map(c->a, c->p, r->caller) : NULL;
	reg = (struct cl_region){
		.len = r->end - r->start,
		.module = m ? basename_of(m->path) : "",
		.caller = r->caller ? account__frame_name(c->a, c->p, r->caller, NULL) : NULL,
		.stack = frames_of(account__stack(c->a, c->p, r->stack_id)),
	};
	/* after the frames: naming them may have re-read the maps, which show the runtime's
	 * library (a JVM's libjvm.so is loaded after its exec) */
	label = classify_region(proc_runtime(c->p), &reg);
	/* written to the process's own copy of a chunk it shares: c->r may be the shared one */
	regions__set_label(&c->p->regions, c->addr, label);
	c->r = regions__find(&c->p->regions, c->addr);
	return label;
}

static int stack_label(void *ctx, enum cl_stack which)
{
	struct resolve_ctx *c = ctx;
	struct proc *p = c->p;
	uint64_t id = c->stack_id < 0 ? 0 : (uint64_t)c->stack_id + 1, *slot;
	enum runtime rt = proc_runtime(p);
	const struct symstack *ss;
	struct cl_frames f;
	int label;

	slot = hashmap__find(p->stack_labels, id << 8 | rt << 2 | which);
	if (slot)
		return (int)*slot - 1;
	ss = c->stack_id >= 0 ? account__stack(c->a, p, c->stack_id) : NULL;
	rt = proc_runtime(p); /* after the frames, as above */
	f = frames_of(ss);
	label = classify_stack(rt, which, &f);
	*hashmap__upsert(p->stack_labels, id << 8 | rt << 2 | which, NULL) = (uint64_t)label + 1;
	return label;
}

static const char *map_path(void *ctx)
{
	struct resolve_ctx *c = ctx;
	const struct map_entry *m = account__find_map(c->a, c->p, c->addr);

	c->by_addr = true;
	return m ? m->path : NULL;
}

static bool in_main_stack(const struct proc *p, uint64_t addr)
{
	uint64_t rlim = p->stack_rlim, top = p->start_stack;

	if (!top)
		return false;
	if (!rlim || rlim > (1ull << 30))
		rlim = 1ull << 30; /* unlimited: the legacy layout still keeps mmaps far below */
	return addr < top + (4ull << 20) && addr + rlim >= top;
}

/* The memos of p that may answer for stack_id. */
static struct classify_memo *memo_set(struct proc *p, int32_t stack_id)
{
	if (!p->memo)
		p->memo = xcalloc(CLASSIFY_MEMO_SETS, sizeof(*p->memo));
	return p->memo[((uint32_t)stack_id * 0x9e3779b1u) >> 28 & (CLASSIFY_MEMO_SETS - 1)];
}

/* The memo that answers for key (in_none: addr was looked up and is in no region), or NULL. */
static inline const struct classify_memo *memo_find(const struct classify_memo *set, const struct classify_memo *key,
						    bool in_none)
{
	const struct classify_memo *m;

	for (m = set; m < set + CLASSIFY_MEMO_WAYS; m++)
		if (m->gen == key->gen && m->stack_id == key->stack_id && m->tag == key->tag &&
		    m->allocator == key->allocator &&
		    (in_none ? m->start == m->end : key->start >= m->start && key->start < m->end))
			return m;
	return NULL;
}

/* classify()'s answer, its input gathered; key (an anonymous page's, or NULL) says what the
 * memos need and is kept in set when the answer may be reused. */
static int classify_at(struct account *a, struct proc *p, int member, uint64_t addr, int32_t stack_id, int cause,
		       bool on_stack, struct classify_memo *key, struct classify_memo *set)
{
	struct resolve_ctx c = { a, p, NULL, addr, stack_id, false };
	struct classify_in in = {
		.member = member,
		.cause = cause,
		.addr = addr,
		.on_stack = on_stack,
		.ctx = &c,
		.region_label = region_label,
		.stack_label = stack_label,
		.map_path = map_path,
	};
	const struct classify_memo *hit;
	int label;

	if (!key)
		return classify(&in);
	c.r = regions__find(&p->regions, addr);
	if (!c.r && (hit = memo_find(set, key, true)))
		return hit->label;
	in.rt = (enum runtime)(key->tag >> 16 & 0xff);
	in.in_region = c.r;
	in.region_file = c.r && c.r->kind == REG_FILE;
	in.region_flags = c.r ? c.r->flags : 0;
	in.in_brk = key->tag >> 25 & 1;
	in.in_main_stack = key->tag >> 26 & 1;
	in.allocator = key->allocator; /* as of proc_runtime() */
	key->start = c.r ? c.r->start : 0;
	key->end = c.r ? c.r->end : 0;
	label = classify(&in);
	/* kept only if classifying changed nothing it reads (a region's first label, maps read
	 * again while naming frames: the next call asks afresh) */
	if (!c.by_addr && p->regions.gen == key->gen && proc_runtime(p) == in.rt && p->allocator == key->allocator) {
		key->label = label;
		memmove(set + 1, set, sizeof(*set) * (CLASSIFY_MEMO_WAYS - 1));
		set[0] = *key;
	}
	return label;
}

int resolve__classify(struct account *a, struct proc *p, int member, uint64_t addr, int32_t stack_id,
		      int cause, bool on_stack)
{
	struct classify_memo key, *set;
	const struct classify_memo *hit;
	enum runtime rt;
	bool in_brk;

	if (member == TM_FILEPAGES || member == TM_SHMEMPAGES || (cause != TM_CAUSE_FAULT && cause != TM_CAUSE_SYSCALL))
		return classify_at(a, p, member, addr, stack_id, cause, on_stack, NULL, NULL);
	/* everything classify reads of an anonymous page but its region's contents and the labels
	 * cached per region and stack, which stay while the regions' gen does */
	rt = proc_runtime(p);
	in_brk = p->start_brk && addr >= p->start_brk && addr < (p->brk > p->start_brk ? p->brk : p->start_brk) + 4096;
	key.gen = p->regions.gen;
	key.start = addr;
	key.allocator = p->allocator;
	key.stack_id = stack_id;
	key.tag = (uint32_t)member | (uint32_t)cause << 8 | (uint32_t)rt << 16 |
		  (uint32_t)(on_stack | in_brk << 1 | in_main_stack(p, addr) << 2 | classify_go_arena(addr) << 3) << 24;
	_Static_assert(TM_CAUSE_FAULT != 0 && TM_CAUSE_SYSCALL != 0, "a memoized tag is never 0, as an empty entry's");
	set = memo_set(p, stack_id);
	hit = memo_find(set, &key, false);
	return hit ? hit->label : classify_at(a, p, member, addr, stack_id, cause, on_stack, &key, set);
}
