// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/types.h>
#include "pages.h"
#include "taskmem.h"
#include "util.h"

#define FAULT_AROUND (64ull << 10) /* fault_around_bytes' default */
#define HUGE_PAGE (2ull << 20)
#define REC_BUCKET_MASK ((1u << PAGES_BUCKET_BITS) - 1)
#define REC_DUP (1u << PAGES_BUCKET_BITS) /* in the process view only */

/* The bytes held at n keys start, start + PAGE_SIZE, ...: a run (n > 1) is adjacent pages of
 * PAGE_SIZE bytes each, in one bucket, counting themselves; anything else (a huge page, a
 * fault-around block, a page that references a frame, PAGES_UNPLACED) is a record of one key. */
struct rec {
	uint64_t start;
	uint64_t bytes; /* of all its keys */
	uint32_t n;
	uint32_t meta;  /* bucket | REC_DUP if the record does not count itself */
	uint32_t frame; /* the frame it references (with REC_DUP), or 0 */
};

/* A member's records sorted by start, in chunks (a one-level B-tree). What a search needs
 * before the record itself (each chunk's first start, where its records are) is in arrays of
 * their own, dense enough to stay in cache: a random lookup in 4 GiB of scattered pages then
 * misses once or twice (the record, its neighbour), where a chunk header and a binary search
 * through the chunk missed six or seven times. A chunk's records may sit anywhere in it, so
 * that an insert or delete moves the records on its shorter side: pages faulted in descending
 * order (mappings made top-down, touched in turn) go in at a chunk's front. */
#define CHUNK 128
struct chunk {
	struct rec r[CHUNK];
};
struct span {
	uint32_t off, n; /* a chunk's records are r[off, off + n) */
};
struct recs {
	struct chunk **c;
	uint64_t *first; /* each chunk's first start */
	struct span *s;  /* each chunk's records */
	size_t nc, cap, fcap, scap;
	size_t count;
	size_t hint;     /* the chunk the last search ended in: the next one often does too */
};
struct pos {
	size_t c;
	uint32_t i;
};

/* Chunks come from 2 MiB blocks the kernel may back with huge pages (MADV_HUGEPAGE): a search
 * through thousands of chunks (4 GiB of pages touched in random order) then misses the TLB far
 * less (that fill replayed: 0.31 -> 0.24 s with the whole heap on huge pages). A freed chunk is
 * reused, its block kept. The accountant's thread alone makes and frees records. ASan builds
 * allocate each chunk, for its checks. */
#ifdef __SANITIZE_ADDRESS__
static struct chunk *chunk_new(void)
{
	return xcalloc(1, sizeof(struct chunk));
}

static void chunk_free(struct chunk *c)
{
	free(c);
}
#else
#define CHUNK_BLOCK (2ul << 20)
static struct {
	void **blocks;
	size_t nblocks, cap;
	char *next, *end;         /* the rest of the last block */
	struct chunk *free;       /* freed chunks, each linked through its first bytes */
} pool;

static struct chunk *chunk_new(void)
{
	struct chunk *c = pool.free;
	void *b;

	if (c) {
		const void *link = c; /* a freed chunk's first bytes: the next free one */

		memcpy(&pool.free, link, sizeof(pool.free));
	} else {
		if (pool.next == pool.end) {
			if (posix_memalign(&b, CHUNK_BLOCK, CHUNK_BLOCK))
				return xcalloc(1, sizeof(struct chunk)); /* freed into the pool like the others */
			madvise(b, CHUNK_BLOCK, MADV_HUGEPAGE); /* a hint: without it, small pages */
			GROW(pool.blocks, pool.cap, pool.nblocks + 1);
			pool.blocks[pool.nblocks++] = b;
			pool.next = b;
			pool.end = pool.next + CHUNK_BLOCK;
		}
		c = (struct chunk *)pool.next;
		pool.next += sizeof(struct chunk);
	}
	memset(c, 0, sizeof(*c));
	return c;
}

static void chunk_free(struct chunk *c)
{
	void *link = c;

	memcpy(link, &pool.free, sizeof(pool.free));
	pool.free = c;
}
#endif

struct pages {
	struct recs rec[TM_NR_MEMBERS];
	struct frames *fr;
	uint64_t cursor[TM_NR_MEMBERS]; /* the key take_any's walk goes on from */
	/* the range free in progress (a syscall's frees come as several RSS changes): where each
	 * member's walk through it stopped */
	uint64_t rng_start, rng_end, rng_ts, rng_next[TM_NR_MEMBERS];
	pages_moved_fn moved;
	void *ctx;
};

/* ---- the sorted record set ---- */

static struct rec *recs_at(struct recs *rs, struct pos p)
{
	return &rs->c[p.c]->r[rs->s[p.c].off + p.i];
}

static bool recs_valid(const struct recs *rs, struct pos p)
{
	return p.c < rs->nc;
}

static void recs_next(const struct recs *rs, struct pos *p)
{
	if (++p->i >= rs->s[p->c].n) {
		p->c++;
		p->i = 0;
	}
}

/* Chunks from which a search guesses: fewer stay in cache, where a binary search through the
 * chunk costs less than the guess's division. */
#define GUESS_CHUNKS 16

