// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Which category and label resident bytes belong to. Mostly by address region (how the
 * mapping was made, by whom), with the faulting stack deciding where the region alone cannot:
 * inside Go's heap arena, goroutine stacks and heap objects share spans.
 * The rules are documented in docs/classification.md; keep the two in step.
 */
#include <string.h>
#include "account.h"
#include "util.h"

#define MAP_GROWSDOWN 0x100
#define MAP_STACK 0x20000

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

struct fn_rule {
	const char *needle; /* substring of the symbol */
	enum tm_cat cat;
	const char *label;
};

/* The first rule whose needle some frame (or the caller) contains decides; -1 if none does.
 * Rule order, not frame order: a runtime's specific allocators sit above its generic ones. */
static int match_frames(const struct symstack *ss, const char *caller, const struct fn_rule *rules, size_t n)
{
	size_t r;
	int i;

	for (r = 0; r < n; r++)
		for (i = -1; i < (ss ? ss->n : 0); i++) {
			const char *f = i < 0 ? caller : ss->frames[i];

			if (f && strstr(f, rules[r].needle))
				return label_id(rules[r].cat, rules[r].label);
		}
	return -1;
}
#define MATCH(ss, caller, rules) match_frames(ss, caller, rules, sizeof(rules) / sizeof(rules[0]))

/* The innermost frame that some rule's needle matches decides (the code that allocated owns
 * the page); rules for stacks are passed over when skip_stack. -1 if no frame matches. */
static int innermost_match(const struct symstack *ss, const struct fn_rule *rules, size_t n, bool skip_stack)
{
	size_t r;
	int i;

	for (i = 0; ss && i < ss->n; i++)
		for (r = 0; r < n; r++)
			if ((!skip_stack || rules[r].cat != CAT_STACK) && strstr(ss->frames[i], rules[r].needle))
				return label_id(rules[r].cat, rules[r].label);
	return -1;
}
#define INNERMOST(ss, rules, skip_stack) innermost_match(ss, rules, sizeof(rules) / sizeof(rules[0]), skip_stack)

/*
 * Language runtimes' own mappings, by the stack that called mmap (docs/classification.md has
 * one table per runtime; the symbols are distinct, so one list serves every process).
 */
static const struct fn_rule region_rules[] = {
	/* V8 (Node.js): the JIT code range first, then the JS heap's pages */
	{ "v8::internal::CodeRange", CAT_RUNTIME, "v8-code" },
	{ "v8::internal::wasm::", CAT_RUNTIME, "v8-wasm" },
	{ "v8::internal::MemoryAllocator::", CAT_HEAP, "v8" },
	{ "v8::internal::LargeObjectSpace", CAT_HEAP, "v8" },
	{ "v8::internal::Heap::", CAT_HEAP, "v8" },
	{ "v8::internal::ReadOnly", CAT_RUNTIME, "v8" },
	{ "v8::internal::", CAT_RUNTIME, "v8" },
	/* only the mmap's caller known (its stack lost to a full stack map): V8's page allocator,
	 * which maps the heap's pages */
	{ "v8::base::", CAT_HEAP, "v8" },
	/* HotSpot (OpenJDK 17, G1): by the reservation the memory was committed in */
	{ "StackOverflow::", CAT_STACK, "thread" },                /* guard zones in thread stacks */
	{ "create_aux_memory_mapper", CAT_RUNTIME, "java-gc" },   /* card table, mark bitmaps, BOT */
	{ "G1CMMarkStack", CAT_RUNTIME, "java-gc" },
	{ "ReservedHeapSpace", CAT_HEAP, "java" },                /* the Java heap (G1CollectedHeap::initialize) */
	{ "Universe::reserve_heap", CAT_HEAP, "java" },
	{ "HeapRegionManager", CAT_HEAP, "java" },
	{ "G1", CAT_RUNTIME, "java-gc" },
	{ "CodeCache", CAT_RUNTIME, "java-code" },
	{ "CodeHeap", CAT_RUNTIME, "java-code" },
	{ "metaspace::", CAT_RUNTIME, "java-class" },
	{ "Metaspace", CAT_RUNTIME, "java-class" },
	{ "Arena::", CAT_RUNTIME, "java-vm" },
	{ "Threads::create_vm", CAT_RUNTIME, "java-vm" },
};

