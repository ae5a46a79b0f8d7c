// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "procmaps.h"
#include "strtab.h"
#include "util.h"

int procmaps__parse(struct procmaps *pm, const char *text)
{
	const char *line = text;

	pm->n = 0;
	pm->gen++;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		char buf[4096 + 256], perms[8] = "", path[4096] = "";
		unsigned long long start, end, off, ino;
		unsigned int major, minor;
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		struct map_entry *m;
		int n;

		if (len >= sizeof(buf))
			len = sizeof(buf) - 1;
		memcpy(buf, line, len);
		buf[len] = 0;
		line = nl ? nl + 1 : NULL;
		n = sscanf(buf, "%llx-%llx %7s %llx %x:%x %llu %4095[^\n]", &start, &end, perms, &off, &major, &minor,
			   &ino, path);
		if (n < 7 || end <= start)
			continue; /* a malformed line is skipped, not trusted */
		GROW(pm->e, pm->cap, pm->n + 1);
		m = &pm->e[pm->n++];
		m->start = start;
		m->end = end;
		m->off = off;
		m->ino = ino;
		m->dev = (major & 0xfff) << 20 | (minor & 0xfffff);
		m->exec = perms[2] == 'x';
		m->write = perms[1] == 'w';
		m->shared = perms[3] == 's';
		{
			char *p = path;

			while (*p == ' ')
				p++;
			m->path = intern(p);
		}
	}
	return 0;
}

/* A process's maps are at most 65,530 mappings (vm.max_map_count) of a line each: 256 MiB is
 * far beyond that, and bounds what a hostile one costs */
#define PROCMAPS_MAX (256u << 20)

int procmaps__read_text(pid_t pid, char **out, size_t *outlen)
{
	char fn[64];
	int err;

	snprintf(fn, sizeof(fn), "/proc/%d/maps", pid);
	err = read_whole(fn, PROCMAPS_MAX, out, outlen);
	if (!err && !*outlen) { /* a zombie's maps are empty: keep the old snapshot */
		free(*out);
		*out = NULL;
		err = -ESRCH;
	}
	return err;
}

int procmaps__read(struct procmaps *pm, pid_t pid)
{
	char *text;
	size_t len;
	int err = procmaps__read_text(pid, &text, &len);

	if (!err)
		err = procmaps__parse(pm, text);
	free(text);
	return err;
}

const struct map_entry *procmaps__find(const struct procmaps *pm, uint64_t addr)
{
	size_t lo = 0, hi = pm->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (addr < pm->e[mid].start)
			hi = mid;
		else if (addr >= pm->e[mid].end)
			lo = mid + 1;
		else
			return &pm->e[mid];
	}
	return NULL;
}

void procmaps__copy(struct procmaps *dst, const struct procmaps *src)
{
	dst->n = 0;
	dst->gen++;
	GROW(dst->e, dst->cap, src->n);
	if (src->n)
		memcpy(dst->e, src->e, src->n * sizeof(*src->e));
	dst->n = src->n;
}

void procmaps__clear(struct procmaps *pm)
{
	free(pm->e);
	pm->e = NULL;
	pm->n = pm->cap = 0;
}
