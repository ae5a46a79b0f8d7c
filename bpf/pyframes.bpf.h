/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* CPython 3.11 frames at a fault (included by taskmem.bpf.c after its stack walk): the thread
 * state that holds the GIL, if it is this thread's, then its chain of _PyInterpreterFrames,
 * each appended to the stack as its code object's address and last instruction
 * (include/pyframes.h). A code object's names are sent (TM_EV_PYCODE) the first time a stack
 * holds it, so that a process gone before user space reads its memory is named too; user space
 * splices the frames into the native stack. */
#include "pyframes.h"

/* tgid -> where its interpreter keeps its frames (user/pyframes.c, from the DWARF) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1); /* sized from user space */
	__type(key, __u32);
	__type(value, struct tm_py_proc);
} py_procs SEC(".maps");

#define PY_END 0x100 /* the chain's end was reached (not sent) */

/* code objects named already (TM_EV_PYCODE sent), by process, address and module dict */
struct py_seen_key {
	__u32 tgid, pad;
	__u64 code;
	__u64 globals; /* the frame's module dict: a freed code object's address reused by another
			* module's code is another object */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1); /* sized from user space */
	__type(key, struct py_seen_key);
	__type(value, __u8);
} py_seen SEC(".maps");

/* Per CPU, code objects seen lately (a hash of tgid, code, globals): most frames skip the map
 * lookup */
#define PY_SEEN_SLOTS 1024
struct py_seen_cache {
	__u64 tag[PY_SEEN_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct py_seen_cache);
} py_seen_cpu SEC(".maps");

/* A compact ASCII str's bytes (3.11's state bits: compact 5, ascii 6), or "" */
static __always_inline void py_str(char *dst, __u32 len, __u64 obj, const struct tm_py_proc *pp)
{
	__u32 state = 0;

	dst[0] = 0;
	if (!obj || bpf_probe_read_user(&state, sizeof(state), (void *)(obj + pp->str_state)))
		return;
	if ((state & 0x60) == 0x60)
		bpf_probe_read_user_str(dst, len, (void *)(obj + pp->str_ascii_data));
}

/* Send a code object's names the first time the process's stacks hold it. Global: verified
 * once. */
__noinline int py_name_code(__u32 tgid, __u64 code, __u64 globals)
{
	struct py_seen_key key = { .tgid = tgid, .code = code, .globals = globals };
	struct tm_py_code_event *x;
	struct tm_py_proc *pp;
	__u64 w[2] = {}, lt = 0, ltlen = 0;
	__s32 first = 0;
	__u8 one = 1;

	pp = bpf_map_lookup_elem(&py_procs, &tgid);
	if (!pp || bpf_map_update_elem(&py_seen, &key, &one, BPF_NOEXIST))
		return 0; /* sent already */
	x = bpf_ringbuf_reserve(&events, sizeof(*x), 0);
	if (!x) {
		/* user space reads it from the process instead (or counts it unnamed) */
		bpf_map_delete_elem(&py_seen, &key);
		return 0;
	}
	__builtin_memset(&x->e, 0, sizeof(x->e));
	x->e.ts = bpf_ktime_get_ns();
	x->e.kind = TM_EV_PYCODE;
	x->e.tgid = tgid;
	x->e.tid = (__u32)bpf_get_current_pid_tgid();
	x->e.stack_id = -ENOENT;
	x->e.addr = code;
	x->e.extra = globals;
	bpf_probe_read_user(&w[0], sizeof(w[0]), (void *)(code + pp->co_qualname));
	bpf_probe_read_user(&w[1], sizeof(w[1]), (void *)(code + pp->co_filename));
	bpf_probe_read_user(&first, sizeof(first), (void *)(code + pp->co_firstlineno));
	x->firstlineno = first;
	py_str(x->qualname, sizeof(x->qualname), w[0], pp);
	py_str(x->filename, sizeof(x->filename), w[1], pp);
	if (bpf_probe_read_user(&lt, sizeof(lt), (void *)(code + pp->co_linetable)) || !lt ||
	    bpf_probe_read_user(&ltlen, sizeof(ltlen), (void *)(lt + pp->bytes_size)))
		ltlen = 0;
	if (ltlen > TM_PY_LT_LEN)
		ltlen = TM_PY_LT_LEN;
	barrier_var(ltlen);
	if (ltlen > 0 && ltlen <= TM_PY_LT_LEN &&
	    bpf_probe_read_user(x->lt, ltlen, (void *)(lt + pp->bytes_data)))
		ltlen = 0;
	x->ltlen = ltlen;
	bpf_ringbuf_submit(x, 0);
	return 0;
}

