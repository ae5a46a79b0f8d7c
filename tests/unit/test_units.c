// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of the pure user-space pieces: hash map, region set, maps parser, ELF symbols,
 * unwind tables. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <elf.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "demangle.h"
#include "elfsyms.h"
#include "escape.h"
#include "perfmap.h"
#include "hashmap.h"
#include "kernel.h"
#include "labels.h"
#include "model.h"
#include "pages.h"
#include "procfile.h"
#include "procmaps.h"
#include "pyframes_user.h"
#include "strtab.h"
#include "unwind.h"
#include "util.h"
#include "taskmem.h"
#include "check.h"


static void test_hashmap(void)
{
	struct hashmap *m = hashmap__new();
	enum { N = 200000 };
	static uint64_t ref[N];
	size_t pos = 0, n = 0, i;
	uint64_t k, v;
	bool ok = true;

	/* page-like keys collide in low bits: the mixer must spread them */
	for (i = 0; i < N; i++) {
		*hashmap__upsert(m, i << 12, NULL) = i * 3;
		ref[i] = i * 3;
	}
	for (i = 0; i < N; i += 2)
		ok &= hashmap__delete(m, i << 12);
	CHECK(ok, "every inserted key can be deleted once");
	CHECK(hashmap__size(m) == N / 2, "size %zu after deleting half", hashmap__size(m));
	for (i = 0; i < N; i++) {
		uint64_t *p = hashmap__find(m, i << 12);

		if ((i % 2 == 0) != (p == NULL) || (p && *p != ref[i])) {
			ok = false;
			break;
		}
	}
	CHECK(ok, "lookups after backward-shift deletion see exactly the odd keys (first bad %zu)", i);
	while (hashmap__next(m, &pos, &k, &v))
		n++;
	CHECK(n == N / 2, "iteration visits %zu entries", n);
	CHECK(!hashmap__delete(m, 0), "deleting an absent key fails");
	hashmap__free(m);
}

static void test_regions(void)
{
	struct region_set rs = {};
	struct region r = { .start = 0x1000, .end = 0x9000, .kind = REG_MMAP, .label = -1 };

	regions__insert(&rs, &r);
	regions__remove(&rs, 0x3000, 0x5000); /* punch a hole */
	CHECK(rs.n == 2 && regions__at(&rs, 0)->end == 0x3000 && regions__at(&rs, 1)->start == 0x5000,
	      "hole splits the region");
	CHECK(regions__find(&rs, 0x4000) == NULL, "nothing in the hole");
	CHECK(regions__find(&rs, 0x8fff) && !regions__find(&rs, 0x9000), "end is exclusive");
	r.start = 0x2000;
	r.end = 0x6000;
	r.kind = REG_FILE;
	regions__insert(&rs, &r); /* MAP_FIXED over both pieces */
	CHECK(rs.n == 3 && regions__find(&rs, 0x2800)->kind == REG_FILE && regions__find(&rs, 0x1800)->kind == REG_MMAP &&
		      regions__find(&rs, 0x6800)->kind == REG_MMAP, "insert replaces what it covers");
	regions__move(&rs, 0x2000, 0x4000, 0x100000);
	CHECK(regions__find(&rs, 0x100000) && regions__find(&rs, 0x100000)->kind == REG_FILE && !regions__find(&rs, 0x2800),
	      "mremap moves the region");
	regions__clear(&rs);
}

/* The chunked set against a page-by-page model, over many chunks, with a forked copy changed
 * on both sides: each sees only its own changes. */
#define RP 4096 /* pages in the model */
struct rmodel {
	struct region_set rs;
	uint32_t who[RP]; /* the caller of the region at each page, 0: none */
	int label[RP];
};

static void rmodel_insert(struct rmodel *m, uint64_t p0, uint64_t p1, uint32_t id)
{
	struct region r = { .start = p0 << 12, .end = p1 << 12, .kind = REG_MMAP, .caller = id, .label = -1 };

	regions__insert(&m->rs, &r);
	for (uint64_t p = p0; p < p1; p++) {
		m->who[p] = id;
		m->label[p] = -1;
	}
}

static void rmodel_remove(struct rmodel *m, uint64_t p0, uint64_t p1)
{
	regions__remove(&m->rs, p0 << 12, p1 << 12);
	for (uint64_t p = p0; p < p1; p++)
		m->who[p] = 0;
}

static bool rmodel_check(const struct rmodel *m)
{
	size_t i, n = 0;
	uint64_t last = 0;

	for (i = 0; i < RP; i++) {
		const struct region *r = regions__find(&m->rs, i << 12 | 0x123);

		if ((r ? r->caller : 0) != m->who[i] || (r && r->label != m->label[i]) ||
		    (r && (r->start > i << 12 || r->end <= i << 12)))
			return false;
	}
	for (i = 0; i < m->rs.n; i++) {
		const struct region *r = regions__at(&m->rs, i);

		if (!r || r->start < last || r->end <= r->start)
			return false;
		last = r->end;
		n++;
	}
	return n == m->rs.n && !regions__at(&m->rs, m->rs.n);
}

static void test_regions_model(void)
{
	static struct rmodel a, b, before;
	uint32_t id = 1;
	bool ok = true, shared_ok = true, gen_ok = true;
	int i;

	srand(7);
	for (i = 0; i < 20000 && ok; i++) {
		struct rmodel *m = i > 10000 && (i & 1) ? &b : &a;
		uint64_t p0 = (uint64_t)rand() % RP, len = 1 + (uint64_t)rand() % (i % 7 ? 4 : 300), p1 = p0 + len > RP ? RP : p0 + len;
		int op = rand() % 10;

		if (i == 10000) { /* fork: b shares a's chunks */
			regions__share(&b.rs, &a.rs);
			memcpy(b.who, a.who, sizeof(a.who));
			memcpy(b.label, a.label, sizeof(a.label));
		}
		memcpy(before.who, m->who, sizeof(m->who));
		memcpy(before.label, m->label, sizeof(m->label));
		before.rs.gen = m->rs.gen;
		if (op < 5) {
			rmodel_insert(m, p0, p1, id++);
		} else if (op < 8) {
			rmodel_remove(m, p0, p1);
		} else if (op < 9) {
			const struct region *r = regions__find(&m->rs, p0 << 12);

			if (r) {
				uint64_t s = r->start >> 12, e = r->end >> 12;

				regions__set_label(&m->rs, p0 << 12, (int)id);
				for (uint64_t p = s; p < e; p++)
					m->label[p] = (int)id;
				id++;
			}
		} else { /* mremap of a whole region elsewhere */
			const struct region *r = regions__find(&m->rs, p0 << 12);
			uint64_t s, e, to = (uint64_t)rand() % RP;

			if (r && to + ((r->end - r->start) >> 12) <= RP) {
				s = r->start >> 12;
				e = r->end >> 12;
				regions__move(&m->rs, r->start, r->end - r->start, to << 12);
				{
					uint32_t w = m->who[s];
					int l = m->label[s];

					for (uint64_t p = s; p < e; p++)
						m->who[p] = 0;
					for (uint64_t p = to; p < to + (e - s); p++) {
						m->who[p] = w;
						m->label[p] = l;
					}
				}
			}
		}
		ok = rmodel_check(m);
		/* resolve.c's memo holds a label while the gen stays: any change must move it */
		if (memcmp(before.who, m->who, sizeof(m->who)) || memcmp(before.label, m->label, sizeof(m->label)))
			gen_ok = gen_ok && m->rs.gen != before.rs.gen;
		if (i > 10000)
			shared_ok = shared_ok && rmodel_check(&a) && rmodel_check(&b);
	}
	CHECK(ok, "20000 inserts, removes, labels and moves agree with the page model (%d done)", i);
	CHECK(shared_ok, "a shared copy and its parent changed apart each see only their own changes");
	CHECK(gen_ok, "every change to a set's regions or their labels moves its gen");
	regions__clear(&a.rs);
	regions__clear(&b.rs);
}

/* pages.c reports every byte it moves through one callback: here, per bucket totals in the
 * process view (moved_to) and the tree view (tree_to). */
static int64_t moved_to[8], tree_to[8];

static void on_moved(void *ctx, uint32_t bucket, int64_t bytes, unsigned views)
{
	if (views & PAGES_PROC)
		moved_to[bucket] += bytes;
	if (views & PAGES_TREE)
		tree_to[bucket] += bytes;
}

static uint32_t child_bucket(void *ctx, uint32_t bucket)
{
	return bucket + 4; /* the child's bucket of the same label and stack */
}

/* A dropped frame of a page stays in the table, dead: none to a find, its id back to a take of
 * its ident (by the table or by a kept hint); dead frames leave once the table would grow. */
