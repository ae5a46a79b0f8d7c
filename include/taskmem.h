/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Types, limits and enums shared by bpf/taskmem.bpf.c and user space. No maps, no functions. */
#ifndef TASKMEM_H
#define TASKMEM_H

#define TM_COMM_LEN 16
#define TM_MAX_STACK_DEPTH 127     /* PERF_MAX_STACK_DEPTH: frames kept per stack */
#define TM_STACK_WINDOW 512        /* bytes of user stack read at once by the walk */
#define TM_PATH_LEN 256

/* rss_stat 'member': the mm counters (include/linux/mm_types_task.h) */
enum tm_member {
	TM_FILEPAGES = 0,
	TM_ANONPAGES = 1,
	TM_SWAPENTS = 2,
	TM_SHMEMPAGES = 3,
	TM_NR_MEMBERS = 4,
};

enum tm_event_kind {
	TM_EV_RSS = 1,   /* an RSS counter changed: size is the counter's new total */
	TM_EV_MMAP,      /* mmap returned: addr/len/prot/flags/fd, caller = return address */
	TM_EV_MUNMAP,    /* munmap returned 0 */
	TM_EV_MREMAP,    /* mremap returned: addr = old, len = old_len, ret = new addr, arg = new_len */
	TM_EV_BRK,       /* brk returned: ret = new break */
	TM_EV_MADVISE,   /* madvise returned 0: arg = advice */
	TM_EV_FORK,      /* a new process (not a thread) joined the traced tree */
	TM_EV_EXEC,      /* a traced process exec'd */
	TM_EV_EXIT,      /* a traced thread exited; flags has TM_F_GROUP_DEAD when it was the last */
	TM_EV_COW,       /* a write fault on a present page (copy-on-write, or none): addr, stack */
	TM_EV_OOM,       /* oom:mark_victim: the OOM killer chose this process; ret = its RSS in
			  * bytes then (extra anon, extra2 file, extra3 shmem), as the kernel's log */
	TM_EV_PYCODE,    /* a CPython code object first seen: struct tm_py_code_event (pyframes.h) */
	TM_EV_KSTAT,     /* the kernel's memory for a process (tgid) changed: member is enum tm_kpart */
};

/* TM_EV_KSTAT's member: which part of the kernel's share (user/kernel.h) */
enum tm_kpart {
	TM_KPART_THREADS = 1, /* a thread began or ended: arg = +1 or -1 (as __s64), ret = the
			       * kernel's count of the process's live threads then, len = THREAD_SIZE */
	TM_KPART_SLAB,        /* ret = bytes of accounted slab objects the process allocated that
			       * are not yet freed (by anyone): sent when it moved TM_SLAB_STEP */
};
#define TM_SLAB_STEP 16384     /* a process's slab bytes are sent when they moved this much */
#define TM_THREAD_SIZE 16384   /* x86_64's THREAD_SIZE, where the kernel does not say it */

/* 'kobjs' value: who allocated a slab object, and its size as charged */
struct tm_kobj {
	__u32 tgid;
	__u32 size;
};

/* 'kslab' value: a process's live slab bytes, and the value last sent */
struct tm_kslab {
	__s64 bytes;
	__s64 sent;
};

/* What the task was doing when an RSS counter changed. */
enum tm_cause {
	TM_CAUSE_NONE = 0,   /* nothing known (reclaim, another task touching the mm) */
	TM_CAUSE_FAULT,      /* right after a user or kernel page fault at 'addr' */
	TM_CAUSE_SYSCALL,    /* inside a tracked syscall (sys_nr) on [addr, addr+len) */
	TM_CAUSE_FORK,       /* copying the parent's pages into a child's new mm */
	TM_CAUSE_EXEC,       /* execve building the new image's mm */
	TM_CAUSE_EXEC_OLD,   /* execve touching or dropping the old image's mm */
	TM_CAUSE_EXIT,       /* the mm is being torn down by an exiting task */
};

#define TM_F_CURR       0x1  /* rss_stat 'curr': the mm is the current task's */
#define TM_F_GROUP_DEAD 0x2  /* TM_EV_EXIT: last thread of the process */
#define TM_F_KERNEL_FAULT 0x4 /* TM_CAUSE_FAULT: the fault was taken in kernel mode */
#define TM_F_EXEC_INFO  0x8  /* TM_EV_EXEC: the record is a struct tm_exec_event */
#define TM_F_ON_STACK   0x10 /* TM_CAUSE_FAULT: the address is in the faulting function's own
			      * stack frame (between its sp and its frame pointer) */
#define TM_F_PGTABLES   0x20 /* TM_EV_RSS with TM_F_CURR: extra2 is the mm's pgtables_bytes */

/* --sample-bytes: records of growth up to this many pages have a chance of their own (a larger
 * one, this many pages': the chance it carries is its weight all the same) */
#define TM_SAMPLE_PAGES 512

/* --sample-bytes: a stack_id of growth whose stack was not walked (not in the sample) */
#define TM_STACK_UNSAMPLED (-61) /* -ENODATA */

/* the two halves of a TM_EV_RSS record's extra2 */
#define TM_RSS_PGTABLES(extra2) (((extra2) >> 32) << 12)
#define TM_RSS_CHANCE(extra2) ((__u32)(extra2))

