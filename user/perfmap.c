// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "hashmap.h"
#include "perfmap.h"
#include "procfile.h"
#include "strtab.h"
#include "util.h"

/* One budget for the perf maps of the whole run (a hostile program must not make us read forever
 * nor hold its map many times over): bytes parsed, and entries and name bytes kept, so that they
 * take at most 64 + 64 MiB, plus the buffer a read goes through. */
#define PERFMAP_RUN_BYTES (256ull << 20)
#define PERFMAP_RUN_ENTRIES (4u << 20)
#define PERFMAP_RUN_NAMES (64ull << 20)
#define PERFMAP_CHUNK (1u << 20)
#define PERFMAP_MIN_LINE 6 /* "1 1 x\n" */
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
		if (!hexfield(&q, ne, &start) && !hexfield(&q, ne, &size) && size && size <= UINT32_MAX && q < ne &&
		    start + size > start && pm->names_len + (size_t)(ne - q) < UINT32_MAX) {
			size_t nlen = ne - q;

			GROW(pm->s, pm->cap, pm->n + 1);
			GROW(pm->names, pm->names_cap, pm->names_len + nlen + 1);
			memcpy(pm->names + pm->names_len, q, nlen);
			pm->names[pm->names_len + nlen] = 0;
			pm->s[pm->n++] = (struct pm_sym){ start, (uint32_t)size, (uint32_t)pm->names_len };
			pm->names_len += nlen + 1;
		}
		p = nl + 1;
	}
	return used;
}

static bool sym_less(const struct pm_sym *x, const struct pm_sym *y)
{
	return x->start != y->start ? x->start < y->start : x->name < y->name;
}

static void sift_down(struct pm_sym *s, size_t i, size_t n)
{
	for (size_t c; (c = 2 * i + 1) < n; i = c) {
		struct pm_sym t;

		if (c + 1 < n && sym_less(&s[c], &s[c + 1]))
			c++;
		if (!sym_less(&s[i], &s[c]))
			return;
		t = s[i];
		s[i] = s[c];
		s[c] = t;
	}
}

/* In place (heapsort): glibc's qsort takes a copy of the array, as large as the map's entries */
static void sort_syms(struct pm_sym *s, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(s, i, n);
	for (size_t i = n; i-- > 1;) {
		struct pm_sym t = s[0];

		s[0] = s[i];
		s[i] = t;
		sift_down(s, 0, i);
	}
}

const char *perfmap__find(struct perfmap *pm, uint64_t ip)
{
	size_t lo = 0, hi, i, k;
	const struct pm_sym *best = NULL;

	if (pm->sorted != pm->n) {
		sort_syms(pm->s, pm->n);
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

		if (ip - s->start < s->size && (!best || s->name > best->name))
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
	off_t counted;      /* bytes of the file counted as skipped up to here */
	ino_t ino;
	uint64_t checked;   /* when the file was last looked at (ns) */
	int root;           /* the process's root directory (O_PATH, shared: roots), -1: not known */
	pid_t nspid;        /* its pid in its own pid namespace, 0: not known */
};

static struct hashmap *maps;  /* pid -> struct pidmap * */
/* root directories of traced processes, "dev:ino" -> O_PATH fd: kept after their processes
 * exit (a JVM writes its map at exit), one fd per distinct root (most processes share one) */
static struct hashmap *roots;
static uint64_t run_bytes, run_entries, run_names; /* spent of the run's budget */
static uint64_t bytes_skipped;

uint64_t perfmap__bytes_skipped(void)
{
	return bytes_skipped;
}

static void pidmap_clear(struct pidmap *m)
{
	run_entries -= m->pm.n; /* what is no longer kept is the budget's again, not what was read */
	run_names -= m->pm.names_len;
	perfmap__clear(&m->pm);
}

/* Its pid in its own pid namespace (the last of NSpid in /proc/PID/status): 0 or -ESRCH. */
static int find_nspid(struct pidmap *m, pid_t pid)
{
	char path[32], *status = NULL, *line;
	size_t len;
	long v = 0;

	if (m->nspid)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_whole(path, 1 << 20, &status, &len))
		return -ESRCH;
	for (line = status; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, "NSpid:", 6))
			continue;
		for (char *q = line + 6, *end; *q && *q != '\n'; q = end) {
			long n = strtol(q, &end, 10);

			if (end == q)
				break;
			v = n;
		}
		break;
	}
	free(status);
	if (v <= 0 || v > INT32_MAX)
		return -ESRCH;
	m->nspid = (pid_t)v;
	return 0;
}

/* The process's root directory, learnt while it lives, and again at each look while it does:
 * a launcher that chroots and then execs the runtime (a container's init, `chroot DIR python3`)
 * was first seen in the old root. Once it is gone, the last root seen serves (a JVM writes its
 * map at exit). 0, or -errno when it was never learnt. */
static int find_root(struct pidmap *m, pid_t pid)
{
	char path[32], key[96];
	struct stat st, ns;
	uint64_t *slot;
	bool created;
	int fd;

	if (find_nspid(m, pid))
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/root", pid);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	/* one root directory in two mount namespaces (`unshare -m` without a chroot) is two roots:
	 * what is mounted on its /tmp differs */
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
	if (stat(path, &ns))
		ns.st_ino = 0;
	/* the same process still: its pid was not reused between the reads */
	if (fd < 0 || fstat(fd, &st) || pid_gone(pid)) {
		if (fd >= 0)
			close(fd);
		return m->root >= 0 ? 0 : -ESRCH;
	}
	if (!roots)
		roots = hashmap__new();
	snprintf(key, sizeof(key), "%s:%llx", file_key(kernel_dev(st.st_dev), st.st_ino),
		 (unsigned long long)ns.st_ino);
	slot = hashmap__upsert(roots, (uint64_t)(uintptr_t)intern(key), &created);
	if (created) {
		*slot = (uint64_t)fd;
	} else {
		close(fd);
	}
	if (m->root >= 0 && m->root != (int)*slot) { /* another root: another file */
		pidmap_clear(m);
		m->off = m->counted = 0;
		m->ino = 0;
	}
	m->root = (int)*slot;
	return 0;
}

