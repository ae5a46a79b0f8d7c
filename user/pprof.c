// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * --pprof: resident bytes at the peak as a gzip-compressed profile.proto
 * (github.com/google/pprof proto/profile.proto), which `go tool pprof`, Pyroscope and Parca open.
 * Each stack's outermost frames are its category and label, so a flame graph splits by them
 * first. Frames are symbolized already; a frame in a file also carries its address and its
 * Mapping (file, range, offset, build id), so pprof -raw lists the binaries and Parca or
 * Pyroscope can match them. Sample types are named as Go's memory profiles name them.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "hashmap.h"
#include "jreport.h"
#include "outfile.h"
#include "report.h"
#include "strtab.h"
#include "util.h"

/* ---- a growable buffer with protobuf encoding ---- */

struct pb {
	uint8_t *b;
	size_t n, cap;
};

static void pb_raw(struct pb *p, const void *d, size_t len)
{
	GROW(p->b, p->cap, p->n + len);
	memcpy(p->b + p->n, d, len);
	p->n += len;
}

static void pb_varint(struct pb *p, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	do {
		tmp[n++] = (uint8_t)(v & 0x7f) | (v > 0x7f ? 0x80 : 0);
		v >>= 7;
	} while (v);
	pb_raw(p, tmp, n);
}

static void pb_int(struct pb *p, int field, uint64_t v) /* wire type 0 */
{
	if (!v)
		return; /* proto3 default */
	pb_varint(p, (uint64_t)field << 3);
	pb_varint(p, v);
}

static void pb_bytes(struct pb *p, int field, const void *d, size_t len) /* wire type 2 */
{
	pb_varint(p, (uint64_t)field << 3 | 2);
	pb_varint(p, len);
	pb_raw(p, d, len);
}

static void pb_msg(struct pb *p, int field, struct pb *m)
{
	pb_bytes(p, field, m->b, m->n);
	m->n = 0;
}

/* ---- string table and functions ---- */

struct strings {
	struct hashmap *idx; /* interned pointer -> index */
	struct pb out;       /* encoded string_table entries, in order */
	uint64_t n;
};

static uint64_t str_id(struct strings *st, const char *s)
{
	bool created;
	uint64_t *v;

	s = s ? s : "";
	v = hashmap__upsert(st->idx, (uint64_t)(uintptr_t)s, &created);
	if (created) {
		*v = st->n++;
		pb_bytes(&st->out, 6, s, strlen(s));
	}
	return *v;
}

/* The ids of what the profile has emitted: functions by name, mappings by frame_map, and
 * locations by function (frames without an address) or by mapping and address. */
struct ids {
	struct hashmap *funcs, *maps, *locs;
	uint64_t nlocs;
};

/* A function by name, and (interpreted code) the file it is in. */
static uint64_t func_id(struct ids *ids, struct strings *st, struct pb *prof, const char *name, const char *file)
{
	struct pb m = {};
	bool created;
	uint64_t key = (uint64_t)(uintptr_t)name ^ (uint64_t)(uintptr_t)file * 0x9e3779b97f4a7c15ull, *id;

	id = hashmap__upsert(ids->funcs, key, &created);
	if (created) {
		*id = hashmap__size(ids->funcs);
		pb_int(&m, 1, *id); /* Function{id, name, system_name, filename} */
		pb_int(&m, 2, str_id(st, name));
		pb_int(&m, 3, str_id(st, name));
		if (file)
			pb_int(&m, 4, str_id(st, file));
		pb_msg(prof, 5, &m);
		free(m.b);
	}
	return *id;
}

static uint64_t map_id(struct ids *ids, struct strings *st, struct pb *prof, const struct frame_map *fm)
{
	struct pb m = {};
	bool created;
	uint64_t *id = hashmap__upsert(ids->maps, (uint64_t)(uintptr_t)fm, &created);

	if (created) {
		*id = hashmap__size(ids->maps);
		pb_int(&m, 1, *id); /* Mapping{id, memory_start, memory_limit, file_offset, filename, build_id} */
		pb_int(&m, 2, fm->start);
		pb_int(&m, 3, fm->end);
		pb_int(&m, 4, fm->off);
		pb_int(&m, 5, str_id(st, fm->path));
		pb_int(&m, 6, str_id(st, fm->build_id ? fm->build_id : intern("")));
		pb_int(&m, 7, 1); /* has_functions: named already */
		pb_msg(prof, 3, &m);
		free(m.b);
	}
	return *id;
}