/* CPython executables (not position-independent: their addresses hold in every process) that
 * user space has seen, by inode: a process that execs one is set up at once */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct tm_unwind_inode);
	__type(value, struct tm_py_proc);
} py_exes SEC(".maps");

static __always_inline bool py_on_exec(__u32 tgid, struct linux_binprm *bprm)
{
	struct tm_unwind_inode key = {};
	struct tm_py_proc *pp;

	key.ino = BPF_CORE_READ(bprm, file, f_inode, i_ino);
	key.dev = BPF_CORE_READ(bprm, file, f_inode, i_sb, s_dev);
	pp = bpf_map_lookup_elem(&py_exes, &key);
	return pp && !bpf_map_update_elem(&py_procs, &tgid, pp, BPF_ANY);
}

struct py_ctx {
	struct walk *w;
	struct py_seen_cache *seen;
	__u64 frame;     /* the _PyInterpreterFrame to read next */
	__u64 hash;      /* of the entries appended */
	__u32 n;         /* frames in the stack */
	__u32 flags;     /* TM_PYF_* */
	__u32 tgid;
	__u16 rd;        /* bytes read per frame */
	__u16 fr_code, fr_previous, fr_prev_instr, fr_is_entry, fr_globals, co_code;
};

/* The word of the frame just read (into the walk's window) at byte offset off */
static __always_inline __u64 py_word(struct walk *w, __u32 off)
{
	__u32 idx = off >> 3;

	barrier_var(idx);
	if (idx >= TM_PY_READ / 8)
		return 0;
	return w->win[idx];
}

static long py_frame(__u32 i, struct py_ctx *p)
{
	__u64 code, instr, lasti = 0, ent, k = p->n;
	__u32 rd = p->rd;

	if (!p->frame) {
		p->flags |= PY_END;
		return 1;
	}
	if (k >= TM_MAX_STACK_DEPTH) {
		p->flags |= TM_PYF_TRUNC;
		return 1;
	}
	if (rd == 0 || rd > TM_PY_READ) {
		p->flags |= TM_PYF_TRUNC;
		return 1;
	}
	barrier_var(rd); /* the bounded copy is what the read is given */
	if (bpf_probe_read_user(p->w->win, rd & (2 * TM_PY_READ - 1), (void *)p->frame)) {
		p->flags |= TM_PYF_TRUNC;
		return 1;
	}
	code = py_word(p->w, p->fr_code);
	instr = py_word(p->w, p->fr_prev_instr);
	/* in code units past the code's start; a frame that has not started is one before it */
	if (instr >= code + p->co_code)
		lasti = (instr - code - p->co_code) / 2 + 1;
	if (lasti > TM_PY_LASTI_MAX)
		lasti = TM_PY_LASTI_MAX;
	ent = (code & TM_PY_CODE_MASK) | lasti << TM_PY_LASTI_SHIFT;
	if ((py_word(p->w, p->fr_is_entry & ~7) >> ((p->fr_is_entry & 7) * 8)) & 0xff)
		ent |= TM_PY_ENTRY;
	p->frame = py_word(p->w, p->fr_previous);
	if (p->seen) {
		__u64 globals = py_word(p->w, p->fr_globals);
		__u64 tag = mix64(code ^ globals * 0x9e3779b97f4a7c15ULL ^ (__u64)p->tgid << 48);
		__u32 slot = tag & (PY_SEEN_SLOTS - 1);

		barrier_var(slot);
		if (slot < PY_SEEN_SLOTS && p->seen->tag[slot] != tag) {
			p->seen->tag[slot] = tag;
			py_name_code(p->tgid, code & TM_PY_CODE_MASK, globals);
		}
	}
	barrier_var(k);
	if (k >= TM_MAX_STACK_DEPTH)
		return 1;
	p->w->st.ips[k] = ent;
	p->hash = mix64(p->hash ^ ent);
	p->n = k + 1;
	return 0;
}

