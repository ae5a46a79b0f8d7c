/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Which category/label resident bytes belong to, as a pure function of facts the caller
 * resolved (resolve.c gathers them from the account): the address decides first, then the
 * rules of the tables that apply to what the process runs. docs/classification.md shows the
 * tables; `make docs` regenerates them there and the unit tests fail when the two differ. */
#ifndef TM_CLASSIFY_H
#define TM_CLASSIFY_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "model.h"

/* What a process runs, by its executable and the files it maps: which tables apply. */
enum runtime { RT_NATIVE, RT_GO, RT_JVM, RT_V8, RT_CPYTHON, RT_MONO, RT_BEAM, NR_RUNTIMES };
#define RT_BIT(rt) (1u << (rt))
#define RT_ALL ((1u << NR_RUNTIMES) - 1)
/* Compiled code calling glibc's malloc: everything but Go, whose heap is its own */
#define RT_NATIVE_CODE (RT_ALL & ~RT_BIT(RT_GO))
extern const char *const runtime_names[NR_RUNTIMES];

/* The runtime a file name (executable or mapped module, no directory) shows; RT_NATIVE if
 * none. Go is told by the executable's .gopclntab, not by a name. */
enum runtime classify_runtime_of(const char *file_name);

/* The frames of a stack, innermost first. */
struct cl_frames {
	const char *const *f;
	int n;
};

/* What a rule's needle is matched against. */
enum cl_site {
	SITE_MMAP_STACK,   /* the mmap's stack and caller's symbol: the first rule a frame contains */
	SITE_MMAP_MODULE,  /* the file name of the mmap's caller (prefix), and the mapping's length */
	SITE_HEAP_STACK,   /* in a heap: the innermost frame of the faulting stack that a rule's in */
	SITE_GO_STACK,     /* in a Go process: the same, with stack rules only inside the arena */
	SITE_FAULT_STACK,  /* in any anonymous region (not a thread stack): the same, before the
			    * region's label (code that writes one kind of memory only) */
	NR_SITES
};

struct cl_rule {
	enum cl_site site;
	const char *needle;  /* substring of a frame, or prefix of a module's file name */
	uint64_t len;        /* SITE_MMAP_MODULE: the mapping's length, 0 for any */
	enum tm_cat cat;
	const char *label;
	bool heap;           /* a heap whose pages the faulting stack may name (SITE_HEAP_STACK) */
	const char *note;    /* for the docs: what the matched code makes */
};

/* One runtime's rules (or a library's), and the runtimes they apply to. */
struct cl_table {
	const char *name;    /* names its generated sections of the docs */
	unsigned runtimes;   /* RT_BIT()s */
	const struct cl_rule *rules;
	size_t n;
};
extern const struct cl_table cl_tables[];
extern const size_t cl_ntables;

/* Runtime detection by file name, for the docs. */
struct cl_runtime_module {
	const char *name;
	bool exact;          /* the whole file name, else its prefix */
	enum runtime rt;
};
extern const struct cl_runtime_module cl_runtime_modules[];
extern const size_t cl_nruntime_modules;

/* An anonymous region made by mmap: what its label depends on. */
struct cl_region {
	uint64_t len;
	const char *module;      /* file name of the mmap's caller; "" if unknown */
	const char *caller;      /* the caller's symbol, or NULL */
	struct cl_frames stack;  /* the mmap's stack */
};

/* The label of an anonymous mmap'd region (neither a thread stack nor a file mapping),
 * by the tables that apply to rt: the same for all of the region, so callers cache it. */
int classify_region(enum runtime rt, const struct cl_region *r);

/* Which question the faulting stack answers. */
enum cl_stack {
	CL_HEAP,        /* inside a heap: what the allocation is */
	CL_GO_ARENA,    /* inside Go's heap arena */
	CL_GO_OTHER,    /* in Go's other mappings: its metadata (no stack rules) */
	CL_FAULT,       /* in any anonymous region: SITE_FAULT_STACK rules */
};

/* The label the faulting stack decides by the tables that apply to rt, or -1 if no rule
 * matches: the same for every fault with this stack, so callers cache it. */
int classify_stack(enum runtime rt, enum cl_stack which, const struct cl_frames *f);

/* One RSS increase, with what the caller knows of its address. The callbacks resolve the
 * costly facts on demand (at most once each per call); ctx is theirs. */
struct classify_in {
	int member;              /* TM_FILEPAGES, TM_ANONPAGES, TM_SHMEMPAGES */
	int cause;               /* TM_CAUSE_* */
	enum runtime rt;
	uint64_t addr;           /* the faulting address (0 if unknown) */
	bool in_region;          /* addr is in a region seen made by mmap */
	bool region_file;        /* ... a private file mapping */
	uint32_t region_flags;   /* ... made with these mmap flags */
	bool in_brk;             /* between the start of the break and the break (+ a page) */
	bool in_main_stack;      /* within RLIMIT_STACK below the initial stack pointer */
	bool on_stack;           /* a fault in the faulting function's own stack frame (TM_F_ON_STACK) */
	const char *allocator;   /* the malloc in use, when a library replaces glibc's (classify_allocator) */
	void *ctx;
	/* classify_region() of the region at addr (anonymous, not a thread stack) */
	int (*region_label)(void *ctx);
	/* classify_stack(which) of the faulting stack, or -1 */
	int (*stack_label)(void *ctx, enum cl_stack which);
	/* path of the mapping at addr in the process's maps ("" if anonymous), NULL if none */
	const char *(*map_path)(void *ctx);
};

/* The label id (label_id()) of the bytes. */
int classify(const struct classify_in *in);

/* The allocator a module of the process is, if it replaces glibc's malloc ("jemalloc"), or NULL:
 * its heap is also the break (tcmalloc grows it with sbrk). */
const char *classify_allocator(enum runtime rt, const char *module);

/* Go's heap arenas come from hints i<<40 | 0x00c0<<32 (runtime/malloc.go mallocinit). */
bool classify_go_arena(uint64_t addr);
#endif