static void test_frames_dead(void)
{
	struct frames *fr = frames__new();
	uint32_t ids[1000], id, hint;
	bool made;
	int i, ok;

	for (i = 0; i < 1000; i++) {
		ids[i] = frames__take(fr, frames__file_ident(8, 1, (uint64_t)i << 12), 1, PAGE_SIZE, NULL, &made);
		frames__get(fr, ids[i])->refs++;
	}
	CHECK(frames__count(fr) == 1000 && made, "1000 frames made");
	for (i = 0; i < 1000; i++)
		frames__drop(fr, ids[i]);
	CHECK(!frames__count(fr) && !frames__find(fr, frames__file_ident(8, 1, 0)), "dropped: none live, none found");
	hint = ids[7];
	id = frames__take(fr, frames__file_ident(8, 1, 7 << 12), 3, 2 * PAGE_SIZE, &hint, &made);
	CHECK(id == ids[7] && made && frames__get(fr, id)->bucket == 3 && frames__get(fr, id)->bytes == 2 * PAGE_SIZE,
	      "a dead frame comes back by its hint, made anew");
	frames__get(fr, id)->refs++;
	hint = ids[8]; /* another page's: the table is asked */
	CHECK(frames__take(fr, frames__file_ident(8, 1, 7 << 12), 4, PAGE_SIZE, &hint, &made) == id && !made &&
	      hint == id && frames__get(fr, id)->bucket == 3, "a live frame by the table, the hint set to it");
	id = frames__take(fr, frames__file_ident(8, 1, 9 << 12), 5, PAGE_SIZE, NULL, &made);
	CHECK(id == ids[9] && made, "a dead frame comes back by the table");
	frames__get(fr, id)->refs++;
	CHECK(frames__count(fr) == 2 && frames__find(fr, frames__file_ident(8, 1, 9 << 12)) == id, "two live");
	/* new pages, many: the dead ones are purged, their ids reused, the live ones kept */
	for (i = 0, ok = 1; i < 100000; i++) {
		id = frames__take(fr, frames__file_ident(8, 2, (uint64_t)i << 12), 6, PAGE_SIZE, NULL, &made);
		frames__get(fr, id)->refs++;
		frames__drop(fr, (frames__get(fr, id)->refs = 0, id));
		ok &= made;
	}
	CHECK(ok && frames__count(fr) == 2, "100k made and dropped: two live");
	CHECK(frames__find(fr, frames__file_ident(8, 1, 9 << 12)) == ids[9] &&
	      frames__find(fr, frames__file_ident(8, 1, 7 << 12)) == ids[7], "the live ones kept through purges");
	hint = ids[20];
	id = frames__take(fr, frames__file_ident(8, 1, 20 << 12), 1, PAGE_SIZE, &hint, &made);
	CHECK(made && frames__get(fr, id)->ident == frames__file_ident(8, 1, 20 << 12) && hint == id,
	      "a purged frame is made again (its hint no longer names it)");
	CHECK(id < 1000, "ids are reused: dead frames are bounded by the table");
	frames__free(fr);
}

/* A tree that shares pages: each counted once in the tree view, by every holder in the
 * process view. */
static void test_pages_shared(void)
{
	struct frames *fr = frames__new();
	struct pages *parent = pages__new(on_moved, NULL, fr), *child = pages__new(on_moved, NULL, fr);
	uint64_t base = 0x200000, id = frames__file_ident(8, 1234, 0);
	int i;

	memset(moved_to, 0, sizeof(moved_to));
	memset(tree_to, 0, sizeof(tree_to));
	for (i = 0; i < 8; i++)
		pages__add(parent, TM_ANONPAGES, base + i * PAGE_SIZE, 1, PAGE_SIZE);
	pages__add_pending(child, TM_ANONPAGES, 8 * PAGE_SIZE); /* the fork's copy, not named yet */
	CHECK(!tree_to[0], "a pending copy is in no tree view");
	CHECK(pages__fork(parent, child, child_bucket, NULL) == 8 * PAGE_SIZE, "fork shares the parent's pages");
	CHECK(moved_to[1] == 8 * PAGE_SIZE && moved_to[5] == 8 * PAGE_SIZE, "both hold them (process view)");
	CHECK(tree_to[1] == 8 * PAGE_SIZE && !tree_to[5], "the tree counts them once, where they were made");
	CHECK(!pages__cow_shared(child, base + 9 * PAGE_SIZE), "a page not shared is not copied");
	CHECK(pages__cow_shared(child, base + 100), "a shared page is");
	pages__cow(child, base + 100, 6);
	CHECK(tree_to[6] == PAGE_SIZE && moved_to[6] == PAGE_SIZE && moved_to[5] == 7 * PAGE_SIZE,
	      "a copy-on-write is new memory of the writer");
	CHECK(!pages__cow_shared(child, base + 100), "a copied page is the writer's own");
	pages__drain(parent);
	CHECK(!moved_to[1] && tree_to[1] == 7 * PAGE_SIZE, "the parent gone, its shared pages stay counted");
	CHECK(!pages__cow_shared(child, base + PAGE_SIZE), "a page no one else holds is not copied");
	pages__drain(child);
	CHECK(!tree_to[1] && !tree_to[6] && !moved_to[5], "the last holder gone, the pages go");
	/* a file page two processes map: once */
	pages__add_ident(parent, TM_FILEPAGES, base, 2, 4 * PAGE_SIZE, id);
	pages__add_ident(child, TM_FILEPAGES, base + PAGE_SIZE, 7, 4 * PAGE_SIZE, id);
	CHECK(tree_to[2] == 4 * PAGE_SIZE && !tree_to[7] && moved_to[7] == 4 * PAGE_SIZE,
	      "a file page is counted once, in its first bucket");
	pages__sweep(parent, base, base + PAGE_SIZE);
	CHECK(tree_to[2] == 4 * PAGE_SIZE, "still held by the other");
	pages__take_near(child, TM_FILEPAGES, base + PAGE_SIZE, 0, UINT64_MAX, 4 * PAGE_SIZE);
	CHECK(!tree_to[2] && !moved_to[7] && !frames__count(fr), "gone with its last holder");
	pages__free(parent);
	pages__free(child);
	frames__free(fr);
}

/* A copy-on-write's page in a fault-around block of its mapping, which starts inside a 64 KiB
 * window: the block (keyed by its faulting page) ran into the next window, where the page is;
 * another file's page in the page's own window is not the one (a flaky test_html_10k). */
static void test_take_near_block(void)
{
	struct frames *fr = frames__new();
	struct pages *pg = pages__new(on_moved, NULL, fr);
	const uint64_t lo = 0x7000ed000, hi = 0x7000f2000;

	pages__add(pg, TM_FILEPAGES, 0x7000ef000, 6, 5 * PAGE_SIZE); /* [lo, hi): 5 pages, keyed at ef000 */
	pages__add(pg, TM_FILEPAGES, 0x7000ff000, 7, PAGE_SIZE);     /* another file's, at ff000 */
	CHECK(pages__take_near(pg, TM_FILEPAGES, 0x7000f0540, lo, hi, PAGE_SIZE) == PAGE_SIZE &&
	      moved_to[6] == 4 * PAGE_SIZE && moved_to[7] == PAGE_SIZE,
	      "the copy's page comes from its block in the window before (block %lld, other file %lld)",
	      (long long)moved_to[6], (long long)moved_to[7]);
	pages__drain(pg);
	pages__free(pg);
	frames__free(fr);
}

