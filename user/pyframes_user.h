/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* CPython 3.11 in a traced process: where its interpreter keeps the frame chain (struct
 * tm_py_proc for the BPF side, offsets from the interpreter's DWARF, found by build id under
 * /usr/lib/debug: python3.11-dbg), its code objects read from the process's memory while it
 * lives, and the line of an instruction from a code object's location table. */
#ifndef TM_PYFRAMES_USER_H
#define TM_PYFRAMES_USER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>
#include "pyframes.h"

struct file_ref;
struct procmaps;
struct py_target;

/* Where the process's CPython (its executable or libpython, a mapping of pm) keeps its frames;
 * *tgt (the caller frees it) is what naming its code objects needs. 0, -ENOENT when no mapping
 * is a CPython, or -errno when one is but its layout is unknown or it is not 3.11 (by its
 * Py_Version: -EPROTONOSUPPORT), warned once per file: never guessed. */
int pyframes__target(pid_t pid, const struct procmaps *pm, struct tm_py_proc *out, struct py_target **tgt);

/* A code object as read from the process: qualname, filename (malloc'd), first line, location
 * table (malloc'd, ltlen bytes). 0 or -errno (the process is gone, the object freed). */
struct py_code {
	char *qualname, *filename;
	int firstlineno;
	uint8_t *linetable;
	size_t ltlen;
};
/* Whether a file's name is a CPython's (python3*, libpython3*): the only files looked into. */
bool pyframes__is_cpython(const char *path);
/* The same for the executable f a process exec'd, when it is a non-PIE CPython (its addresses
 * are its symbols' own): set up at once, before its maps are read. f->ino, f->dev: its inode. */
int pyframes__exe_target(const struct file_ref *f, struct tm_py_proc *out, struct py_target **tgt);
/* The inode of the non-PIE executable (its *dev) whose addresses tgt are: the same in every
 * process that runs it; or 0. */
uint64_t pyframes__fixed_exe(const struct py_target *tgt, uint32_t *dev);
/* Whether the process maps a CPython 3.12+ that has -X perf trampolines (each Python function's
 * call goes through a copy of _Py_trampoline_func_start, named in its perf map): the BPF walk
 * then steps over such copies (they have no unwind table). */
bool pyframes__perf_trampolines(pid_t pid, const struct procmaps *pm);
/* The files scanned for the above, freed at the end of the run */
void pyframes__free_all(void);
int pyframes__read_code(pid_t pid, const struct py_target *tgt, uint64_t code, struct py_code *out);
void py_code__free(struct py_code *c);

/* The line of the instruction lasti (in code units; -1: the code's first line) from a 3.11
 * location table (Objects/locations.md), or -1 when it has none. */
int pyframes__line(const uint8_t *lt, size_t len, int firstlineno, int lasti);

/* A stack's Python part (after the native frames): its marker's index, or -1 when it has none. */
int pyframes__split(const uint64_t *ips, int n);
#endif
