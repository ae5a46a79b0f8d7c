// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Files of traced processes, opened through the process (the OpenTelemetry profiler's
 * OpenMappingFile / openInRoot): what a path in their maps names is theirs to choose. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
#include "hashmap.h"
#include "procfile.h"
#include "strtab.h"
#include "util.h"

/* pfd (O_PATH, kept open) reopened for reading if it is a regular file with this inode and
 * device (ino 0: any); -ESTALE if it is not. The O_PATH fd pins the inode fstat saw: the reopen
 * through /proc/self/fd is that file, whatever its path names by now. */
static int reopen(int pfd, uint64_t ino, uint32_t dev, struct stat *st)
{
	char self[32];
	int fd;

	if (fstat(pfd, st) || !S_ISREG(st->st_mode) || (ino && (st->st_ino != ino || kernel_dev(st->st_dev) != dev)))
		return -ESTALE;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	fd = open(self, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* The same, for an O_PATH open's result (closed here; -1: errno says why) */
static int reopen_checked(int pfd, uint64_t ino, uint32_t dev, struct stat *st)
{
	int fd;

	if (pfd < 0)
		return errno == ENOENT || errno == ESRCH ? -ENOENT : -errno;
	fd = reopen(pfd, ino, dev, st);
	close(pfd);
	return fd;
}

int open_regular(const char *path)
{
	struct stat st;
	int fd = reopen_checked(open(path, O_PATH | O_CLOEXEC), 0, 0, &st);

	return fd < 0 ? -1 : fd;
}

static size_t refused;

size_t files_refused(void)
{
	return refused;
}

const char *file_key(uint32_t dev, uint64_t ino)
{
	char key[48];

	snprintf(key, sizeof(key), "%x:%llx", dev, (unsigned long long)ino);
	return intern(key);
}

/* path resolved with dfd as its root: an O_PATH fd, or -1 (errno) */
static int openat_in(int dfd, const char *path, bool nofollow)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0),
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };

	return (int)syscall(SYS_openat2, dfd, path, &how, sizeof(how)); /* glibc 2.36 has no wrapper */
}

int open_in(int dfd, const char *path, bool nofollow, struct stat *st)
{
	return reopen_checked(openat_in(dfd, path, nofollow), 0, 0, st);
}

/* path resolved with /proc/PID/root as its root: an O_PATH fd, or -1 (errno) */
static int open_in_root(pid_t pid, const char *path)
{
	char root[32];
	int dfd, fd, err;

	snprintf(root, sizeof(root), "/proc/%d/root", pid);
	dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	fd = openat_in(dfd, path, false);
	err = errno;
	close(dfd);
	errno = err;
	return fd;
}

/* Files pinned while their processes live (file_key -> O_PATH fd + 1): at most PIN_MAX, the
 * oldest let go first (ring: the keys in pinning order) */
#define PIN_MAX 256
static struct hashmap *pins;
static size_t npins, ring_pos;
static const char *ring[PIN_MAX];

static void unpin_key(const char *key)
{
	uint64_t *slot = pins ? hashmap__find(pins, (uint64_t)(uintptr_t)key) : NULL;

	if (!slot)
		return;
	close((int)(*slot - 1));
	hashmap__delete(pins, (uint64_t)(uintptr_t)key);
	npins--;
}

void file_pin(pid_t pid, uint64_t start, uint64_t end, uint32_t dev, uint64_t ino)
{
	const char *key = file_key(dev, ino);
	char p[80];
	struct stat st;
	uint64_t *slot;
	bool created;
	int fd;

	if (pins && hashmap__find(pins, (uint64_t)(uintptr_t)key))
		return;
	snprintf(p, sizeof(p), "/proc/%d/map_files/%llx-%llx", pid, (unsigned long long)start, (unsigned long long)end);
	fd = open(p, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_ino != ino || kernel_dev(st.st_dev) != dev) {
		close(fd);
		return;
	}
	if (!pins)
		pins = hashmap__new();
	if (ring[ring_pos]) /* every pinned key holds a slot: at most PIN_MAX pinned */
		unpin_key(ring[ring_pos]);
	ring[ring_pos] = key;
	ring_pos = (ring_pos + 1) % PIN_MAX;
	slot = hashmap__upsert(pins, (uint64_t)(uintptr_t)key, &created);
	*slot = (uint64_t)fd + 1;
	npins++;
}

void file_unpin(uint32_t dev, uint64_t ino)
{
	if (npins)
		unpin_key(file_key(dev, ino));
}

void file_unpin_all(void)
{
	size_t pos = 0;
	uint64_t k, v;

	while (pins && hashmap__next(pins, &pos, &k, &v))
		close((int)(v - 1));
	hashmap__free(pins);
	pins = NULL;
	npins = ring_pos = 0;
	memset(ring, 0, sizeof(ring));
}

int open_ref(const struct file_ref *r, struct stat *st)
{
	uint64_t *pin = r->ino && npins ? hashmap__find(pins, (uint64_t)(uintptr_t)file_key(r->dev, r->ino)) : NULL;
	char p[80];
	int fd = -ENOENT, e;

	if (pin) {
		fd = reopen((int)(*pin - 1), r->ino, r->dev, st);
		if (fd >= 0)
			return fd;
		fd = -ENOENT;
	}
	if (r->own_root) { /* checked: only the file with this identity */
		fd = r->ino ? reopen_checked(open(r->path, O_PATH | O_CLOEXEC), r->ino, r->dev, st) : -ENOENT;
		goto out;
	}
	if (r->pid <= 0)
		return -ENOENT;
	if (r->exe) {
		snprintf(p, sizeof(p), "/proc/%d/exe", r->pid);
		e = reopen_checked(open(p, O_PATH | O_CLOEXEC), r->ino, r->dev, st);
		if (e >= 0)
			return e;
		fd = fd == -ESTALE ? fd : e;
	}
	if (r->end > r->start) { /* the mapping's own file: never a FIFO, but a device can be mapped */
		snprintf(p, sizeof(p), "/proc/%d/map_files/%llx-%llx", r->pid, (unsigned long long)r->start,
			 (unsigned long long)r->end);
		e = reopen_checked(open(p, O_PATH | O_CLOEXEC), r->ino, r->dev, st);
		if (e >= 0)
			return e;
		fd = fd == -ESTALE ? fd : e;
	}
	/* the process's own root, and only the file the maps name (a path planted at
	 * "lib.so (deleted)" is another) */
	if (r->ino && r->path && r->path[0] == '/') {
		e = reopen_checked(open_in_root(r->pid, r->path), r->ino, r->dev, st);
		if (e >= 0)
			return e;
		fd = fd == -ESTALE ? fd : e;
	}
out:
	if (fd == -ESTALE) {
		refused++;
		if (verbose)
			p_warn("not read: %s of process %d is not the file it maps", r->path, r->pid);
	}
	return fd;
}
