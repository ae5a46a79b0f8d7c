// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string.h>
#include "elfsyms.h"
#include "hashmap.h"
#include "perfmap.h"
#include "procfile.h"
#include "pyframes_user.h"
#include "rectypes.h"
#include "strtab.h"
#include "unwind.h"
#include "util.h"
#include "world.h"

struct world {
	struct world_opts o;
	struct unwind_cache *unwind; /* files with unwind tables (NULL: frame pointers only) */
	struct rec_buf buf;          /* recording: the payload being built */
	struct hashmap *py;          /* pid -> its CPython's struct py_target */
	bool failed;                 /* replay: refused, nothing more is read */
	uint64_t event_ts;           /* the time of the event being handled (world__event_time) */
	char err[600];
};

struct world *world__new(const struct world_opts *o)
{
	struct world *w = xcalloc(1, sizeof(*w));

	w->o = *o;
	w->py = hashmap__new();
	if (!o->replay && o->load_unwind && o->commit_unwind && o->set_unwind) {
		bool worker = o->add_unwind && o->on_poll;

		w->unwind = unwind__cache_new(o->load_unwind, o->commit_unwind, worker ? o->add_unwind : NULL, o->ctx);
		unwind__preload(w->unwind);
		unwind__hold(w->unwind, o->hold_pid);
		if (worker)
			o->on_poll(o->ctx, unwind__cache_poll, w->unwind);
	}
	return w;
}

void world__free(struct world *w)
{
	uint64_t k, v;

	if (!w)
		return;
	unwind__cache_free(w->unwind);
	for (size_t pos = 0; hashmap__next(w->py, &pos, &k, &v);)
		free((void *)(uintptr_t)v);
	hashmap__free(w->py);
	file_unpin_all();
	rec_buf__free(&w->buf);
	free(w);
}

/* Recording: the question and its answer, where it was asked. A write error is kept by the
 * writer and reported when it is closed. */
static void tell(struct world *w, const struct rt_answer *a)
{
	w->buf.len = 0;
	rt_answer__encode(&w->buf, a);
	rec_writer__add(w->o.record, a->type, w->buf.p, w->buf.len);
}

void world__replay_fail(struct world *w, const char *msg)
{
	if (w->failed)
		return;
	w->failed = true;
	snprintf(w->err, sizeof(w->err), "%s", msg);
}

const char *world__replay_error(const struct world *w)
{
	return w->failed ? w->err : NULL;
}

/* Replaying: the next record must answer question q; its answer goes into q (strings valid
 * until the next read). False when the recording is refused. */
static bool ask(struct world *w, struct rt_answer *q)
{
	struct rt_answer a = { .type = 0 };
	char asked[160], had[160], tn[32];
	const void *data;
	uint32_t len;
	int err;

	if (w->failed)
		return false;
	err = rec_reader__next(w->o.replay, &a.type, &data, &len);
	if (err < 0) {
		world__replay_fail(w, rec_reader__error(w->o.replay)->msg);
		return false;
	}
	rt_answer__describe(q, asked, sizeof(asked));
	if (err == 0 || !rt_is_answer(a.type)) {
		snprintf(w->err, sizeof(w->err), "%s: the core asks %s where the recording has %s: "
			 "recorded by a different taskmem-trace", w->o.replay_path, asked,
			 err ? rt_type_name(a.type, tn, sizeof(tn)) : "its end");
		w->failed = true;
		return false;
	}
	if (rt_answer__decode(data, len, &a)) {
		snprintf(w->err, sizeof(w->err), "%s: corrupt: a malformed %s record",
			 w->o.replay_path, rt_type_name(a.type, tn, sizeof(tn)));
		w->failed = true;
		return false;
	}
	if (!rt_answer__same_question(q, &a)) {
		rt_answer__describe(&a, had, sizeof(had));
		snprintf(w->err, sizeof(w->err), "%s: recorded %s, this core asks %s: recorded by a "
			 "different taskmem-trace", w->o.replay_path, had, asked);
		w->failed = true;
		return false;
	}
	*q = a;
	return true;
}

