/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* CPython 3.11 frames at a fault, shared by bpf/pyframes.bpf.h and user/pyframes.c: where the
 * interpreter keeps its frame chain (offsets from its DWARF, set per process by user space),
 * and how the frames read are appended to a user stack. No maps, no functions. */
#ifndef TM_PYFRAMES_H
#define TM_PYFRAMES_H
#include "taskmem.h"

#define TM_PY_MAX_FRAMES 48   /* Python frames read per stack (fewer when the stack is deep) */
#define TM_PY_READ 128        /* bytes of a _PyInterpreterFrame read at once: offsets below */
#define TM_PY_THREADS 64      /* threads of an interpreter searched for one without the GIL */

/* After the native frames of a stack: one marker, then the Python frames, innermost first.
 * marker = TM_PY_MARK | nframes << 8 | TM_PYF_*: no native address has these top bits. */
#define TM_PY_MARK      0xfffe000000000000ULL
#define TM_PY_MARK_MASK 0xffff000000000000ULL
#define TM_PYF_TRUNC    0x1  /* a frame could not be read, or TM_PY_MAX_FRAMES was reached */
#define TM_PYF_NOGIL    0x2  /* the thread is not among the interpreter's first TM_PY_THREADS */
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
	/* naming a code object the first time it is seen (TM_EV_PYCODE) */
	__u16 co_qualname, co_filename, co_firstlineno, co_linetable;
	__u16 str_state;        /* PyASCIIObject.state (3.11: bit 5 compact, bit 6 ascii) */
	__u16 str_ascii_data;   /* sizeof(PyASCIIObject): a compact ASCII string's bytes */
	__u16 bytes_size;       /* PyVarObject.ob_size */
	__u16 bytes_data;       /* PyBytesObject.ob_sval */
	__u16 fr_globals;       /* _PyInterpreterFrame.f_globals: the module's dict */
	/* a thread that does not hold the GIL: its state, found in the interpreter's list */
	__u16 ts_next;          /* PyThreadState.next */
	__u16 is_threads_head;  /* PyInterpreterState.threads.head */
	__u16 pad;
	__u64 interp_addr;      /* &_PyRuntime.gilstate.autoInterpreterState: the interpreter */
};

/* TM_EV_PYCODE: a code object (e.addr, run with the module dict e.extra) named by the BPF side
 * the first time a process's stack holds it, before the record whose stack does, so that a
 * process gone before user space reads its memory is still named. Empty strings: not read (not
 * ASCII, unreadable). */
#define TM_PY_NAME_LEN 96
#define TM_PY_FILE_LEN 256
#define TM_PY_LT_LEN 512      /* the location table's first bytes: lines of its first ~600 units */
struct tm_py_code_event {
	struct tm_event e;
	__s32 firstlineno;
	__u32 ltlen;
	char qualname[TM_PY_NAME_LEN];
	char filename[TM_PY_FILE_LEN];
	__u8 lt[TM_PY_LT_LEN];
};

#endif /* TM_PYFRAMES_H */
