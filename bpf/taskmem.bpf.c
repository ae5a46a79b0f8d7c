// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Kernel side of taskmem-trace: follows one process tree and streams every change of its
 * RSS counters (kmem:rss_stat) with what caused it (the fault or syscall and the user stack),
 * plus the mapping syscalls and process events user space needs to classify and symbolize.
 * Aggregation happens in user space: frees must find the pages they free.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "taskmem.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* x86_64 syscall numbers of the syscalls whose state we track */
#define NR_mmap 9
#define NR_mprotect 10
#define NR_munmap 11
#define NR_brk 12
#define NR_mremap 25
#define NR_madvise 28
#define NR_clone 56
#define NR_fork 57
#define NR_vfork 58
#define NR_execve 59
#define NR_execveat 322
#define NR_clone3 435
#define PF_EXITING 0x00000004
#define ENOENT 2
#define ENOMEM 12
#define EEXIST 17
#define EFAULT 14

#define RLIMIT_STACK 3

/* Force a consumer wakeup once this much data is waiting; otherwise user space polls. */
const volatile __u64 wakeup_bytes = 1 << 20;

/* --sample-bytes N: sample_chances[k] is the chance, times 2^32, that a Poisson process of mean
 * N bytes hits one of k pages, 1 - exp(-4096 k / N) (user space computes it: no floating point
 * here, and a loop cost the verifier 1 s). A record of growth of k pages walks its stack with
 * that chance and carries it (extra2); the others say TM_STACK_UNSAMPLED. User space weighs a
 * walked one by 1 / its chance. All 0: every stack walked. */
const volatile __u32 sample_chances[TM_SAMPLE_PAGES + 1] = {};

/* --stack-cache: enum tm_stack_cache (the last walk's answer used, never, or checked) */
const volatile __u32 stack_cache = TM_STACK_CACHE_ON;

/* Deletes from 'stacks' by user space, counted as a seqlock: odd while one is being made. A
 * walk reads it before it interns its stack and is kept only if even; a kept walk is taken only
 * while the count is the same (else its id may be the one deleted, or since another stack's) */
volatile __u64 stack_drops;

/* Per-thread state: the last fault and the tracked syscall in progress. */
struct task_state {
	__u64 fault_addr;
	__u64 fault_err;
	__u64 sys_addr;     /* first argument of the syscall in progress */
	__u64 sys_len;
	__u64 sys_a2;
	__u64 sys_a3;
	__u64 sys_fd;
	__u64 sys_off;      /* mmap: the file offset */
	__u64 caller;       /* return address at syscall entry (frameless libc wrappers) */
	__u64 exec_mm;      /* current->mm when execve began: tells the old mm from the new */
	__u64 sys_ts;       /* when the syscall in progress began: names it in its RSS events */
	__s32 sys_stack;
	__u32 sys_nr;       /* 0 when no tracked syscall is in progress */
	__u32 mm_id;        /* the mm id this thread last reported with curr=1 */
	__u64 seen[TM_NR_MEMBERS]; /* --sample-bytes: each counter as this thread last saw it: the
				    * size of its next change (other threads' since then included) */
	__u8 have_fault;
	__u8 kernel_fault;
};

/* Processes (tgids) of the traced tree; the launcher inserts the first. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1); /* sized from user space */
	__type(key, __u32);
	__type(value, __u32); /* TM_TRACED | TM_TRACED_UNWIND | gen << TM_TRACED_GEN_SHIFT */
} traced SEC(".maps");

/* rss_stat mm ids of the traced tree -> tgid, to keep updates made from other contexts
 * (teardown after the tgid left or by a /proc reader, reclaim, process_vm_writev).
 * LRU, never deleted from user space: mm ids are reused at once by the next mm, so a
 * late delete would drop a live one. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1); /* sized from user space */
	__type(key, __u32);
	__type(value, __u32);
} mms SEC(".maps");

/* tid -> struct task_state for threads of the traced tree */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1); /* sized from user space */
	__type(key, __u32);
	__type(value, struct task_state);
} tasks SEC(".maps");

/* User stacks that caused RSS growth or created mappings (see user_stack). Not preallocated:
 * a run stores a few thousand of its 32768 x 1 KiB slots, and inserts are rare (new stacks). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1); /* sized from user space */
	__type(key, __u32);
	__type(value, struct tm_stack);
} stacks SEC(".maps");

/* Unwind tables of code without frame pointers (user space fills them, include/taskmem.h):
 * one array of rows per file, and per process the text mappings they cover. */
struct unwind_rows {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	/* each file's array has its own size; filled through mmap (user/tracer.c) */
	__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct tm_unwind_row)); /* no BTF: the kernel refuses it here */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, TM_MAX_UNWIND_FILES);
	__type(key, __u32);
	__array(values, struct unwind_rows);
} unwind_files SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1); /* sized from user space */
	__type(key, __u32);
	__type(value, struct tm_unwind_proc);
} unwind_procs SEC(".maps");

/* The files whose tables are loaded, by inode: a process's code mapped by ld.so is added to
 * its ranges when mmap returns, before user space has even read the event. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TM_MAX_UNWIND_FILES);
	__type(key, struct tm_unwind_inode);
	__type(value, struct tm_unwind_file);
} unwind_inodes SEC(".maps");

/* What the walk found for one frame's code, cached per CPU: a binary search over a file's rows
 * costs ~0.5 us in cache misses, and the same return addresses come back walk after walk.
 * Tagged with the address space and its ranges' generation (user space bumps it). */
#define FRAME_CACHE 512
enum { FC_FP = 1, FC_ROW };
struct frame_cache {
	__u64 ip, mm;
	__u32 gen;
	__u32 kind;                /* FC_FP: walk by frame pointer; FC_ROW: by row */
	struct tm_unwind_row row;
};

/* The stack being walked, and the window of user stack memory it reads (per CPU: too big
 * for the BPF stack; tracepoint programs do not nest on one CPU). */
struct walk {
	struct tm_stack st;
	__u64 win[TM_STACK_WINDOW / 8];
	__u64 tail_ip, tail_mm; /* the last walk's outermost return address, and its address space */
	__u32 tail_morestack;   /* whether that address sits between two calls, as in morestack */
	__u64 py_hash;          /* hash of the Python part py_walk appended (pyframes.bpf.h) */
};

/* A thread's last walk on this CPU: what it started from, the windows of user stack memory it
 * read, the words of them it used, by window and index, with their values, and its stack id. A
 * walk is a function of its registers, the address space and its tables (the traced value's
 * generation) and the words it reads: when a fault comes with all of them the same, the walk
 * would repeat itself word for word, and its stack id is known without it. */
#define LW_WINDOWS 4 /* go_bench's walks from g0 on into the goroutine's stack take 3 */
#define LW_USED 128  /* words: two per frame by frame pointer, one or two by CFI */
_Static_assert(TM_STACK_WINDOW / 8 == 64, "used[] keeps a word's index in a window in 6 bits");
struct last_walk {
	__u64 base[LW_WINDOWS], ip, sp, bp, r14, mm, start, drops; /* r14: Go's g, go_resume's */
	__u32 len[LW_WINDOWS];
	__u32 nwin, nused, tid, exec, tv;
	__s32 sid;            /* 0 or more: the walk can be repeated */
	__u8 used[LW_USED];   /* window << 6 | word index in it */
	__u64 val[LW_USED];   /* the word's value */
};

#define LAST_WALKS 4 /* per CPU, by thread: threads' faults interleave on a CPU (a Go program's Ms) */
struct last_walks {
	struct last_walk lw[LAST_WALKS];
	__u64 again[LW_WINDOWS][TM_STACK_WINDOW / 8]; /* a last walk's windows read again */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct last_walks);
} lastwalks SEC(".maps");