/* In chunk ci (which starts at or before key), the last record that starts at or before key.
 * Pages are spread evenly enough over a chunk's span (up to the next chunk's first start) that
 * the record is guessed from where key falls in it, then found in a few steps from there;
 * binary search for the last chunk, for few chunks, or when the guess is far off. */
static uint32_t chunk_le(const struct recs *rs, size_t ci, uint64_t key)
{
	const struct rec *r = rs->c[ci]->r + rs->s[ci].off;
	uint32_t n = rs->s[ci].n, a = 0, b = n, g, step;

	if (ci + 1 < rs->nc && rs->nc >= GUESS_CHUNKS) {
		uint64_t lo = rs->first[ci], span = rs->first[ci + 1] - lo;

		g = (uint32_t)((double)(key - lo) / (double)span * n);
		if (g >= n)
			g = n - 1;
		if (r[g].start <= key) {
			for (step = 0; step < 4 && g + 1 < n && r[g + 1].start <= key; step++)
				g++;
			if (g + 1 == n || r[g + 1].start > key)
				return g;
			a = g + 1;
		} else {
			for (step = 0; step < 4 && g > 0 && r[g - 1].start > key; step++)
				g--;
			if (r[g - 1].start <= key) /* r[0].start <= key: g > 0 */
				return g - 1;
			b = g - 1;
		}
	}
	while (a < b) { /* the first record that starts after key */
		uint32_t mid = (a + b) / 2;

		if (r[mid].start <= key)
			a = mid + 1;
		else
			b = mid;
	}
	return a - 1;
}

/* The last record that starts at or before key; false if none does. */
static bool recs_le(struct recs *rs, uint64_t key, struct pos *p)
{
	const uint64_t *f = rs->first;
	size_t base = rs->hint, n = rs->nc;

	if (!n || f[0] > key)
		return false;
	if (base >= n || f[base] > key || (base + 1 < n && f[base + 1] <= key)) {
		base = 0;
		while (n > 1) { /* the last chunk that starts at or before key, without branches to miss */
			size_t half = n / 2;

			base = f[base + half] <= key ? base + half : base;
			n -= half;
		}
		rs->hint = base;
	}
	*p = (struct pos){ base, chunk_le(rs, base, key) };
	return true;
}

/* The first record that starts at or after key (invalid if none). */
static struct pos recs_ge(struct recs *rs, uint64_t key)
{
	struct pos p = { 0, 0 };

	if (recs_le(rs, key, &p) && recs_at(rs, p)->start < key)
		recs_next(rs, &p);
	return p;
}

/* Make room for a chunk at index ci (ci <= nc), its records at c->r[off, off + n). */
static void recs_open(struct recs *rs, size_t ci, struct chunk *c, uint64_t first, uint32_t off, uint32_t n)
{
	GROW(rs->c, rs->cap, rs->nc + 1);
	GROW(rs->first, rs->fcap, rs->nc + 1);
	GROW(rs->s, rs->scap, rs->nc + 1);
	memmove(rs->c + ci + 1, rs->c + ci, sizeof(*rs->c) * (rs->nc - ci));
	memmove(rs->first + ci + 1, rs->first + ci, sizeof(*rs->first) * (rs->nc - ci));
	memmove(rs->s + ci + 1, rs->s + ci, sizeof(*rs->s) * (rs->nc - ci));
	rs->c[ci] = c;
	rs->first[ci] = first;
	rs->s[ci] = (struct span){ off, n };
	rs->nc++;
}

/* The chunk at index ci goes (freed). */
static void recs_close(struct recs *rs, size_t ci)
{
	chunk_free(rs->c[ci]);
	memmove(rs->c + ci, rs->c + ci + 1, sizeof(*rs->c) * (rs->nc - ci - 1));
	memmove(rs->first + ci, rs->first + ci + 1, sizeof(*rs->first) * (rs->nc - ci - 1));
	memmove(rs->s + ci, rs->s + ci + 1, sizeof(*rs->s) * (rs->nc - ci - 1));
	rs->nc--;
}

/* The records of chunk ci move to start at off. */
static void chunk_place(struct recs *rs, size_t ci, uint32_t off)
{
	struct span *s = &rs->s[ci];

	if (s->off != off)
		memmove(rs->c[ci]->r + off, rs->c[ci]->r + s->off, sizeof(struct rec) * s->n);
	s->off = off;
}

/* Insert r, which no record starts at, in order: after the record at p (the last that starts
 * before r, which recs_le found), or first if have is false. */