/* Inside a heap (pymalloc's arenas, glibc's brk heap and arenas), what the faulting stack
 * says the bytes are (innermost match). */
static const struct fn_rule heap_fault_rules[] = {
	/* CPython: a suspended coroutine's frame lives inside the coroutine object, made here;
	 * these are asyncio's task "stacks" (named with Debian's python3.11-dbg debug file) */
	{ "make_gen", CAT_STACK, "coroutine" },
	{ "_Py_MakeCoro", CAT_STACK, "coroutine" },
	/* Rust async runtimes: a task's cell (its future's state machine, the task's "stack"),
	 * allocated with malloc; found through glibc's frameless malloc by the CFI walk */
	{ "tokio::runtime::task::core::Cell", CAT_STACK, "tokio-task" },
	{ "tokio::runtime::task::raw::RawTask::new", CAT_STACK, "tokio-task" },
	{ "tokio::runtime::task::new_task", CAT_STACK, "tokio-task" },
	{ "tokio::runtime::task::list::OwnedTasks<S>::bind", CAT_STACK, "tokio-task" }, /* Cell::new inlined */
	{ "async_task::raw::RawTask", CAT_STACK, "async-task" },
	{ "async_task::runnable::spawn_unchecked", CAT_STACK, "async-task" },
	{ "futures_util::stream::futures_unordered::FuturesUnordered<Fut>::push", CAT_STACK, "future" },
	/* BEAM: a new process's control block, heap and stack, and the heaps its garbage
	 * collections move it to (beam.smp exports these names) */
	{ "erl_create_process", CAT_STACK, "erlang-process" },
	{ "erts_garbage_collect", CAT_STACK, "erlang-process" },
};

static int heap_fault_label(struct account *a, struct proc *p, int32_t stack_id)
{
	uint64_t key = (uint64_t)(stack_id + 1) << 1 | 1ull << 40, *slot;
	bool created;
	int label;

	if (stack_id < 0)
		return -1;
	slot = hashmap__upsert(p->stack_labels, key, &created);
	if (!created)
		return (int)*slot - 1;
	label = INNERMOST(account__stack(a, p, stack_id), heap_fault_rules, false);
	*slot = (uint64_t)label + 1;
	return label;
}

/* Stripped runtimes, where no frame has a name: by the module that called mmap (and size). */
struct mod_rule {
	const char *prefix;   /* of the module's file name */
	uint64_t len;         /* the mapping's length, or 0 for any */
	enum tm_cat cat;
	const char *label;
};

static const struct mod_rule module_rules[] = {
	{ "python3", 1 << 20, CAT_HEAP, "pymalloc" },   /* obmalloc's 1 MiB arenas */
	{ "python3", 0, CAT_RUNTIME, "python" },        /* datastack chunks, interpreter state */
	{ "libpython3", 1 << 20, CAT_HEAP, "pymalloc" },
	{ "libpython3", 0, CAT_RUNTIME, "python" },
	{ "mono-sgen", 0, CAT_HEAP, "mono" },           /* SGen's nursery and major blocks, JIT code */
	{ "libmonosgen", 0, CAT_HEAP, "mono" },
	{ "beam.smp", 0, CAT_HEAP, "beam" },            /* erts carriers: process heaps and stacks */
};

