// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cgroup.h"
#include "util.h"

#define RUN_PREFIX "taskmem-trace-"

struct cgroup {
	int version;
	bool own;        /* made for this run: removed at its end */
	char path[4200];
};

/* Where the memory controller is mounted: v2 if memory is among cgroup2's controllers, else
 * the v1 hierarchy that has it. 1 or 2, or -ENOENT. */
static int memory_root(char *root, size_t len)
{
	char *mounts = NULL, *line, *save = NULL, v1[4096] = "";
	size_t n;
	int found = -ENOENT;

	if (read_whole("/proc/self/mounts", 1 << 20, &mounts, &n))
		return -ENOENT;
	for (line = strtok_r(mounts, "\n", &save); line && found != 2; line = strtok_r(NULL, "\n", &save)) {
		char dev[256], dir[4096], type[64], opts[1024], ctl[8192] = "", *buf = NULL, *o, *osave = NULL;
		size_t bl;

		if (sscanf(line, "%255s %4095s %63s %1023s", dev, dir, type, opts) != 4)
			continue;
		if (!strcmp(type, "cgroup2")) {
			snprintf(ctl, sizeof(ctl), "%s/cgroup.controllers", dir);
			if (!read_whole(ctl, 4096, &buf, &bl) && (strstr(buf, "memory ") || strstr(buf, "memory\n") ||
								 (bl >= 6 && !strcmp(buf + bl - 6, "memory")))) {
				snprintf(root, len, "%s", dir);
				found = 2;
			}
			free(buf);
		} else if (!strcmp(type, "cgroup") && !v1[0]) {
			for (o = strtok_r(opts, ",", &osave); o; o = strtok_r(NULL, ",", &osave))
				if (!strcmp(o, "memory"))
					snprintf(v1, sizeof(v1), "%s", dir);
		}
	}
	free(mounts);
	if (found != 2 && v1[0]) {
		snprintf(root, len, "%s", v1);
		found = 1;
	}
	return found;
}

static int write_file(const char *dir, const char *name, const char *val)
{
	char path[4200];
	ssize_t w;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	w = write(fd, val, strlen(val));
	if (w < 0)
		err = -errno;
	close(fd);
	return err;
}

/* A cgroup dies with its last process, but rmdir may race the kernel's release of a process
 * just reaped: a few tries. */
static int remove_dir(const char *path)
{
	int i;

	for (i = 0; i < 20; i++) {
		if (!rmdir(path) || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return -errno;
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000000 }, NULL);
	}
	return -EBUSY;
}

/* Run cgroups whose tool is gone (killed with SIGKILL, which leaves no chance to clean up):
 * removed if empty; one that still holds processes is left alone. */
static void remove_stale(const char *root)
{
	DIR *d = opendir(root);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[4400], *end;
		long pid;

		if (strncmp(e->d_name, RUN_PREFIX, strlen(RUN_PREFIX)))
			continue;
		pid = strtol(e->d_name + strlen(RUN_PREFIX), &end, 10);
		if (*end || pid <= 0 || pid == getpid() || !(kill((pid_t)pid, 0) && errno == ESRCH))
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, e->d_name);
		if (!rmdir(path) && verbose)
			fprintf(stderr, "removed a stale cgroup %s\n", path);
	}
	if (d)
		closedir(d);
}

int cgroup__create(struct cgroup **out, uint64_t limit)
{
	struct cgroup *cg = xcalloc(1, sizeof(*cg));
	char root[4096], val[32];
	int v = memory_root(root, sizeof(root)), err;

	*out = NULL;
	if (v < 0) {
		free(cg);
		return v;
	}
	remove_stale(root);
	if (v == 2) /* the root may hand memory down; a child cgroup cannot without it */
		write_file(root, "cgroup.subtree_control", "+memory");
	cg->version = v;
	cg->own = true;
	snprintf(cg->path, sizeof(cg->path), "%s/" RUN_PREFIX "%d", root, (int)getpid());
	if (mkdir(cg->path, 0755) && errno != EEXIST) {
		err = -errno;
		free(cg);
		return err == -EROFS || err == -EACCES || err == -EPERM ? err : -ENOENT;
	}
	/* v1 charges no socket to a cgroup whose kmem.tcp limit was never written (kmem.tcp
	 * stays 0): writing "no limit" turns the accounting on. Without it (nokmem), sockets read 0. */
	if (v == 1)
		write_file(cg->path, "memory.kmem.tcp.limit_in_bytes", "-1");
	if (limit != CG_NO_LIMIT) {
		snprintf(val, sizeof(val), "%" PRIu64, limit);
		err = write_file(cg->path, v == 1 ? "memory.limit_in_bytes" : "memory.max", val);
		if (err) {
			cgroup__remove(cg);
			return err;
		}
	}
	*out = cg;
	return 0;
}