/* A recorded string as a C string of at most max bytes (up to a NUL inside). */
static void copy_str(char *dst, size_t max, const char *s, uint32_t len)
{
	size_t n = strnlen(s, len);

	if (n >= max)
		n = max - 1;
	memcpy(dst, s, n);
	dst[n] = 0;
}

static char *dup_str(const char *s, uint32_t len)
{
	char *d = xmalloc((size_t)len + 1);

	copy_str(d, (size_t)len + 1, s, len);
	return d;
}

static const char *intern_str(const char *s, uint32_t len)
{
	char *d = dup_str(s, len);
	const char *r = intern(d);

	free(d);
	return r;
}

/* The code files of a process whose maps were just read, kept at hand while it surely lives:
 * its frames are often named after it exited (events are read in batches) */
static void pin_files(pid_t pid, const struct procmaps *pm)
{
	for (size_t i = 0; i < pm->n; i++) {
		const struct map_entry *m = &pm->e[i];

		if (m->exec && m->ino && map_entry__is_file(m) && !elfsyms__cached(m->dev, m->ino))
			file_pin(pid, m->start, m->end, m->dev, m->ino);
	}
}

int world__read_maps(struct world *w, pid_t pid, struct procmaps *pm)
{
	struct rt_answer a = { .type = REC_MAPS, .pid = pid };
	char *text = NULL;
	size_t len = 0;
	int err;

	if (w->o.replay) {
		if (!ask(w, &a))
			return -EIO;
		if (a.ret)
			return a.ret < 0 ? a.ret : -EIO;
		text = dup_str(a.astr, a.alen);
		err = procmaps__parse(pm, text);
		free(text);
		return err;
	}
	if (!w->o.record) {
		err = procmaps__read(pm, pid);
		if (!err)
			pin_files(pid, pm);
		return err;
	}
	err = procmaps__read_text(pid, &text, &len);
	a.ret = err;
	a.astr = text ? text : "";
	a.alen = (uint32_t)len;
	tell(w, &a);
	if (!err)
		err = procmaps__parse(pm, text);
	if (!err)
		pin_files(pid, pm);
	free(text);
	return err;
}

int world__owner(struct world *w, pid_t pid, uid_t *uid)
{
	struct rt_answer a = { .type = REC_OWNER, .pid = pid };
	char path[32];
	struct stat st;

	if (w->o.replay) {
		if (!ask(w, &a))
			return -EIO;
		if (!a.ret)
			*uid = (uid_t)a.val[0];
		return a.ret > 0 ? -EIO : a.ret;
	}
	snprintf(path, sizeof(path), "/proc/%d", pid);
	a.ret = stat(path, &st) ? -errno : 0;
	a.val[0] = a.ret ? 0 : st.st_uid;
	if (w->o.record)
		tell(w, &a);
	if (!a.ret)
		*uid = st.st_uid;
	return a.ret;
}

int world__exe(struct world *w, pid_t pid, char *buf, size_t len)
{
	struct rt_answer a = { .type = REC_EXE, .pid = pid };
	char fn[64];
	ssize_t n;

	if (w->o.replay) {
		if (!ask(w, &a))
			return -EIO;
		if (a.ret <= 0)
			return a.ret;
		copy_str(buf, len, a.astr, a.alen);
		return (int)strlen(buf);
	}
	snprintf(fn, sizeof(fn), "/proc/%d/exe", pid);
	n = readlink(fn, buf, len - 1);
	if (n >= 0)
		buf[n] = 0;
	a.ret = n < 0 ? -errno : (int)n;
	if (w->o.record) {
		a.astr = n < 0 ? "" : buf;
		a.alen = n < 0 ? 0 : (uint32_t)n;
		tell(w, &a);
	}
	return a.ret;
}