static void test_pages(void)
{
	struct frames *fr = frames__new();
	struct pages *pg = pages__new(on_moved, NULL, fr);
	uint64_t base = 0x100000;
	int i;

	for (i = 0; i < 16; i++) /* 16 pages of anon in bucket 1 */
		pages__add(pg, TM_ANONPAGES, base + i * PAGE_SIZE, 1, PAGE_SIZE);
	pages__add(pg, TM_ANONPAGES, base, 2, PAGE_SIZE); /* a page keeps its first owner */
	CHECK(moved_to[1] == 17 * PAGE_SIZE && !moved_to[2], "add credits the page's first bucket");
	/* munmap of the first 8 pages, reported as two RSS changes of 4 and 5 pages */
	CHECK(pages__take_range(pg, TM_ANONPAGES, base, base + 8 * PAGE_SIZE, 42, 4 * PAGE_SIZE) == 4 * PAGE_SIZE &&
	      moved_to[1] == 13 * PAGE_SIZE, "a range free takes only its own bytes");
	CHECK(pages__take_range(pg, TM_ANONPAGES, base, base + 8 * PAGE_SIZE, 42, 5 * PAGE_SIZE) == 5 * PAGE_SIZE &&
	      moved_to[1] == 8 * PAGE_SIZE, "the next change goes on where the last stopped");
	CHECK(!pages__take_range(pg, TM_ANONPAGES, base, base + 8 * PAGE_SIZE, 42, PAGE_SIZE) && moved_to[1] == 8 * PAGE_SIZE,
	      "a change the range's records lack takes nothing, and says so");
	pages__sweep(pg, base, base + 8 * PAGE_SIZE);
	CHECK(moved_to[1] == 8 * PAGE_SIZE, "nothing left to sweep in the freed range");
	pages__move(pg, base + 8 * PAGE_SIZE, 8 * PAGE_SIZE, 0x900000);
	CHECK(pages__take_near(pg, TM_ANONPAGES, 0x900000 + 100, 0, UINT64_MAX, PAGE_SIZE) == PAGE_SIZE,
	      "records move with mremap");
	CHECK(!pages__take_near(pg, TM_ANONPAGES, 0x908000 + 100, 0x908000, 0x910000, PAGE_SIZE) && moved_to[1] == 7 * PAGE_SIZE,
	      "a fault's free takes nothing of its window outside its mapping (%llu left)", (unsigned long long)moved_to[1]);
	pages__add(pg, TM_FILEPAGES, PAGES_UNPLACED, 0, 3 * PAGE_SIZE);
	pages__rebucket(pg, PAGES_UNPLACED, 3);
	CHECK(!moved_to[0] && moved_to[3] == 3 * PAGE_SIZE, "rebucket moves the bytes");
	pages__sweep(pg, 0x900000, 0x900000 + 2 * PAGE_SIZE);
	CHECK(moved_to[1] == 6 * PAGE_SIZE, "sweep takes what the range holds");
	pages__take_any(pg, TM_ANONPAGES, 2 * PAGE_SIZE);
	CHECK(moved_to[1] == 4 * PAGE_SIZE, "take_any takes from anywhere");
	pages__drain(pg);
	CHECK(!moved_to[0] && !moved_to[1] && !moved_to[2] && !moved_to[3], "drain takes everything");
	CHECK(!memcmp(moved_to, tree_to, sizeof(moved_to)), "records that count themselves: both views alike");
	pages__free(pg);
	frames__free(fr);
}

/* Records of runs of pages against a model that keeps one entry per page (what pages.c did
 * before runs): random adds, range frees in several changes, sweeps, frees near a fault and
 * moves must credit and take the same bytes from the same buckets. */
#define RM_PAGES 192
static struct { uint64_t bytes; uint32_t bucket; } rm[2 * RM_PAGES]; /* [0, N): A, [N, 2N): B */

static void test_pages_runs(void)
{
	struct frames *fr = frames__new();
	struct pages *pg = pages__new(on_moved, NULL, fr);
	uint64_t base = 0x40000000, next = 0, ts = 1, bad = 0;
	int64_t want_to[8];
	unsigned seed = 12345;
	int step, i, b;

#define RM_KEY(i) (base + (uint64_t)(i) * PAGE_SIZE)
	memset(moved_to, 0, sizeof(moved_to));
	memset(tree_to, 0, sizeof(tree_to));
	memset(rm, 0, sizeof(rm));
	for (i = 0; i < RM_PAGES; i++) { /* one run to start with */
		pages__add(pg, TM_ANONPAGES, RM_KEY(i), 1, PAGE_SIZE);
		rm[i].bytes = PAGE_SIZE;
		rm[i].bucket = 1;
	}
	CHECK(pages__records(pg) == 1, "adjacent pages of one bucket are one record (%zu)", pages__records(pg));
	for (step = 0; step < 20000; step++) {
		int op = rand_r(&seed) % 10, lo = rand_r(&seed) % (2 * RM_PAGES), n = 1 + rand_r(&seed) % 40;
		int hi = lo + n > 2 * RM_PAGES ? 2 * RM_PAGES : lo + n;
		uint64_t want = (uint64_t)(rand_r(&seed) % (2 * n + 1)) * PAGE_SIZE / 2, took;

		if (op < 4) { /* a fault: mostly one page, in one of three buckets */
			uint64_t bytes = rand_r(&seed) % 8 ? PAGE_SIZE : 3 * PAGE_SIZE;

			b = 1 + (lo / 16 + (rand_r(&seed) % 5 == 0)) % 3;
			pages__add(pg, TM_ANONPAGES, RM_KEY(lo), b, bytes);
			if (!rm[lo].bytes)
				rm[lo].bucket = b;
			rm[lo].bytes += bytes;
		} else if (op < 7) { /* a range free in one or two RSS changes, then maybe its sweep */
			int parts = 1 + rand_r(&seed) % 2, k;

			ts++;
			next = lo;
			for (k = 0; k < parts; k++) {
				uint64_t w = want;

				pages__take_range(pg, TM_ANONPAGES, RM_KEY(lo), RM_KEY(hi), ts, want);
				for (i = (int)next; i < hi && w; i++) {
					uint64_t t = w < rm[i].bytes ? w : rm[i].bytes;

					rm[i].bytes -= t;
					w -= t;
					if (!w && rm[i].bytes)
						break;
				}
				next = (uint64_t)i;
			}
			if (op == 6) {
				pages__sweep(pg, RM_KEY(lo), RM_KEY(hi));
				for (i = lo; i < hi; i++)
					rm[i].bytes = 0;
			}
		} else if (op < 9) { /* a free near a fault: its page, then its 64 KiB window */
			int page = lo, w0 = lo - (int)((RM_KEY(lo) >> 12) & 15);
			uint64_t w = want, t;

			took = pages__take_near(pg, TM_ANONPAGES, RM_KEY(page) + 100, 0, UINT64_MAX, want);
			t = w < rm[page].bytes ? w : rm[page].bytes;
			rm[page].bytes -= t;
			w -= t;
			for (i = w0; i < w0 + 16 && w; i++) {
				if (i == page || i < 0 || i >= 2 * RM_PAGES)
					continue;
				t = w < rm[i].bytes ? w : rm[i].bytes;
				rm[i].bytes -= t;
				w -= t;
			}
			if (took != want - w)
				bad++;
		} else { /* mremap: [lo, hi) of one half moves to the same place in the other */
			int from = lo % RM_PAGES, to, len = hi - lo;

			if (from + len > RM_PAGES)
				len = RM_PAGES - from;
			to = lo < RM_PAGES ? from + RM_PAGES : from;
			from = lo < RM_PAGES ? from : from + RM_PAGES;
			/* what was at the destination is unmapped first */
			pages__sweep(pg, RM_KEY(to), RM_KEY(to + len));
			pages__move(pg, RM_KEY(from), (uint64_t)len * PAGE_SIZE, RM_KEY(to));
			for (i = 0; i < len; i++) {
				rm[to + i] = rm[from + i];
				rm[from + i].bytes = 0;
			}
		}
		memset(want_to, 0, sizeof(want_to));
		for (i = 0; i < 2 * RM_PAGES; i++)
			want_to[rm[i].bucket] += rm[i].bytes;
		if (memcmp(want_to, moved_to, sizeof(want_to)) || memcmp(moved_to, tree_to, sizeof(moved_to)))
			bad++;
		if (bad == 1) { /* the first step that differs */
			printf("step %d op %d lo %d hi %d want %llu: buckets %lld %lld %lld, model %lld %lld %lld\n",
			       step, op, lo, hi, (unsigned long long)want, (long long)moved_to[1], (long long)moved_to[2],
			       (long long)moved_to[3], (long long)want_to[1], (long long)want_to[2], (long long)want_to[3]);
			bad++;
		}
	}
	CHECK(!bad, "runs give what one record per page gives (%llu steps differ)", (unsigned long long)bad);
	pages__drain(pg);
	CHECK(!moved_to[1] && !moved_to[2] && !moved_to[3] && !pages__records(pg), "drain takes every run");
	pages__free(pg);
	frames__free(fr);
#undef RM_KEY
}

/* Many records, in thousands of chunks: single pages added and freed at random over 1 GiB (the
 * searches guess a record from where its key falls in a chunk): every byte goes to and comes from
 * the right bucket, and the records are the runs of the page model. */
#define MANY_PAGES (1u << 18)
static uint8_t many[MANY_PAGES]; /* the page's bucket, 0: not held */