static void recs_insert_at(struct recs *rs, bool have, struct pos p, const struct rec *r)
{
	struct span *s;
	struct rec *r0;
	bool front;

	if (have)
		p.i++;
	else
		p = (struct pos){ 0, 0 };
	if (!rs->nc)
		recs_open(rs, 0, chunk_new(), r->start, CHUNK / 2, 0);
	if (rs->s[p.c].n == CHUNK) {
		/* split in halves (a full chunk starts at 0); the half r goes to has its free room on
		 * r's side, the other in the middle */
		struct chunk *c = rs->c[p.c], *nc = chunk_new();
		bool right = p.i > CHUNK / 2;

		memcpy(nc->r + (right ? 0 : CHUNK / 4), c->r + CHUNK / 2, sizeof(struct rec) * (CHUNK / 2));
		rs->s[p.c].n = CHUNK / 2;
		recs_open(rs, p.c + 1, nc, nc->r[right ? 0 : CHUNK / 4].start, right ? 0 : CHUNK / 4, CHUNK / 2);
		if (right) {
			chunk_place(rs, p.c, CHUNK / 4);
			p.c++;
			p.i -= CHUNK / 2;
		} else if (p.i < CHUNK / 4) {
			chunk_place(rs, p.c, CHUNK / 2);
		}
	}
	s = &rs->s[p.c];
	front = p.i < s->n - p.i;
	if (front ? !s->off : s->off + s->n == CHUNK) { /* no room on the shorter side */
		if (s->n <= CHUNK / 2)
			chunk_place(rs, p.c, (CHUNK - s->n) / 2); /* room on both */
		else
			front = !front; /* a nearly full chunk moves its longer side: no shuffling back and forth */
	}
	r0 = rs->c[p.c]->r + s->off;
	if (front) { /* the records before it move one towards the front */
		memmove(r0 - 1, r0, sizeof(struct rec) * p.i);
		s->off--;
	} else { /* the records after it, towards the back */
		memmove(r0 + p.i + 1, r0 + p.i, sizeof(struct rec) * (s->n - p.i));
	}
	rs->c[p.c]->r[s->off + p.i] = *r;
	s->n++;
	rs->count++;
	if (!p.i)
		rs->first[p.c] = r->start;
}

/* Insert r, which no record starts at, in order. */
static void recs_insert(struct recs *rs, const struct rec *r)
{
	struct pos p;
	bool have = recs_le(rs, r->start, &p);

	recs_insert_at(rs, have, p, r);
}

/* The record at p starts at start now (still between its neighbours). */
static void recs_restart(struct recs *rs, struct pos p, uint64_t start)
{
	recs_at(rs, p)->start = start;
	if (!p.i)
		rs->first[p.c] = start;
}

static void recs_delete(struct recs *rs, struct pos p)
{
	struct span *s = &rs->s[p.c], *next;
	struct rec *r0 = rs->c[p.c]->r + s->off;

	if (p.i < s->n - 1 - p.i) { /* the shorter side moves in */
		memmove(r0 + 1, r0, sizeof(struct rec) * p.i);
		s->off++;
	} else {
		memmove(r0 + p.i, r0 + p.i + 1, sizeof(struct rec) * (s->n - p.i - 1));
	}
	s->n--;
	rs->count--;
	next = s + 1;
	if (p.c + 1 < rs->nc && s->n + next->n <= CHUNK / 2) { /* merge a sparse pair, in the middle */
		chunk_place(rs, p.c, (CHUNK - s->n - next->n) / 2);
		memcpy(rs->c[p.c]->r + s->off + s->n, rs->c[p.c + 1]->r + next->off, sizeof(struct rec) * next->n);
		s->n += next->n;
		recs_close(rs, p.c + 1);
	}
	if (!s->n)
		recs_close(rs, p.c);
	else if (!p.i)
		rs->first[p.c] = rs->c[p.c]->r[s->off].start;
}

static void recs_free(struct recs *rs)
{
	size_t i;

	for (i = 0; i < rs->nc; i++)
		chunk_free(rs->c[i]);
	free(rs->c);
	free(rs->first);
	free(rs->s);
	*rs = (struct recs){ 0 };
}

/* ---- records ---- */

struct pages *pages__new(pages_moved_fn moved, void *ctx, struct frames *fr)
{
	struct pages *pg = xcalloc(1, sizeof(*pg));

	pg->moved = moved;
	pg->ctx = ctx;
	pg->fr = fr;
	return pg;
}

void pages__free(struct pages *pg)
{
	int i;

	if (!pg)
		return;
	for (i = 0; i < TM_NR_MEMBERS; i++)
		recs_free(&pg->rec[i]);
	free(pg);
}

static inline uint32_t rec_bucket(const struct rec *r)
{
	return r->meta & REC_BUCKET_MASK;
}

static inline unsigned rec_views(const struct rec *r)
{
	return r->meta & REC_DUP ? PAGES_PROC : PAGES_PROC | PAGES_TREE;
}

/* Past its last key (PAGES_UNPLACED is a key of its own, not a page). */
static inline uint64_t rec_end(const struct rec *r)
{
	return r->start == PAGES_UNPLACED ? PAGES_UNPLACED + 1 : r->start + r->n * PAGE_SIZE;
}

/* The record that holds key, else the first after it (invalid if none): one search. */
static struct pos recs_from(struct recs *rs, uint64_t key)
{
	struct pos p = { 0, 0 };

	if (recs_le(rs, key, &p) && rec_end(recs_at(rs, p)) <= key)
		recs_next(rs, &p);
	return p;
}

/* Whether r can be part of a run. */
static inline bool runnable(const struct rec *r)
{
	return !(r->meta & REC_DUP) && !r->frame && r->bytes == r->n * PAGE_SIZE &&
	       r->start != PAGES_UNPLACED;
}

/* The record that holds key, or NULL; *have and *p are recs_le's answer, where an insert of
 * key goes (one search for both). */
static struct rec *rec_search(struct recs *rs, uint64_t key, bool *have, struct pos *p)
{
	struct rec *r;