int cgroup__open_pid(struct cgroup **out, pid_t pid)
{
	char root[4096], path[64], *text = NULL, *line, *save = NULL;
	struct cgroup *cg;
	size_t n;
	int v = memory_root(root, sizeof(root)), err = -ENOENT;

	*out = NULL;
	if (v < 0)
		return v;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (read_whole(path, 1 << 16, &text, &n))
		return -ENOENT;
	cg = xcalloc(1, sizeof(*cg));
	cg->version = v;
	/* "N:memory:/path" (v1, controllers comma-separated) or "0::/path" (v2) */
	for (line = strtok_r(text, "\n", &save); line && err; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		*c2 = 0;
		if (v == 2 ? !strcmp(line, "0") && c2 == c1 + 1 : !!strstr(c1 + 1, "memory")) {
			snprintf(cg->path, sizeof(cg->path), "%s%s", root, strcmp(c2 + 1, "/") ? c2 + 1 : "");
			err = 0;
		}
	}
	free(text);
	if (err) {
		free(cg);
		return err;
	}
	*out = cg;
	return 0;
}

int cgroup__add(struct cgroup *cg, pid_t pid)
{
	char val[32];

	snprintf(val, sizeof(val), "%d", (int)pid);
	return write_file(cg->path, "cgroup.procs", val);
}

int cgroup__read_u64(const struct cgroup *cg, const char *file, uint64_t *val)
{
	char path[4400], *text = NULL, *end;
	size_t n;
	int err;

	snprintf(path, sizeof(path), "%s/%s", cg->path, file);
	err = read_whole(path, 64, &text, &n);
	if (err)
		return err;
	if (!strncmp(text, "max", 3)) {
		*val = CG_NO_LIMIT;
	} else {
		errno = 0;
		*val = strtoull(text, &end, 10);
		if (errno || end == text)
			err = -EINVAL;
	}
	free(text);
	return err;
}

/* "key value" lines (memory.stat, memory.events, memory.oom_control) */
static int read_key(const struct cgroup *cg, const char *file, const char *key, uint64_t *val)
{
	char path[4400], *text = NULL, *line, *save = NULL;
	size_t n, kl = strlen(key);
	int err;

	snprintf(path, sizeof(path), "%s/%s", cg->path, file);
	err = read_whole(path, 1 << 16, &text, &n);
	if (err)
		return err;
	err = -ENOENT;
	for (line = strtok_r(text, "\n", &save); line && err; line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, key, kl) && line[kl] == ' ') {
			*val = strtoull(line + kl + 1, NULL, 10);
			err = 0;
		}
	free(text);
	return err;
}

int cgroup__stat(const struct cgroup *cg, const char *key, uint64_t *val)
{
	return read_key(cg, "memory.stat", key, val);
}

int cgroup__read(const struct cgroup *cg, struct cg_counters *c)
{
	int err;

	memset(c, 0, sizeof(*c));
	if (cg->version == 1) {
		err = cgroup__read_u64(cg, "memory.usage_in_bytes", &c->usage);
		if (err)
			return err;
		cgroup__read_u64(cg, "memory.max_usage_in_bytes", &c->max_usage);
		cgroup__read_u64(cg, "memory.limit_in_bytes", &c->limit);
		cgroup__read_u64(cg, "memory.failcnt", &c->failcnt);
		read_key(cg, "memory.oom_control", "oom_kill", &c->oom_kill);
		cgroup__read_u64(cg, "memory.kmem.usage_in_bytes", &c->kmem);
		cgroup__read_u64(cg, "memory.kmem.max_usage_in_bytes", &c->kmem_max);
		cgroup__read_u64(cg, "memory.kmem.tcp.usage_in_bytes", &c->sock);
		/* v1 says "no limit" with the largest page-aligned count */
		if (c->limit >= (UINT64_MAX >> 2))
			c->limit = CG_NO_LIMIT;
		return 0;
	}
	err = cgroup__read_u64(cg, "memory.current", &c->usage);
	if (err)
		return err;
	cgroup__read_u64(cg, "memory.peak", &c->max_usage);
	if (cgroup__read_u64(cg, "memory.max", &c->limit))
		c->limit = CG_NO_LIMIT; /* the root has none */
	read_key(cg, "memory.events", "max", &c->failcnt);
	read_key(cg, "memory.events", "oom", &c->oom);
	read_key(cg, "memory.events", "oom_kill", &c->oom_kill);
	read_key(cg, "memory.stat", "kernel", &c->kmem);
	read_key(cg, "memory.stat", "sock", &c->sock);
	read_key(cg, "memory.stat", "slab", &c->slab);
	read_key(cg, "memory.stat", "kernel_stack", &c->kernel_stack);
	read_key(cg, "memory.stat", "pagetables", &c->pagetables);
	return 0;
}

bool cgroup__limited(const struct cgroup *cg)
{
	struct cgroup up = *cg;
	char root[4096], *slash;
	uint64_t v;

	if (cg->version == 1)
		return !read_key(cg, "memory.stat", "hierarchical_memory_limit", &v) && v < (UINT64_MAX >> 2);
	if (memory_root(root, sizeof(root)) != 2)
		return false;
	/* the root has no memory.max: the walk ends there */
	while (strlen(up.path) > strlen(root)) {
		if (!cgroup__read_u64(&up, "memory.max", &v) && v != CG_NO_LIMIT)
			return true;
		slash = strrchr(up.path, '/');
		if (!slash)
			break;
		*slash = 0;
	}
	return false;
}

const char *cgroup__path(const struct cgroup *cg)
{
	return cg->path;
}

int cgroup__version(const struct cgroup *cg)
{
	return cg->version;
}

int cgroup__remove(struct cgroup *cg)
{
	int err = 0;

	if (!cg)
		return 0;
	if (cg->own)
		err = remove_dir(cg->path);
	free(cg);
	return err;
}