static void test_pages_many(void)
{
	struct frames *fr = frames__new();
	struct pages *pg = pages__new(on_moved, NULL, fr);
	uint64_t base = 0x7f0000000000ull, seed = 0x9e3779b97f4a7c15ull, ts = 1, bad = 0, runs_bad = 0;
	int64_t want_to[8] = { 0 };
	int step;

	memset(moved_to, 0, sizeof(moved_to));
	memset(tree_to, 0, sizeof(tree_to));
	memset(many, 0, sizeof(many));
	for (step = 0; step < 400000; step++) {
		uint32_t i, b;

		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		/* mostly adds at first, then as many frees as adds; dense and sparse stretches */
		i = (uint32_t)(seed >> 20) % (seed % 4 ? MANY_PAGES : MANY_PAGES / 64);
		b = 1 + (i / 8) % 3;
		if (!many[i] && (step < 200000 || seed % 2)) {
			pages__add(pg, TM_ANONPAGES, base + (uint64_t)i * PAGE_SIZE, b, PAGE_SIZE);
			many[i] = (uint8_t)b;
			want_to[b] += PAGE_SIZE;
		} else if (many[i]) {
			pages__take_range(pg, TM_ANONPAGES, base + (uint64_t)i * PAGE_SIZE,
					  base + (uint64_t)(i + 1) * PAGE_SIZE, ++ts, PAGE_SIZE);
			want_to[many[i]] -= PAGE_SIZE;
			many[i] = 0;
		}
		if (memcmp(want_to, moved_to, sizeof(want_to)))
			bad++;
		if (step % 20000 == 0) {
			size_t runs = 0;

			for (i = 0; i < MANY_PAGES; i++)
				runs += many[i] && (!i || many[i - 1] != many[i]);
			runs_bad += runs != pages__records(pg);
		}
	}
	CHECK(!bad, "400000 adds and frees of single pages: each bucket's bytes as the model's (%llu differ)",
	      (unsigned long long)bad);
	CHECK(!runs_bad, "the records are the model's runs (%llu checks differ)", (unsigned long long)runs_bad);
	pages__drain(pg);
	CHECK(!moved_to[1] && !moved_to[2] && !moved_to[3] && !pages__records(pg), "drain takes every record");
	pages__free(pg);
	frames__free(fr);
}

/* Fault-around blocks of one file, mapped at different addresses by two processes that fault
 * different pages of the same 64 KiB window: each page counted once (issue 14.1). */
static void test_pages_fault_around(void)
{
	struct frames *fr = frames__new();
	struct pages *a = pages__new(on_moved, NULL, fr), *b = pages__new(on_moved, NULL, fr);
	struct pages_file fa = { frames__obj_ident(8, 99), 0x7000000, 0x7100000, 0, NULL };
	struct pages_file fb = { frames__obj_ident(8, 99), 0x9000000, 0x9100000, 0, NULL };

	memset(moved_to, 0, sizeof(moved_to));
	memset(tree_to, 0, sizeof(tree_to));
	pages__add_file(a, TM_FILEPAGES, 0x7000000, 1, 16 * PAGE_SIZE, &fa);
	pages__add_file(b, TM_FILEPAGES, 0x9000000 + 5 * PAGE_SIZE, 2, 16 * PAGE_SIZE, &fb);
	CHECK(moved_to[1] == 16 * PAGE_SIZE && moved_to[2] == 16 * PAGE_SIZE, "each holds its block (process view)");
	CHECK(tree_to[1] == 16 * PAGE_SIZE && !tree_to[2], "the window counted once, where it was first mapped (%lld %lld)",
	      (long long)tree_to[1], (long long)tree_to[2]);
	CHECK(frames__count(fr) == 16, "a frame per page of the window (%llu)", (unsigned long long)frames__count(fr));
	/* a 1 MiB large folio around the first block: the pages not mapped yet, its window the folio's */
	pages__add_file(b, TM_FILEPAGES, 0x9000000 + 100 * PAGE_SIZE, 2, 240 * PAGE_SIZE, &fb);
	pages__add_file(a, TM_FILEPAGES, 0x7000000 + 17 * PAGE_SIZE, 1, 240 * PAGE_SIZE, &fa);
	CHECK(tree_to[1] + tree_to[2] == 256 * PAGE_SIZE, "a large folio's pages counted once (%lld)",
	      (long long)(tree_to[1] + tree_to[2]));
	pages__sweep(a, 0x7000000, 0x7100000);
	CHECK(tree_to[1] + tree_to[2] == 256 * PAGE_SIZE && !moved_to[1], "what the other holds stays, once");
	pages__drain(b);
	CHECK(!tree_to[1] && !tree_to[2] && !moved_to[2] && !frames__count(fr), "all gone with the last holder");
	pages__free(a);
	pages__free(b);
	frames__free(fr);
}

/* A guess that was wrong: a process's 4-page block was placed on pages 0-3 of its window, but the
 * kernel had mapped pages 4-7 (a folio aligned by file offset); its faults on pages 0-3 then come
 * on pages the records say it holds. Each page identity still takes one page, so a file never
 * counts more pages than it has (PostgreSQL's small libraries did: 44 pages of a 39-page file). */
static void test_pages_wrong_guess(void)
{
	struct frames *fr = frames__new();
	struct pages *a = pages__new(on_moved, NULL, fr), *b = pages__new(on_moved, NULL, fr);
	struct pages_file fa = { frames__obj_ident(8, 98), 0x7000000, 0x7008000, 0, NULL }; /* 8 pages */
	struct pages_file fb = { frames__obj_ident(8, 98), 0x9000000, 0x9008000, 0, NULL };
	int i;

	memset(moved_to, 0, sizeof(moved_to));
	memset(tree_to, 0, sizeof(tree_to));
	pages__add_file(a, TM_FILEPAGES, 0x7000000 + 4 * PAGE_SIZE, 1, 4 * PAGE_SIZE, &fa);
	for (i = 0; i < 4; i++) /* the pages it did not have, one fault each, on "held" pages */
		pages__add_file(a, TM_FILEPAGES, 0x7000000 + i * PAGE_SIZE, 1, PAGE_SIZE, &fa);
	pages__add_file(b, TM_FILEPAGES, 0x9000000, 2, 8 * PAGE_SIZE, &fb);
	CHECK(moved_to[1] == 8 * PAGE_SIZE && moved_to[2] == 8 * PAGE_SIZE, "each holds 8 pages (process view)");
	CHECK(tree_to[1] + tree_to[2] == 8 * PAGE_SIZE, "the 8-page file counted as 8 pages over the tree (%lld)",
	      (long long)(tree_to[1] + tree_to[2]));
	pages__drain(a);
	pages__drain(b);
	CHECK(!tree_to[1] && !tree_to[2] && !frames__count(fr), "all gone with the holders");
	pages__free(a);
	pages__free(b);
	frames__free(fr);
}

static void test_procmaps(void)
{
	struct procmaps pm = {};
	const char *text =
		"55d0c0000000-55d0c0001000 r--p 00000000 fe:01 123 /usr/bin/prog\n"
		"55d0c0001000-55d0c0002000 r-xp 00001000 fe:01 123 /usr/bin/prog with space\n"
		"garbage line\n"
		"7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\n"
		"7f0000000000-7f0000001000 rw-p 00000000 00:00 0\n";
	const struct map_entry *m;

	procmaps__parse(&pm, text);
	CHECK(pm.n == 4, "4 valid lines of 5 (got %zu)", pm.n);
	m = procmaps__find(&pm, 0x55d0c0001800);
	CHECK(m && m->exec && m->off == 0x1000 && !strcmp(m->path, "/usr/bin/prog with space"), "exec mapping with spaces");
	m = procmaps__find(&pm, 0x7ffd00000010);
	CHECK(m && !strcmp(m->path, "[stack]") && m->write, "stack mapping");
	CHECK(!procmaps__find(&pm, 0x7ffd00021000), "end is exclusive");
	{ /* equal snapshots are one in memory, and each changes apart */
		struct procmaps child = {}, other = {};
		struct map_entry extra = { .start = 0x7fff00000000, .end = 0x7fff00001000, .path = m->path };

		procmaps__parse(&child, text);
		procmaps__parse(&other, "7f0000000000-7f0000001000 rw-p 00000000 00:00 0\n");
		CHECK(child.e == pm.e && other.e != pm.e && child.n == 4 && other.n == 1,
		      "the same text parsed twice: one snapshot; another text: its own");
		procmaps__copy(&other, &pm);
		CHECK(other.e == pm.e && other.n == 4, "a copy shares");
		procmaps__add(&child, &extra);
		CHECK(child.e != pm.e && child.n == 5 && pm.n == 4 && procmaps__find(&child, 0x7fff00000000) &&
			      !procmaps__find(&pm, 0x7fff00000000), "an entry added goes to one's own copy");
		procmaps__clear(&pm);
		CHECK(other.n == 4 && procmaps__find(&other, 0x7ffd00000010), "what another holds outlives a clear");
		procmaps__reset(&other);
		CHECK(!other.n && !procmaps__find(&other, 0x7ffd00000010), "reset empties");
		procmaps__clear(&child);
		procmaps__clear(&other);
	}
	procmaps__clear(&pm);
	{ /* a library split in three (RELRO), the next file right after it, then anonymous memory */
		uint64_t lo = 0, hi = 1;

		procmaps__parse(&pm, "7f0000000000-7f0000005000 r-xp 00000000 fe:01 77 /lib/libx.so\n"
				     "7f0000005000-7f0000007000 r--p 00005000 fe:01 77 /lib/libx.so\n"
				     "7f0000007000-7f0000008000 rw-p 00007000 fe:01 77 /lib/libx.so\n"
				     "7f0000008000-7f0000009000 r--p 00000000 fe:01 78 /etc/ld.so.cache\n"
				     "7f0000009000-7f000000a000 rw-p 00000000 00:00 0\n");
		procmaps__file_span(&pm, 0x7f0000007010, &lo, &hi);
		CHECK(lo == 0x7f0000000000 && hi == 0x7f0000008000, "a file's span: its adjacent entries, not the next file's "
		      "(%llx-%llx)", (unsigned long long)lo, (unsigned long long)hi);
		lo = 0, hi = 1;
		procmaps__file_span(&pm, 0x7f0000009010, &lo, &hi);
		procmaps__file_span(&pm, 0x7f1000000000, &lo, &hi);
		CHECK(lo == 0 && hi == 1, "anonymous memory and unknown addresses leave the span as it was");
		procmaps__clear(&pm);
	}
}