/* /tmp/perf-NSPID.map in the process's root: a regular file (never followed from a symlink,
 * never a FIFO or device opened), read-only; -1 if none */
static int open_map(const struct pidmap *m, struct stat *st)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/perf-%d.map", m->nspid);
	fd = open_in(m->root, path, true, st);
	return fd < 0 ? -1 : fd;
}

/* Read what was appended since the last time (or all of it if the file was replaced), a chunk
 * at a time, within the run's budget. */
static void catch_up(struct pidmap *m, pid_t pid, uid_t uid, time_t not_before)
{
	char *buf;
	struct stat st;
	bool spent;
	int fd;

	if (find_root(m, pid))
		return;
	fd = open_map(m, &st);
	if (fd < 0)
		return;
	/* /tmp is everyone's: root's file, or the process's owner's (while that is not known, the
	 * first look at its maps, root's only) */
	if (st.st_mtime < not_before || (st.st_uid != 0 && st.st_uid != uid)) {
		close(fd);
		return;
	}
	if (st.st_ino != m->ino || st.st_size < m->off) {
		pidmap_clear(m);
		m->off = m->counted = 0;
		m->ino = st.st_ino;
	}
	buf = st.st_size > m->off ? xmalloc(PERFMAP_CHUNK + 1) : NULL;
	spent = false;
	while (buf && st.st_size > m->off && run_bytes < PERFMAP_RUN_BYTES && run_entries < PERFMAP_RUN_ENTRIES &&
	       run_names < PERFMAP_RUN_NAMES) {
		size_t want = PERFMAP_CHUNK, used, n0 = m->pm.n, names0 = m->pm.names_len, unclamped;
		ssize_t got;

		/* no chunk may take the entries or names past the budget (GROW zeroes what it adds): a
		 * line is at least PERFMAP_MIN_LINE bytes, its name at most its length */
		if ((uint64_t)(st.st_size - m->off) < want)
			want = (size_t)(st.st_size - m->off);
		unclamped = want;
		if (PERFMAP_RUN_BYTES - run_bytes < want)
			want = (size_t)(PERFMAP_RUN_BYTES - run_bytes);
		if ((PERFMAP_RUN_ENTRIES - run_entries) * PERFMAP_MIN_LINE < want)
			want = (size_t)((PERFMAP_RUN_ENTRIES - run_entries) * PERFMAP_MIN_LINE);
		if (PERFMAP_RUN_NAMES - run_names < want)
			want = (size_t)(PERFMAP_RUN_NAMES - run_names);
		got = pread(fd, buf, want, m->off);
		if (got <= 0)
			break;
		used = perfmap__parse(&m->pm, buf, (size_t)got);
		if (!used && (size_t)got == PERFMAP_CHUNK)
			used = (size_t)got; /* a line longer than a chunk: not a perf map's */
		if (!used) { /* a line still being written, or one the budget left has no room for */
			spent |= want < unclamped;
			break;
		}
		m->off += (off_t)used;
		run_bytes += used;
		run_entries += m->pm.n - n0;
		run_names += m->pm.names_len - names0;
	}
	free(buf);
	/* what the budget left unread, counted once per byte of the file */
	spent |= run_bytes >= PERFMAP_RUN_BYTES || run_entries >= PERFMAP_RUN_ENTRIES || run_names >= PERFMAP_RUN_NAMES;
	if (st.st_size > m->off && spent) {
		off_t from = m->counted > m->off ? m->counted : m->off;

		if (st.st_size > from)
			bytes_skipped += (uint64_t)(st.st_size - from);
		m->counted = st.st_size;
	}
	close(fd);
}

const char *perfmap__lookup(pid_t pid, uid_t uid, time_t not_before, uint64_t ip, uint64_t ran_at)
{
	struct pidmap *m;
	uint64_t *slot, now;
	const char *name;
	bool created;

	if (!maps)
		maps = hashmap__new();
	slot = hashmap__upsert(maps, (uint64_t)pid, &created);
	if (created) {
		m = xcalloc(1, sizeof(*m));
		m->root = -1;
		*slot = (uint64_t)(uintptr_t)m;
	}
	m = (struct pidmap *)(uintptr_t)*slot;
	now = now_ns();
	/* the runtime may have written more since: an address not known yet, or one whose code was
	 * replaced (V8 reuses JIT addresses; the latest entry wins). Read on if the map was last
	 * read before the code at ip ran (its entry was written before it ran: V8 writes a line at
	 * a time; read earlier, an older function's entry at the same address named Node's
	 * growTheHeap copyPropsRenamed), else at most every 20 ms (an unknown address) */
	if (created || m->checked < ran_at || now - m->checked > 20000000ull) {
		m->checked = now;
		catch_up(m, pid, uid, not_before);
	}
	name = m->pm.n ? perfmap__find(&m->pm, ip) : NULL;
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

		pidmap_clear(m);
		free(m);
	}
	hashmap__free(maps);
	maps = NULL;
	for (pos = 0; roots && hashmap__next(roots, &pos, &k, &v);)
		close((int)v);
	hashmap__free(roots);
	roots = NULL;
}