	*have = recs_le(rs, key, p);
	if (!*have)
		return NULL;
	r = recs_at(rs, *p);
	return key >= rec_end(r) || (key - r->start) % PAGE_SIZE ? NULL : r;
}

/* The record that holds key, or NULL. */
static struct rec *rec_find(struct pages *pg, int member, uint64_t key, struct pos *p)
{
	struct pos q;
	bool have;
	struct rec *r = rec_search(&pg->rec[member], key, &have, &q);

	if (r && p)
		*p = q;
	return r;
}

/* Take the keys [a, b) out of the run at p (no bytes reported): what is left either side stays. */
static void run_cut(struct recs *rs, struct pos p, uint64_t a, uint64_t b)
{
	struct rec *r = recs_at(rs, p), right = *r;

	right.start = b;
	right.n = (uint32_t)((rec_end(r) - b) / PAGE_SIZE);
	right.bytes = right.n * PAGE_SIZE;
	r->n = (uint32_t)((a - r->start) / PAGE_SIZE);
	r->bytes = r->n * PAGE_SIZE;
	if (!r->n) {
		if (right.n) {
			*r = right;
			recs_restart(rs, p, right.start);
		} else {
			recs_delete(rs, p);
		}
		return;
	}
	if (right.n)
		recs_insert(rs, &right);
}

/* The key, if in a run, becomes a record of its own; returns it. */
static struct rec *rec_isolate(struct pages *pg, int member, uint64_t key)
{
	struct recs *rs = &pg->rec[member];
	struct pos p;
	struct rec *r = rec_find(pg, member, key, &p), one;

	if (!r || r->n == 1)
		return r;
	one = *r;
	one.start = key;
	one.n = 1;
	one.bytes = PAGE_SIZE;
	run_cut(rs, p, key, key + PAGE_SIZE);
	recs_insert(rs, &one);
	return rec_find(pg, member, key, NULL);
}

/* The record holding key joins the runs either side of it, where it can. */
static void rec_merge(struct pages *pg, int member, uint64_t key)
{
	struct recs *rs = &pg->rec[member];
	struct pos p, q;
	struct rec *r = rec_find(pg, member, key, &p), *o;

	if (!r || !runnable(r))
		return;
	q = p;
	recs_next(rs, &q);
	if (recs_valid(rs, q) && (o = recs_at(rs, q))->start == rec_end(r) && runnable(o) &&
	    o->meta == r->meta) {
		r->n += o->n;
		r->bytes += o->bytes;
		recs_delete(rs, q);
		r = rec_find(pg, member, key, &p);
	}
	if (r->start && recs_le(rs, r->start - 1, &q) && (o = recs_at(rs, q))->start != PAGES_UNPLACED &&
	    rec_end(o) == r->start && runnable(o) && o->meta == r->meta) {
		o->n += r->n;
		o->bytes += r->bytes;
		recs_delete(rs, p);
	}
}

/* A new page of bytes at key, that no record holds, joins the run either side of it that can
 * take it (no insert: memory filled in order grows one record); p is recs_le's answer for key
 * (have: whether there was one). */
static bool rec_join(struct recs *rs, bool have, struct pos p, uint64_t key, uint32_t b, uint64_t bytes)
{
	struct rec *prev = NULL, *next = NULL;
	struct pos q = { 0, 0 };

	if (bytes != PAGE_SIZE || key == PAGES_UNPLACED)
		return false;
	if (have) {
		prev = recs_at(rs, p);
		q = p;
		recs_next(rs, &q);
	}
	if (recs_valid(rs, q))
		next = recs_at(rs, q);
	if (prev && !(rec_end(prev) == key && runnable(prev) && prev->meta == b))
		prev = NULL;
	if (next && !(next->start == key + PAGE_SIZE && runnable(next) && next->meta == b))
		next = NULL;
	if (prev) {
		prev->n++;
		prev->bytes += PAGE_SIZE;
		if (next) {
			prev->n += next->n;
			prev->bytes += next->bytes;
			recs_delete(rs, q);
		}
		return true;
	}
	if (!next)
		return false;
	next->n++;
	next->bytes += PAGE_SIZE;
	recs_restart(rs, q, key);
	return true;
}

static void frame_link(struct pages *pg, struct rec *r, uint32_t id)
{
	r->frame = id;
	frames__get(pg->fr, id)->refs++;
}

/* The record is gone or counts itself now: it no longer references its frame, which leaves
 * the tree view with its last reference. */
static void frame_unlink(struct pages *pg, uint32_t id)
{
	struct frame *f;

	if (!id)
		return;
	f = frames__get(pg->fr, id);
	if (--f->refs)
		return;
	pg->moved(pg->ctx, f->bucket, -(int64_t)f->bytes, PAGES_TREE);
	frames__drop(pg->fr, id);
}

/* A record that references a frame gained or lost bytes: a frame it alone holds follows it
 * (the tree then sees what the process does); one shared keeps its bytes while others hold it. */
static void frame_follow(struct pages *pg, uint32_t id, int64_t delta)
{
	struct frame *f = id ? frames__get(pg->fr, id) : NULL;

	if (!f || f->refs != 1)
		return;
	if (delta < 0 && (uint64_t)-delta > f->bytes)
		delta = -(int64_t)f->bytes;
	f->bytes += delta;
	pg->moved(pg->ctx, f->bucket, delta, PAGES_TREE);
}

