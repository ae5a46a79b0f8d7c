// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Reading the tool's JSON reports back (jansson), for `diff` and `scale`. */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "escape.h"
#include "jreport.h"
#include "procfile.h"
#include "strtab.h"
#include "util.h"

#define MAX_FRAMES 4096 /* a stack deeper than any the tool writes: refused */

const char *const kpart_names[NR_KPARTS] = { "kernel_stack", "pagetables", "sock", "slab", "total" };
const char *const kpart_text[NR_KPARTS] = { "kernel stacks", "page tables", "sockets", "slab", "kernel total" };

static int fail(char *msg, size_t len, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *msg, size_t len, const char *path, const char *fmt, ...)
{
	va_list ap;
	int k = snprintf(msg, len, "%s: ", path);

	va_start(ap, fmt);
	if (k >= 0 && (size_t)k < len)
		vsnprintf(msg + k, len - k, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* The file, NUL-terminated, if it is a regular file no larger than the bound. */
static int read_bounded(const char *path, char **out, size_t *outlen, char *msg, size_t len)
{
	struct stat st;
	size_t got = 0;
	char *buf;
	int fd = open_regular(path), err;

	if (fd < 0) {
		err = errno ? errno : EINVAL;
		snprintf(msg, len, "%s: cannot open: %s", path, strerror(err));
		return -err;
	}
	if (fstat(fd, &st) || (uint64_t)st.st_size > JREPORT_MAX_BYTES) {
		close(fd);
		return fail(msg, len, path, "larger than %llu MiB: not read", JREPORT_MAX_BYTES >> 20);
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) { /* a file that shrinks meanwhile ends the read */
		ssize_t r = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = 0;
	*out = buf;
	*outlen = got;
	return 0;
}

static bool get_int(json_t *o, const char *key, int64_t min, int64_t *v)
{
	json_t *j = json_object_get(o, key);

	if (!json_is_integer(j) || json_integer_value(j) < min)
		return false;
	*v = json_integer_value(j);
	return true;
}

static int cat_of(const char *name)
{
	int c;

	for (c = 0; c < NR_CATS; c++)
		if (!strcmp(name, cat_names[c]))
			return c;
	return -1;
}

/* peak.stacks[i] into r; false if it is not what the schema says */
static bool read_row(json_t *s, struct jrow *r)
{
	json_t *label = json_object_get(s, "label"), *cat = json_object_get(s, "category"),
	       *frames = json_object_get(s, "frames"), *f;
	size_t k;

	if (!json_is_string(label) || !json_is_string(cat) || !json_is_array(frames) ||
	    !get_int(s, "bytes", 0, &r->bytes) || (r->cat = cat_of(json_string_value(cat))) < 0 ||
	    json_array_size(frames) > MAX_FRAMES)
		return false;
	r->label = intern(json_string_value(label));
	r->nframes = (int)json_array_size(frames);
	r->frames = xcalloc(r->nframes ? r->nframes : 1, sizeof(*r->frames));
	json_array_foreach(frames, k, f) {
		if (!json_is_string(f))
			return false;
		r->frames[k] = intern(json_string_value(f));
	}
	return true;
}

static int parse(json_t *root, struct jreport *r, char *msg, size_t len)
{
	json_t *schema = json_object_get(root, "schema"), *peak = json_object_get(root, "peak"),
	       *cmd = json_object_get(root, "command"), *cats, *stacks, *v;
	int64_t unattr = 0, x;
	size_t i;
	int c;

	if (!json_is_string(schema) || strcmp(json_string_value(schema), "taskmem-trace/2"))
		return fail(msg, len, r->path, "not a taskmem-trace/2 report (schema %s%s%s)",
			    json_is_string(schema) ? "\"" : "", json_is_string(schema) ? json_string_value(schema) : "missing",
			    json_is_string(schema) ? "\"" : "");
	if (!json_is_object(peak) || !json_is_array(cmd) || !get_int(peak, "rss_bytes", 0, &r->rss_bytes))
		return fail(msg, len, r->path, "no peak.rss_bytes or command: not a complete taskmem-trace/2 report");
	r->argc = (int)json_array_size(cmd);
	r->command = xcalloc(r->argc + 1, sizeof(*r->command));
	json_array_foreach(cmd, i, v) {
		if (!json_is_string(v))
			return fail(msg, len, r->path, "command[%zu] is not a string", i);
		r->command[i] = intern(json_string_value(v));
	}
	if (get_int(root, "exit_code", INT32_MIN, &x))
		r->exit_code = (int)x;
	v = json_object_get(root, "events");
	if (json_is_object(v) && !get_int(v, "dropped", 0, &r->dropped))
		r->dropped = 0;
	v = json_object_get(root, "duration_s");
	r->duration_s = json_is_number(v) ? json_number_value(v) : 0;
	cats = json_object_get(peak, "categories");
	if (!json_is_object(cats))
		return fail(msg, len, r->path, "no peak.categories");
	for (c = 0; c < NR_CATS; c++)
		if (!get_int(cats, cat_names[c], 0, &r->cats[c]))
			return fail(msg, len, r->path, "peak.categories.%s is missing or not a count of bytes", cat_names[c]);
	/* negative when the stacks hold more than the tree's RSS (docs/counted-once.md) */
	if (json_object_get(peak, "unattributed_bytes") && !get_int(peak, "unattributed_bytes", INT64_MIN, &unattr))
		return fail(msg, len, r->path, "peak.unattributed_bytes is not a whole number");
	/* absent when no memory cgroup held the tree: the run is read without it */
	v = json_object_get(root, "kernel");
	if (v && !json_is_null(v)) {
		char key[32];

		if (!json_is_object(v))
			return fail(msg, len, r->path, "kernel is not an object");
		for (c = 0; c < NR_KPARTS; c++) {
			snprintf(key, sizeof(key), "%s_bytes", kpart_names[c]);
			if (!get_int(v, key, 0, &r->kernel[c]))
				return fail(msg, len, r->path, "kernel.%s is missing or not a count of bytes", key);
		}
		r->has_kernel = true;
	}
	stacks = json_object_get(peak, "stacks");
	if (!json_is_array(stacks))
		return fail(msg, len, r->path, "no peak.stacks");
	r->rows = xcalloc(json_array_size(stacks) + 1, sizeof(*r->rows));
	json_array_foreach(stacks, i, v) {
		if (!json_is_object(v) || !read_row(v, &r->rows[r->nrows++]))
			return fail(msg, len, r->path, "peak.stacks[%zu] is not a stack (label, category, bytes, frames)", i);
	}
	if (unattr) {
		struct jrow *u = &r->rows[r->nrows++];

		u->label = intern("other/[unattributed]");
		u->cat = CAT_OTHER;
		u->frames = xcalloc(1, sizeof(*u->frames));
		u->bytes = unattr;
	}
	return 0;
}

int jreport__load(const char *path, struct jreport **out, char *msg, size_t len)
{
	struct jreport *r = xcalloc(1, sizeof(*r));
	json_error_t jerr;
	json_t *root;
	size_t n = 0;
	char *buf = NULL;
	int err;

	r->path = intern(path);
	err = read_bounded(path, &buf, &n, msg, len);
	if (err) {
		free(r);
		return err;
	}
	/* a NUL inside is refused by jansson (no JSON_ALLOW_NUL); a key given twice keeps its last
	 * value (labels of the same text could be written twice) */
	root = json_loadb(buf, n, 0, &jerr);
	free(buf);
	if (!root) {
		jreport__free(r);
		return fail(msg, len, path, "not JSON: line %d: %s", jerr.line, jerr.text);
	}
	err = json_is_object(root) ? parse(root, r, msg, len) :
				     fail(msg, len, path, "not a taskmem-trace/2 report (not a JSON object)");
	json_decref(root);
	if (err) {
		jreport__free(r);
		return err;
	}
	*out = r;
	return 0;
}

void jreport__free(struct jreport *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->nrows; i++)
		free(r->rows[i].frames);
	free(r->rows);
	free(r->command);
	free(r);
}

/* ---- the stacks of several reports by label and frames ---- */

struct ref {
	const struct jrow *row;
	int rep;
};

static int cmp_key(const struct jrow *a, const struct jrow *b)
{
	int k;

	if (a->label != b->label) /* interned: equal strings are equal pointers */
		return strcmp(a->label, b->label);
	if (a->nframes != b->nframes)
		return a->nframes < b->nframes ? -1 : 1;
	for (k = 0; k < a->nframes; k++)
		if (a->frames[k] != b->frames[k])
			return strcmp(a->frames[k], b->frames[k]);
	return 0;
}

static int cmp_ref(const void *x, const void *y)
{
	const struct ref *a = x, *b = y;
	int c = cmp_key(a->row, b->row);

	return c ? c : a->rep - b->rep;
}

int jkeys__build(struct jreport *const *reps, int nreps, struct jkey **keys, size_t *n)
{
	size_t total = 0, i, m = 0;
	struct ref *refs;
	struct jkey *k;
	int r;

	for (r = 0; r < nreps; r++)
		total += reps[r]->nrows;
	refs = xcalloc(total ? total : 1, sizeof(*refs));
	for (r = 0, total = 0; r < nreps; r++)
		for (i = 0; i < reps[r]->nrows; i++)
			refs[total++] = (struct ref){ &reps[r]->rows[i], r };
	qsort(refs, total, sizeof(*refs), cmp_ref);
	k = xcalloc(total ? total : 1, sizeof(*k));
	for (i = 0; i < total; i++) {
		if (!m || cmp_key(k[m - 1].row, refs[i].row)) {
			k[m].row = refs[i].row;
			k[m++].bytes = xcalloc(nreps, sizeof(int64_t));
		}
		k[m - 1].bytes[refs[i].rep] += refs[i].row->bytes;
	}
	free(refs);
	*keys = k;
	*n = m;
	return 0;
}

void jkeys__free(struct jkey *keys, size_t n)
{
	size_t i;

	for (i = 0; keys && i < n; i++)
		free(keys[i].bytes);
	free(keys);
}

void jrow__write_stack(FILE *f, const struct jrow *r, int max)
{
	int k;

	for (k = 0; k < r->nframes && k < max; k++) {
		fputs(k ? " <- " : " ", f);
		esc_term(f, r->frames[k]);
	}
	if (r->nframes > max)
		fputs(" <- ...", f);
	if (!r->nframes)
		fputs(" [no user stack]", f);
}
