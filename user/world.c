// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "elfsyms.h"
#include "perfmap.h"
#include "unwind.h"
#include "util.h"
#include "world.h"

struct world {
	struct world_opts o;
	struct unwind_cache *unwind; /* files with unwind tables (NULL: frame pointers only) */
};

struct world *world__new(const struct world_opts *o)
{
	struct world *w = xcalloc(1, sizeof(*w));

	w->o = *o;
	if (o->load_unwind && o->commit_unwind && o->set_unwind) {
		w->unwind = unwind__cache_new(o->load_unwind, o->commit_unwind, o->ctx);
		unwind__preload(w->unwind);
	}
	return w;
}

void world__free(struct world *w)
{
	if (!w)
		return;
	unwind__cache_free(w->unwind);
	free(w);
}

int world__read_maps(struct world *w, pid_t pid, struct procmaps *pm)
{
	return procmaps__read(pm, pid);
}

int world__owner(struct world *w, pid_t pid, uid_t *uid)
{
	char path[32];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d", pid);
	if (stat(path, &st))
		return -errno;
	*uid = st.st_uid;
	return 0;
}

int world__exe(struct world *w, pid_t pid, char *buf, size_t len)
{
	char fn[64];
	ssize_t n;

	snprintf(fn, sizeof(fn), "/proc/%d/exe", pid);
	n = readlink(fn, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return (int)n;
}

bool world__exec_file(struct world *w, const char *given, uint64_t ino, uint32_t dev, char *real, size_t len)
{
	char buf[PATH_MAX];
	struct stat st;

	if (!realpath(given, buf) || stat(buf, &st) || st.st_ino != ino || kernel_dev(st.st_dev) != dev)
		return false;
	snprintf(real, len, "%s", buf);
	return true;
}

char *world__proc_text(struct world *w, pid_t pid, const char *name)
{
	char path[64], *buf = NULL;
	size_t cap = 0, len = 0, r;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	do {
		GROW(buf, cap, len + 65536);
		r = fread(buf + len, 1, cap - len - 1, f);
		len += r;
	} while (r);
	fclose(f);
	buf[len] = 0;
	return buf;
}

const char *world__symbol(struct world *w, const char *path, uint64_t file_off, uint64_t *sym_off)
{
	const struct elf_syms *es = elfsyms__get(path);

	return es ? elfsyms__lookup(es, file_off, sym_off) : NULL;
}

bool world__is_go(struct world *w, const char *path)
{
	return elfsyms__is_go(elfsyms__get(path));
}

bool world__text_offset(struct world *w, const char *path, uint64_t *off)
{
	return elfsyms__text_offset(elfsyms__get(path), off);
}

const char *world__perfmap(struct world *w, pid_t pid, uid_t uid, uint64_t ip)
{
	return perfmap__lookup(pid, uid, w->o.perfmap_not_before, ip);
}

void world__perfmap_expire(struct world *w)
{
	perfmap__expire();
}

int world__read_stack(struct world *w, int32_t id, uint64_t *ips, int max)
{
	return w->o.read_stack ? w->o.read_stack(w->o.ctx, id, ips, max) : -ENOSYS;
}

void world__drop_stack(struct world *w, int32_t id)
{
	if (w->o.drop_stack)
		w->o.drop_stack(w->o.ctx, id);
}

int world__exit_info(struct world *w, uint32_t tgid, struct tm_exit *out)
{
	return w->o.exit_info ? w->o.exit_info(w->o.ctx, tgid, out) : -ENOSYS;
}

int world__set_unwind(struct world *w, pid_t pid, const struct procmaps *pm)
{
	struct tm_unwind_proc up;
	int err;

	if (!w->unwind)
		return 0;
	unwind__proc_ranges(w->unwind, pm, &up);
	err = w->o.set_unwind(w->o.ctx, (uint32_t)pid, &up);
	return err < 0 ? err : err ? -EIO : 0;
}

void world__unwind_stats(struct world *w, size_t *tables, size_t *skipped, size_t *rows)
{
	*tables = *skipped = *rows = 0;
	if (w->unwind)
		unwind__stats(w->unwind, tables, skipped, rows);
}