/* apart from 'walks', so that walks without tables do not touch it */
struct frame_caches {
	struct frame_cache fc[FRAME_CACHE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct frame_caches); /* 20 KiB: a per-CPU value is at most 32 KiB */
} fcaches SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct walk);
} walks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24); /* sized from user space */
} events SEC(".maps");

/* tgid -> how it ended, kept even when the ring buffer is full (read at the end) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1); /* sized from user space */
	__type(key, __u32);
	__type(value, struct tm_exit);
} exits SEC(".maps");

/* enum tm_counter, per CPU */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TM_NR_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);

	if (c)
		(*c)++;
}

/* 0 when a record of growth of pages pages is left out of the sample (no stack walked), else
 * its chance. Independent draws per record are the Poisson process itself (memoryless). */
static __always_inline __u32 sample_draw(__u64 pages)
{
	__u32 c = sample_chances[pages < TM_SAMPLE_PAGES ? pages : TM_SAMPLE_PAGES];

	return bpf_get_prandom_u32() < c ? c : 0;
}

static __always_inline bool is_traced(__u32 tgid)
{
	return bpf_map_lookup_elem(&traced, &tgid) != NULL;
}

/* The process's 'traced' value, 0 when it is not traced. */
static __always_inline __u32 traced_value(__u32 tgid)
{
	__u32 *v = bpf_map_lookup_elem(&traced, &tgid);

	return v ? *v : 0;
}

