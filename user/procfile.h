/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Files of traced processes (their code, their perf maps) opened through the process, never by
 * a path from their maps in the tool's own root, and never a FIFO, device or socket. */
#ifndef TM_PROCFILE_H
#define TM_PROCFILE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct stat;

/* Open a file of the tool's own (tests, the C libraries it preloads): read-only, never
 * blocking, regular files only (found by O_PATH and fstat first: a FIFO or a device planted
 * under the name is never opened); -1 otherwise. Read it with pread (libelf's ELF_C_READ, or
 * into memory of one's own as unwind.c does), never through a mapping: a program that truncates
 * the file meanwhile would turn a mapped read into SIGBUS. */
int open_regular(const char *path);

/* A file a traced process maps (or runs), as the process names it. Opened through the process,
 * never by its path in the tool's own root: /proc/PID/exe (exe), /proc/PID/map_files/START-END
 * (works for deleted files and other mount namespaces), else path under /proc/PID/root
 * (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS); then only a regular file with this device
 * and inode is read. */
struct file_ref {
	pid_t pid;
	uint64_t start, end; /* the mapping (0, 0: none) */
	uint64_t ino;        /* 0: unknown, only /proc/PID/exe is then trusted */
	uint32_t dev;        /* as the kernel's dev_t (kernel_dev) */
	const char *path;    /* as the process sees it: its maps, /proc/PID/exe */
	bool exe;            /* the process's executable */
	/* path is the tool's own, not the process's (the file execve was given, resolved by the
	 * tool after the process was gone): opened in the tool's root, with ino and dev checked */
	bool own_root;
};
/* A read-only, never blocking fd of the file, its stat in *st; -errno: -ESTALE when what was
 * found is not the mapping's regular file (counted: files_refused), -ENOENT when nothing was. */
int open_ref(const struct file_ref *r, struct stat *st);
/* Keep the file a live process maps at [start, end) at hand (O_PATH, by device and inode, at
 * most a few hundred) until unpinned: its frames are named after the process is gone (a short
 * one exits before its events are read). */
void file_pin(pid_t pid, uint64_t start, uint64_t end, uint32_t dev, uint64_t ino);
void file_unpin(uint32_t dev, uint64_t ino);
void file_unpin_all(void);
/* Files of traced processes not read: what their path led to was not the mapped file */
size_t files_refused(void);
/* "dev:ino", interned: the key of the caches of files (hard links, bind mounts: one file) */
const char *file_key(uint32_t dev, uint64_t ino);
/* path in the root directory dfd (a process's /proc/PID/root, opened O_PATH): symlinks stay
 * inside it, magic links are refused, the last component is not followed (nofollow); then as
 * open_ref, a regular file only, read-only. fd or -errno. */
int open_in(int dfd, const char *path, bool nofollow, struct stat *st);
#endif