bool world__exec_file(struct world *w, const char *given, uint64_t ino, uint32_t dev, char *real, size_t len)
{
	struct rt_answer a = { .type = REC_EXEC_FILE, .num = ino, .num2 = dev, .qstr = given,
			       .qlen = (uint32_t)strlen(given) };
	char buf[PATH_MAX];
	struct stat st;
	bool yes;

	if (w->o.replay) {
		if (!ask(w, &a) || !a.ret)
			return false;
		copy_str(real, len, a.astr, a.alen);
		return true;
	}
	yes = realpath(given, buf) && !stat(buf, &st) && st.st_ino == ino && kernel_dev(st.st_dev) == dev;
	if (w->o.record) {
		a.ret = yes;
		a.astr = yes ? buf : "";
		a.alen = yes ? (uint32_t)strlen(buf) : 0;
		tell(w, &a);
	}
	if (!yes)
		return false;
	snprintf(real, len, "%s", buf);
	return true;
}

/* /proc/PID/status, smaps, stat (-p): bounded as the maps are */
static char *proc_text(pid_t pid, const char *name, size_t *outlen)
{
	char path[64], *buf;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	return read_whole(path, 256u << 20, &buf, outlen) ? NULL : buf;
}

char *world__proc_text(struct world *w, pid_t pid, const char *name)
{
	struct rt_answer a = { .type = REC_PROC_FILE, .pid = pid, .qstr = name, .qlen = (uint32_t)strlen(name) };
	size_t len = 0;
	char *text;

	if (w->o.replay)
		return ask(w, &a) && a.ret ? dup_str(a.astr, a.alen) : NULL;
	text = proc_text(pid, name, &len);
	if (w->o.record) {
		a.ret = text != NULL;
		a.astr = text ? text : "";
		a.alen = (uint32_t)len;
		tell(w, &a);
	}
	return text;
}

const char *world__symbol(struct world *w, const struct file_ref *f, uint64_t file_off, uint64_t *sym_off)
{
	struct rt_answer a = { .type = REC_SYMBOL, .num = file_off, .qstr = f->path, .qlen = (uint32_t)strlen(f->path) };
	const struct elf_syms *es;
	const char *name;

	if (w->o.replay) {
		if (!ask(w, &a) || !a.ret)
			return NULL;
		*sym_off = a.val[0];
		return intern_str(a.astr, a.alen);
	}
	es = elfsyms__get_ref(f);
	name = es ? elfsyms__lookup(es, file_off, sym_off) : NULL;
	if (w->o.record) {
		a.ret = name != NULL;
		a.val[0] = name ? *sym_off : 0;
		a.astr = name ? name : "";
		a.alen = (uint32_t)strlen(a.astr);
		tell(w, &a);
	}
	return name;
}

bool world__is_go(struct world *w, const struct file_ref *f)
{
	struct rt_answer a = { .type = REC_IS_GO, .qstr = f->path, .qlen = (uint32_t)strlen(f->path) };

	if (w->o.replay)
		return ask(w, &a) && a.ret;
	a.ret = elfsyms__is_go(elfsyms__get_ref(f));
	if (w->o.record)
		tell(w, &a);
	return a.ret;
}

const char *world__build_id(struct world *w, const struct file_ref *f)
{
	struct rt_answer a = { .type = REC_BUILD_ID, .qstr = f->path, .qlen = (uint32_t)strlen(f->path) };
	const char *id;

	if (w->o.replay)
		return ask(w, &a) && a.ret ? intern_str(a.astr, a.alen) : NULL;
	id = elfsyms__build_id(elfsyms__get_ref(f));
	a.ret = id != NULL;
	a.astr = id;
	a.alen = id ? (uint32_t)strlen(id) : 0;
	if (w->o.record)
		tell(w, &a);
	return id;
}

bool world__text_offset(struct world *w, const struct file_ref *f, uint64_t *off)
{
	struct rt_answer a = { .type = REC_TEXT_OFFSET, .qstr = f->path, .qlen = (uint32_t)strlen(f->path) };

	if (w->o.replay) {
		if (!ask(w, &a) || !a.ret)
			return false;
		*off = a.val[0];
		return true;
	}
	a.ret = elfsyms__text_offset(elfsyms__get_ref(f), &a.val[0]);
	if (w->o.record)
		tell(w, &a);
	if (a.ret)
		*off = a.val[0];
	return a.ret;
}

