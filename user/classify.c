// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Which category and label resident bytes belong to. Mostly by address region (how the
 * mapping was made, by whom), with the faulting stack deciding where the region alone cannot:
 * inside Go's heap arena, goroutine stacks and heap objects share spans. The rules are tables,
 * each for the runtimes it is about: a symbol of one runtime (HotSpot's Arena::) means nothing
 * in another (a C++ program's google::protobuf::Arena). Nothing here looks at a process: the
 * caller (resolve.c) resolves the facts.
 */
#include <string.h>
#include "classify.h"
#include "util.h"

#define MAP_GROWSDOWN 0x100
#define MAP_STACK 0x20000

/* note: what the matched code makes, for the docs (NULL: as the row above) */
#define RULE(site, needle, cat, label, note) { site, needle, 0, cat, label, false, note }
#define MOD(prefix, len, cat, label, heap, note) { SITE_MMAP_MODULE, prefix, len, cat, label, heap, note }

const char *const runtime_names[NR_RUNTIMES] = {
	[RT_NATIVE] = "native", [RT_GO] = "go", [RT_JVM] = "jvm", [RT_V8] = "v8",
	[RT_CPYTHON] = "cpython", [RT_MONO] = "mono", [RT_BEAM] = "beam",
};

/* ---- Go (1.19-1.23, amd64): see ../shared/RUNTIMES.md ---- */

/* Innermost match wins. Stack growth and allocation first: they own the page they fault. */
static const struct cl_rule go_rules[] = {
	RULE(SITE_GO_STACK, "runtime.stackpoolalloc", CAT_STACK, "goroutine", "goroutine stacks, inside the arena only"),
	RULE(SITE_GO_STACK, "runtime.stackcacherefill", CAT_STACK, "goroutine", NULL),
	RULE(SITE_GO_STACK, "runtime.stackalloc", CAT_STACK, "goroutine", NULL),
	RULE(SITE_GO_STACK, "runtime.copystack", CAT_STACK, "goroutine", NULL),
	RULE(SITE_GO_STACK, "runtime.newstack", CAT_STACK, "goroutine", NULL),
	/* copystack inlined: the copy into a smaller stack */
	RULE(SITE_GO_STACK, "runtime.shrinkstack", CAT_STACK, "goroutine", NULL),
	RULE(SITE_GO_STACK, "runtime.malg", CAT_RUNTIME, "sched", "g structs, allgs"),
	RULE(SITE_GO_STACK, "runtime.newproc1", CAT_RUNTIME, "sched", NULL), /* first writes to a new g */
	RULE(SITE_GO_STACK, "runtime.allgadd", CAT_RUNTIME, "sched", NULL),
	/* and runtime.allocmcache, whose name holds it (its mcache is fixalloc'd: spans) */
	RULE(SITE_GO_STACK, "runtime.allocm", CAT_RUNTIME, "sched", NULL),
	RULE(SITE_GO_STACK, "runtime.mcommoninit", CAT_RUNTIME, "sched", NULL),
	RULE(SITE_GO_STACK, "runtime.procresize", CAT_RUNTIME, "sched", NULL),
	RULE(SITE_GO_STACK, "heapBits", CAT_RUNTIME, "gc", "GC metadata and work buffers"),
	/* 1.22+: the heap bitmap of small objects at a span's end, (*mspan).initHeapBits and
	 * writeHeapBitsSmall (1.19's heapBitsSetType), not the span struct below */
	RULE(SITE_GO_STACK, "HeapBits", CAT_RUNTIME, "gc", NULL),
	RULE(SITE_GO_STACK, "MarkBits", CAT_RUNTIME, "gc", NULL),
	RULE(SITE_GO_STACK, "AllocBits", CAT_RUNTIME, "gc", NULL),
	RULE(SITE_GO_STACK, "gcBits", CAT_RUNTIME, "gc", NULL),
	RULE(SITE_GO_STACK, "runtime.getempty", CAT_RUNTIME, "gc", NULL),
	RULE(SITE_GO_STACK, "gcWork", CAT_RUNTIME, "gc", NULL),
	RULE(SITE_GO_STACK, "runtime.gcDrain", CAT_RUNTIME, "gc", NULL),
	RULE(SITE_GO_STACK, "runtime.scanobject", CAT_RUNTIME, "gc", NULL),
	RULE(SITE_GO_STACK, "runtime.greyobject", CAT_RUNTIME, "gc", NULL),
	RULE(SITE_GO_STACK, "runtime.gcBgMarkWorker", CAT_RUNTIME, "gc", NULL),
	RULE(SITE_GO_STACK, "runtime.newArenaMayUnlock", CAT_RUNTIME, "gc", NULL),
	/* heapArena: mostly the GC bitmap */
	RULE(SITE_GO_STACK, "runtime.(*mheap).sysAlloc", CAT_RUNTIME, "gc", NULL),
	RULE(SITE_GO_STACK, "runtime.(*pageAlloc)", CAT_RUNTIME, "pagealloc", "the page allocator"),
	RULE(SITE_GO_STACK, "runtime.(*pallocData)", CAT_RUNTIME, "pagealloc", NULL),
	RULE(SITE_GO_STACK, "runtime.(*pageCache)", CAT_RUNTIME, "pagealloc", NULL),
	RULE(SITE_GO_STACK, "scavenge", CAT_RUNTIME, "pagealloc", NULL),
	RULE(SITE_GO_STACK, "runtime.(*fixalloc)", CAT_RUNTIME, "spans", "span structs"),
	RULE(SITE_GO_STACK, "runtime.(*mheap).allocSpan", CAT_RUNTIME, "spans", NULL),
	RULE(SITE_GO_STACK, "runtime.(*mheap).setSpans", CAT_RUNTIME, "spans", NULL),
	RULE(SITE_GO_STACK, "runtime.(*mspan)", CAT_RUNTIME, "spans", NULL),
	RULE(SITE_GO_STACK, "runtime.stkbucket", CAT_RUNTIME, "profiling", "profiling buckets"),
	RULE(SITE_GO_STACK, "runtime.persistentalloc", CAT_RUNTIME, "persistent", NULL),
};

/* ---- V8 (Node.js): the JIT code range first, then the JS heap's pages ---- */
static const struct cl_rule v8_rules[] = {
	RULE(SITE_MMAP_STACK, "v8::internal::CodeRange", CAT_RUNTIME, "v8-code", "the 512 MiB reservation for JIT code"),
	RULE(SITE_MMAP_STACK, "v8::internal::wasm::", CAT_RUNTIME, "v8-wasm", NULL),
	RULE(SITE_MMAP_STACK, "v8::internal::MemoryAllocator::", CAT_HEAP, "v8", "the JS heap's 256 KiB pages and large objects"),
	RULE(SITE_MMAP_STACK, "v8::internal::LargeObjectSpace", CAT_HEAP, "v8", NULL),
	RULE(SITE_MMAP_STACK, "v8::internal::Heap::", CAT_HEAP, "v8", NULL),
	RULE(SITE_MMAP_STACK, "v8::internal::ReadOnly", CAT_RUNTIME, "v8", "read-only space"),
	RULE(SITE_MMAP_STACK, "v8::internal::", CAT_RUNTIME, "v8", "isolate setup, the rest"),
	/* only the mmap's caller known (its stack lost to a full stack map): V8's page allocator,
	 * which maps the heap's pages */
	RULE(SITE_MMAP_STACK, "v8::base::", CAT_HEAP, "v8", "V8's page allocator, when only the mmap's caller is known: its stack was lost"),
};

/* ---- HotSpot (OpenJDK 17, G1): by the reservation the memory was committed in ---- */
static const struct cl_rule hotspot_rules[] = {
	RULE(SITE_MMAP_STACK, "StackOverflow::", CAT_STACK, "thread", "guard zones in thread stacks"),
	RULE(SITE_MMAP_STACK, "create_aux_memory_mapper", CAT_RUNTIME, "java-gc", "card table, mark bitmaps, block offset table"),
	RULE(SITE_MMAP_STACK, "G1CMMarkStack", CAT_RUNTIME, "java-gc", NULL),
	RULE(SITE_MMAP_STACK, "ReservedHeapSpace", CAT_HEAP, "java", "the Java heap, from G1CollectedHeap::initialize"),
	RULE(SITE_MMAP_STACK, "Universe::reserve_heap", CAT_HEAP, "java", NULL),
	RULE(SITE_MMAP_STACK, "HeapRegionManager", CAT_HEAP, "java", NULL),
	RULE(SITE_MMAP_STACK, "G1", CAT_RUNTIME, "java-gc", "the rest of G1"),
	RULE(SITE_MMAP_STACK, "CodeCache", CAT_RUNTIME, "java-code", NULL),
	RULE(SITE_MMAP_STACK, "CodeHeap", CAT_RUNTIME, "java-code", NULL),
	RULE(SITE_MMAP_STACK, "metaspace::", CAT_RUNTIME, "java-class", NULL),
	RULE(SITE_MMAP_STACK, "Metaspace", CAT_RUNTIME, "java-class", NULL),
	/* HotSpot's arenas malloc their chunks: big ones are glibc mmaps under Arena:: */
	RULE(SITE_MMAP_STACK, "Arena::", CAT_RUNTIME, "java-vm", "the chunks of HotSpot's arenas, which malloc maps"),
	RULE(SITE_MMAP_STACK, "Threads::create_vm", CAT_RUNTIME, "java-vm", NULL),
	/* JDK 21+: a virtual thread that parks is unmounted by Continuation freeze, which copies
	 * its frames into a new jdk.internal.vm.StackChunk object in the Java heap (the memcpy
	 * under freeze_fast_copy/copy_to_chunk) and writes nothing else there; wherever the
	 * heap's region is, and whatever it is labelled, those pages are the task's stack */
	RULE(SITE_FAULT_STACK, "FreezeBase::", CAT_STACK, "virtual-thread",
	     "virtual threads' stack chunks (JDK 21+), copied in by Continuation freeze"),
	RULE(SITE_FAULT_STACK, "freeze<Config<", CAT_STACK, "virtual-thread", NULL),
	RULE(SITE_FAULT_STACK, "StackChunkAllocator::", CAT_STACK, "virtual-thread", NULL),
};

/* ---- stripped runtimes (CPython, Mono, BEAM): by the module that called mmap (and size),
 * and in their heaps by the names a debug file or .dynsym gives ---- */
static const struct cl_rule cpython_rules[] = {
	MOD("python3", 1 << 20, CAT_HEAP, "pymalloc", true, "obmalloc's arenas: objects, coroutines, tasks"),
	MOD("libpython3", 1 << 20, CAT_HEAP, "pymalloc", true, NULL),
	MOD("python3", 0, CAT_RUNTIME, "python", false, "datastack chunks, interpreter state"),
	MOD("libpython3", 0, CAT_RUNTIME, "python", false, NULL),
	/* a suspended coroutine's frame lives inside the coroutine object, made here: asyncio's
	 * task "stacks" (named with Debian's python3.11-dbg debug file) */
	RULE(SITE_HEAP_STACK, "make_gen", CAT_STACK, "coroutine", "a coroutine object, which holds a suspended coroutine's frame: asyncio's task \"stack\""),
	RULE(SITE_HEAP_STACK, "_Py_MakeCoro", CAT_STACK, "coroutine", NULL),
};

static const struct cl_rule mono_rules[] = {
	MOD("mono-sgen", 0, CAT_HEAP, "mono", false, "SGen's nursery and major blocks; also JIT code"),
	MOD("libmonosgen", 0, CAT_HEAP, "mono", false, NULL),
};

static const struct cl_rule beam_rules[] = {
	MOD("beam.smp", 0, CAT_HEAP, "beam", true, "erts carriers: process heaps and stacks, ETS, binaries"),
	/* beam.smp exports these names */
	RULE(SITE_HEAP_STACK, "erl_create_process", CAT_STACK, "erlang-process", "a new process: its control block, heap and stack, one block in BEAM"),
	RULE(SITE_HEAP_STACK, "erts_garbage_collect", CAT_STACK, "erlang-process", "a collection moves the process to a new heap"),
};

/* ---- Rust async runtimes: a task's cell (its future's state machine, the task's "stack"),
 * allocated with malloc; found through glibc's frameless malloc by the CFI walk ---- */
static const struct cl_rule rust_rules[] = {
	RULE(SITE_HEAP_STACK, "tokio::runtime::task::core::Cell", CAT_STACK, "tokio-task", "tokio's tasks"),
	RULE(SITE_HEAP_STACK, "tokio::runtime::task::raw::RawTask::new", CAT_STACK, "tokio-task", NULL),
	RULE(SITE_HEAP_STACK, "tokio::runtime::task::new_task", CAT_STACK, "tokio-task", NULL),
	RULE(SITE_HEAP_STACK, "tokio::runtime::task::list::OwnedTasks<S>::bind", CAT_STACK, "tokio-task", "where Cell::new is inlined"),
	RULE(SITE_HEAP_STACK, "tokio::runtime::scheduler::Handle::spawn", CAT_STACK, "tokio-task", "where bind is inlined too (rustc 1.95)"),
	RULE(SITE_HEAP_STACK, "async_task::raw::RawTask", CAT_STACK, "async-task", "async-std's tasks"),
	RULE(SITE_HEAP_STACK, "async_task::runnable::spawn_unchecked", CAT_STACK, "async-task", NULL),
	/* rustc 1.63 (Debian 12's) inlines the cell's allocation here */
	RULE(SITE_HEAP_STACK, "async_executor::Executor::spawn", CAT_STACK, "async-task", NULL),
	RULE(SITE_HEAP_STACK, "futures_util::stream::futures_unordered::FuturesUnordered<Fut>::push", CAT_STACK, "future", "join_all's task nodes, each holding a future"),
	/* rustc 1.63 inlines push into join_all's collect */
	RULE(SITE_HEAP_STACK, "futures_util::stream::futures_ordered::FuturesOrdered<Fut> as core::iter::traits::collect::FromIterator", CAT_STACK, "future", NULL),
};

/* ---- allocators that replace malloc (linked, or LD_PRELOADed): their heaps are heap, named
 * for the allocator, and the faulting stack still names task cells in them ---- */
static const struct cl_rule allocator_rules[] = {
	MOD("libjemalloc", 0, CAT_HEAP, "jemalloc", true, "jemalloc's extents (Redis, or LD_PRELOAD)"),
	MOD("libtcmalloc", 0, CAT_HEAP, "tcmalloc", true, "gperftools' tcmalloc spans; and the break, which it grows with sbrk"),
	MOD("libmimalloc", 0, CAT_HEAP, "mimalloc", true, "mimalloc's segments"),
};

/* ---- glibc and the dynamic loader, under every runtime but Go's (whose own rules take
 * every anonymous mapping but thread stacks) ---- */
static const struct cl_rule glibc_rules[] = {
	/* glibc calls mmap for arenas and big blocks */
	MOD("libc.so", 0, CAT_HEAP, "malloc", true, "malloc's arenas and big blocks"),
	MOD("libc-", 0, CAT_HEAP, "malloc", true, NULL),
	MOD("ld-linux", 0, CAT_OTHER, "loader", false, "the dynamic loader"),
	MOD("ld-", 0, CAT_OTHER, "loader", false, NULL),
};

#define TABLE(name, rt, rules) { name, rt, rules, sizeof(rules) / sizeof(rules[0]) }
/* In this order: a runtime's module rules come before glibc's */
const struct cl_table cl_tables[] = {
	TABLE("go", RT_BIT(RT_GO), go_rules),
	TABLE("v8", RT_BIT(RT_V8), v8_rules),
	TABLE("hotspot", RT_BIT(RT_JVM), hotspot_rules),
	TABLE("cpython", RT_BIT(RT_CPYTHON), cpython_rules),
	TABLE("mono", RT_BIT(RT_MONO), mono_rules),
	TABLE("beam", RT_BIT(RT_BEAM), beam_rules),
	TABLE("rust", RT_NATIVE_CODE, rust_rules),
	TABLE("allocators", RT_NATIVE_CODE, allocator_rules),
	TABLE("glibc", RT_NATIVE_CODE, glibc_rules),
};
const size_t cl_ntables = sizeof(cl_tables) / sizeof(cl_tables[0]);

/* The executable or a module it maps says what runs; the first that names a runtime wins. */
const struct cl_runtime_module cl_runtime_modules[] = {
	{ "libjvm.so", false, RT_JVM },
	{ "node", true, RT_V8 },
	{ "nodejs", true, RT_V8 },
	{ "libnode.so", false, RT_V8 },
	{ "python3", false, RT_CPYTHON },
	{ "libpython3", false, RT_CPYTHON },
	{ "mono", true, RT_MONO },
	{ "mono-sgen", false, RT_MONO },
	{ "libmonosgen", false, RT_MONO },
	{ "beam.smp", false, RT_BEAM },
};
const size_t cl_nruntime_modules = sizeof(cl_runtime_modules) / sizeof(cl_runtime_modules[0]);

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

enum runtime classify_runtime_of(const char *file_name)
{
	size_t i;

	for (i = 0; file_name && i < cl_nruntime_modules; i++) {
		const struct cl_runtime_module *m = &cl_runtime_modules[i];

		if (m->exact ? !strcmp(file_name, m->name) : starts(file_name, m->name))
			return m->rt;
	}
	return RT_NATIVE;
}

static int rule_label(const struct cl_rule *r)
{
	return label_id(r->cat, r->label);
}

/* The first rule of a table for rt at site that some frame (or the caller) contains decides.
 * Rule order, not frame order: a runtime's specific allocators sit above its generic ones. */
static int first_rule(enum runtime rt, const struct cl_frames *f, const char *caller)
{
	size_t t, r;
	int i;

	for (t = 0; t < cl_ntables; t++) {
		const struct cl_table *tb = &cl_tables[t];

		if (!(tb->runtimes & RT_BIT(rt)))
			continue;
		for (r = 0; r < tb->n; r++) {
			if (tb->rules[r].site != SITE_MMAP_STACK)
				continue;
			for (i = -1; i < f->n; i++) {
				const char *s = i < 0 ? caller : f->f[i];

				if (s && strstr(s, tb->rules[r].needle))
					return rule_label(&tb->rules[r]);
			}
		}
	}
	return -1;
}

/* The innermost frame that a rule for rt at site contains decides (the code that allocated
 * owns the page); stack rules are passed over when skip_stack. */
static int innermost_rule(enum runtime rt, enum cl_site site, const struct cl_frames *f, bool skip_stack)
{
	size_t t, r;
	int i;

	for (i = 0; i < f->n; i++)
		for (t = 0; t < cl_ntables; t++) {
			const struct cl_table *tb = &cl_tables[t];

			if (!(tb->runtimes & RT_BIT(rt)))
				continue;
			for (r = 0; r < tb->n; r++) {
				const struct cl_rule *ru = &tb->rules[r];

				if (ru->site == site && (!skip_stack || ru->cat != CAT_STACK) &&
				    strstr(f->f[i], ru->needle))
					return rule_label(ru);
			}
		}
	return -1;
}

int classify_region(enum runtime rt, const struct cl_region *reg)
{
	const char *mod = reg->module ? reg->module : "";
	int label = first_rule(rt, &reg->stack, reg->caller);
	size_t t, r;

	if (label >= 0)
		return label;
	for (t = 0; t < cl_ntables; t++) {
		const struct cl_table *tb = &cl_tables[t];

		if (!(tb->runtimes & RT_BIT(rt)))
			continue;
		for (r = 0; r < tb->n; r++) {
			const struct cl_rule *ru = &tb->rules[r];

			if (ru->site == SITE_MMAP_MODULE && starts(mod, ru->needle) && (!ru->len || ru->len == reg->len))
				return rule_label(ru);
		}
	}
	return label_id(CAT_OTHER, "mmap"); /* the program's own mmap */
}

int classify_stack(enum runtime rt, enum cl_stack which, const struct cl_frames *f)
{
	if (which == CL_HEAP)
		return innermost_rule(rt, SITE_HEAP_STACK, f, false);
	if (which == CL_FAULT)
		return innermost_rule(rt, SITE_FAULT_STACK, f, false);
	/* outside the arena, what looks like a stack allocation is its metadata */
	return innermost_rule(rt, SITE_GO_STACK, f, which == CL_GO_OTHER);
}

const char *classify_allocator(enum runtime rt, const char *module)
{
	size_t r;

	for (r = 0; module && rt != RT_GO && r < sizeof(allocator_rules) / sizeof(allocator_rules[0]); r++)
		if (starts(module, allocator_rules[r].needle))
			return allocator_rules[r].label;
	return NULL;
}

bool classify_go_arena(uint64_t addr)
{
	return ((addr >> 32) & 0xff) == 0xc0 && addr < (0x80ull << 40);
}

/* Whether label is a heap whose pages the faulting stack may name: a module rule's, marked. */
static bool heap_label(int label)
{
	static int ids[16], n = -1; /* labels are never renumbered */
	size_t t, r;
	int i;

	if (n < 0) {
		n = 0;
		for (t = 0; t < cl_ntables; t++)
			for (r = 0; r < cl_tables[t].n; r++) {
				int id = cl_tables[t].rules[r].heap ? rule_label(&cl_tables[t].rules[r]) : -1;

				for (i = 0; id >= 0 && i < n; i++)
					if (ids[i] == id)
						id = -1;
				if (id >= 0 && n < (int)(sizeof(ids) / sizeof(ids[0])))
					ids[n++] = id;
			}
	}
	for (i = 0; i < n; i++)
		if (ids[i] == label)
			return true;
	return false;
}

/* Whether a table for rt has SITE_FAULT_STACK rules: only then is every fault's stack asked. */
static bool has_fault_rules(enum runtime rt)
{
	static signed char has[NR_RUNTIMES]; /* 0 not known yet, 1 no, 2 yes */
	size_t t, r;

	if (!has[rt]) {
		has[rt] = 1;
		for (t = 0; t < cl_ntables; t++)
			for (r = 0; (cl_tables[t].runtimes & RT_BIT(rt)) && r < cl_tables[t].n; r++)
				if (cl_tables[t].rules[r].site == SITE_FAULT_STACK)
					has[rt] = 2;
	}
	return has[rt] == 2;
}

int classify(const struct classify_in *in)
{
	bool thread_stack = in->region_flags & (MAP_STACK | MAP_GROWSDOWN);
	const char *path;
	int label;

	if (in->member == TM_FILEPAGES) {
		path = in->addr ? in->map_path(in->ctx) : NULL;
		return label_id(CAT_FILE, path && path[0] ? basename_of(path) : "[unknown file]");
	}
	if (in->member == TM_SHMEMPAGES) /* by the object: shared/sysv, shared/memfd:NAME ... */
		return shared_label(in->addr ? in->map_path(in->ctx) : NULL);
	if (in->cause == TM_CAUSE_EXEC)
		return label_id(CAT_STACK, "main"); /* execve copies argv/envp onto the new stack */
	if (in->cause != TM_CAUSE_FAULT && in->cause != TM_CAUSE_SYSCALL)
		return label_id(CAT_OTHER, "[address unknown]");

	if (in->rt == RT_GO && !in->in_main_stack) {
		/* a goroutine's stack that grew past 32 KiB comes from heap spans: a fault in the
		 * faulting function's own frame says what it is, whoever's code touched it */
		if (classify_go_arena(in->addr) && in->on_stack)
			return label_id(CAT_STACK, "goroutine");
		if (classify_go_arena(in->addr)) {
			label = in->stack_label(in->ctx, CL_GO_ARENA);
			return label >= 0 ? label : label_id(CAT_HEAP, "go");
		}
		/* file copies and thread stacks follow the generic rules; the rest is the runtime's */
		if (!in->in_region || (!in->region_file && !thread_stack)) {
			label = in->stack_label(in->ctx, CL_GO_OTHER);
			return label >= 0 ? label : label_id(CAT_RUNTIME, "other");
		}
	}
	if (in->in_region) {
		if (thread_stack)
			return label_id(CAT_STACK, "thread");
		if (in->region_file)
			return label_id(CAT_OTHER, "file-private");
		if (has_fault_rules(in->rt) && (label = in->stack_label(in->ctx, CL_FAULT)) >= 0)
			return label;
		label = in->region_label(in->ctx);
		if (heap_label(label)) {
			int fl = in->stack_label(in->ctx, CL_HEAP);

			if (fl >= 0)
				return fl;
		}
		return label;
	}
	if (in->in_brk) {
		label = in->stack_label(in->ctx, CL_HEAP);
		return label >= 0 ? label : label_id(CAT_HEAP, in->allocator ? in->allocator : "brk");
	}
	if (in->in_main_stack)
		return label_id(CAT_STACK, "main");
	path = in->map_path(in->ctx);
	if (!path)
		return label_id(CAT_OTHER, "unknown");
	if (!strcmp(path, "[heap]"))
		return label_id(CAT_HEAP, "brk");
	if (!strcmp(path, "[stack]"))
		return label_id(CAT_STACK, "main");
	if (path[0] == '/')
		return label_id(CAT_OTHER, "file-private"); /* .data/.bss copies of a file mapping */
	return label_id(CAT_OTHER, "anon");
}
