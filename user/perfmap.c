// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "hashmap.h"
#include "perfmap.h"
#include "strtab.h"
#include "util.h"

#define MAX_MAP_BYTES (512ull << 20) /* a hostile program must not make us read forever */
#define MAX_OVERLAP_SCAN 64

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A hex number with an optional 0x, then at least one blank; advances *p. */
static int hexfield(const char **p, const char *end, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int digits = 0, h;

	if (end - s > 2 && s[0] == '0' && (s[1] | 0x20) == 'x')
		s += 2;
	for (; s < end && (h = hexval(*s)) >= 0; s++, digits++) {
		if (digits == 16)
			return -1;
		v = v << 4 | (uint64_t)h;
	}
	if (!digits || s == end || (*s != ' ' && *s != '\t'))
		return -1;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	*p = s;
	*out = v;
	return 0;
}

size_t perfmap__parse(struct perfmap *pm, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *nl;
	size_t used = 0;

	while (p < end && (nl = memchr(p, '\n', end - p))) {
		const char *q = p, *ne = nl;
		uint64_t start, size;

		used = nl + 1 - text;
		if (ne > q && ne[-1] == '\r')
			ne--;
		if (!hexfield(&q, ne, &start) && !hexfield(&q, ne, &size) && size && q < ne &&
		    start + size > start) {
			size_t nlen = ne - q;

			GROW(pm->s, pm->cap, pm->n + 1);
			GROW(pm->names, pm->names_cap, pm->names_len + nlen + 1);
			memcpy(pm->names + pm->names_len, q, nlen);
			pm->names[pm->names_len + nlen] = 0;
			pm->s[pm->n++] = (struct pm_sym){ start, start + size, pm->seq, (uint32_t)pm->names_len };
			pm->names_len += nlen + 1;
		}
		pm->seq++;
		p = nl + 1;
	}
	return used;
}

static int sym_cmp(const void *a, const void *b)
{
	const struct pm_sym *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

const char *perfmap__find(struct perfmap *pm, uint64_t ip)
{
	size_t lo = 0, hi, i, k;
	const struct pm_sym *best = NULL;

	if (pm->sorted != pm->n) {
		qsort(pm->s, pm->n, sizeof(*pm->s), sym_cmp);
		pm->sorted = pm->n;
	}
	hi = pm->n;
	while (lo < hi) { /* first entry starting above ip */
		size_t mid = (lo + hi) / 2;

		if (pm->s[mid].start <= ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* entries at or below ip that still cover it; the latest written wins */
	for (i = lo, k = 0; i > 0 && k < MAX_OVERLAP_SCAN; i--, k++) {
		const struct pm_sym *s = &pm->s[i - 1];

		if (ip < s->end && (!best || s->seq > best->seq))
			best = s;
	}
	return best ? pm->names + best->name : NULL;
}

void perfmap__clear(struct perfmap *pm)
{
	free(pm->s);
	free(pm->names);
	memset(pm, 0, sizeof(*pm));
}

/* ---- per traced process ---- */

struct pidmap {
	struct perfmap pm;
	off_t off;          /* bytes of the file parsed so far */
	ino_t ino;
	uint64_t checked;   /* when the file was last looked at (ns) */
};

static struct hashmap *maps; /* pid -> struct pidmap * */

/* Read what was appended since the last time (or all of it if the file was replaced). */
static void catch_up(struct pidmap *m, pid_t pid, uid_t uid, time_t not_before)
{
	char path[64], *buf;
	struct stat st;
	ssize_t got;
	size_t want, used;
	int fd;

	snprintf(path, sizeof(path), "/tmp/perf-%d.map", pid);
	/* no symlinks: /tmp is everyone's, and we run as root */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_mtime < not_before ||
	    (st.st_uid != 0 && uid != (uid_t)-1 && st.st_uid != uid)) {
		close(fd);
		return;
	}
	if (st.st_ino != m->ino || st.st_size < m->off) {
		perfmap__clear(&m->pm);
		m->off = 0;
		m->ino = st.st_ino;
	}
	if (st.st_size <= m->off || (uint64_t)m->off >= MAX_MAP_BYTES) {
		close(fd);
		return;
	}
	want = (size_t)(st.st_size - m->off);
	if (want > MAX_MAP_BYTES - (uint64_t)m->off)
		want = MAX_MAP_BYTES - (uint64_t)m->off;
	buf = xcalloc(1, want + 1);
	got = pread(fd, buf, want, m->off);
	if (got > 0) {
		used = perfmap__parse(&m->pm, buf, (size_t)got);
		m->off += (off_t)used;
	}
	free(buf);
	close(fd);
}

const char *perfmap__lookup(pid_t pid, uid_t uid, time_t not_before, uint64_t ip)
{
	struct pidmap *m;
	uint64_t *slot, now;
	const char *name;
	bool created;

	if (!maps)
		maps = hashmap__new();
	slot = hashmap__upsert(maps, (uint64_t)pid, &created);
	if (created)
		*slot = (uint64_t)(uintptr_t)xcalloc(1, sizeof(struct pidmap));
	m = (struct pidmap *)(uintptr_t)*slot;
	name = m->pm.n ? perfmap__find(&m->pm, ip) : NULL;
	now = now_ns();
	/* not known yet: the runtime may have written more since (at most every 20 ms a look) */
	if (!name && (created || now - m->checked > 20000000ull)) {
		m->checked = now;
		catch_up(m, pid, uid, not_before);
		name = m->pm.n ? perfmap__find(&m->pm, ip) : NULL;
	}
	return name ? intern(name) : NULL;
}

void perfmap__expire(void)
{
	size_t pos = 0;
	uint64_t k, v;

	while (maps && hashmap__next(maps, &pos, &k, &v))
		((struct pidmap *)(uintptr_t)v)->checked = 0;
}

void perfmap__free_all(void)
{
	size_t pos = 0;
	uint64_t k, v;

	if (!maps)
		return;
	while (hashmap__next(maps, &pos, &k, &v)) {
		struct pidmap *m = (struct pidmap *)(uintptr_t)v;

		perfmap__clear(&m->pm);
		free(m);
	}
	hashmap__free(maps);
	maps = NULL;
}