const char *world__perfmap(struct world *w, pid_t pid, uid_t uid, uint64_t ip)
{
	struct rt_answer a = { .type = REC_PERFMAP, .pid = pid, .num = ip, .num2 = uid };
	const char *name;

	if (w->o.replay)
		return ask(w, &a) && a.ret ? intern_str(a.astr, a.alen) : NULL;
	name = perfmap__lookup(pid, uid, w->o.perfmap_not_before, ip, w->event_ts);
	if (w->o.record) {
		a.ret = name != NULL;
		a.astr = name ? name : "";
		a.alen = (uint32_t)strlen(a.astr);
		tell(w, &a);
	}
	return name;
}

void world__event_time(struct world *w, uint64_t ts)
{
	w->event_ts = ts;
}

void world__perfmap_expire(struct world *w)
{
	if (!w->o.replay)
		perfmap__expire();
}

int world__read_stack(struct world *w, int32_t id, uint64_t *ips, int max)
{
	struct rt_answer a = { .type = REC_STACK, .pid = id };

	if (w->o.replay) {
		if (!ask(w, &a))
			return -EIO;
		if (a.ret > max) {
			world__replay_fail(w, "corrupt: a recorded stack deeper than a stack can be");
			return -EIO;
		}
		if (a.ret > 0)
			memcpy(ips, a.ips, (size_t)a.ret * sizeof(*ips));
		return a.ret;
	}
	a.ret = w->o.read_stack ? w->o.read_stack(w->o.ctx, id, ips, max) : -ENOSYS;
	if (w->o.record) {
		a.ips = ips;
		tell(w, &a);
	}
	return a.ret;
}

void world__drop_stack(struct world *w, int32_t id)
{
	if (w->o.drop_stack && !w->o.replay)
		w->o.drop_stack(w->o.ctx, id);
}

int world__exit_info(struct world *w, uint32_t tgid, struct tm_exit *out)
{
	struct rt_answer a = { .type = REC_EXIT, .pid = (int32_t)tgid };

	if (w->o.replay) {
		if (!ask(w, &a))
			return -EIO;
		out->maxrss_bytes = a.val[0];
		out->exit_code = a.val[1];
		return a.ret > 0 ? -EIO : a.ret;
	}
	a.ret = w->o.exit_info ? w->o.exit_info(w->o.ctx, tgid, out) : -ENOSYS;
	if (w->o.record) {
		a.val[0] = a.ret ? 0 : out->maxrss_bytes;
		a.val[1] = a.ret ? 0 : out->exit_code;
		tell(w, &a);
	}
	return a.ret;
}

static void py_set_target(struct world *w, pid_t pid, struct py_target *tgt)
{
	uint64_t *slot = hashmap__find(w->py, (uint64_t)pid);

	if (slot) {
		free((void *)(uintptr_t)*slot);
		hashmap__delete(w->py, (uint64_t)pid);
	}
	if (tgt)
		*hashmap__upsert(w->py, (uint64_t)pid, NULL) = (uint64_t)(uintptr_t)tgt;
}

int world__set_unwind(struct world *w, pid_t pid, const struct procmaps *pm)
{
	struct rt_answer a = { .type = REC_UNWIND_SET, .pid = pid };
	struct py_target *tgt = NULL;
	struct tm_unwind_proc up;
	struct tm_py_proc py;
	uint32_t dev = 0;
	bool is_py;
	int err;

	if (w->o.replay)
		return ask(w, &a) ? a.ret : -EIO;
	if (!w->unwind) {
		a.ret = 0;
	} else {
		/* where its CPython keeps its frames (its code objects are named from here), first:
		 * a new file's unwind table takes a while to load */
		is_py = !w->o.c_frames_only && !pyframes__target(pid, pm, &py, &tgt);
		if (is_py && w->o.set_python)
			w->o.set_python(w->o.ctx, (uint32_t)pid, &py, pyframes__fixed_exe(tgt, &dev), dev);
		unwind__proc_ranges(w->unwind, pid, pm, &up);
		if (pyframes__perf_trampolines(pid, pm))
			up.flags |= TM_UNWIND_PY_TRAMPOLINES;
		py_set_target(w, pid, is_py ? tgt : NULL);
		err = w->o.set_unwind(w->o.ctx, (uint32_t)pid, &up, is_py ? &py : NULL);
		a.ret = err < 0 ? err : err ? -EIO : 0;
	}
	if (w->o.record)
		tell(w, &a);
	return a.ret;
}

