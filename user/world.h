/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The one gateway through which the accounting core learns anything outside the event stream:
 * /proc files of traced processes, the files they run (symbols, exec checks), perf maps of JIT
 * code, and the kernel side (stack map, exit records, unwind tables). Every answer is a plain
 * value, so that a run can be recorded and its answers replayed. Nothing else in the core opens
 * a file under /proc, reads an ELF file or a perf map, or calls into the tracer.
 * Recording (world_opts.record) writes each question and its answer where it is asked, between
 * the events; replaying (world_opts.replay) answers each question with the next record, refuses
 * a question that differs from the recorded one, and touches neither the system nor the kernel
 * (loading unwind tables and freeing stacks are then no-ops). */
#ifndef TM_WORLD_H
#define TM_WORLD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>
#include <linux/types.h>
#include "procmaps.h"
#include "recording.h"
#include "taskmem.h"
#include "pyframes.h"

struct world_opts {
	/* Read stack id's frames from the kernel's stack map; returns frame count or -errno. */
	int (*read_stack)(void *ctx, int32_t id, uint64_t *ips, int max);
	/* Free a stack id in the kernel's stack map (no live process needs it any more). */
	void (*drop_stack)(void *ctx, int32_t id);
	/* How a process ended, when its exit record was lost; 0 or -errno. */
	int (*exit_info)(void *ctx, uint32_t tgid, struct tm_exit *out);
	/* Load an unwind table (struct unwind_table *) into the kernel: its index, or -errno.
	 * NULL: stacks are walked by frame pointers only. */
	int (*load_unwind)(void *ctx, const void *table);
	/* Put the tables loaded since the last call in place; 0 or -errno. */
	int (*commit_unwind)(void *ctx);
	/* Tell the kernel which of tgid's text mappings the tables cover, and where its CPython
	 * keeps its frames (NULL: not one, or --c-frames-only); 0 or -errno. */
	int (*set_unwind)(void *ctx, uint32_t tgid, const struct tm_unwind_proc *up, const struct tm_py_proc *py);
	/* Where tgid's CPython keeps its frames, ahead of set_unwind (optional), and the
	 * non-PIE executable (inode, device; 0: none) they are in; 0 or -errno. */
	int (*set_python)(void *ctx, uint32_t tgid, const struct tm_py_proc *py, uint64_t ino, uint32_t dev);
	/* Add ranges to tgid's (tables loaded after its maps were read); 0 or -errno. With
	 * on_poll, tables are built on a worker thread, loaded at each poll of the event loop;
	 * without, as a process's maps are read. */
	int (*add_unwind)(void *ctx, uint32_t tgid, const struct tm_unwind_range *r, uint32_t n);
	/* Have fn(arg) called at every poll of the event loop (NULL: no more); the loop polls no
	 * more once the world is freed */
	void (*on_poll)(void *ctx, void (*fn)(void *arg), void *arg);
	void *ctx;
	time_t perfmap_not_before; /* perf maps older than this belong to an earlier pid */
	pid_t hold_pid;            /* the launched command, held at its start for its tables (unwind__hold) */
	bool c_frames_only;        /* --c-frames-only: no CPython frames are read */
	struct rec_writer *record; /* record every answer here */
	struct rec_reader *replay; /* answer from here only (the callbacks above are unused) */
	const char *replay_path;   /* for the messages */
};

struct world;
/* With unwind callbacks, the common C libraries' tables are loaded now. */
struct world *world__new(const struct world_opts *o);
void world__free(struct world *w);

/* ---- processes ---- */
/* /proc/PID/maps into pm (replacing it); 0 or -errno (gone, or a zombie: pm kept). */
int world__read_maps(struct world *w, pid_t pid, struct procmaps *pm);
/* The owner of the process; 0 or -errno (*uid untouched). */
int world__owner(struct world *w, pid_t pid, uid_t *uid);
/* The path of the file the process runs (/proc/PID/exe); its length, or -errno. */
int world__exe(struct world *w, pid_t pid, char *buf, size_t len);
/* Is the path execve was given, resolved from the tool's cwd (into real), the file with this
 * inode and (kernel) device? */