static __always_inline struct task_state *task_state_get(__u32 tid, bool create)
{
	struct task_state *st = bpf_map_lookup_elem(&tasks, &tid);
	static const struct task_state zero;

	if (st || !create)
		return st;
	if (bpf_map_update_elem(&tasks, &tid, &zero, BPF_NOEXIST) && bpf_map_lookup_elem(&tasks, &tid) == NULL) {
		count(TM_CNT_TASK_MAP_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(&tasks, &tid);
}

static __always_inline struct tm_event *event_reserve(__u32 drop_counter)
{
	struct tm_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count(drop_counter);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts = bpf_ktime_get_ns();
	return e;
}

static __always_inline void event_submit(struct tm_event *e)
{
	/* process events: user space reads /proc/PID/maps while the process still lives */
	if (e->kind == TM_EV_EXEC || e->kind == TM_EV_FORK) {
		bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
		return;
	}
	/* Batch wakeups: user space polls every few ms, and is woken early when data piles up. */
	__u64 flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ?
			      BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;

	bpf_ringbuf_submit(e, flags);
}

/* ---- user stacks ----
 * The same frame-pointer walk as the kernel's perf_callchain_user() (the instruction pointer,
 * then the return address of each frame from regs->bp up the chain, no fault-in), but done
 * here: the kernel reads every frame with two separate user accesses, ~1.4 us for a 10-frame
 * Go stack on this machine; reading the stack a window at a time takes ~0.6 us, and this walk
 * is the largest part of the tool's cost (README.md, "Where the time goes"). The stack is then
 * interned by hash. */

#define USER_CS 0x33 /* __USER_CS: a 64-bit task; compat tasks take the kernel's walk */
#define WIN_WORDS (TM_STACK_WINDOW / 8)

static __always_inline __u64 mix64(__u64 h)
{
	/* murmur3's finalizer: every input bit reaches every output bit */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* State of one walk, passed to bpf_loop's callbacks: a loop body is verified once, where an
 * open loop of 127 frames took the verifier ~0.9 s at every start. */
struct walk_ctx {
	struct walk *w;
	struct last_walk *lw;      /* what it reads is noted there */
	struct frame_caches *fcs;  /* set when some of the process's code has unwind tables */
	__u64 ip, sp, fp, base, wlen, hash, mm;
	__u32 tgid, gen;
	int n, k0; /* k0: frames walk_frame's loop starts after, less one */
};

/* lw->nwin of a walk that cannot be known to repeat: it read more windows than are kept,
 * failed a read (which may succeed next time) or read other memory. Counted in the map value,
 * not in walk_ctx: the verifier would follow each count through bpf_loop's callbacks (a flag
 * there tripled its work). */
#define NWIN_ONCE (LW_WINDOWS + 1)

/* Read len (1 to TM_STACK_WINDOW) bytes of user stack at addr into the walk's window, noting
 * it: a walk of more than LW_WINDOWS windows cannot be repeated. */
static __always_inline int window_read(struct walk_ctx *c, __u64 addr, __u64 len)
{
	struct last_walk *lw = c->lw;
	__u32 n = lw->nwin;

	if (bpf_probe_read_user(c->w->win, len, (void *)addr)) {
		lw->nwin = NWIN_ONCE; /* it may succeed next time */
		return -1;
	}
	if (stack_cache == TM_STACK_CACHE_OFF) {
		/* nothing kept */
	} else if (n < LW_WINDOWS) {
		lw->base[n] = addr;
		lw->len[n] = len;
		lw->nwin = n + 1;
	} else {
		lw->nwin = NWIN_ONCE;
	}
	c->base = addr;
	c->wlen = len;
	return 0;
}

/* The walk used word idx of its window, of value v */
static __always_inline void word_used(struct walk_ctx *c, __u32 idx, __u64 v)
{
	struct last_walk *lw = c->lw;
	__u32 n = lw->nused;

	if (stack_cache == TM_STACK_CACHE_OFF)
		return;
	if (n >= LW_USED || lw->nwin > LW_WINDOWS || !lw->nwin) {
		lw->nwin = NWIN_ONCE;
		return;
	}
	lw->used[n & (LW_USED - 1)] = (lw->nwin - 1) << 6 | (idx & 63);
	lw->val[n & (LW_USED - 1)] = v;
	lw->nused = n + 1;
}

static __always_inline void push_frame(struct walk_ctx *c, __u64 k, __u64 ret)
{
	barrier_var(k);
	if (k >= TM_MAX_STACK_DEPTH)
		return;
	c->w->st.ips[k] = ret;
	c->hash = mix64(c->hash ^ ret);
	c->n = k + 1;
	c->ip = ret;
}

/* Binary search of a file's rows for the last one at or before off, one step per call
 * (a bpf_loop callback: verified once, where an open loop multiplied the verifier's work). */
struct bsearch_ctx {
	void *rows; /* the file's array, looked up once */
	__u64 off;
	__u32 lo, hi;
	bool failed;
};

static long bsearch_step(__u32 i, struct bsearch_ctx *b)
{
	struct tm_unwind_row *row;
	__u32 mid = b->lo + (b->hi - b->lo) / 2;

	if (b->hi - b->lo <= 1)
		return 1;
	row = b->rows ? bpf_map_lookup_elem(b->rows, &mid) : NULL;
	if (!row) {
		b->failed = true;
		return 1;
	}
	if (row->pc <= b->off)
		b->lo = mid;
	else
		b->hi = mid;
	return 0;
}

/* CPython 3.12+ run with -X perf calls every Python function through its own copy of
 * _Py_trampoline_func_start (Python/asm_trampoline.S), in anonymous memory without a table:
 * `sub $8,%rsp; call *%rcx; add $8,%rsp; ret`, rbp untouched. A return address into one is
 * known by the bytes around it: the call (ff d1), then the add and ret. Its CFA is rsp + 16. */
#define PY_TRAMPOLINE_BYTES 0x00c308c48348d1ffULL /* from the call's first byte, little-endian */
#define PY_TRAMPOLINE_MASK  0x00ffffffffffffffULL

static __always_inline void py_trampoline_row(struct frame_cache *fc, __u64 pc)
{
	__u64 code;

	/* pc is the call's last byte (the return address less one) */
	if (bpf_probe_read_user(&code, sizeof(code), (void *)(pc - 1)) ||
	    (code & PY_TRAMPOLINE_MASK) != PY_TRAMPOLINE_BYTES)
		return;
	fc->kind = FC_ROW;
	fc->row = (struct tm_unwind_row){ .cfa_reg = TM_CFA_RSP, .cfa_off = 16 };
}

/* Fill fc for the code at pc: which range holds it, then its row. FC_FP when no range does.
 * A global function: verified once on its own, not in every caller's state. */
__noinline int frame_lookup(__u32 tgid, struct frame_cache *fc, __u64 pc)
{
	struct tm_unwind_proc *up = bpf_map_lookup_elem(&unwind_procs, &tgid);
	struct tm_unwind_range *r = NULL;
	struct bsearch_ctx b = {};
	struct tm_unwind_row *row;
	__u32 j, n;
	void *rows;

	if (!fc)
		return 0;
	fc->kind = FC_FP;
	if (!up)
		return 0;
	n = up->n;
	for (j = 0; j < TM_UNWIND_RANGES; j++) {
		if (j >= n)
			break;
		if (pc >= up->r[j].start && pc < up->r[j].end) {
			r = &up->r[j];
			break;
		}
	}
	if (!r) {
		if (up->flags & TM_UNWIND_PY_TRAMPOLINES)
			py_trampoline_row(fc, pc);
		return 0;
	}
	fc->kind = FC_ROW;
	fc->row.cfa_reg = TM_CFA_NONE;
	j = r->file;
	rows = bpf_map_lookup_elem(&unwind_files, &j);
	if (!rows)
		goto none;
	b.rows = rows;
	b.off = pc - r->start + r->off;
	b.hi = r->nrows;
	bpf_loop(32, bsearch_step, &b, 0); /* 2^32 rows: more than any file has */
	row = !b.failed ? bpf_map_lookup_elem(rows, &b.lo) : NULL;
	if (!row || row->pc > b.off)
		goto none;
	fc->row = *row;
	return 0;
none:
	count(TM_CNT_UNWIND_STOP); /* code in a file with a table, but no row for it */
	return 0;
}

/* The user stack word at addr, through the window: reads go up the stack, so one read of up to
 * a window (never past addr's page) serves several frames. It starts a little below addr, never
 * below addr's page: a frame's return address is read first, its saved rbp under it next (a
 * window from the return address read the stack again for each frame). 0, or -1 when
 * unreadable. */
#define WIN_BELOW 32
static __always_inline int stack_word(struct walk_ctx *c, __u64 addr, __u64 *val)
{
	__u64 off = addr - c->base, base, len, idx;

	if (addr & 7)
		return -1; /* saved registers are 8-byte aligned: a bad CFA */
	if (off + 8 > c->wlen || off > TM_STACK_WINDOW) {
		base = (addr & 4095) >= WIN_BELOW ? addr - WIN_BELOW : addr & ~4095ULL;
		len = 4096 - (base & 4095); /* >= 8 past addr: addr is aligned */
		if (len > TM_STACK_WINDOW)
			len = TM_STACK_WINDOW;
		if (window_read(c, base, len))
			return -1;
		off = addr - base;
	}
	idx = off >> 3;
	barrier_var(idx);
	if (idx >= WIN_WORDS)
		return -1;
	*val = c->w->win[idx];
	word_used(c, idx, *val);
	return 0;
}

/* One frame of a process with unwind tables: by the CFI row of its code (user/unwind.c): CFA
 * from rsp or rbp, the return address at CFA - 8, the caller's rbp where the row says it was
 * saved; or, for code without a table, by frame pointer (the CFA is rbp + 16). A callback of
 * its own: walks of processes without tables keep the windowed walk below. */
static long walk_frame_cfi(__u32 i, struct walk_ctx *c)
{
	/* a return address (every frame but the first) is after its call: look the call up */
	__u64 k = i + 1, pc = c->ip - (i > 0), cfa, slot, fp = c->fp, ret;
	struct frame_cache *fc;

	slot = (pc * 0x9e3779b97f4a7c15ULL) >> 55; /* FRAME_CACHE = 2^9 slots */
	barrier_var(slot);
	if (slot >= FRAME_CACHE)
		return 1;
	fc = &c->fcs->fc[slot];
	if (fc->ip != pc || fc->mm != c->mm || fc->gen != c->gen) {
		frame_lookup(c->tgid, fc, pc);
		fc->ip = pc;
		fc->mm = c->mm;
		fc->gen = c->gen;
	}
	if (fc->kind != FC_ROW || fc->row.cfa_reg == TM_CFA_FP) {
		if (!fp || stack_word(c, fp + 8, &ret) || stack_word(c, fp, &c->fp))
			return 1;
		cfa = fp + 16;
	} else {
		if (fc->row.cfa_reg == TM_CFA_NONE)
			return 1; /* the outermost frame (_start), a PLT stub: the walk ends here */
		cfa = (fc->row.cfa_reg == TM_CFA_RSP ? c->sp : fp) + (__s64)fc->row.cfa_off;
		if (stack_word(c, cfa - 8, &ret))
			return 1;
		if (fc->row.rbp_saved && stack_word(c, cfa + fc->row.rbp_off, &c->fp))
			return 1;
	}
	c->sp = cfa;
	if (!ret)
		return 1;
	push_frame(c, k, ret);
	return 0;
}

/* One frame: the return address saved at fp, and the next fp. 1 ends the walk. */
static long walk_frame(__u32 i, struct walk_ctx *c)
{
	struct walk *w = c->w;
	__u64 fp = c->fp, off = fp - c->base, len, idx, ret, k = i + 1 + c->k0;

	if (!fp)
		return 1;
	if (off + 16 > c->wlen || off > TM_STACK_WINDOW || (fp & 7)) {
		/* read up to the end of fp's page (never fault on the next one), at most a
		 * window; an unaligned or page-straddling frame alone (the window is read
		 * by 8-byte words from an aligned base) */
		len = 4096 - (fp & 4095);
		if (len > TM_STACK_WINDOW)
			len = TM_STACK_WINDOW;
		if (len < 16 || (fp & 7))
			len = 16;
		if (window_read(c, fp, len))
			return 1;
		off = 0;
	}
	/* frame k = i + 1: indexed by the loop's counter, which the verifier does not know, so
	 * that it checks this body once instead of once per frame */
	idx = off >> 3;
	barrier_var(idx); /* bound the indexes the accesses use, not copies of them */
	barrier_var(k);
	if (idx >= WIN_WORDS - 1 || k >= TM_MAX_STACK_DEPTH)
		return 1; /* cannot happen: off + 16 <= wlen <= TM_STACK_WINDOW, i < depth - 1 */
	ret = w->win[idx + 1];
	word_used(c, idx, w->win[idx]);
	word_used(c, idx + 1, ret);
	if (!ret)
		return 1;
	w->st.ips[k] = ret;
	c->hash = mix64(c->hash ^ ret);
	c->n = k + 1;
	c->fp = w->win[idx];
	return 0;
}

/* A call of its own: two bpf_loop calls in one function are merged into one call with either
 * callback, which the verifier then cannot inline (a helper call per frame, +0.1 us a walk). */
static __noinline void walk_cfi(struct walk_ctx *c)
{
	bpf_loop(TM_MAX_STACK_DEPTH - 1, walk_frame_cfi, c, 0);
}

/* Go 1.21+'s morestack calls newstack with g0's saved rbp (0), which ends the frame-pointer
 * chain at morestack (1.19's kept the goroutine's rbp): a grown stack's copy was credited to no
 * code of the program. The goroutine's own state is then in its g, m->curg->sched: pc (in the
 * function that grew), sp (at that function's return address), bp (its caller's frame). g0 is
 * in r14 (Go's ABIInternal register) and checked against m->g0; the walk must have ended on a
 * return address between two calls (morestack's "CALL newstack; CALL abort"). Offsets of
 * runtime.g and runtime.m, the same in Go 1.19 to 1.24 (their DWARF). */
#define GO_G_M 48        /* g.m */
#define GO_G_WORDS 14    /* g.stack.lo, .hi ... g.sched.bp */
#define GO_M_CURG 192    /* m.curg (m.g0 is at 0) */
enum { GO_LO = 0, GO_HI = 1, GO_M = 6, GO_SCHED_SP = 7, GO_SCHED_PC = 8, GO_SCHED_BP = 13 };
#define X86_CALL_REL32 0xe8

static __noinline void go_resume(struct walk_ctx *c, __u64 g)
{
	__u64 last, m, g0, curg, gs[GO_G_WORDS], ret;
	__u32 idx = c->n - 1;
	__u8 code[10];

	barrier_var(idx);
	if (c->fp || !g || idx >= TM_MAX_STACK_DEPTH - 3)
		return;
	last = c->w->st.ips[idx];
	/* one code read per outermost address: a goroutine's walks all end at goexit */
	if (c->w->tail_ip != last || c->w->tail_mm != c->mm) {
		c->w->tail_ip = last;
		c->w->tail_mm = c->mm;
		if (bpf_probe_read_user(code, sizeof(code), (void *)(last - 5))) {
			c->lw->nwin = NWIN_ONCE; /* it may succeed next time: */
			c->w->tail_ip = 0;       /* nor is the failure kept here */
			code[0] = 0;
		}
		c->w->tail_morestack = code[0] == X86_CALL_REL32 && code[5] == X86_CALL_REL32;
	}
	if (!c->w->tail_morestack)
		return;
	c->lw->nwin = NWIN_ONCE; /* what follows reads the goroutine's g */
	if (bpf_probe_read_user(&m, sizeof(m), (void *)(g + GO_G_M)) || !m ||
	    bpf_probe_read_user(&g0, sizeof(g0), (void *)m) || g0 != g ||
	    bpf_probe_read_user(&curg, sizeof(curg), (void *)(m + GO_M_CURG)) || !curg || curg == g ||
	    bpf_probe_read_user(gs, sizeof(gs), (void *)curg))
		return;
	if (gs[GO_M] != m || gs[GO_SCHED_SP] < gs[GO_LO] || gs[GO_SCHED_SP] >= gs[GO_HI] || !gs[GO_SCHED_PC] ||
	    bpf_probe_read_user(&ret, sizeof(ret), (void *)gs[GO_SCHED_SP]))
		return;
	push_frame(c, idx + 1, gs[GO_SCHED_PC]);
	push_frame(c, idx + 2, ret);
	c->fp = gs[GO_SCHED_BP];
	c->wlen = 0;
	c->k0 = idx + 2;
	bpf_loop(TM_MAX_STACK_DEPTH - 1, walk_frame, c, 0);
}

#include "pyframes.bpf.h"

/* Hash of frames the kernel walked (compat tasks). */
static long hash_frame(__u32 i, struct walk_ctx *c)
{
	if (i >= TM_MAX_STACK_DEPTH)
		return 1;
	c->hash = mix64(c->hash ^ c->w->st.ips[i]);
	return 0;
}

/* The stack the per-CPU walk holds (st.ips, n frames, hashed as far as hash): its id in
 * 'stacks', or -errno (counted). Global functions (this and user_stack_walk) take only scalars,
 * which every kernel with bpf_loop verifies; they are verified once per program on their own,
 * where a static function is verified again in its caller's state (the walk, so checked in
 * three programs, took the verifier 0.33-0.46 s of the tool's CPU at every start; 0.15 s now). */
__noinline __s32 stack_intern(__u32 n, __u64 hash)
{
	struct walk *w;
	struct tm_stack *old;
	__u32 zero = 0, id;
	long err;

	w = bpf_map_lookup_elem(&walks, &zero);
	if (!w) {
		count(TM_CNT_STACK_FAULT);
		return -EFAULT;
	}
	hash = mix64(hash ^ n);
	w->st.hash = hash;
	w->st.nr = n;
	id = hash & 0x7fffffff;
	old = bpf_map_lookup_elem(&stacks, &id);
	if (!old) {
		err = bpf_map_update_elem(&stacks, &id, &w->st, BPF_NOEXIST);
		if (!err)
			return id;
		old = err == -EEXIST ? bpf_map_lookup_elem(&stacks, &id) : NULL; /* another CPU's */
	}
	if (old && old->hash == hash)
		return id;
	count(TM_CNT_STACK_FULL);
	return old ? -EEXIST : -ENOMEM;
}

#define WALK_BY_KERNEL (-8) /* -ENOEXEC: not a 64-bit task, the kernel's walk takes it */

/* lw's stack id when this walk would repeat lw word for word (its windows read again into
 * again, every word it used compared), else -1 */
static __always_inline __s32 last_walk(struct last_walk *lw, struct last_walks *lws, struct task_struct *task,
				       struct pt_regs *regs, __u32 tid, __u32 tv)
{
	__u32 i, n = lw->nwin, k, u;
	__u64 len;

	if (lw->sid < 0 || lw->tid != tid || lw->ip != regs->ip || lw->sp != regs->sp || lw->bp != regs->bp ||
	    lw->r14 != regs->r14 ||
	    lw->tv != tv || lw->mm != (__u64)task->mm || lw->start != task->start_time ||
	    lw->exec != task->self_exec_id || lw->drops != stack_drops || n > LW_WINDOWS)
		return -1;
	for (i = 0; i < LW_WINDOWS; i++) {
		if (i >= n)
			break;
		len = lw->len[i];
		barrier_var(len);
		if (len == 0 || len > TM_STACK_WINDOW || bpf_probe_read_user(lws->again[i], len, (void *)lw->base[i]))
			return -1;
	}
	n = lw->nused;
	for (k = 0; k < LW_USED; k++) {
		if (k >= n)
			break;
		u = lw->used[k];
		if (lws->again[(u >> 6) & (LW_WINDOWS - 1)][u & 63] != lw->val[k])
			return -1;
	}
	return lw->sid;
}

static __always_inline void last_walk_keep(struct last_walk *lw, struct task_struct *task, struct pt_regs *regs,
					   __u32 tid, __u32 tv, __u64 drops, __s32 sid)
{
	lw->tid = tid;
	lw->ip = regs->ip;
	lw->sp = regs->sp;
	lw->bp = regs->bp;
	lw->r14 = regs->r14;
	lw->tv = tv;
	lw->mm = (__u64)task->mm;
	lw->start = task->start_time;
	lw->exec = task->self_exec_id;
	lw->drops = drops;
	lw->sid = sid;
}

/* The id of the current 64-bit task's user stack, walked here (see above); WALK_BY_KERNEL for
 * a compat task. */
__noinline __s32 user_stack_walk(__u32 traced_val)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	struct walk_ctx c = {};
	__u64 id = bpf_get_current_pid_tgid();
	__u32 zero = 0, tgid = id >> 32;
	struct last_walks *lws = bpf_map_lookup_elem(&lastwalks, &zero);
	__u64 drops;
	__s32 sid;
	long n;

	c.w = bpf_map_lookup_elem(&walks, &zero);
	if (!c.w || !regs || !lws) {
		count(TM_CNT_STACK_FAULT);
		return -EFAULT;
	}
	if (regs->cs != USER_CS)
		return WALK_BY_KERNEL;
	c.lw = &lws->lw[(__u32)id % LAST_WALKS];
	drops = stack_drops; /* before the stack is interned: a delete after it is seen */
	c.lw->sid = -1; /* this walk's windows replace the thread's last one's */
	c.lw->nwin = 0;
	c.lw->nused = 0;
	c.w->st.ips[0] = regs->ip;
	c.hash = mix64(regs->ip);
	c.ip = regs->ip;
	c.sp = regs->sp;
	c.fp = regs->bp;
	c.n = 1;
	c.mm = (__u64)bpf_get_current_task_btf()->mm;
	if (traced_val & TM_TRACED_UNWIND)
		c.fcs = bpf_map_lookup_elem(&fcaches, &zero);
	if (c.fcs) {
		c.tgid = tgid;
		c.gen = traced_val >> TM_TRACED_GEN_SHIFT;
		walk_cfi(&c);
	} else {
		bpf_loop(TM_MAX_STACK_DEPTH - 1, walk_frame, &c, 0);
	}
	go_resume(&c, regs->r14);
	if (traced_val & TM_TRACED_PY) {
		n = py_walk(tgid, c.n);
		if (n > c.n)
			c.hash = mix64(c.hash ^ c.w->py_hash);
		c.n = n;
	}
	sid = stack_intern(c.n, c.hash);
	/* a Python process's frames are not in its native stack's bytes: never repeated */
	if (stack_cache != TM_STACK_CACHE_OFF && !(traced_val & TM_TRACED_PY) && c.lw->nwin < NWIN_ONCE &&
	    sid >= 0 && !(drops & 1))
		last_walk_keep(c.lw, task, regs, (__u32)id, traced_val, drops, sid);
	return sid;
}

/* The stack id of the thread's last walk on this CPU if this one would repeat it, else -1 */
__noinline __s32 user_stack_repeat(__u32 traced_val)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	__u32 zero = 0, tid = (__u32)bpf_get_current_pid_tgid();
	struct last_walks *lws = bpf_map_lookup_elem(&lastwalks, &zero);
	__s32 sid;

	if (!regs || !lws || regs->cs != USER_CS || (traced_val & TM_TRACED_PY))
		return -1;
	sid = last_walk(&lws->lw[tid % LAST_WALKS], lws, task, regs, tid, traced_val);
	if (sid >= 0)
		count(TM_CNT_STACK_CACHED);
	return sid;
}

/* The id of the current task's user stack in 'stacks', or -errno (counted). Compat tasks are
 * walked by the kernel (bpf_get_stack needs the program's context: kept out of the global
 * functions, whose context argument only kernels from 6.8 take). */
static __always_inline __s32 user_stack(void *ctx, __u32 traced_val)
{
	struct walk_ctx c = {};
	__u32 zero = 0;
	__s32 sid, last = stack_cache != TM_STACK_CACHE_OFF ? user_stack_repeat(traced_val) : -1;
	long n;

	if (last >= 0 && stack_cache != TM_STACK_CACHE_CHECK)
		return last;
	sid = user_stack_walk(traced_val);
	if (last >= 0 && sid >= 0 && sid != last) /* (a full map is not the cache's error) */
		count(TM_CNT_STACK_CACHE_WRONG);
	if (sid != WALK_BY_KERNEL)
		return sid;
	c.w = bpf_map_lookup_elem(&walks, &zero);
	if (!c.w) {
		count(TM_CNT_STACK_FAULT);
		return -EFAULT;
	}
	n = bpf_get_stack(ctx, c.w->st.ips, sizeof(c.w->st.ips), BPF_F_USER_STACK);
	if (n <= 0) {
		count(TM_CNT_STACK_FAULT);
		return -EFAULT;
	}
	n /= sizeof(__u64);
	bpf_loop(n, hash_frame, &c, 0);
	return stack_intern(n, c.hash);
}

/* Whether a fault at addr hit the faulting function's own frame: between its sp (less the red
 * zone and a call's push) and the return address above its frame pointer. A goroutine's stack
 * that grew past 32 KiB comes from heap spans: only this tells its pages from heap. Frameless
 * code may hold anything in rbp: a frame of over 1 MiB is not believed. */
static __always_inline bool on_own_frame(__u64 addr)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	return regs && regs->cs == USER_CS && regs->bp > regs->sp && regs->bp - regs->sp < (1u << 20) &&
	       addr + 128 >= regs->sp && addr < regs->bp + 16;
}