/* Label of an anonymous page in a mapping made by mmap, decided once per mapping. */
static int region_label(struct account *a, struct proc *p, struct region *r)
{
	const struct map_entry *m;
	const char *mod, *caller = NULL;
	int label;

	if (r->flags & (MAP_STACK | MAP_GROWSDOWN))
		return label_id(CAT_STACK, "thread");
	if (r->kind == REG_FILE)
		return label_id(CAT_OTHER, "file-private");
	m = r->caller ? account__find_map(a, p, r->caller) : NULL;
	mod = m ? basename_of(m->path) : "";
	if (r->caller)
		caller = account__frame_name(a, p, r->caller, NULL);
	label = MATCH(account__stack(a, p, r->stack_id), caller, region_rules);
	if (label >= 0)
		return label;
	for (size_t i = 0; i < sizeof(module_rules) / sizeof(module_rules[0]); i++)
		if (starts(mod, module_rules[i].prefix) && (!module_rules[i].len || module_rules[i].len == r->end - r->start))
			return label_id(module_rules[i].cat, module_rules[i].label);
	if (starts(mod, "libc.so") || starts(mod, "libc-"))
		return label_id(CAT_HEAP, "malloc"); /* glibc calls mmap for arenas and big blocks */
	if (starts(mod, "ld-linux") || starts(mod, "ld-"))
		return label_id(CAT_OTHER, "loader");
	return label_id(CAT_OTHER, "mmap");
}

/* ---- Go (1.19-1.23, amd64): see ../shared/RUNTIMES.md ---- */

/* Heap arenas come from hints i<<40 | 0x00c0<<32 (runtime/malloc.go mallocinit). */
static bool go_in_arena(uint64_t addr)
{
	return ((addr >> 32) & 0xff) == 0xc0 && addr < (0x80ull << 40);
}

/* Innermost match wins. Stack growth and allocation first: they own the page they fault. */
static const struct fn_rule go_rules[] = {
	{ "runtime.stackpoolalloc", CAT_STACK, "goroutine" },
	{ "runtime.stackcacherefill", CAT_STACK, "goroutine" },
	{ "runtime.stackalloc", CAT_STACK, "goroutine" },
	{ "runtime.copystack", CAT_STACK, "goroutine" },
	{ "runtime.newstack", CAT_STACK, "goroutine" },
	{ "runtime.shrinkstack", CAT_STACK, "goroutine" },  /* copystack inlined: the copy into a smaller stack */
	{ "runtime.malg", CAT_RUNTIME, "sched" },          /* the g struct itself */
	{ "runtime.newproc1", CAT_RUNTIME, "sched" },      /* first writes to a new g */
	{ "runtime.allgadd", CAT_RUNTIME, "sched" },
	{ "runtime.allocm", CAT_RUNTIME, "sched" },
	{ "runtime.mcommoninit", CAT_RUNTIME, "sched" },
	{ "runtime.procresize", CAT_RUNTIME, "sched" },
	{ "heapBits", CAT_RUNTIME, "gc" },
	{ "MarkBits", CAT_RUNTIME, "gc" },
	{ "AllocBits", CAT_RUNTIME, "gc" },
	{ "gcBits", CAT_RUNTIME, "gc" },
	{ "runtime.getempty", CAT_RUNTIME, "gc" },
	{ "gcWork", CAT_RUNTIME, "gc" },
	{ "runtime.gcDrain", CAT_RUNTIME, "gc" },
	{ "runtime.scanobject", CAT_RUNTIME, "gc" },
	{ "runtime.greyobject", CAT_RUNTIME, "gc" },
	{ "runtime.gcBgMarkWorker", CAT_RUNTIME, "gc" },
	{ "runtime.newArenaMayUnlock", CAT_RUNTIME, "gc" },
	{ "runtime.(*mheap).sysAlloc", CAT_RUNTIME, "gc" }, /* heapArena: mostly the GC bitmap */
	{ "runtime.(*pageAlloc)", CAT_RUNTIME, "pagealloc" },
	{ "runtime.(*pallocData)", CAT_RUNTIME, "pagealloc" },
	{ "runtime.(*pageCache)", CAT_RUNTIME, "pagealloc" },
	{ "scavenge", CAT_RUNTIME, "pagealloc" },
	{ "runtime.(*fixalloc)", CAT_RUNTIME, "spans" },
	{ "runtime.(*mheap).allocSpan", CAT_RUNTIME, "spans" },
	{ "runtime.(*mheap).setSpans", CAT_RUNTIME, "spans" },
	{ "runtime.(*mspan)", CAT_RUNTIME, "spans" },
	{ "runtime.allocmcache", CAT_RUNTIME, "spans" },
	{ "runtime.stkbucket", CAT_RUNTIME, "profiling" },
	{ "runtime.persistentalloc", CAT_RUNTIME, "persistent" },
};