__attribute__((noinline)) int unit_marker_function(int x)
{
	return x * 7 + 1;
}

int unit_data_marker = 1; /* in .data, above every function */

/* A traced process's file, opened through the process: the mapping's own file by map_files,
 * even deleted and with another file planted at its "(deleted)" name; a file that is not the
 * mapping's (another inode, a FIFO) refused and counted, never opened. */
static void test_procfile(void)
{
	char dir[] = "/tmp/taskmem-unit-procfile.XXXXXX", lib[128], del[160], other[128];
	const struct map_entry *m;
	struct procmaps pm = {};
	struct file_ref r;
	struct stat st;
	size_t refused;
	void *map;
	int fd;

	if (!mkdtemp(dir)) {
		CHECK(false, "a temporary directory");
		return;
	}
	snprintf(lib, sizeof(lib), "%s/lib.so", dir);
	snprintf(del, sizeof(del), "%s (deleted)", lib);
	snprintf(other, sizeof(other), "%s/other", dir);
	fd = open(lib, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, "mapped\n", 7) == 7, "a file to map");
	map = fd >= 0 ? mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	if (fd >= 0)
		close(fd);
	close(open(other, O_WRONLY | O_CREAT, 0600));
	CHECK(map != MAP_FAILED && !unlink(lib) && !symlink(other, del), "mapped, deleted, a symlink at its name");
	CHECK(!procmaps__read(&pm, getpid()), "read own maps");
	m = map != MAP_FAILED ? procmaps__find(&pm, (uint64_t)(uintptr_t)map) : NULL;
	CHECK(m && !strcmp(m->path, del), "the maps name it \"%s\"", m ? m->path : "(none)");
	if (m) {
		char buf[8] = "";

		r = (struct file_ref){ .pid = getpid(), .start = m->start, .end = m->end, .ino = m->ino, .dev = m->dev,
				       .path = m->path };
		fd = open_ref(&r, &st);
		CHECK(fd >= 0 && pread(fd, buf, 7, 0) == 7 && !memcmp(buf, "mapped\n", 7),
		      "map_files: the deleted file itself (%d)", fd);
		if (fd >= 0)
			close(fd);
		/* no mapping to go through: the path under its root is the planted symlink */
		refused = files_refused();
		r.start = r.end = 0;
		CHECK(open_ref(&r, &st) == -ESTALE && files_refused() == refused + 1,
		      "the file at its path (another inode) is refused and counted");
		unlink(del);
		CHECK(!mkfifo(del, 0600) && open_ref(&r, &st) == -ESTALE, "a FIFO at its path is refused, not waited on");
		r.ino = 0;
		CHECK(open_ref(&r, &st) < 0, "an inode not known: no path is trusted");
	}
	CHECK(open_regular(del) < 0, "open_regular: a FIFO refused without blocking");
	fd = open_regular(other);
	CHECK(fd >= 0, "open_regular: a regular file");
	if (fd >= 0)
		close(fd);
	if (map != MAP_FAILED)
		munmap(map, 4096);
	procmaps__clear(&pm);
	unlink(del);
	unlink(other);
	rmdir(dir);
}

static void test_elfsyms(void)
{
	struct procmaps pm = {};
	uint64_t addr = (uint64_t)(uintptr_t)&unit_marker_function, off = 0;
	const struct map_entry *m;
	const struct elf_syms *es;
	const char *name = NULL;

	CHECK(!procmaps__read(&pm, getpid()), "read own maps");
	m = procmaps__find(&pm, addr);
	CHECK(m && m->exec, "own function is in an exec mapping");
	es = m ? elfsyms__get(m->path) : NULL;
	CHECK(es && elfsyms__count(es) > 0, "own symbols load");
	if (es)
		name = elfsyms__lookup(es, addr + 5 - m->start + m->off, &off);
	CHECK(name && !strcmp(name, "unit_marker_function") && off == 5, "PIE address maps to the function (%s+%llu)",
	      name ? name : "(null)", (unsigned long long)off);
	CHECK(!elfsyms__is_go(es), "a C binary is not Go");
	/* a bad return address into data: no function's, though _fini (unsized) lies below */
	m = procmaps__find(&pm, (uint64_t)(uintptr_t)&unit_data_marker);
	name = es && m && map_entry__is_file(m) ?
		elfsyms__lookup(es, (uint64_t)(uintptr_t)&unit_data_marker - m->start + m->off, &off) : "(no mapping)";
	CHECK(!name, "an address in a data segment names no function (%s)", name ? name : "");
	CHECK(elfsyms__get("/etc/hostname") == NULL, "a non-ELF file gives no table");
	procmaps__clear(&pm);
}

static void test_demangle(void)
{
	/* C++ (no parameter lists), Rust legacy (hash dropped) and Rust v0 */
	CHECK(!strcmp(demangle(intern("_ZN3foo3bar3bazEv")), "foo::bar::baz"), "C++: %s", demangle(intern("_ZN3foo3bar3bazEv")));
	CHECK(!strcmp(demangle(intern("_ZN4core3ptr13drop_in_place17h0123456789abcdefE")), "core::ptr::drop_in_place"),
	      "Rust legacy: %s", demangle(intern("_ZN4core3ptr13drop_in_place17h0123456789abcdefE")));
	CHECK(!strcmp(demangle(intern("_RNvCs15kBYyAo9fc_7mycrate7example")), "mycrate::example"),
	      "Rust v0: %s", demangle(intern("_RNvCs15kBYyAo9fc_7mycrate7example")));
	CHECK(!strcmp(demangle(intern("main")), "main") && !strcmp(demangle(intern("_Zgarbage")), "_Zgarbage"),
	      "plain and malformed names are left alone");
}

static void test_perfmap(void)
{
	/* Node, JVM (0x...) and Mono style lines; a malformed one; a later redefinition wins;
	 * the unfinished last line is left for the next read */
	static const char text[] = "7f0000001000 100 LazyCompile:*foo /app/x.js:1\n"
				   "0x00007f0000002000 0x0000000000000080 Interpreter\n"
				   "zz 10 bad\n"
				   "7f0000001080 40 LazyCompile:*bar /app/x.js:9\n"
				   "7f0000003000 0 zero-sized\n"
				   "7f0000004000 10 unfinish";
	struct perfmap pm = {};
	size_t used = perfmap__parse(&pm, text, sizeof(text) - 1);

	CHECK(used == strlen(text) - strlen("7f0000004000 10 unfinish"), "consumed up to the last newline (%zu)", used);
	CHECK(pm.n == 3, "3 valid entries (got %zu)", pm.n);
	CHECK(perfmap__find(&pm, 0x7f0000001000) && !strcmp(perfmap__find(&pm, 0x7f0000001000), "LazyCompile:*foo /app/x.js:1"),
	      "start of the first entry");
	CHECK(perfmap__find(&pm, 0x7f00000010a0) && !strcmp(perfmap__find(&pm, 0x7f00000010a0), "LazyCompile:*bar /app/x.js:9"),
	      "the later, overlapping entry wins");
	CHECK(perfmap__find(&pm, 0x7f00000010f0) && !strcmp(perfmap__find(&pm, 0x7f00000010f0), "LazyCompile:*foo /app/x.js:1"),
	      "past the later entry, the earlier one again");
	CHECK(perfmap__find(&pm, 0x7f000000207f) && !perfmap__find(&pm, 0x7f0000002080), "0x-prefixed entry, end exclusive");
	CHECK(!perfmap__find(&pm, 0x7f0000003000), "zero-sized entries are skipped");
	perfmap__clear(&pm);
}