/* ---- page faults: remember where each traced thread faulted ---- */

static __always_inline int on_fault(unsigned long address, unsigned long error_code, bool kernel)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct task_state *st;

	if (!is_traced(id >> 32))
		return 0;
	count(TM_CNT_PAGE_FAULTS);
	st = task_state_get((__u32)id, true);
	if (!st)
		return 0;
	st->fault_addr = address;
	st->fault_err = error_code;
	st->have_fault = 1;
	st->kernel_fault = kernel;
	return 0;
}

/* BTF-enabled raw tracepoints: cheaper per event than classic ones, and detached in
 * microseconds (each classic tracepoint costs an RCU grace period, ~65 ms, at exit). */
#define X86_PF_PROT  0x1
#define X86_PF_WRITE 0x2

SEC("tp_btf/page_fault_user")
int BPF_PROG(handle_page_fault_user, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tm_event *e = NULL;
	__u32 tv, chance;
	__s32 sid;
	bool py;

	on_fault(address, error_code, false);
	/* A write to a present page: after fork, the copy of a shared page (new memory with no RSS
	 * change, so no rss_stat says so); user space knows which pages are shared. */
	if ((error_code & (X86_PF_PROT | X86_PF_WRITE)) != (X86_PF_PROT | X86_PF_WRITE))
		return 0;
	tv = traced_value(id >> 32);
	if (!tv)
		return 0;
	count(TM_CNT_WRITE_FAULTS);
	/* a Python process's walk first (its records come before this one), others' after the
	 * reserve (handle_rss_stat says why) */
	py = tv & TM_TRACED_PY;
	if (!py) {
		e = event_reserve(TM_CNT_DROP_COW);
		if (!e)
			return 0;
	}
	chance = sample_chances[1] ? sample_draw(1) : 0;
	sid = sample_chances[1] && !chance ? TM_STACK_UNSAMPLED : user_stack(ctx, tv);
	if (py) {
		e = event_reserve(TM_CNT_DROP_COW);
		if (!e)
			return 0;
	}
	e->extra2 = chance;
	e->kind = TM_EV_COW;
	e->tgid = id >> 32;
	e->tid = (__u32)id;
	e->addr = address;
	e->arg = error_code;
	e->stack_id = sid;
	if (on_own_frame(address))
		e->flags |= TM_F_ON_STACK;
	event_submit(e);
	return 0;
}