bool world__exec_file(struct world *w, const char *given, uint64_t ino, uint32_t dev, char *real, size_t len);
/* /proc/PID/NAME (status, smaps, stat) as text (caller frees), or NULL. */
char *world__proc_text(struct world *w, pid_t pid, const char *name);

/* ---- files ---- */
/* A traced process's files are opened through the process (struct file_ref, util.h), never by
 * their path in the tool's root; recorded and replayed by their path. */
struct file_ref;
/* The symbol of the ELF file containing file_off (raw, not demangled), or NULL; *sym_off is the
 * offset into it. */
const char *world__symbol(struct world *w, const struct file_ref *f, uint64_t file_off, uint64_t *sym_off);
bool world__is_go(struct world *w, const struct file_ref *f);
/* The GNU build id of the ELF file, in hex (interned), or NULL. */
const char *world__build_id(struct world *w, const struct file_ref *f);
/* File offset of the file's first executable segment. */
bool world__text_offset(struct world *w, const struct file_ref *f, uint64_t *off);
/* JIT code at ip from the process's /tmp/perf-NSPID.map (under its root, by its pid in its pid
 * namespace; trusted if owned by root or uid, only root's while uid is -1): interned, or NULL. */
const char *world__perfmap(struct world *w, pid_t pid, uid_t uid, uint64_t ip);
/* The next perf map lookups read the files again (runtimes write them at exit). */
void world__perfmap_expire(struct world *w);
/* The time of the event the core handles now (its questions are about what happened then: a
 * perf map read before it may lack the entry of code that ran) */
void world__event_time(struct world *w, uint64_t ts);

/* ---- the kernel side ---- */
int world__read_stack(struct world *w, int32_t id, uint64_t *ips, int max);
void world__drop_stack(struct world *w, int32_t id);
int world__exit_info(struct world *w, uint32_t tgid, struct tm_exit *out);
/* The process's text mappings in pm that need unwind tables go to the kernel (tables loaded on
 * first sight); 0 (also without unwind tables) or -errno. */
int world__set_unwind(struct world *w, pid_t pid, const struct procmaps *pm);
/* A CPython code object of the process (whose maps gave world__set_unwind its interpreter),
 * read from its memory: 0 and *out filled (the caller frees it, py_code__free), or -errno. */
/* A process exec'd the file f (ino, dev: its inode; given: the path execve ran): if it is a
 * non-PIE CPython, the kernel side reads its frames from now on (a short process is gone before
 * its maps are read). Asks nothing of the recording: the core learns nothing from it. */
void world__py_exec(struct world *w, pid_t pid, const struct file_ref *f, const char *given);
struct py_code;
int world__py_code(struct world *w, pid_t pid, uint64_t code, struct py_code *out);
/* pid exec'd at ts: if it is the launched command (world_opts.hold_pid), it is stopped now and
 * kept so while the maps read that follows finds unwind tables of its files being built
 * (unwind__hold). Live runs only: the core's questions and answers are the same without it. */
void world__exec_hold(struct world *w, pid_t pid, uint64_t ts);
/* The tree was told to stop (the command goes on now), or the command was reaped (gone: its
 * pid is not signalled again): it is never held again */
void world__hold_end(struct world *w, bool gone);
/* Whether the command is held now */
bool world__holding(const struct world *w);
void world__unwind_stats(struct world *w, size_t *tables, size_t *skipped, size_t *rows);

/* Replay: why the recording was refused (a one-line message), or NULL while all is well. */
const char *world__replay_error(const struct world *w);
/* Replay: the recording cannot be read on (its reader said why, or msg says). */
void world__replay_fail(struct world *w, const char *msg);
#endif