/* A traced process's map read on when code ran after its last read (this process's own map) */
static void test_perfmap_lookup(void)
{
	char path[64];
	const char *a, *b;
	uint64_t t0;
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	f = fopen(path, "w");
	if (!f) {
		CHECK(0, "cannot write %s", path);
		return;
	}
	fputs("7f0000001000 800 Function:^old /app/x.js:1\n", f);
	fflush(f);
	a = perfmap__lookup(getpid(), getuid(), 0, 0x7f0000001100, 0);
	CHECK(a && !strcmp(a, "Function:^old /app/x.js:1"), "the entry read (%s)", a ? a : "none");
	/* V8 freed old's code and compiled new at the same address, and new ran */
	t0 = now_ns();
	fputs("7f0000001080 100 LazyCompile:*new /app/x.js:9\n", f);
	fclose(f);
	b = perfmap__lookup(getpid(), getuid(), 0, 0x7f0000001100, 0);
	if (now_ns() - t0 < 20000000ull) /* read at most every 20 ms otherwise */
		CHECK(b == a, "not read on for code that ran before the last read (%s)", b ? b : "none");
	b = perfmap__lookup(getpid(), getuid(), 0, 0x7f0000001100, t0);
	CHECK(b && !strcmp(b, "LazyCompile:*new /app/x.js:9"), "read on for code that ran after the last read (%s)",
	      b ? b : "none");
	unlink(path);
	perfmap__free_all();
}

/* What the worker-built tables did to a fake kernel side */
static struct {
	int loads, commits, adds;
	uint32_t tgid, n;
	struct tm_unwind_range r[TM_UNWIND_RANGES];
} fake;

static int fake_load(void *ctx, const void *table)
{
	return fake.loads++;
}

static int fake_commit(void *ctx)
{
	fake.commits++;
	return 0;
}

static int fake_add(void *ctx, uint32_t tgid, const struct tm_unwind_range *r, uint32_t n)
{
	fake.adds++;
	fake.tgid = tgid;
	fake.n = n;
	memcpy(fake.r, r, n * sizeof(*r));
	return 0;
}

/* The cache with a worker: a file first seen is not waited for (no range yet), its table is
 * loaded at a later poll and the waiting process's mapping given to it; the next maps read
 * finds it cached; a cache freed while a build runs returns at once. */
static void test_unwind_worker(void)
{
	struct procmaps pm = {}, one = {};
	struct tm_unwind_proc up;
	struct unwind_cache *c;
	const struct map_entry *libc = NULL;
	uint64_t t0;
	int n;

	if (procmaps__read(&pm, getpid())) {
		CHECK(0, "own maps read");
		return;
	}
	for (size_t i = 0; i < pm.n; i++)
		if (pm.e[i].exec && !strcmp(basename_of(pm.e[i].path), "libc.so.6"))
			libc = &pm.e[i];
	if (!libc) {
		CHECK(0, "libc's text in our maps");
		procmaps__clear(&pm);
		return;
	}
	one.e = (struct map_entry *)libc; /* only libc's text: (frameless, 28k rows) */
	one.n = 1;
	memset(&fake, 0, sizeof(fake));
	c = unwind__cache_new(fake_load, fake_commit, fake_add, NULL);
	n = unwind__proc_ranges(c, getpid(), &one, &up);
	CHECK(n == 0 && !fake.loads, "first sight: queued, no range yet (%d ranges, %d loads)", n, fake.loads);
	for (t0 = now_ns(); !fake.adds && now_ns() - t0 < 10000000000ull;) {
		usleep(5000);
		unwind__cache_poll(c);
	}
	CHECK(fake.loads == 1 && fake.commits == 1, "built, loaded at a poll, committed once (%d, %d)", fake.loads,
	      fake.commits);
	CHECK(fake.adds == 1 && fake.tgid == (uint32_t)getpid() && fake.n == 1 && fake.r[0].start == libc->start &&
	      fake.r[0].end == libc->end && fake.r[0].file == 0 && fake.r[0].nrows > 1000,
	      "libc's text given to the process that waited (%d adds, %u ranges)", fake.adds, fake.n);
	n = unwind__proc_ranges(c, getpid(), &one, &up);
	CHECK(n == 1 && up.r[0].start == libc->start && fake.adds == 1, "the next maps read finds it cached (%d)", n);
	unwind__cache_free(c);

	c = unwind__cache_new(fake_load, fake_commit, fake_add, NULL);
	unwind__proc_ranges(c, getpid(), &one, &up);
	t0 = now_ns();
	unwind__cache_free(c); /* the build given up, its fd and rows freed (ASan's pass) */
	CHECK(now_ns() - t0 < 500000000ull, "freed during a build in %.3f s", (now_ns() - t0) / 1e9);

	/* More mappings waiting than BPF keeps ranges (8): the largest wait. libc's text, 7 small
	 * made-up mappings of it (not mapped here: given nothing), then libc's text again, larger
	 * than they are: it takes the smallest one's place, so both of libc's are given */
	{
		struct map_entry e[TM_UNWIND_RANGES + 1];

		for (int i = 0; i <= TM_UNWIND_RANGES; i++) {
			e[i] = *libc;
			if (i && i < TM_UNWIND_RANGES) {
				e[i].start = 0x10000000ull * (uint64_t)i;
				e[i].end = e[i].start + 0x1000ull * (uint64_t)i;
			}
		}
		one.e = e;
		one.n = TM_UNWIND_RANGES + 1;
		memset(&fake, 0, sizeof(fake));
		c = unwind__cache_new(fake_load, fake_commit, fake_add, NULL);
		unwind__proc_ranges(c, getpid(), &one, &up);
		for (t0 = now_ns(); !fake.adds && now_ns() - t0 < 10000000000ull;) {
			usleep(5000);
			unwind__cache_poll(c);
		}
		CHECK(fake.adds == 1 && fake.n == 2 && fake.r[0].start == libc->start && fake.r[1].start == libc->start,
		      "9 mappings waiting: the largest kept, libc's text given twice (%d adds, %u ranges)", fake.adds, fake.n);
		unwind__cache_free(c);
		one.e = (struct map_entry *)libc;
		one.n = 1;
	}
	procmaps__clear(&pm);
}

/* The row of the code at addr in this process: its file's table, by /proc/self/maps. */
static const struct tm_unwind_row *row_at(const void *addr, struct unwind_table *t)
{
	struct procmaps pm = {};
	const struct map_entry *m;
	const struct tm_unwind_row *r = NULL;
	uint64_t off;

	memset(t, 0, sizeof(*t));
	if (procmaps__read(&pm, getpid()) || !(m = procmaps__find(&pm, (uint64_t)(uintptr_t)addr)) ||
	    unwind__build(m->path, t)) {
		procmaps__clear(&pm);
		return NULL;
	}
	off = (uint64_t)(uintptr_t)addr - m->start + m->off;
	for (size_t i = 0; i < t->n && t->rows[i].pc <= off; i++)
		r = &t->rows[i];
	procmaps__clear(&pm);
	return r;
}

static void test_unwind(void)
{
	/* at a function's first instruction the call has just pushed the return address: on
	 * x86-64 the CFA is rsp + 8 whatever the code, with or without frame pointers */
	const void *fns[] = { (const void *)test_unwind, (const void *)hashmap__new, (const void *)unwind__build,
			      (const void *)getpid, (const void *)sched_yield };
	const char *names[] = { "test_unwind", "hashmap__new", "unwind__build", "getpid (libc)", "sched_yield (libc)" };
	struct unwind_table t;
	bool sorted = true;

	for (size_t i = 0; i < sizeof(fns) / sizeof(*fns); i++) {
		const struct tm_unwind_row *r = row_at(fns[i], &t);

		CHECK(r && r->cfa_reg == TM_CFA_RSP && r->cfa_off == 8 && !r->rbp_saved,
		      "%s: CFA = rsp + 8 at its entry (got reg %d off %d)", names[i], r ? r->cfa_reg : -1,
		      r ? r->cfa_off : 0);
		for (size_t j = 1; j < t.n; j++)
			sorted &= t.rows[j - 1].pc < t.rows[j].pc;
		unwind__table_free(&t);
	}
	CHECK(sorted, "rows sorted by pc, one per pc");
	/* Debian's glibc keeps no frame pointer: its table is what the walk uses there */
	row_at((const void *)getpid, &t); /* not one the sanitizers wrap */
	CHECK(t.fdes > 1000 && unwind__frameless(&t), "libc: %zu functions, %zu with rbp frames: frameless",
	      t.fdes, t.fdes_fp);
	unwind__table_free(&t);
	CHECK(unwind__build("/proc/self/status", &t) < 0 && !t.n, "a file that is not ELF has no table");
	{ /* a traced program can put a FIFO where its library was: refused, not waited on */
		char fifo[] = "/tmp/taskmem-unit-fifo.XXXXXX";
		int tmp = mkstemp(fifo);

		if (tmp >= 0) {
			close(tmp);
			unlink(fifo);
		}
		CHECK(tmp >= 0 && !mkfifo(fifo, 0600) && unwind__build(fifo, &t) < 0 && !t.n,
		      "a FIFO is refused without blocking");
		unlink(fifo);
	}
}