/* copy_to_user() and friends touching fresh user pages (read() into a new buffer).
 * A classic tracepoint: seen here, the raw page_fault_kernel program also ran once for every
 * user-mode fault, with registers that did not say user mode. */
SEC("tp/exceptions/page_fault_kernel")
int handle_page_fault_kernel(struct trace_event_raw_exceptions *ctx)
{
	return on_fault(ctx->address, ctx->error_code, true);
}

/* ---- RSS counter changes ---- */

static __always_inline bool is_mm_syscall(__u32 nr)
{
	return nr == NR_mmap || nr == NR_munmap || nr == NR_mremap || nr == NR_brk ||
	       nr == NR_madvise || nr == NR_mprotect;
}

/* Whether handle_rss_stat's record of the current task's own mm will carry its stack (as its
 * causes below decide): growth in mmap, mremap or brk, or after a fault. */
static __always_inline bool rss_wants_stack(struct task_state *st)
{
	__u32 nr = st->sys_nr;

	if (nr == NR_execve || nr == NR_execveat)
		return false;
	if (is_mm_syscall(nr))
		return nr == NR_mmap || nr == NR_mremap || nr == NR_brk;
	return st->have_fault;
}

SEC("tp/kmem/rss_stat")
int handle_rss_stat(struct trace_event_raw_rss_stat *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id, mm_id = ctx->mm_id;
	struct task_struct *task;
	struct task_state *st = NULL;
	struct tm_event *e = NULL;
	bool curr = ctx->curr;
	__u8 cause = TM_CAUSE_NONE;
	__s32 sid = -ENOENT;
	__u32 tv, chance = 0;
	bool want, py;

	if (ctx->member == TM_SWAPENTS)
		return 0; /* swap entries are not resident */
	tv = traced_value(tgid);
	if (tv) {
		st = task_state_get(tid, true);
		if (curr && st && st->mm_id != mm_id) {
			if (bpf_map_update_elem(&mms, &mm_id, &tgid, BPF_ANY))
				count(TM_CNT_MM_MAP_FULL);
			else
				st->mm_id = mm_id;
		}
	} else if (!bpf_map_lookup_elem(&mms, &mm_id)) {
		return 0;
	}
	count(TM_CNT_RSS_EVENTS);

	task = bpf_get_current_task_btf(); /* read directly: no probe_read per field */
	want = curr && st && !(task->flags & PF_EXITING) && rss_wants_stack(st);
	if (sample_chances[1] && curr && st) {
		__u32 m = ctx->member & (TM_NR_MEMBERS - 1);
		__u64 prev = st->seen[m], size = ctx->size;

		st->seen[m] = size;
		if (want) {
			chance = sample_draw(size > prev ? (size - prev + 4095) >> 12 : 1);
			if (!chance) {
				want = false;
				sid = TM_STACK_UNSAMPLED;
			}
		}
	}
	/* A Python process's stack before this record: the records its walk sends (code objects'
	 * names) must come first. Any other reserves first, so that its place in the stream is
	 * the counter's order: user space takes each change as the difference from the mm's last
	 * record, and a walk (microseconds) between the change and the reserve let another
	 * thread's record overtake it (a C thread's heap page was credited to a new thread's stack) */
	py = tv & TM_TRACED_PY;
	if (!py) {
		e = event_reserve(TM_CNT_DROP_RSS);
		if (!e)
			return 0;
	}
	if (want)
		sid = user_stack(ctx, tv);
	if (py) {
		e = event_reserve(TM_CNT_DROP_RSS);
		if (!e)
			return 0;
	}
	e->kind = TM_EV_RSS;
	e->member = ctx->member;
	e->tgid = tgid;
	e->tid = tid;
	e->mm_id = mm_id;
	e->ret = ctx->size;
	e->flags = curr ? TM_F_CURR : 0;
	e->stack_id = -ENOENT;
	if (curr && tv) { /* the kernel's share: the traced mm's page tables, as they are now */
		e->extra2 = (__u64)task->mm->pgtables_bytes.counter >> 12 << 32;
		e->flags |= TM_F_PGTABLES;
	}

	if (task->flags & PF_EXITING) {
		cause = TM_CAUSE_EXIT;
	} else if (st) {
		__u32 nr = st->sys_nr;

		if (nr == NR_execve || nr == NR_execveat) {
			/* before exec_mmap() the current mm is the old one, after it the new one */
			bool switched = (__u64)task->mm != st->exec_mm;

			cause = curr == switched ? TM_CAUSE_EXEC : TM_CAUSE_EXEC_OLD;
		} else if (!curr && (nr == NR_clone || nr == NR_clone3 || nr == NR_fork || nr == NR_vfork)) {
			cause = TM_CAUSE_FORK;
		} else if (is_mm_syscall(nr)) {
			cause = TM_CAUSE_SYSCALL;
			e->addr = st->sys_addr;
			e->len = st->sys_len;
			e->arg = (__u64)nr << 32;
			e->extra = st->sys_a2; /* mremap: new_len, so a shrink frees only the tail */
			e->extra3 = st->sys_ts; /* one syscall's several RSS changes share it */
			/* growth inside a syscall (MAP_POPULATE, mremap) needs its stack */
			if (curr && (nr == NR_mmap || nr == NR_mremap || nr == NR_brk))
				e->stack_id = sid;
		} else if (st->have_fault) {
			cause = TM_CAUSE_FAULT;
			e->addr = st->fault_addr;
			e->arg = st->fault_err;
			if (st->kernel_fault)
				e->flags |= TM_F_KERNEL_FAULT;
			if (curr) {
				e->stack_id = sid;
				if (on_own_frame(st->fault_addr))
					e->flags |= TM_F_ON_STACK;
			}
		}
	}
	e->cause = cause;
	e->extra2 |= chance; /* --sample-bytes: the chance of a walked record (its stack's weight) */
	event_submit(e);
	return 0;
}

