/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* CPython 3.11 frames at a fault, shared by bpf/pyframes.bpf.h and user/pyframes.c: where the
 * interpreter keeps its frame chain (offsets from its DWARF, set per process by user space),
 * and how the frames read are appended to a user stack. No maps, no functions. */
#ifndef TM_PYFRAMES_H
#define TM_PYFRAMES_H

#define TM_PY_MAX_FRAMES 48   /* Python frames read per stack (fewer when the stack is deep) */
#define TM_PY_READ 128        /* bytes of a _PyInterpreterFrame read at once: offsets below */

/* After the native frames of a stack: one marker, then the Python frames, innermost first.
 * marker = TM_PY_MARK | nframes << 8 | TM_PYF_*: no native address has these top bits. */
#define TM_PY_MARK      0xfffe000000000000ULL
#define TM_PY_MARK_MASK 0xffff000000000000ULL
#define TM_PYF_TRUNC    0x1  /* a frame could not be read, or TM_PY_MAX_FRAMES was reached */
#define TM_PYF_NOGIL    0x2  /* the thread did not hold the GIL: its frames are not known */
#define TM_PYF_NOSTATE  0x4  /* the interpreter's thread state could not be read */

/* A frame: its code object's address, its last instruction (+1, 0 unknown: the code's first
 * line) and whether it is the first frame of a _PyEval_EvalFrameDefault call (is_entry). */
#define TM_PY_CODE_MASK 0x0000ffffffffffffULL
#define TM_PY_LASTI_SHIFT 48
#define TM_PY_LASTI_MAX 0x7fff
#define TM_PY_ENTRY     0x8000000000000000ULL

/* Per process (the 'py_procs' map): the interpreter's addresses and offsets (bytes) */
struct tm_py_proc {
	__u64 tstate_addr;      /* &_PyRuntime.gilstate.tstate_current, load bias applied */
	__u16 ts_thread_id;     /* PyThreadState.thread_id: pthread_self(), the thread's fsbase */
	__u16 ts_cframe;        /* PyThreadState.cframe */
	__u16 cf_current_frame; /* _PyCFrame.current_frame */
	__u16 fr_code;          /* _PyInterpreterFrame.f_code */
	__u16 fr_previous;      /* .previous */
	__u16 fr_prev_instr;    /* .prev_instr */
	__u16 fr_is_entry;      /* .is_entry (a byte) */
	__u16 co_code;          /* PyCodeObject.co_code_adaptive: the instructions */
};

#endif /* TM_PYFRAMES_H */