/* A traced program may truncate a library while the tool builds its table: another thread here
 * writes a copy of libc, leaves it 5 ms, shrinks it to one page for 0.5 ms, again and again,
 * while tables of it are built (~10 ms each). A mapped read past the shrunk end would be SIGBUS
 * and kill this test (it did, before the tool read the file into memory of its own). */
struct truncator {
	int fd;
	const char *data;
	size_t len;
	volatile bool stop;
};

static void *truncate_loop(void *arg)
{
	struct truncator *tr = arg;

	while (!tr->stop) {
		if (pwrite(tr->fd, tr->data, tr->len, 0) != (ssize_t)tr->len)
			break;
		usleep(5000);
		if (ftruncate(tr->fd, 4096))
			break;
		usleep(500);
	}
	return NULL;
}

/* libc's bytes (*data, *len) and a file of them made from template; its fd, or -1 */
static int copy_libc(char *template, char **data, size_t *len)
{
	struct procmaps pm = {};
	const struct map_entry *m;
	FILE *f = NULL;
	int fd = mkstemp(template);

	*data = NULL;
	if (fd >= 0 && !procmaps__read(&pm, getpid()) && (m = procmaps__find(&pm, (uint64_t)(uintptr_t)getpid)) &&
	    (f = fopen(m->path, "rb"))) {
		*data = xmalloc(64u << 20);
		*len = fread(*data, 1, 64u << 20, f);
		if (*len > 4096 && pwrite(fd, *data, *len, 0) == (ssize_t)*len) {
			fclose(f);
			procmaps__clear(&pm);
			return fd;
		}
	}
	if (f)
		fclose(f);
	procmaps__clear(&pm);
	free(*data);
	*data = NULL;
	if (fd >= 0) {
		close(fd);
		unlink(template);
	}
	return -1;
}

/* The table built by running each FDE's program once equals libdw's, asked at every row: for
 * the files of this process (the test itself, libc, libm, the loader...) and the fuzz seeds of
 * every rule read here */
static void test_unwind_libdw_agrees(void)
{
	const char *seeds[] = { "tests/fuzz/corpus/unwind/cfi-ops", "tests/fuzz/corpus/unwind/shared-nofp" };
	struct procmaps pm = {};
	const char *paths[64];
	size_t n = 0, rows = 0;

	if (!procmaps__read(&pm, getpid()))
		for (size_t i = 0; i < pm.n && n < 60; i++)
			if (pm.e[i].exec && map_entry__is_file(&pm.e[i]))
				paths[n++] = pm.e[i].path;
	for (size_t i = 0; i < sizeof(seeds) / sizeof(*seeds); i++)
		if (!access(seeds[i], R_OK))
			paths[n++] = seeds[i];
	for (size_t i = 0; i < n; i++) {
		struct unwind_table a, b;
		int ea, eb;

		ea = unwind__build(paths[i], &a);
		unwind__libdw_only = true;
		eb = unwind__build(paths[i], &b);
		unwind__libdw_only = false;
		CHECK(ea == eb && a.n == b.n && a.fdes == b.fdes && a.fdes_fp == b.fdes_fp &&
		      (!a.n || !memcmp(a.rows, b.rows, a.n * sizeof(*a.rows))),
		      "%s: the table equals libdw's (%d/%d, %zu/%zu rows)", paths[i], ea, eb, a.n, b.n);
		rows += a.n;
		unwind__table_free(&a);
		unwind__table_free(&b);
	}
	CHECK(n >= 3 && rows > 10000, "compared %zu files, %zu rows", n, rows);
	procmaps__clear(&pm);
}

static void test_labels(void)
{
	int a = label_id(CAT_FILE, "libfoo.so"), b = label_id(CAT_HEAP, "libfoo.so"), ok = 1;
	char name[32];

	CHECK(a != b && label_id(CAT_FILE, "libfoo.so") == a, "a label is its category and name");
	for (int i = 0; i < 60000 && ok; i++) { /* a label per mapped file */
		snprintf(name, sizeof(name), "f%d", i);
		ok = label_id(CAT_FILE, name) == label_id(CAT_FILE, name) && label_get(label_id(CAT_FILE, name))->cat == CAT_FILE;
	}
	CHECK(ok && label_id(CAT_FILE, "f59999") == b + 60000 && !strcmp(label_get(b + 1)->name, "f0"),
	      "60k labels: ids in order of first use, found again");
	labels__free();
	CHECK(label_id(CAT_OTHER, "x") == 0, "labels__free starts ids again from 0");
	labels__free();
}

static void test_unwind_truncated(void)
{
	char path[] = "/tmp/taskmem-unit-trunc.XXXXXX";
	struct unwind_table t;
	size_t builds = 0, complete = 0, len = 0;
	char *data;
	int fd = copy_libc(path, &data, &len);
	struct truncator tr = { .fd = fd, .data = data, .len = len };
	pthread_t th;
	uint64_t end;

	if (tr.fd < 0 || pthread_create(&th, NULL, truncate_loop, &tr)) {
		CHECK(false, "a copy of libc to truncate");
		goto out;
	}
	for (end = now_ns() + 1000000000ull; builds < 500 && now_ns() < end; builds++) {
		complete += !unwind__build(path, &t) && t.fdes > 1000;
		unwind__table_free(&t);
	}
	tr.stop = true;
	pthread_join(th, NULL);
	CHECK(builds > 0 && complete > 0, "%zu tables built of a file truncated and restored meanwhile (%zu complete): no SIGBUS",
	      builds, complete);
out:
	free(data);
	if (tr.fd >= 0) {
		close(tr.fd);
		unlink(path);
	}
}

/* A traced program can map a huge sparse file whose section headers claim a giant .eh_frame:
 * what the table builder reads of a file is bounded, whatever the file says. */
static void test_unwind_huge_section(void)
{
	char path[] = "/tmp/taskmem-unit-huge.XXXXXX";
	struct unwind_table t;
	struct rusage r0, r1;
	bool patched = false;
	size_t len;
	char *data;
	int fd = copy_libc(path, &data, &len), err = 0;

	if (fd >= 0) {
		Elf64_Ehdr *eh = (Elf64_Ehdr *)data;
		Elf64_Shdr *sh = (Elf64_Shdr *)(data + eh->e_shoff);
		const char *names = data + sh[eh->e_shstrndx].sh_offset;

		for (size_t i = 0; i < eh->e_shnum; i++)
			if (!strcmp(names + sh[i].sh_name, ".eh_frame")) {
				sh[i].sh_size = 2ull << 30;
				patched = true;
			}
		/* 4 GiB, sparse: the claimed section is all there, as zeros */
		patched &= pwrite(fd, data, len, 0) == (ssize_t)len && !ftruncate(fd, 4ull << 30);
		getrusage(RUSAGE_SELF, &r0);
		err = unwind__build(path, &t);
		getrusage(RUSAGE_SELF, &r1);
		unwind__table_free(&t);
	}
	CHECK(fd >= 0 && patched && err < 0 && r1.ru_maxrss - r0.ru_maxrss < 64 * 1024,
	      "a file claiming a 2 GiB .eh_frame: no table, peak RSS +%ld kB", fd >= 0 ? r1.ru_maxrss - r0.ru_maxrss : 0);
	free(data);
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
}