/* An executable mapping of a file with a loaded table: add it to the process's ranges now.
 * (User space replaces them with what /proc/PID/maps says at its next read.) */
static __always_inline void unwind_on_mmap(struct task_state *st, __u32 tgid, __u64 addr)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct tm_unwind_inode key = {};
	struct tm_unwind_file *uf;
	struct tm_unwind_proc *up;
	static const struct tm_unwind_proc empty;
	struct file **fds, *f = NULL;
	__u32 fd = (__u32)st->sys_fd, n, *tv;

	if (!(st->sys_a2 & 4 /* PROT_EXEC */) || (int)fd < 0 || fd >= BPF_CORE_READ(task, files, fdt, max_fds))
		return;
	fds = BPF_CORE_READ(task, files, fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return;
	key.ino = BPF_CORE_READ(f, f_inode, i_ino);
	key.dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
	uf = bpf_map_lookup_elem(&unwind_inodes, &key);
	if (!uf)
		return;
	up = bpf_map_lookup_elem(&unwind_procs, &tgid);
	if (!up) {
		bpf_map_update_elem(&unwind_procs, &tgid, &empty, BPF_NOEXIST);
		up = bpf_map_lookup_elem(&unwind_procs, &tgid);
		if (!up)
			return; /* full: the walk takes frame pointers for this process */
	}
	n = up->n;
	barrier_var(n);
	if (n >= TM_UNWIND_RANGES)
		return; /* user space keeps the largest when it reads the maps */
	up->r[n].start = addr;
	up->r[n].end = addr + ((st->sys_len + 4095) & ~4095ull);
	up->r[n].off = st->sys_off;
	up->r[n].file = uf->file;
	up->r[n].nrows = uf->nrows;
	up->n = n + 1;
	tv = bpf_map_lookup_elem(&traced, &tgid);
	if (tv) /* a new generation: the walk's cached frames of this process are stale */
		*tv = (*tv + (1 << TM_TRACED_GEN_SHIFT)) | TM_TRACED_UNWIND;
}

/* ---- syscalls that create, move and free mappings ----
 * One pair of raw syscall tracepoints instead of a pair per syscall: they fire for every
 * syscall, but an untraced task costs one hash lookup. */