void world__exec_hold(struct world *w, pid_t pid, uint64_t ts)
{
	if (!w->o.replay && w->unwind)
		unwind__hold_exec(w->unwind, pid, ts);
}

void world__hold_end(struct world *w, bool gone)
{
	if (!w->o.replay && w->unwind)
		unwind__hold_end(w->unwind, gone);
}

bool world__holding(const struct world *w)
{
	return !w->o.replay && w->unwind && unwind__holding(w->unwind);
}

void world__unwind_stats(struct world *w, size_t *tables, size_t *skipped, size_t *rows)
{
	struct rt_answer a = { .type = REC_UNWIND_STATS };

	*tables = *skipped = *rows = 0;
	if (w->o.replay) {
		if (ask(w, &a)) {
			*tables = a.val[0];
			*skipped = a.val[1];
			*rows = a.val[2];
		}
		return;
	}
	if (w->unwind)
		unwind__stats(w->unwind, tables, skipped, rows);
	if (w->o.record) {
		a.val[0] = *tables;
		a.val[1] = *skipped;
		a.val[2] = *rows;
		tell(w, &a);
	}
}

void world__py_exec(struct world *w, pid_t pid, const struct file_ref *f, const char *given)
{
	struct py_target *tgt = NULL;
	struct tm_py_proc py;
	uint32_t dev;
	uint64_t ino;

	/* by the name execve ran: /proc/PID/exe may be a later exec's by now (a launcher script's
	 * exec read after it exec'd python), not the file of this inode */
	if (w->o.replay || w->o.c_frames_only || !w->o.set_python || !f->ino || !pyframes__is_cpython(given) ||
	    pyframes__exe_target(f, &py, &tgt))
		return;
	ino = pyframes__fixed_exe(tgt, &dev);
	w->o.set_python(w->o.ctx, (uint32_t)pid, &py, ino, dev);
	py_set_target(w, pid, tgt);
}

int world__py_code(struct world *w, pid_t pid, uint64_t code, struct py_code *out)
{
	struct rt_answer a = { .type = REC_PY_CODE, .pid = pid, .num = code };
	struct rec_buf b = {};
	uint64_t *tgt;

	memset(out, 0, sizeof(*out));
	if (w->o.replay) {
		if (!ask(w, &a))
			return -EIO;
		if (a.ret)
			return a.ret < 0 ? a.ret : -EIO;
		if (a.val[1] > a.alen || a.val[2] > a.alen - a.val[1]) {
			world__replay_fail(w, "corrupt: a Python code object's names longer than its record");
			return -EIO;
		}
		out->firstlineno = (int)a.val[0];
		out->qualname = dup_str(a.astr, (uint32_t)a.val[1]);
		out->filename = dup_str(a.astr + a.val[1], (uint32_t)a.val[2]);
		out->ltlen = a.alen - a.val[1] - a.val[2];
		out->linetable = xmalloc(out->ltlen ? out->ltlen : 1);
		memcpy(out->linetable, a.astr + a.val[1] + a.val[2], out->ltlen);
		return 0;
	}
	tgt = hashmap__find(w->py, (uint64_t)pid);
	a.ret = tgt ? pyframes__read_code(pid, (const struct py_target *)(uintptr_t)*tgt, code, out) : -ENOENT;
	if (w->o.record) {
		if (!a.ret) {
			a.val[0] = (uint64_t)out->firstlineno;
			a.val[1] = strlen(out->qualname);
			a.val[2] = strlen(out->filename);
			rec_buf__bytes(&b, out->qualname, a.val[1]);
			rec_buf__bytes(&b, out->filename, a.val[2]);
			if (out->ltlen)
				rec_buf__bytes(&b, out->linetable, out->ltlen);
		}
		a.astr = b.p ? (const char *)b.p : "";
		a.alen = (uint32_t)b.len;
		tell(w, &a);
		rec_buf__free(&b);
	}
	return a.ret;
}