void pages__add(struct pages *pg, int member, uint64_t key, uint32_t b, uint64_t bytes)
{
	struct recs *rs = &pg->rec[member];
	struct pos p;
	bool have;
	struct rec *r = rec_search(rs, key, &have, &p), nr;

	if (!r) {
		/* a page no record holds: one search for the join or the insert (the hot path) */
		nr = (struct rec){ .start = key, .bytes = bytes, .n = 1, .meta = b };
		if (!rec_join(rs, have, p, key, b, bytes))
			recs_insert_at(rs, have, p, &nr);
		pg->moved(pg->ctx, b, (int64_t)bytes, PAGES_PROC | PAGES_TREE);
		return;
	}
	r = rec_isolate(pg, member, key);
	r->bytes += bytes; /* the page keeps its first owner */
	pg->moved(pg->ctx, rec_bucket(r), (int64_t)bytes, rec_views(r));
	if (r->meta & REC_DUP)
		frame_follow(pg, r->frame, (int64_t)bytes);
}

/* pages__add_ident of a page no record holds; have and p are recs_le's answer for key; hint:
 * frames__take's. */
static void ident_insert(struct pages *pg, int member, bool have, struct pos p, uint64_t key, uint32_t b,
			 uint64_t bytes, uint64_t ident, uint32_t *hint)
{
	struct rec nr = { .start = key, .bytes = bytes, .n = 1, .meta = REC_DUP | b };
	bool made;
	uint32_t id = frames__take(pg->fr, ident, b, bytes, hint, &made);

	if (made) /* the first record of the page: its bytes are the frame's */
		pg->moved(pg->ctx, b, (int64_t)bytes, PAGES_TREE);
	frame_link(pg, &nr, id);
	recs_insert_at(&pg->rec[member], have, p, &nr);
	pg->moved(pg->ctx, b, (int64_t)bytes, PAGES_PROC);
}

void pages__add_ident(struct pages *pg, int member, uint64_t key, uint32_t b, uint64_t bytes, uint64_t ident)
{
	struct pos p;
	bool have;

	if (rec_search(&pg->rec[member], key, &have, &p)) { /* more bytes at a page already held: they go with it */
		pages__add(pg, member, key, b, bytes);
		return;
	}
	ident_insert(pg, member, have, p, key, b, bytes, ident, NULL);
}

static uint64_t page_ident(const struct pages_file *f, uint64_t addr)
{
	return frames__page_ident(f->obj, f->off + ((addr & ~(PAGE_SIZE - 1)) - f->start));
}

/* Place left bytes, a page each, on the pages of [lo, hi) the member does not hold, in address
 * order; returns what is left. */
static uint64_t place_in(struct pages *pg, int member, uint32_t b, const struct pages_file *f,
			 uint64_t lo, uint64_t hi, uint64_t left)
{
	uint64_t addr;
	struct pos p;
	bool have;

	for (addr = lo; addr < hi && left >= PAGE_SIZE; addr += PAGE_SIZE) {
		if (rec_search(&pg->rec[member], addr, &have, &p))
			continue;
		ident_insert(pg, member, have, p, addr, b, PAGE_SIZE, page_ident(f, addr), NULL);
		left -= PAGE_SIZE;
	}
	return left;
}

/* The kernel maps a block's pages in its window (mm/memory.c do_fault_around: fault_around_bytes,
 * 64 KiB, aligned, clipped to the mapping), or whole large folios (a file's, up to 1 MiB seen
 * here, aligned by file offset, which need not be by address): each page is matched with the
 * other processes' by its own identity, not the faulting page's (issue 14.1). Which pages a
 * block holds is a guess (the faulting page, then its window's in address order); a guess that
 * was wrong shows later as a fault on a page the records say is held. No page identity takes
 * more than a page: bytes the window has no room for go to the nearest pages not held in the
 * fault's page table (2 MiB: no block crosses one), and only past those to the faulting page. */
void pages__add_file(struct pages *pg, int member, uint64_t key, uint32_t b, uint64_t bytes,
		     const struct pages_file *f)
{
	uint64_t win = FAULT_AROUND, lo, hi, left = bytes, d, tlo, thi, up, down;
	struct pos p;
	bool have;

	/* the page's frame, a cache miss in a big table, loads while the records are searched */
	frames__prefetch(pg->fr, page_ident(f, key), f->frame);
	if (bytes >= HUGE_PAGE || bytes % PAGE_SIZE) {
		pages__add_ident(pg, member, key, b, bytes, page_ident(f, key));
		return;
	}
	while (win < bytes)
		win <<= 1;
	lo = key & ~(win - 1);
	hi = lo + win < f->end ? lo + win : f->end;
	lo = lo > f->start ? lo : f->start;
	if (!rec_search(&pg->rec[member], key, &have, &p)) {
		ident_insert(pg, member, have, p, key, b, PAGE_SIZE, page_ident(f, key), f->frame);
		left -= PAGE_SIZE;
	}
	left = place_in(pg, member, b, f, lo, hi, left);
	tlo = key & ~(HUGE_PAGE - 1);
	thi = tlo + HUGE_PAGE < f->end ? tlo + HUGE_PAGE : f->end;
	tlo = tlo > f->start ? tlo : f->start;
	/* nearest first, outside the window: below lo and from hi up */
	for (d = PAGE_SIZE; left >= PAGE_SIZE && (lo >= tlo + d || hi + d <= thi); d += PAGE_SIZE) {
		down = lo - d;
		up = hi + d - PAGE_SIZE;
		if (lo >= tlo + d)
			left = place_in(pg, member, b, f, down, down + PAGE_SIZE, left);
		if (up < thi)
			left = place_in(pg, member, b, f, up, up + PAGE_SIZE, left);
	}
	if (left) /* more than the page table has room for */
		pages__add(pg, member, key, b, left);
}