/* The location of a frame, emitting it once: by mapping and address when the frame is in a
 * file, else one per name (JIT code, labels; a Python frame's name has its line: its Function
 * is the function in its file, at that Line). */
static uint64_t loc_id(struct ids *ids, struct strings *st, struct pb *prof, const char *name,
		       const struct frame_map *fm, uint64_t addr, const struct frame_src *src)
{
	struct pb m = {}, line = {};
	uint64_t key = fm ? (uint64_t)(uintptr_t)fm * 0x9e3779b97f4a7c15ull ^ addr : (uint64_t)(uintptr_t)name, *id;
	bool created;

	id = hashmap__upsert(ids->locs, key << 1 | !fm, &created); /* the two kinds of key apart */
	if (created) {
		*id = ++ids->nlocs;
		/* Location{id, mapping_id, address, line}, Line{function_id, line} */
		pb_int(&line, 1, src ? func_id(ids, st, prof, src->func, src->file) : func_id(ids, st, prof, name, NULL));
		if (src && src->line > 0)
			pb_int(&line, 2, (uint64_t)src->line);
		pb_int(&m, 1, *id);
		if (fm) {
			pb_int(&m, 2, map_id(ids, st, prof, fm));
			pb_int(&m, 3, addr);
		}
		pb_msg(&m, 4, &line);
		pb_msg(prof, 4, &m);
		free(m.b);
		free(line.b);
	}
	return *id;
}

/* pprof takes the first Mapping for the main binary ("File:"): the executable of the process
 * with the highest own peak whose code is among the frames (a shell that started it has none). */
static void main_binary_first(const struct account *a, struct ids *ids, struct strings *st, struct pb *prof)
{
	size_t i, k, np = view__nprocs(a), nb = view__nbuckets(a);
	const struct frame_map *best = NULL;
	int64_t best_peak = -1;

	for (i = 0; i < nb; i++) {
		struct view_bucket bk;
		struct view_proc p;
		const struct symstack *ss;

		view__bucket(a, i, &bk);
		ss = bk.stack;
		if (!ss || bk.proc_idx < 0 || (size_t)bk.proc_idx >= np)
			continue;
		view__proc(a, (size_t)bk.proc_idx, &p);
		if (p.prelaunch || !p.exe || p.own_peak <= best_peak)
			continue;
		for (k = 0; k < (size_t)ss->n; k++)
			if (ss->maps[k] && !strcmp(ss->maps[k]->path, p.exe)) {
				best = ss->maps[k];
				best_peak = p.own_peak;
				break;
			}
	}
	if (best)
		map_id(ids, st, prof, best);
}

/* The encoded profile, gzip-compressed (windowBits 15 + 16: a gzip stream, as pprof expects). */
static int write_gz(const char *path, const struct pb *prof)
{
	struct outfile o;
	z_stream z = {};
	uint8_t buf[65536];
	int zr, err = outfile__open(&o, path);

	if (err)
		return err;
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		outfile__discard(&o);
		p_err("cannot write %s: zlib failed", path);
		return -1;
	}
	z.next_in = prof->b;
	z.avail_in = (uInt)prof->n;
	do {
		z.next_out = buf;
		z.avail_out = sizeof(buf);
		zr = deflate(&z, Z_FINISH);
		fwrite(buf, 1, sizeof(buf) - z.avail_out, o.f);
	} while (zr == Z_OK);
	deflateEnd(&z);
	return outfile__close(&o);
}