/* The search of the interpreter's threads for the current one (by its pthread_self, fsbase) */
struct py_thr_ctx {
	__u64 ts, fs, found;
	__u16 ts_next, ts_thread_id;
};

static long py_thread(__u32 i, struct py_thr_ctx *t)
{
	__u64 tid = 0;

	if (!t->ts || bpf_probe_read_user(&tid, sizeof(tid), (void *)(t->ts + t->ts_thread_id)))
		return 1;
	if (tid == t->fs) {
		t->found = t->ts;
		return 1;
	}
	if (bpf_probe_read_user(&t->ts, sizeof(t->ts), (void *)(t->ts + t->ts_next)))
		return 1;
	return 0;
}

/* Append the marker and the Python frames of the current thread, if it runs Python code, to
 * the walk's stack of m frames: the new count (the hash of what was appended in w->py_hash).
 * Global: verified once, not in each of user_stack's callers' states. */
__noinline int py_walk(__u32 tgid, __u32 m)
{
	struct tm_py_proc *pp = bpf_map_lookup_elem(&py_procs, &tgid);
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 tstate = 0, tid = 0, cframe = 0, mark;
	struct py_ctx p = {};
	__u32 zero = 0;

	p.w = bpf_map_lookup_elem(&walks, &zero);
	p.seen = bpf_map_lookup_elem(&py_seen_cpu, &zero);
	p.tgid = tgid;
	if (!pp || !p.w || m >= TM_MAX_STACK_DEPTH)
		return m;
	p.n = m + 1;
	/* the thread that holds the GIL: most often this one */
	if (bpf_probe_read_user(&tstate, sizeof(tstate), (void *)pp->tstate_addr) || !tstate ||
	    bpf_probe_read_user(&tid, sizeof(tid), (void *)(tstate + pp->ts_thread_id)))
		tstate = tid = 0;
	/* else this one's state is in the interpreter's list: it released the GIL around a
	 * blocking call or a C extension's work (or no one holds it) */
	if (!tstate || tid != task->thread.fsbase) {
		struct py_thr_ctx t = { .fs = task->thread.fsbase, .ts_next = pp->ts_next,
					.ts_thread_id = pp->ts_thread_id };

		if (bpf_probe_read_user(&t.ts, sizeof(t.ts), (void *)pp->interp_addr) || !t.ts ||
		    bpf_probe_read_user(&t.ts, sizeof(t.ts), (void *)(t.ts + pp->is_threads_head))) {
			p.flags = TM_PYF_NOSTATE;
			goto out;
		}
		bpf_loop(TM_PY_THREADS, py_thread, &t, 0);
		if (!t.found) {
			p.flags = TM_PYF_NOGIL;
			goto out;
		}
		tstate = t.found;
	}
	if (bpf_probe_read_user(&cframe, sizeof(cframe), (void *)(tstate + pp->ts_cframe)) || !cframe ||
	    bpf_probe_read_user(&p.frame, sizeof(p.frame), (void *)(cframe + pp->cf_current_frame))) {
		p.flags = TM_PYF_NOSTATE;
		goto out;
	}
	p.fr_code = pp->fr_code;
	p.fr_previous = pp->fr_previous;
	p.fr_prev_instr = pp->fr_prev_instr;
	p.fr_is_entry = pp->fr_is_entry;
	p.fr_globals = pp->fr_globals;
	p.co_code = pp->co_code;
	p.rd = pp->fr_code;
	if (p.rd < pp->fr_previous)
		p.rd = pp->fr_previous;
	if (p.rd < pp->fr_prev_instr)
		p.rd = pp->fr_prev_instr;
	if (p.rd < pp->fr_globals)
		p.rd = pp->fr_globals;
	if (p.rd < (pp->fr_is_entry & ~7))
		p.rd = pp->fr_is_entry & ~7;
	p.rd += 8;
	bpf_loop(TM_PY_MAX_FRAMES, py_frame, &p, 0);
	if (!(p.flags & PY_END))
		p.flags |= TM_PYF_TRUNC; /* more frames than fit, or a frame unreadable */
out:
	mark = TM_PY_MARK | (__u64)(p.n - m - 1) << 8 | (p.flags & 0xff);
	barrier_var(m);
	if (m < TM_MAX_STACK_DEPTH)
		p.w->st.ips[m] = mark;
	p.w->py_hash = mix64(p.hash ^ mark);
	return p.n;
}