static __always_inline bool is_tracked_syscall(long nr)
{
	return is_mm_syscall(nr) || nr == NR_clone || nr == NR_clone3 || nr == NR_fork ||
	       nr == NR_vfork || nr == NR_execve || nr == NR_execveat;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(handle_sys_enter, struct pt_regs *regs, long nr)
{
	__u64 id;
	struct task_state *st;
	__u32 tv;

	if (!is_tracked_syscall(nr))
		return 0;
	id = bpf_get_current_pid_tgid();
	tv = traced_value(id >> 32);
	if (!tv)
		return 0;
	st = task_state_get((__u32)id, true);
	if (!st)
		return 0;
	st->sys_nr = nr;
	st->sys_ts = bpf_ktime_get_ns();
	st->sys_addr = BPF_CORE_READ(regs, di);
	st->sys_len = BPF_CORE_READ(regs, si);
	st->sys_a2 = BPF_CORE_READ(regs, dx);
	st->sys_a3 = BPF_CORE_READ(regs, r10);
	st->sys_fd = BPF_CORE_READ(regs, r8);
	st->sys_off = BPF_CORE_READ(regs, r9);
	st->sys_stack = -ENOENT;
	if (nr == NR_execve || nr == NR_execveat)
		st->exec_mm = (__u64)BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), mm);
	if (nr == NR_mmap) {
		__u64 caller = 0;

		/* libc's mmap wrapper is frameless: [sp] is its caller, which the FP walk skips */
		if (bpf_probe_read_user(&caller, sizeof(caller), (void *)BPF_CORE_READ(regs, sp)))
			caller = 0;
		st->caller = caller;
		st->sys_stack = user_stack(ctx, tv);
	}
	return 0;
}

static __always_inline void emit_syscall(struct task_state *st, __u16 kind, long ret, __u64 id)
{
	struct tm_event *e = event_reserve(TM_CNT_DROP_SYSCALL);

	if (!e)
		return;
	e->kind = kind;
	e->tgid = id >> 32;
	e->tid = (__u32)id;
	e->addr = st->sys_addr;
	e->len = st->sys_len;
	e->ret = ret;
	e->stack_id = st->sys_stack;
	switch (kind) {
	case TM_EV_MMAP:
		e->arg = st->sys_a2 | st->sys_a3 << 32; /* prot | flags << 32 */
		e->extra = st->sys_fd;
		e->extra2 = st->caller;
		break;
	case TM_EV_MREMAP:
	case TM_EV_MADVISE:
		e->arg = st->sys_a2; /* new_len / advice */
		break;
	}
	event_submit(e);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(handle_sys_exit, struct pt_regs *regs, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, nr;
	struct task_state *st;
	bool ok = (unsigned long)ret < (unsigned long)-4095;

	/* every syscall of the machine exits here: skip untracked ones before any map lookup */
	if (!is_tracked_syscall(regs->orig_ax) || !is_traced(id >> 32))
		return 0;
	st = bpf_map_lookup_elem(&tasks, &tid);
	if (!st || !st->sys_nr)
		return 0;
	nr = st->sys_nr;
	st->sys_nr = 0;
	st->exec_mm = 0;
	switch (nr) {
	case NR_mmap:
		if (!ok)
			break;
		unwind_on_mmap(st, id >> 32, ret);
		emit_syscall(st, TM_EV_MMAP, ret, id);
		break;
	case NR_munmap:
		if (ret == 0)
			emit_syscall(st, TM_EV_MUNMAP, ret, id);
		break;
	case NR_mremap:
		if (ok)
			emit_syscall(st, TM_EV_MREMAP, ret, id);
		break;
	case NR_brk:
		emit_syscall(st, TM_EV_BRK, ret, id);
		break;
	case NR_madvise:
		if (ret == 0)
			emit_syscall(st, TM_EV_MADVISE, ret, id);
		break;
	}
	return 0;
}

/* ---- the process tree ---- */

/* A thread of a traced process began (+1) or ended (-1): its kernel stack (THREAD_SIZE) is
 * the kernel's share. The delta, not only the count: records of two CPUs may swap places. */
static __always_inline void kstat_threads(struct task_struct *t, __s64 delta)
{
	struct tm_event *e = event_reserve(TM_CNT_DROP_KSTAT);
	struct vm_struct *vm;

	if (!e)
		return;
	e->kind = TM_EV_KSTAT;
	e->member = TM_KPART_THREADS;
	e->tgid = t->tgid;
	e->tid = t->pid;
	e->arg = (__u64)delta;
	e->ret = BPF_CORE_READ(t, signal, live.counter);
	/* a vmapped stack says its size (CONFIG_VMAP_STACK: THREAD_SIZE in pages) */
	vm = bpf_core_field_exists(t->stack_vm_area) ? BPF_CORE_READ(t, stack_vm_area) : NULL;
	e->len = vm ? (__u64)BPF_CORE_READ(vm, nr_pages) * 4096 : TM_THREAD_SIZE;
	event_submit(e);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid, tv;
	struct tm_unwind_proc *up;
	struct tm_py_proc *pp;
	struct tm_event *e;

	if (child->pid != ctgid) { /* threads share their process's entry: only counted */
		if (is_traced(ctgid))
			kstat_threads(child, 1);
		return 0;
	}
	tv = traced_value(ptgid);
	if (!tv)
		return 0;
	/* the child has the parent's mappings, so its unwind ranges */
	up = (tv & TM_TRACED_UNWIND) ? bpf_map_lookup_elem(&unwind_procs, &ptgid) : NULL;
	if (!up || bpf_map_update_elem(&unwind_procs, &ctgid, up, BPF_ANY))
		tv &= ~TM_TRACED_UNWIND;
	/* and its interpreter */
	pp = (tv & TM_TRACED_PY) ? bpf_map_lookup_elem(&py_procs, &ptgid) : NULL;
	if (!pp || bpf_map_update_elem(&py_procs, &ctgid, pp, BPF_ANY))
		tv &= ~TM_TRACED_PY;
	if (bpf_map_update_elem(&traced, &ctgid, &tv, BPF_ANY)) {
		count(TM_CNT_TRACED_MAP_FULL);
		return 0;
	}
	e = event_reserve(TM_CNT_DROP_PROC);
	if (!e)
		return 0;
	e->kind = TM_EV_FORK;
	e->tgid = ptgid;
	e->tid = parent->pid;
	e->extra = ctgid;
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), child->comm);
	event_submit(e);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct tm_exec_event *x;
	struct tm_event *e;
	struct mm_struct *mm;
	__u32 tgid, tv;

	if (!is_traced(p->tgid))
		return 0;
	tgid = p->tgid;
	/* the old image's mappings and interpreter are gone; a CPython executable seen before
	 * has its frames read from the start (a short process is gone before its maps are read) */
	tv = traced_value(tgid) & ~(TM_TRACED_UNWIND | TM_TRACED_PY);
	bpf_map_delete_elem(&unwind_procs, &tgid);
	bpf_map_delete_elem(&py_procs, &tgid);
	if (py_on_exec(tgid, bprm))
		tv |= TM_TRACED_PY;
	bpf_map_update_elem(&traced, &tgid, &tv, BPF_EXIST);
	x = bpf_ringbuf_reserve(&events, sizeof(*x), 0);
	if (!x) {
		count(TM_CNT_DROP_PROC);
		return 0;
	}
	__builtin_memset(x, 0, sizeof(*x));
	e = &x->e;
	e->ts = bpf_ktime_get_ns();
	mm = p->mm;
	e->kind = TM_EV_EXEC;
	e->flags = TM_F_EXEC_INFO;
	e->tgid = p->tgid;
	e->tid = p->pid;
	e->extra = BPF_CORE_READ(mm, start_brk);
	e->ret = BPF_CORE_READ(mm, brk);
	e->extra2 = BPF_CORE_READ(mm, start_stack);
	e->extra3 = BPF_CORE_READ(p, signal, rlim[RLIMIT_STACK].rlim_cur);
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), p->comm);
	x->start_code = BPF_CORE_READ(mm, start_code);
	x->end_code = BPF_CORE_READ(mm, end_code);
	x->ino = BPF_CORE_READ(bprm, file, f_inode, i_ino);
	x->dev = BPF_CORE_READ(bprm, file, f_inode, i_sb, s_dev);
	bpf_probe_read_kernel_str(x->filename, sizeof(x->filename), BPF_CORE_READ(bprm, interp));
	bpf_ringbuf_submit(x, BPF_RB_FORCE_WAKEUP); /* user space reads the maps while it lives */
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *p)
{
	__u32 tgid = p->tgid, tid = p->pid;
	struct tm_exit ex = {};
	struct tm_event *e;
	bool group_dead;

	if (!is_traced(tgid))
		return 0;
	bpf_map_delete_elem(&tasks, &tid);
	group_dead = BPF_CORE_READ(p, signal, live.counter) == 0;
	if (!group_dead) {
		kstat_threads(p, -1);
		return 0;
	}
	bpf_map_delete_elem(&traced, &tgid);
	bpf_map_delete_elem(&unwind_procs, &tgid);
	bpf_map_delete_elem(&py_procs, &tgid);
	/* the kernel's own high-water mark (pages, updated by exit_mm): an oracle for the peak */
	ex.maxrss_bytes = BPF_CORE_READ(p, signal, maxrss) * 4096;
	ex.exit_code = p->exit_code;
	bpf_map_update_elem(&exits, &tgid, &ex, BPF_ANY);
	e = event_reserve(TM_CNT_DROP_PROC);
	if (!e)
		return 0;
	e->kind = TM_EV_EXIT;
	e->tgid = tgid;
	e->tid = tid;
	e->flags = TM_F_GROUP_DEAD;
	e->extra2 = ex.exit_code;
	e->extra3 = ex.maxrss_bytes;
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), p->comm);
	event_submit(e);
	return 0;
}

