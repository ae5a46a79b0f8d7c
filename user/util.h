/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Small helpers every user-space module uses: errors, allocation, growable arrays. */
#ifndef TM_UTIL_H
#define TM_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

/* One-line user-facing error: "taskmem-trace: ..." on stderr (bpftool's p_err). */
void p_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void p_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern bool verbose;

void *xcalloc(size_t n, size_t size);
void *xmalloc(size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);

/* Grow *arr (of *cap elements of size esz) so that it holds at least need elements. */
void grow(void **arr, size_t *cap, size_t need, size_t esz);
#define GROW(arr, cap, need) grow((void **)&(arr), &(cap), (need), sizeof(*(arr)))

/* The chance, times 2^32 (at least 1), that a Poisson process of one point every mean bytes on
 * average hits a range of len bytes: 1 - exp(-len / mean) (--sample-bytes); 0 for mean 0. */
uint32_t poisson_chance32(uint64_t mean, uint64_t len);
uint64_t now_ns(void); /* CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns */
const char *basename_of(const char *path);
/* The whole of a file (a /proc file: its size is not known before), NUL-terminated, at most
 * max bytes (the rest is not read); 0 or -errno. */
int read_whole(const char *path, size_t max, char **out, size_t *len);
/* "Key:\t123 kB" or "Key:\t123" of a /proc/PID/status text (key "\nKey:"); 0 if it is not there */
uint64_t status_value(const char *text, const char *key);
/* The process has exited: no such pid, or a zombie its parent has not reaped (kill(pid, 0)
 * still answers for one, and its exit event may be long gone). */
bool pid_gone(pid_t pid);
/* Run by sudo as root: the invoking user (SUDO_UID, SUDO_GID); false if not, or for root. */
bool sudo_user(uid_t *uid, gid_t *gid);
/* A stat() st_dev as the kernel's own dev_t (major << 20 | minor), as BPF reads s_dev */
uint32_t kernel_dev(dev_t dev);

#endif