int report__pprof(const char *path, const struct account *a, const struct report_info *ri)
{
	struct strings st = { .idx = hashmap__new() };
	struct ids ids = { .funcs = hashmap__new(), .maps = hashmap__new(), .locs = hashmap__new() };
	struct pb prof = {}, m = {}, sub = {}, locs = {}, vals = {};
	struct view_totals t;
	size_t i, nb = view__nbuckets(a);
	int err;

	str_id(&st, intern("")); /* index 0 must be "" */
	/* sample_type, named as Go's heap profiles are (Pyroscope and Parca show them as memory):
	 * inuse_space, resident bytes at the peak; alloc_objects, the RSS growths over the run */
	pb_int(&m, 1, str_id(&st, intern("inuse_space")));
	pb_int(&m, 2, str_id(&st, intern("bytes")));
	pb_msg(&prof, 1, &m);
	pb_int(&m, 1, str_id(&st, intern("alloc_objects")));
	pb_int(&m, 2, str_id(&st, intern("count")));
	pb_msg(&prof, 1, &m);

	main_binary_first(a, &ids, &st, &prof);
	for (i = 0; i < nb; i++) {
		struct view_bucket vb, *bk = &vb;
		const struct label *l;
		const struct symstack *ss;
		const char *frames[TM_MAX_STACK_DEPTH + 2];
		const struct frame_map *fms[TM_MAX_STACK_DEPTH + 2] = {};
		const struct frame_src *srcs[TM_MAX_STACK_DEPTH + 2] = {};
		uint64_t addrs[TM_MAX_STACK_DEPTH + 2] = {};
		char lb[160];
		int n = 0, k;

		view__bucket(a, i, bk);
		l = label_get(bk->label);
		if (bk->peak <= 0 && !bk->grows)
			continue;
		ss = bk->stack;
		for (k = 0; ss && k < ss->n && n < TM_MAX_STACK_DEPTH; k++) {
			fms[n] = ss->maps[k];
			srcs[n] = ss->srcs ? ss->srcs[k] : NULL;
			addrs[n] = ss->ips[k];
			frames[n++] = ss->frames[k]; /* innermost first, as pprof wants */
		}
		snprintf(lb, sizeof(lb), "%s/%s", cat_names[l->cat], l->name);
		frames[n++] = intern(lb);
		frames[n++] = intern(cat_names[l->cat]);
		for (k = 0; k < n; k++)
			pb_varint(&locs, loc_id(&ids, &st, &prof, frames[k], fms[k], addrs[k], srcs[k]));
		pb_varint(&vals, (uint64_t)(bk->peak > 0 ? bk->peak : 0));
		pb_varint(&vals, bk->grows);
		pb_bytes(&m, 1, locs.b, locs.n); /* packed location_id */
		pb_bytes(&m, 2, vals.b, vals.n); /* packed value */
		locs.n = vals.n = 0;
		/* labels: pid (numeric) */
		pb_int(&sub, 1, str_id(&st, intern("pid")));
		pb_int(&sub, 3, (uint64_t)bk->pid);
		pb_msg(&m, 3, &sub);
		pb_msg(&prof, 2, &m);
	}
	{
		/* bytes no page record holds, so that the total is the peak */
		int64_t cats[NR_CATS], unattr;
		int c;

		view__totals(a, &t);
		unattr = categories_with_unattributed(t.peak_cat, t.peak_tree, cats);
		if (unattr > 0) {
			const char *fr[2] = { intern("other/[unattributed]"), intern("other") };

			for (c = 0; c < 2; c++)
				pb_varint(&locs, loc_id(&ids, &st, &prof, fr[c], NULL, 0, NULL));
			pb_varint(&vals, (uint64_t)unattr);
			pb_varint(&vals, 0);
			pb_bytes(&m, 1, locs.b, locs.n);
			pb_bytes(&m, 2, vals.b, vals.n);
			locs.n = vals.n = 0;
			pb_msg(&prof, 2, &m);
		}
	}
	if (view__sample_bytes(a)) { /* as Go's sampled heap profiles: period_type, period, a comment */
		char note[160];

		pb_int(&m, 1, str_id(&st, intern("space")));
		pb_int(&m, 2, str_id(&st, intern("bytes")));
		pb_msg(&prof, 11, &m);
		pb_int(&prof, 12, view__sample_bytes(a));
		snprintf(note, sizeof(note), "estimated: stacks walked for a sample of the growth, one page per %llu bytes "
			 "on average (--sample-bytes); totals exact", (unsigned long long)view__sample_bytes(a));
		pb_int(&prof, 13, str_id(&st, intern(note)));
	}
	pb_raw(&prof, st.out.b, st.out.n);
	pb_int(&prof, 10, (uint64_t)(ri->duration_s * 1e9)); /* duration_nanos */
	pb_int(&prof, 14, str_id(&st, intern("inuse_space")));   /* default_sample_type */

	err = write_gz(path, &prof);
	free(prof.b);
	free(m.b);
	free(sub.b);
	free(locs.b);
	free(vals.b);
	free(st.out.b);
	hashmap__free(st.idx);
	hashmap__free(ids.funcs);
	hashmap__free(ids.maps);
	hashmap__free(ids.locs);
	return err;
}