/* ---- the OOM killer ---- */

/* The victim's RSS as the kernel's "Killed process" line gives it (get_mm_counter: the
 * percpu counter's shared count). Kernels before 6.2 had struct mm_rss_stat here: this one has
 * percpu counters. */
static __always_inline __u64 mm_counter_bytes(struct mm_struct *mm, int member)
{
	__s64 v = BPF_CORE_READ(mm, rss_stat[member].count);

	return v > 0 ? (__u64)v * 4096 : 0;
}

SEC("tp_btf/mark_victim")
int BPF_PROG(handle_oom_victim, struct task_struct *task, uid_t uid)
{
	struct mm_struct *mm = task->mm;
	struct tm_event *e;

	if (!is_traced(task->tgid))
		return 0;
	e = event_reserve(TM_CNT_DROP_PROC);
	if (!e)
		return 0;
	e->kind = TM_EV_OOM;
	e->tgid = task->tgid;
	e->tid = task->pid;
	if (mm) {
		e->extra = mm_counter_bytes(mm, TM_ANONPAGES);
		e->extra2 = mm_counter_bytes(mm, TM_FILEPAGES);
		e->extra3 = mm_counter_bytes(mm, TM_SHMEMPAGES);
		e->ret = e->extra + e->extra2 + e->extra3;
	}
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), task->comm);
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP); /* user space reads the cgroup's counters now */
	return 0;
}

/* ---- slab objects charged to the tree ----
 * kmem:kmalloc / kmem_cache_alloc of traced tasks that the memory cgroup charges (__GFP_ACCOUNT,
 * or a SLAB_ACCOUNT cache), kept by pointer so that their frees, by anyone (RCU callbacks,
 * other processes), subtract. They fire machine-wide: an untraced allocation costs a flag test
 * and a lookup, a free one lookup; 20-30% of the tool's BPF time on go_bench 1M and on a build,
 * so they load only with --kernel-slab. */

/* pointer -> who allocated it and its size. A plain hash, not an LRU: a full map refuses the
 * new object (counted, neither its allocation nor its free is seen) where an LRU would evict
 * an old one unseen and leave its bytes counted forever. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1); /* sized from user space */
	__type(key, __u64);
	__type(value, struct tm_kobj);
} kobjs SEC(".maps");

/* tgid -> its live slab bytes; an LRU: entries of long-gone processes make room */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1); /* sized from user space */
	__type(key, __u32);
	__type(value, struct tm_kslab);
} kslab SEC(".maps");

#define GFP_ACCOUNT (1u << ___GFP_ACCOUNT_BIT)
#define SLAB_ACCOUNT_FLAG (1u << _SLAB_ACCOUNT)

/* A process's slab bytes moved by delta: sent once they are TM_SLAB_STEP from the last sent */
static __always_inline void slab_add(struct tm_kslab *ks, __u32 tgid, __s64 delta)
{
	__s64 now = __sync_fetch_and_add(&ks->bytes, delta) + delta, d = now - ks->sent;
	struct tm_event *e;

	if (d < TM_SLAB_STEP && d > -TM_SLAB_STEP)
		return;
	e = event_reserve(TM_CNT_DROP_KSTAT);
	if (!e)
		return;
	ks->sent = now;
	e->kind = TM_EV_KSTAT;
	e->member = TM_KPART_SLAB;
	e->tgid = tgid;
	e->ret = (__u64)now;
	event_submit(e);
}

static __always_inline void slab_free(const void *ptr)
{
	__u64 key = (__u64)ptr;
	struct tm_kobj *o, obj;
	struct tm_kslab *ks;

	if (!ptr)
		return;
	o = bpf_map_lookup_elem(&kobjs, &key);
	if (!o)
		return;
	obj = *o;
	if (bpf_map_delete_elem(&kobjs, &key))
		return; /* another CPU's free of the same pointer took it */
	ks = bpf_map_lookup_elem(&kslab, &obj.tgid);
	if (ks)
		slab_add(ks, obj.tgid, -(__s64)obj.size);
}

static __always_inline void slab_alloc(const void *ptr, __u64 size)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	static const struct tm_kslab fresh = { .sent = -(1ll << 62) }; /* its first is sent */
	struct tm_kobj o = { .tgid = tgid, .size = (__u32)size };
	__u64 key = (__u64)ptr;
	struct tm_kslab *ks;

	if (!ptr)
		return;
	/* an object of the tree at this address whose free was never seen (bulk frees fire no
	 * kfree tracepoint, though the cgroup uncharges them): it is gone now */
	slab_free(ptr);
	if (!is_traced(tgid))
		return;
	ks = bpf_map_lookup_elem(&kslab, &tgid);
	if (!ks) {
		bpf_map_update_elem(&kslab, &tgid, &fresh, BPF_NOEXIST);
		ks = bpf_map_lookup_elem(&kslab, &tgid);
	}
	if (!ks || bpf_map_update_elem(&kobjs, &key, &o, BPF_ANY)) {
		count(TM_CNT_SLAB_MAP_FULL);
		return;
	}
	slab_add(ks, tgid, (__s64)size);
}

SEC("tp_btf/kmalloc")
int BPF_PROG(handle_kmalloc, unsigned long call_site, const void *ptr, size_t bytes_req, size_t bytes_alloc,
	     gfp_t gfp_flags, int node)
{
	if (gfp_flags & GFP_ACCOUNT)
		slab_alloc(ptr, bytes_alloc);
	return 0;
}

SEC("tp_btf/kmem_cache_alloc")
int BPF_PROG(handle_kmem_cache_alloc, unsigned long call_site, const void *ptr, struct kmem_cache *s,
	     gfp_t gfp_flags, int node)
{
	if ((gfp_flags & GFP_ACCOUNT) || (s->flags & SLAB_ACCOUNT_FLAG))
		slab_alloc(ptr, s->size);
	return 0;
}

SEC("tp_btf/kfree")
int BPF_PROG(handle_kfree, unsigned long call_site, const void *ptr)
{
	slab_free(ptr);
	return 0;
}

SEC("tp_btf/kmem_cache_free")
int BPF_PROG(handle_kmem_cache_free, unsigned long call_site, const void *ptr, const struct kmem_cache *s)
{
	slab_free(ptr);
	return 0;
}