/* Label decided by the stack for a Go process, or -1. Cached per stack and arena-ness. */
static int go_stack_label(struct account *a, struct proc *p, int32_t stack_id, bool in_arena)
{
	uint64_t key = (uint64_t)(stack_id < 0 ? 0 : stack_id + 1) << 1 | in_arena, *slot;
	bool created;
	int label;

	slot = hashmap__upsert(p->stack_labels, key, &created);
	if (!created)
		return (int)*slot - 1;
	/* outside the arena, what looks like a stack allocation is its metadata */
	label = INNERMOST(account__stack(a, p, stack_id), go_rules, !in_arena);
	if (label < 0)
		label = in_arena ? label_id(CAT_HEAP, "go") : label_id(CAT_RUNTIME, "other");
	*slot = (uint64_t)label + 1;
	return label;
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

int classify(struct account *a, struct proc *p, int member, uint64_t addr, int32_t stack_id, int cause,
	     bool on_stack)
{
	const struct map_entry *m;
	struct region *r;

	if (member == TM_FILEPAGES) {
		m = addr ? account__find_map(a, p, addr) : NULL;
		return label_id(CAT_FILE, m && m->path[0] ? basename_of(m->path) : "[unknown file]");
	}
	if (member == TM_SHMEMPAGES) {
		const struct map_entry *m = account__find_map(a, p, addr);

		return shared_label(m ? m->path : NULL);
	}
	if (cause == TM_CAUSE_EXEC)
		return label_id(CAT_STACK, "main"); /* execve copies argv/envp onto the new stack */
	if (cause != TM_CAUSE_FAULT && cause != TM_CAUSE_SYSCALL)
		return label_id(CAT_OTHER, "[address unknown]");

	r = regions__find(&p->regions, addr);
	if (p->is_go && !in_main_stack(p, addr)) {
		/* a goroutine's stack that grew past 32 KiB comes from heap spans: a fault on the
		 * thread's own stack says what it is, whoever's code touched it */
		if (go_in_arena(addr) && on_stack)
			return label_id(CAT_STACK, "goroutine");
		if (go_in_arena(addr))
			return go_stack_label(a, p, stack_id, true);
		/* file copies and thread stacks follow the generic rules; the rest is the runtime's */
		if (!r || (r->kind != REG_FILE && !(r->flags & (MAP_STACK | MAP_GROWSDOWN))))
			return go_stack_label(a, p, stack_id, false);
	}
	if (r) {
		static int pymalloc = -1, malloc_ = -1, beam = -1; /* labels are never renumbered */
		int fl;

		if (r->label < 0)
			r->label = region_label(a, p, r);
		if (pymalloc < 0) {
			pymalloc = label_id(CAT_HEAP, "pymalloc");
			malloc_ = label_id(CAT_HEAP, "malloc");
			beam = label_id(CAT_HEAP, "beam");
		}
		if ((r->label == pymalloc || r->label == malloc_ || r->label == beam) &&
		    (fl = heap_fault_label(a, p, stack_id)) >= 0)
			return fl;
		return r->label;
	}
	if (p->start_brk && addr >= p->start_brk && addr < (p->brk > p->start_brk ? p->brk : p->start_brk) + 4096) {
		int fl = heap_fault_label(a, p, stack_id);

		return fl >= 0 ? fl : label_id(CAT_HEAP, "brk");
	}
	if (in_main_stack(p, addr))
		return label_id(CAT_STACK, "main");
	m = account__find_map(a, p, addr);
	if (!m)
		return label_id(CAT_OTHER, "unknown");
	if (!strcmp(m->path, "[heap]"))
		return label_id(CAT_HEAP, "brk");
	if (!strcmp(m->path, "[stack]"))
		return label_id(CAT_STACK, "main");
	if (map_entry__is_file(m))
		return label_id(CAT_OTHER, "file-private"); /* .data/.bss copies of a file mapping */
	return label_id(CAT_OTHER, "anon");
}