int pprof__write_samples(const char *path, const struct pprof_sample *s, size_t n, double duration_s)
{
	struct strings st = { .idx = hashmap__new() };
	struct ids ids = { .funcs = hashmap__new(), .maps = hashmap__new(), .locs = hashmap__new() };
	struct pb prof = {}, m = {}, locs = {}, vals = {};
	size_t i;
	int k, err;

	str_id(&st, intern("")); /* index 0 must be "" */
	pb_int(&m, 1, str_id(&st, intern("inuse_space"))); /* as report__pprof's first sample type */
	pb_int(&m, 2, str_id(&st, intern("bytes")));
	pb_msg(&prof, 1, &m);
	for (i = 0; i < n; i++) {
		const char *cat = intern(cat_names[s[i].cat]);

		if (!s[i].value)
			continue;
		/* innermost first, then the label and the category, as report__pprof lays them out */
		for (k = 0; k < s[i].nframes; k++)
			pb_varint(&locs, loc_id(&ids, &st, &prof, intern(s[i].frames[k]), NULL, 0, NULL));
		pb_varint(&locs, loc_id(&ids, &st, &prof, intern(s[i].label), NULL, 0, NULL));
		pb_varint(&locs, loc_id(&ids, &st, &prof, cat, NULL, 0, NULL));
		pb_varint(&vals, (uint64_t)s[i].value); /* int64: a negative one as its two's complement */
		pb_bytes(&m, 1, locs.b, locs.n);
		pb_bytes(&m, 2, vals.b, vals.n);
		locs.n = vals.n = 0;
		pb_msg(&prof, 2, &m);
	}
	pb_raw(&prof, st.out.b, st.out.n);
	pb_int(&prof, 10, (uint64_t)(duration_s * 1e9));
	pb_int(&prof, 14, str_id(&st, intern("inuse_space")));
	err = write_gz(path, &prof);
	free(prof.b);
	free(m.b);
	free(locs.b);
	free(vals.b);
	free(st.out.b);
	hashmap__free(st.idx);
	hashmap__free(ids.funcs);
	hashmap__free(ids.maps);
	hashmap__free(ids.locs);
	return err;
}

int pprof__write_keys(const char *path, const struct jkey *k, size_t n, int rep, double duration_s)
{
	struct pprof_sample *s = xcalloc(n ? n : 1, sizeof(*s));
	size_t i;
	int err;

	for (i = 0; i < n; i++)
		s[i] = (struct pprof_sample){ k[i].row->frames, k[i].row->nframes, k[i].row->label, k[i].row->cat,
					      k[i].bytes[rep] };
	err = pprof__write_samples(path, s, n, duration_s);
	free(s);
	return err;
}

void pprof__base_path(const char *p, char *out, size_t len)
{
	size_t n = strlen(p);

	if (n > 6 && !strcmp(p + n - 6, ".pb.gz"))
		snprintf(out, len, "%.*s.base.pb.gz", (int)(n - 6), p);
	else
		snprintf(out, len, "%s.base", p);
}