void pages__add_pending(struct pages *pg, int member, uint64_t bytes)
{
	struct rec *r = rec_find(pg, member, PAGES_UNPLACED, NULL), nr;

	if (!r) {
		nr = (struct rec){ .start = PAGES_UNPLACED, .n = 1, .meta = REC_DUP };
		recs_insert(&pg->rec[member], &nr);
		r = rec_find(pg, member, PAGES_UNPLACED, NULL);
	}
	r->bytes += bytes;
	pg->moved(pg->ctx, rec_bucket(r), (int64_t)bytes, rec_views(r));
}

/* Take up to want bytes from the one-key record at p; returns what it took. */
static uint64_t one_take(struct pages *pg, int member, struct pos p, uint64_t want)
{
	struct rec *r = recs_at(&pg->rec[member], p), val = *r;
	uint64_t take = want < val.bytes ? want : val.bytes;

	pg->moved(pg->ctx, rec_bucket(&val), -(int64_t)take, rec_views(&val));
	if (take == val.bytes) {
		recs_delete(&pg->rec[member], p);
		if (val.meta & REC_DUP)
			frame_unlink(pg, val.frame);
	} else {
		r->bytes -= take;
		if (val.meta & REC_DUP)
			frame_follow(pg, val.frame, -(int64_t)take);
	}
	return take;
}

/* Take up to want bytes from the record at key; returns what it took. */
static uint64_t rec_take(struct pages *pg, int member, uint64_t key, uint64_t want)
{
	struct pos p = { 0, 0 };

	if (!want || !rec_isolate(pg, member, key))
		return 0;
	rec_find(pg, member, key, &p);
	return one_take(pg, member, p, want);
}

/* Up to want bytes from the records keyed in [lo, hi), in address order (PAGES_UNPLACED only
 * if unplaced); *stop is where a walk that goes on should start: the key still holding bytes,
 * or past the last key taken. Time in the records touched. */