/* One ring-buffer record; the meaning of addr/len/arg/ret depends on kind. */
struct tm_event {
	__u64 ts;          /* bpf_ktime_get_ns (CLOCK_MONOTONIC) */
	__u16 kind;        /* enum tm_event_kind */
	__u8 member;       /* TM_EV_RSS: enum tm_member */
	__u8 cause;        /* TM_EV_RSS: enum tm_cause */
	__u32 flags;       /* TM_F_* */
	__u32 tgid;
	__u32 tid;
	__u32 mm_id;       /* TM_EV_RSS: rss_stat's hashed mm id */
	__s32 stack_id;    /* user stack in the 'stacks' map, or -errno */
	__u64 addr;
	__u64 len;
	__u64 arg;         /* RSS: fault error_code | sys_nr << 32; MMAP: prot | flags << 32 */
	__u64 ret;         /* RSS: the counter's total in bytes; syscalls: return value */
	__u64 extra;       /* MMAP: fd (or -1); EXEC: start_brk; FORK: child pid; RSS in mremap: new_len */
	__u64 extra2;      /* MMAP: caller's return address; EXEC: start_stack; EXIT: exit_code;
			    * RSS: the mm's page-table bytes / 4096 in its high half (TM_F_PGTABLES)
			    * and, under --sample-bytes, a walked record's chance of being walked
			    * times 2^32 in its low half (COW: that chance alone): TM_RSS_* */
	__u64 extra3;      /* EXEC: RLIMIT_STACK soft limit; EXIT: the kernel's maxrss in bytes;
			    * RSS in a syscall: when the syscall began */
	char comm[TM_COMM_LEN];
};

/* TM_EV_EXEC with what was exec'd and where its code went: a process that exits before its
 * /proc maps are read (a compiler pass in make -j) can still be named and symbolized. */
struct tm_exec_event {
	struct tm_event e;
	__u64 start_code, end_code;   /* mm's executable segment of the binary, load bias applied */
	__u64 ino;                    /* the binary's inode and device (kernel dev_t): filename */
	__u32 dev, pad;               /* may be relative to a cwd the tool does not know */
	char filename[TM_PATH_LEN];   /* bprm->interp: the binary really run (after #! and PATH) */
};

/* --stack-cache: a walk that would repeat the CPU's last one word for word takes its answer
 * (on), every stack is walked (off), or both, and disagreements are counted (check) */
enum tm_stack_cache { TM_STACK_CACHE_ON, TM_STACK_CACHE_OFF, TM_STACK_CACHE_CHECK };

/* A user stack in the 'stacks' map, keyed by the low 31 bits of its hash: frame 0 is the
 * instruction pointer, then return addresses, innermost first. The full hash tells a stack
 * from another one that has the same key (a collision, counted, never mixed up). */
struct tm_stack {
	__u64 hash;
	__u32 nr;            /* frames in ips */
	__u32 pad;
	__u64 ips[TM_MAX_STACK_DEPTH];
};

/* The 'traced' map's value: the process is traced; whether some of its code has unwind tables
 * (the walk looks nothing up for a process without: a map lookup is a cache miss, ~0.15 us),
 * whether it runs a CPython whose frames are read, and the generation of its ranges, which
 * tags the walk's per-CPU frame cache. */
#define TM_TRACED        0x1
#define TM_TRACED_UNWIND 0x2
#define TM_TRACED_PY     0x4     /* a CPython 3.11 process: its Python frames are read (py_procs) */
#define TM_TRACED_GEN_SHIFT 3  /* user space sets gen in steps of 1 << 12; BPF adds 1 per mmap */

/* DWARF CFI unwinding, for code built without frame pointers (glibc, CPython, BEAM...): user
 * space turns a file's .eh_frame into rows, and tells BPF which text mappings of a process
 * they cover. Frames elsewhere are walked by frame pointers. */
#define TM_MAX_UNWIND_FILES 64   /* files with a table loaded (an array of maps) */
#define TM_UNWIND_RANGES 8       /* per process: text mappings of such files */

enum tm_cfa {
	TM_CFA_NONE = 0,  /* not known here (no FDE, an expression): the walk stops */
	TM_CFA_RSP,       /* CFA = rsp + cfa_off */
	TM_CFA_RBP,       /* CFA = rbp + cfa_off */
	TM_CFA_FP,        /* no FDE covers this code (Go's in a cgo binary): walk by frame pointer */
};

/* One row of a file's table, valid from file offset pc up to the next row's. The return
 * address is at CFA - 8 (x86-64: every row that says otherwise is made TM_CFA_NONE). */
struct tm_unwind_row {
	__u32 pc;
	__s32 cfa_off;
	__s16 rbp_off;   /* the caller's rbp is saved at CFA + rbp_off, if rbp_saved */
	__u8 cfa_reg;    /* enum tm_cfa */
	__u8 rbp_saved;
};

/* A text mapping [start, end) at file offset off of the file whose table is unwind_files[file] */
struct tm_unwind_range {
	__u64 start, end, off;
	__u32 file;
	__u32 nrows;
};

/* unwind_inodes: a file by its inode (the kernel's dev_t: major << 20 | minor) */
struct tm_unwind_inode {
	__u64 ino;
	__u32 dev;
	__u32 pad;
};

struct tm_unwind_file {
	__u32 file;
	__u32 nrows;
};

/* tm_unwind_proc.flags */
#define TM_UNWIND_PY_TRAMPOLINES 0x1 /* a CPython 3.12+: code without a range may be a copy of
				      * its -X perf trampoline (no table), recognised by its bytes */

struct tm_unwind_proc {
	__u32 n;
	__u32 flags;      /* TM_UNWIND_* */
	struct tm_unwind_range r[TM_UNWIND_RANGES];
};

/* How a process ended, kept in a map in case its TM_EV_EXIT record was lost. */
struct tm_exit {
	__u64 maxrss_bytes;  /* the kernel's high-water RSS of the pid (all its images) */
	__u64 exit_code;     /* task->exit_code, a wait status */
};

/* Loss and health counters: enum tm_counter, generated from the table */
#include "counters.h"

#endif /* TASKMEM_H */
