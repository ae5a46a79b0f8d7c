/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What is at an address of a traced process: its mapping (from /proc/PID/maps snapshots, kept
 * after the process is gone), the name of the code there (symbol, JIT name, module+offset), and
 * its symbolized stacks, cached per process. */
#ifndef TM_SYMBOLIZE_H
#define TM_SYMBOLIZE_H
#include <stdbool.h>
#include <stdint.h>
#include "view.h"

struct account;
struct proc;
struct map_entry;

/* The name of the code at ip (symbol, JIT name, or module+offset); *known (may be NULL) says
 * whether it is a real name. Interned. */
const char *account__frame_name(struct account *a, struct proc *p, uint64_t ip, bool *known);
/* Symbolized stack of a process (cached), or NULL when the id is an error. */
const struct symstack *account__stack(struct account *a, struct proc *p, int32_t id);
/* The stack if it was symbolized, else NULL: never asks anything. */
const struct symstack *account__cached_stack(const struct proc *p, int32_t id);
/* Find the mapping containing addr, re-reading the process's maps once if they changed. */
const struct map_entry *account__find_map(struct account *a, struct proc *p, uint64_t addr);
/* Read the process's maps now (and tell the kernel where its code needs unwind tables). */
int account__read_maps(struct account *a, struct proc *p);
/* Re-read the maps of live processes that mapped new files (call between event batches). */
void account__refresh_maps(struct account *a);
/* Before the reports: name the frames still unknown from perf maps written since (a JVM writes
 * its map at exit). */
void account__resymbolize(struct account *a);
/* The process is gone: the stacks no live process uses leave the kernel's stack map. */
void account__release_stacks(struct account *a, struct proc *p);
void account__free_stacks(struct proc *p);
void account__free_pycode(struct proc *p);
/* A code object the BPF side named (the process may be gone before user space reads it). */
struct tm_py_code_event;
void account__py_code(struct account *a, struct proc *p, const struct tm_py_code_event *x);
/* The frame_maps the stacks point to (after every process's stacks are freed). */
void account__free_frame_maps(struct account *a);
#endif
