/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* CPython 3.11 frames at a fault (included by taskmem.bpf.c after its stack walk): the thread
 * state that holds the GIL, if it is this thread's, then its chain of _PyInterpreterFrames,
 * each sent as its code object's address and last instruction (include/pyframes.h). User space
 * names the code objects and splices the frames into the native stack. */
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

struct py_ctx {
	struct walk *w;
	__u64 frame;     /* the _PyInterpreterFrame to read next */
	__u64 hash;      /* of the entries appended */
	__u32 n;         /* frames in the stack */
	__u32 flags;     /* TM_PYF_* */
	__u16 rd;        /* bytes read per frame */
	__u16 fr_code, fr_previous, fr_prev_instr, fr_is_entry, co_code;
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
	barrier_var(k);
	if (k >= TM_MAX_STACK_DEPTH)
		return 1;
	p->w->st.ips[k] = ent;
	p->hash = mix64(p->hash ^ ent);
	p->n = k + 1;
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
	if (!pp || !p.w || m >= TM_MAX_STACK_DEPTH)
		return m;
	p.n = m + 1;
	if (bpf_probe_read_user(&tstate, sizeof(tstate), (void *)pp->tstate_addr) || !tstate ||
	    bpf_probe_read_user(&tid, sizeof(tid), (void *)(tstate + pp->ts_thread_id))) {
		p.flags = TM_PYF_NOSTATE;
		goto out;
	}
	/* the GIL's holder is another thread: this one runs no Python code now */
	if (tid != task->thread.fsbase) {
		p.flags = TM_PYF_NOGIL;
		goto out;
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
	p.co_code = pp->co_code;
	p.rd = pp->fr_code;
	if (p.rd < pp->fr_previous)
		p.rd = pp->fr_previous;
	if (p.rd < pp->fr_prev_instr)
		p.rd = pp->fr_prev_instr;
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