static void test_escape(void)
{
	static const struct { const char *in, *json, *term; } cases[] = {
		{ "plain <x>", "\"plain \\u003cx\\u003e\"", "plain <x>" },
		{ "\x1b]0;t\x07", "\"\\u001b]0;t\\u0007\"", "\\x1b]0;t\\x07" },
		{ "\xff\xc3(", "\"\\u00ff\\u00c3(\"", "\\xff\\xc3(" },           /* not UTF-8 */
		{ "\xc3\xa9t\xc3\xa9", "\"\xc3\xa9t\xc3\xa9\"", "\xc3\xa9t\xc3\xa9" }, /* UTF-8 kept */
		{ "\xc2\x9b" "2J", "\"\xc2\x9b" "2J\"", "\\xc2\\x9b2J" },                /* C1 CSI */
		{ "\xe0\x80\xaf", "\"\\u00e0\\u0080\\u00af\"", "\\xe0\\x80\\xaf" }, /* overlong */
		{ "\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\"", "\\xed\\xa0\\x80" }, /* surrogate */
	};
	char buf[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		FILE *m = fmemopen(buf, sizeof(buf), "w");

		esc_json(m, cases[i].in);
		fclose(m);
		CHECK(!strcmp(buf, cases[i].json), "esc_json case %zu: got %s", i, buf);
		m = fmemopen(buf, sizeof(buf), "w");
		esc_term(m, cases[i].in);
		fclose(m);
		CHECK(!strcmp(buf, cases[i].term), "esc_term case %zu: got %s", i, buf);
	}
}

/* The 3.11 location-table decoder against CPython's own co_lines() for real code objects
 * (tests/data/py311_linetables.txt, made by python3.11 from asyncio's and json's code), and the
 * split of a stack's Python part. */
static void test_pyframes(void)
{
	FILE *f = fopen("tests/data/py311_linetables.txt", "r");
	static char line[16384];
	int codes = 0, units = 0, bad = 0, first_bad = -1;
	uint8_t lt[4096];

	CHECK(f != NULL, "tests/data/py311_linetables.txt opens");
	while (f && fgets(line, sizeof(line), f)) {
		char *hex, *want, *p;
		int first, u = 0;
		size_t n = 0;

		if (line[0] == '#')
			continue;
		first = (int)strtol(strtok(line, " "), NULL, 10);
		hex = strtok(NULL, " ");
		want = strtok(NULL, " \n");
		if (!hex || !want)
			continue;
		for (p = hex; p[0] && p[1] && n < sizeof(lt); p += 2) {
			unsigned b;

			sscanf(p, "%2x", &b);
			lt[n++] = (uint8_t)b;
		}
		for (p = strtok(want, ","); p; p = strtok(NULL, ","), u++) {
			int got = pyframes__line(lt, n, first, u);

			units++;
			if (got != atoi(p) && !bad++)
				first_bad = codes;
		}
		codes++;
	}
	if (f)
		fclose(f);
	CHECK(codes >= 6 && !bad, "the lines of %d code units of %d code objects as co_lines() gives them "
	      "(%d differ, first in code object %d)", units, codes, bad, first_bad);
	CHECK(pyframes__line(lt, 0, 10, -1) == 10, "a frame not started is at the first line");
	{
		uint64_t ips[6] = { 0x401000, 0x402000, TM_PY_MARK | 3 << 8 | TM_PYF_TRUNC, 0x7f0000001000ull,
				    0x7f0000002000ull | TM_PY_ENTRY, 0x7f0000003000ull };
		uint64_t none[3] = { 0x401000, TM_PY_MARK | 5 << 8, 0x1 };

		CHECK(pyframes__split(ips, 6) == 2, "the Python part starts after its marker");
		CHECK(pyframes__split(none, 3) == -1, "a marker whose count does not match the stack is none");
		CHECK(pyframes__split(ips, 2) == -1, "a stack without a marker has no Python part");
	}
}

static struct tm_event kev(uint64_t ms, uint32_t tgid, uint8_t part, int64_t arg, uint64_t ret)
{
	return (struct tm_event){ .ts = ms * 1000000ull, .kind = TM_EV_KSTAT, .member = part, .tgid = tgid,
				  .arg = (uint64_t)arg, .ret = ret, .len = 16384 };
}

/* The kernel's share from the kernel's events (kernel.c): thread deltas from a known start,
 * page tables per process, slab that outlives its process, late records of another CPU after an
 * exit, and the samples a run without a cgroup gets (a quiet stretch's state kept). */
static void test_kernel_events(void)
{
	struct kernel_state k = { .interval_ns = 50000000ull };
	struct tm_event e;
	struct kernel_sample now;
	int i;

	kernel__proc_start(&k, 100);
	for (i = 0; i < 3; i++) {
		e = kev(1 + i, 100, TM_KPART_THREADS, 1, 99); /* ret: the kernel's count, unused here */
		kernel__event(&k, &e);
	}
	e = (struct tm_event){ .ts = 5000000, .kind = TM_EV_RSS, .flags = TM_F_CURR | TM_F_PGTABLES, .tgid = 100, .extra2 = (8192ull >> 12) << 32 };
	kernel__event(&k, &e);
	e = kev(6, 100, TM_KPART_SLAB, 0, 20000);
	kernel__event(&k, &e);
	e = kev(7, 100, TM_KPART_SLAB, 0, 5000);
	kernel__event(&k, &e);
	kernel__bpf_now(&k, 8000000, &now);
	CHECK(now.threads == 4 && now.stacks == 4 * 16384 && now.pagetables == 8192 && now.slab == 5000 &&
		      now.total == 4 * 16384 + 8192 + 5000,
	      "4 threads, 8 KiB of page tables, 5000 B of slab: %u threads, %llu, %llu, %llu, total %llu", now.threads,
	      (unsigned long long)now.stacks, (unsigned long long)now.pagetables, (unsigned long long)now.slab,
	      (unsigned long long)now.total);
	CHECK(k.peak_bpf.total == 4 * 16384 + 8192 + 20000, "the peak at the change that made it: %llu",
	      (unsigned long long)k.peak_bpf.total);
	/* a process seen only through its records (-p): the kernel's count */
	e = kev(100, 200, TM_KPART_THREADS, 1, 7);
	kernel__event(&k, &e);
	kernel__bpf_now(&k, 0, &now);
	CHECK(now.threads == 11, "an attached process's 7 threads by the kernel's count: %u", now.threads);
	/* the exit: stacks and page tables go, slab stays; a late thread or RSS record is ignored */
	kernel__proc_exit(&k, 100, 200000000ull);
	e = kev(201, 100, TM_KPART_THREADS, -1, 0);
	kernel__event(&k, &e);
	e = (struct tm_event){ .ts = 202000000, .kind = TM_EV_RSS, .flags = TM_F_CURR | TM_F_PGTABLES, .tgid = 100, .extra2 = (4096ull >> 12) << 32 };
	kernel__event(&k, &e);
	kernel__bpf_now(&k, 0, &now);
	CHECK(now.threads == 7 && now.pagetables == 0 && now.slab == 5000,
	      "after the exit: %u threads (the other process's 7), %llu page tables, slab %llu kept", now.threads,
	      (unsigned long long)now.pagetables, (unsigned long long)now.slab);
	/* the pid again, a new process: one thread */
	kernel__proc_start(&k, 100);
	kernel__bpf_now(&k, 0, &now);
	CHECK(now.threads == 8, "a new process of the same pid starts with one thread: %u", now.threads);
	kernel__finish(&k, 300000000ull);
	/* samples: the first change; at most one per 50 ms after it; the state a quiet stretch held
	 * (4 threads at 7 ms, until 100 ms), and the end */
	CHECK(k.n >= 4 && k.s[0].ts == 1000000 && k.s[k.n - 1].ts == 300000000ull, "%zu samples, first at %llu, last at %llu",
	      k.n, (unsigned long long)(k.n ? k.s[0].ts : 0), (unsigned long long)(k.n ? k.s[k.n - 1].ts : 0));
	for (i = 0; i < (int)k.n && k.s[i].ts != 7000000; i++)
		;
	CHECK(i < (int)k.n && k.s[i].threads == 4 && k.s[i].slab == 5000, "the quiet stretch's state at 7 ms is a sample");
	for (i = 1; i < (int)k.n; i++)
		CHECK(k.s[i].ts >= k.s[i - 1].ts, "samples in time order");
	kernel__free(&k);
}

int main(void)
{
	test_kernel_events();
	test_hashmap();
	test_pyframes();
	test_regions();
	test_regions_model();
	test_pages();
	test_take_near_block();
	test_pages_shared();
	test_pages_runs();
	test_pages_many();
	test_frames_dead();
	test_pages_fault_around();
	test_pages_wrong_guess();
	test_procmaps();
	test_elfsyms();
	test_procfile();
	test_escape();
	test_demangle();
	test_perfmap();
	test_perfmap_lookup();
	test_unwind();
	test_unwind_worker();
	test_unwind_libdw_agrees();
	test_labels();
	test_unwind_truncated();
	test_unwind_huge_section();
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