static uint64_t take_span(struct pages *pg, int member, uint64_t lo, uint64_t hi, uint64_t want,
			  bool unplaced, uint64_t *stop)
{
	struct recs *rs = &pg->rec[member];
	uint64_t took = 0, next = hi;

	while (took < want) {
		struct pos p;
		struct rec *r;
		uint64_t k0, k1, whole, rem;

		p = recs_from(rs, lo);
		if (!recs_valid(rs, p) || (r = recs_at(rs, p))->start >= hi) {
			next = hi; /* nothing left in the span */
			break;
		}
		if (r->start == PAGES_UNPLACED && !unplaced) {
			lo = PAGES_UNPLACED + 1;
			continue;
		}
		k0 = r->start > lo ? r->start : lo;
		if (r->n == 1) {
			uint64_t start = r->start, had = r->bytes, t = one_take(pg, member, p, want - took);

			took += t;
			if (t < had && k0 == start) { /* its key still holds bytes */
				next = k0;
				break;
			}
			lo = next = k0 == PAGES_UNPLACED ? PAGES_UNPLACED + 1 : k0 + PAGE_SIZE;
			continue;
		}
		/* a run: whole pages from k0 on, then maybe part of one */
		k1 = rec_end(r) < hi ? rec_end(r) : (hi + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
		whole = (want - took) / PAGE_SIZE;
		if (whole > (k1 - k0) / PAGE_SIZE)
			whole = (k1 - k0) / PAGE_SIZE;
		rem = want - took - whole * PAGE_SIZE;
		if (whole) {
			pg->moved(pg->ctx, rec_bucket(r), -(int64_t)(whole * PAGE_SIZE), rec_views(r));
			took += whole * PAGE_SIZE;
			run_cut(rs, p, k0, k0 + whole * PAGE_SIZE);
		}
		lo = next = k0 + whole * PAGE_SIZE;
		if (rem && lo < k1) {
			took += rec_take(pg, member, lo, rem);
			next = lo;
			break;
		}
	}
	if (stop)
		*stop = next;
	return took;
}

/* Walk the member's records in address order from where the last walk stopped. */
void pages__take_any(struct pages *pg, int member, uint64_t want)
{
	uint64_t from = pg->cursor[member], stop;

	want -= take_span(pg, member, from, UINT64_MAX, want, true, &stop);
	pg->cursor[member] = stop;
	if (want && from) {
		take_span(pg, member, 0, from, want, true, &stop);
		pg->cursor[member] = stop;
	}
}

/* The page is in the record at its own address, or in the fault-around block that mapped it,
 * keyed by the page that faulted then (mm/memory.c do_fault_around): within the 64 KiB-aligned
 * window, or, within [lo, hi), the block's mapping, less than a window away: a mapping that
 * starts inside a window has its block start there and run into the next window. */
uint64_t pages__take_near(struct pages *pg, int member, uint64_t addr, uint64_t lo, uint64_t hi, uint64_t want)
{
	uint64_t page = addr & ~(PAGE_SIZE - 1), key, took, start, end;

	if (!lo && hi == UINT64_MAX) { /* no mapping known: the aligned window */
		start = addr & ~(FAULT_AROUND - 1);
		end = start + FAULT_AROUND;
	} else {
		start = page >= lo + FAULT_AROUND - PAGE_SIZE ? page - (FAULT_AROUND - PAGE_SIZE) : lo;
		end = page + FAULT_AROUND < hi ? page + FAULT_AROUND : hi;
	}
	took = rec_take(pg, member, page, want);
	for (key = start; key < end && took < want; key += PAGE_SIZE)
		if (key != page)
			took += rec_take(pg, member, key, want - took);
	return took;
}

/* The kernel reports such a free (munmap, madvise(DONTNEED), brk shrink, mremap) as several RSS
 * changes, so each takes only its own bytes (a timeline sample between two of them then matches
 * the kernel), and the next one goes on where this one stopped. */
uint64_t pages__take_range(struct pages *pg, int member, uint64_t start, uint64_t end, uint64_t sys_ts,
			   uint64_t want)
{
	int m;

	if (start != pg->rng_start || end != pg->rng_end || sys_ts != pg->rng_ts) { /* another syscall */
		pg->rng_start = start;
		pg->rng_end = end;
		pg->rng_ts = sys_ts;
		for (m = 0; m < TM_NR_MEMBERS; m++)
			pg->rng_next[m] = start & ~(PAGE_SIZE - 1);
	}
	return take_span(pg, member, pg->rng_next[member], end, want, false, &pg->rng_next[member]);
}

/* The syscall that unmapped [start, end) returned: nothing there is resident any more, so
 * records its RSS changes did not take (a page counted twice when two CPUs faulted at once)
 * go too, without a kernel change: the attributed total heals towards the kernel's. */
void pages__sweep(struct pages *pg, uint64_t start, uint64_t end)
{
	int member;

	for (member = 0; pg && end > start && member < TM_NR_MEMBERS; member++)
		take_span(pg, member, start & ~(PAGE_SIZE - 1), end, UINT64_MAX, false, NULL);
}

void pages__move(struct pages *pg, uint64_t old, uint64_t len, uint64_t new_addr)
{
	int member;

	for (member = 0; member < TM_NR_MEMBERS; member++) {
		struct recs *rs = &pg->rec[member];
		struct rec *moved = NULL;
		size_t n = 0, cap = 0, i;
		struct pos p;

		/* out: the records keyed in [old, old + len), runs cut at its ends */
		for (;;) {
			struct rec *r, part;
			uint64_t a, b;

			p = recs_from(rs, old);
			if (!recs_valid(rs, p) || (r = recs_at(rs, p))->start >= old + len)
				break;
			if (r->start == PAGES_UNPLACED) {
				p = recs_ge(rs, PAGES_UNPLACED + 1);
				if (!recs_valid(rs, p) || (r = recs_at(rs, p))->start >= old + len)
					break;
			}
			a = r->start > old ? r->start : old;
			b = rec_end(r) < old + len ? rec_end(r) : (old + len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
			part = *r;
			GROW(moved, cap, n + 1);
			if (r->n == 1) {
				moved[n++] = part;
				recs_delete(rs, p);
				continue;
			}
			part.start = a;
			part.n = (uint32_t)((b - a) / PAGE_SIZE);
			part.bytes = part.n * PAGE_SIZE;
			moved[n++] = part;
			run_cut(rs, p, a, b);
		}
		/* in, at the new addresses (a record there already is replaced, as it was when
		 * records were kept per page) */
		for (i = 0; i < n; i++) {
			moved[i].start = moved[i].start - old + new_addr;
			while (recs_le(rs, moved[i].start + (moved[i].n - 1) * PAGE_SIZE, &p) &&
			       rec_end(recs_at(rs, p)) > moved[i].start) {
				struct rec *r = recs_at(rs, p);
				uint64_t a = r->start > moved[i].start ? r->start : moved[i].start;
				uint64_t b = rec_end(r) < rec_end(&moved[i]) ? rec_end(r) : rec_end(&moved[i]);

				if (r->n == 1)
					recs_delete(rs, p);
				else
					run_cut(rs, p, a, b);
			}
			recs_insert(rs, &moved[i]);
		}
		for (i = 0; i < n; i++)
			rec_merge(pg, member, moved[i].start);
		free(moved);
	}
}

void pages__drain(struct pages *pg)
{
	int member;

	for (member = 0; member < TM_NR_MEMBERS; member++)
		pages__take_any(pg, member, UINT64_MAX);
}

void pages__rebucket(struct pages *pg, uint64_t key, uint32_t b)
{
	int member;

	for (member = 0; member < TM_NR_MEMBERS; member++) {
		struct rec *r = rec_isolate(pg, member, key), val;

		if (r) {
			val = *r;
			r->meta = b;
			r->frame = 0;
			pg->moved(pg->ctx, rec_bucket(&val), -(int64_t)val.bytes, rec_views(&val));
			pg->moved(pg->ctx, b, (int64_t)val.bytes, PAGES_PROC | PAGES_TREE);
			if (val.meta & REC_DUP)
				frame_unlink(pg, val.frame);
		}
	}
}

size_t pages__records(const struct pages *pg)
{
	size_t n = 0;
	int member;

	for (member = 0; member < TM_NR_MEMBERS; member++)
		n += pg->rec[member].count;
	return n;
}

/* ---- sharing across fork ---- */

/* Every run of the member becomes records of one page (each page gets its own frame). */
static void runs_split(struct recs *rs)
{
	struct recs out = { 0 };
	struct pos p = { 0, 0 };

	if (!rs->count)
		return;
	for (; recs_valid(rs, p); recs_next(rs, &p)) {
		struct rec r = *recs_at(rs, p);
		uint32_t i, n = r.n;

		for (i = 0; i < n; i++) {
			struct rec one = r;

			if (n > 1) {
				one.start = r.start + i * PAGE_SIZE;
				one.n = 1;
				one.bytes = PAGE_SIZE;
			}
			/* appended in order: the last chunk, or a new one */
			if (!out.nc || out.s[out.nc - 1].n == CHUNK)
				recs_open(&out, out.nc, chunk_new(), one.start, 0, 0);
			out.c[out.nc - 1]->r[out.s[out.nc - 1].n++] = one;
			out.count++;
		}
	}
	recs_free(rs);
	*rs = out;
}

uint64_t pages__fork(struct pages *parent, struct pages *child, pages_bucket_fn bucket_of, void *ctx)
{
	struct recs *rs = &parent->rec[TM_ANONPAGES];
	uint64_t shared = 0;
	struct pos p;

	runs_split(rs);
	for (p = (struct pos){ 0, 0 }; recs_valid(rs, p); recs_next(rs, &p)) {
		struct rec *r = recs_at(rs, p), nr;
		uint32_t id, cb;

		if (r->start == PAGES_UNPLACED)
			continue;
		if (!(r->meta & REC_DUP)) {
			/* first shared: the parent's counted bytes become the frame's, in the same
			 * bucket (the tree view does not change) */
			id = frames__make(parent->fr, 0, rec_bucket(r), r->bytes);
			r->meta |= REC_DUP;
			frame_link(parent, r, id);
		} else {
			id = r->frame;
			if (!id)
				continue;
		}
		if (rec_find(child, TM_ANONPAGES, r->start, NULL))
			continue;
		cb = bucket_of(ctx, rec_bucket(r));
		nr = (struct rec){ .start = r->start, .bytes = r->bytes, .n = 1, .meta = REC_DUP | cb };
		frame_link(child, &nr, id);
		recs_insert(&child->rec[TM_ANONPAGES], &nr);
		child->moved(child->ctx, cb, (int64_t)r->bytes, PAGES_PROC);
		shared += r->bytes;
	}
	rec_take(child, TM_ANONPAGES, PAGES_UNPLACED, shared);
	return shared;
}

/* A shared huge page a write splits into pages (the kernel splits its mapping and copies
 * only the page written): a record per page, each referencing the huge page's frame. */
static void split_huge(struct pages *pg, uint64_t huge, uint32_t id)
{
	struct rec *r = rec_find(pg, TM_ANONPAGES, huge, NULL), val = *r, one;
	uint64_t n = val.bytes / PAGE_SIZE, addr;

	r->bytes = PAGE_SIZE;
	for (addr = huge + PAGE_SIZE; addr < huge + n * PAGE_SIZE; addr += PAGE_SIZE) {
		if (rec_find(pg, TM_ANONPAGES, addr, NULL)) {
			/* held already: the page's bytes stay with the first record */
			rec_find(pg, TM_ANONPAGES, huge, NULL)->bytes += PAGE_SIZE;
			continue;
		}
		one = (struct rec){ .start = addr, .bytes = PAGE_SIZE, .n = 1, .meta = val.meta };
		frame_link(pg, &one, id);
		recs_insert(&pg->rec[TM_ANONPAGES], &one);
	}
}

bool pages__cow_shared(struct pages *pg, uint64_t addr)
{
	uint64_t page = addr & ~(PAGE_SIZE - 1), huge = addr & ~(HUGE_PAGE - 1);
	struct rec *r;

	if (!pg)
		return false;
	r = rec_find(pg, TM_ANONPAGES, page, NULL);
	if (!r) {
		struct rec *h = rec_find(pg, TM_ANONPAGES, huge, NULL);

		if (h && h->bytes > PAGE_SIZE && h->frame && frames__get(pg->fr, h->frame)->refs > 1) {
			split_huge(pg, huge, h->frame);
			r = rec_find(pg, TM_ANONPAGES, page, NULL);
		}
	}
	if (!r || !(r->meta & REC_DUP) || !r->frame)
		return false;
	return frames__get(pg->fr, r->frame)->refs > 1;
}

void pages__cow(struct pages *pg, uint64_t addr, uint32_t b)
{
	uint64_t page = addr & ~(PAGE_SIZE - 1), bytes;
	struct rec *r = rec_find(pg, TM_ANONPAGES, page, NULL);

	if (!r)
		return;
	bytes = r->n == 1 ? r->bytes : PAGE_SIZE;
	rec_take(pg, TM_ANONPAGES, page, bytes);
	pages__add(pg, TM_ANONPAGES, page, b, bytes);
}
