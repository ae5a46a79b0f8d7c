// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "account.h"
#include "demangle.h"
#include "procfile.h"
#include "pyframes_user.h"
#include "strtab.h"
#include "util.h"

/* The file of mapping m of process p, as the world opens it: through the process. A mapping made
 * up from the exec event (its maps never read) is the file execve ran, as maps_from_exec says. */
static struct file_ref file_of(const struct proc *p, const struct map_entry *m)
{
	return (struct file_ref){ .pid = p->pid, .start = m->start, .end = m->end, .ino = m->ino, .dev = m->dev,
				  .path = m->path, .exe = m->path == p->exe, .own_root = m->path == p->exe && p->exe_own_root };
}

const char *account__frame_name(struct account *a, struct proc *p, uint64_t ip, bool *known)
{
	const struct map_entry *m = account__find_map(a, p, ip);
	char buf[512];
	bool dummy;

	if (!known)
		known = &dummy;
	*known = false;
	if (!m || !map_entry__is_file(m)) { /* JIT code lives in anonymous memory */
		const char *jit = world__perfmap(a->w, p->pid, p->uid, ip);

		if (jit) {
			*known = true;
			return jit;
		}
	}
	if (!m)
		return intern("[unknown]");
	if (map_entry__is_file(m)) {
		struct file_ref f = file_of(p, m);
		uint64_t off = 0;
		const char *sym = world__symbol(a->w, &f, ip - m->start + m->off, &off);

		if (sym) {
			*known = true;
			return demangle(sym);
		}
		/* a stripped file whose code the runtime names in its perf map (V8's embedded
		 * builtins in Debian's libnode: Builtin:JSEntry) */
		sym = world__perfmap(a->w, p->pid, p->uid, ip);
		if (sym) {
			*known = true;
			return sym;
		}
		snprintf(buf, sizeof(buf), "%s+0x%llx", basename_of(m->path),
			 (unsigned long long)(ip - m->start + m->off));
		return intern(buf);
	}
	*known = m->path[0] == '[';
	return intern(m->path[0] ? m->path : "[anon]");
}

/* One frame_map per distinct mapping, kept for the whole run (pprof's Mapping). */
static const struct frame_map *frame_map(struct account *a, const struct proc *p, const struct map_entry *m)
{
	const char *path = intern(m->path);
	uint64_t key = ((uint64_t)(uintptr_t)path ^ m->start * 0x9e3779b97f4a7c15ull ^ m->end * 0xc2b2ae3d27d4eb4full ^
			m->off) | 1, *slot;
	struct frame_map *fm;
	bool created;

	for (;; key += 2) { /* a key another mapping holds: the next odd key */
		slot = hashmap__upsert(a->fmaps, key, &created);
		fm = (struct frame_map *)(uintptr_t)*slot;
		if (created || (fm->path == path && fm->start == m->start && fm->end == m->end && fm->off == m->off))
			break;
	}
	if (created) {
		struct file_ref f = file_of(p, m);

		fm = xcalloc(1, sizeof(*fm));
		*fm = (struct frame_map){ path, m->start, m->end, m->off, world__build_id(a->w, &f) };
		*slot = (uint64_t)(uintptr_t)fm;
	}
	return fm;
}

void account__free_frame_maps(struct account *a)
{
	size_t pos = 0;
	uint64_t k, v;

	while (hashmap__next(a->fmaps, &pos, &k, &v))
		free((void *)(uintptr_t)v);
	hashmap__free(a->fmaps);
	for (pos = 0; hashmap__next(a->fsrcs, &pos, &k, &v);)
		free((void *)(uintptr_t)v);
	hashmap__free(a->fsrcs);
}

/* ---- CPython frames (include/pyframes.h): named from their code objects ---- */

/* A code object of a process, as read while it lived (or not: func NULL). */
struct pycode {
	const char *func, *file, *base; /* "module.qualname", its file, the file's base name */
	int firstlineno;
	uint8_t *lt;
	size_t ltlen;
	bool lt_partial;     /* the BPF side's first TM_PY_LT_LEN bytes of the table */
	bool full_tried;     /* the whole table was asked of the process */
};

/* The module a file holds, as the frame names it: its base name less ".py" (a package's
 * __init__.py: the directory's), or a frozen module's name. */
static void module_of(const char *file, char *buf, size_t len)
{
	const char *b = basename_of(file), *dot;
	size_t n;

	if (!strncmp(file, "<frozen ", 8)) {
		snprintf(buf, len, "%.*s", (int)strcspn(file + 8, ">"), file + 8);
		return;
	}
	if (!strcmp(b, "__init__.py") && b > file + 1) {
		const char *e = b - 1, *s = e;

		while (s > file && s[-1] != '/')
			s--;
		snprintf(buf, len, "%.*s", (int)(e - s), s);
		return;
	}
	dot = strrchr(b, '.');
	n = dot && !strcmp(dot, ".py") ? (size_t)(dot - b) : strlen(b);
	snprintf(buf, len, "%.*s", (int)n, b);
}

/* Name pc from what was read of its code object (lt: malloc'd, now pc's). */
static void pycode_fill(struct pycode *pc, const char *qualname, const char *filename, int firstlineno,
			uint8_t *lt, size_t ltlen)
{
	char mod[128], *func;
	size_t len;

	module_of(filename, mod, sizeof(mod));
	len = strlen(mod) + strlen(qualname) + 2;
	func = xmalloc(len);
	snprintf(func, len, "%s.%s", mod, qualname);
	pc->func = intern(func);
	free(func);
	pc->file = intern(filename);
	pc->base = intern(basename_of(filename));
	pc->firstlineno = firstlineno;
	free(pc->lt);
	pc->lt = lt;
	pc->ltlen = ltlen;
}

static const struct pycode *pycode_of(struct account *a, struct proc *p, uint64_t code)
{
	uint64_t *slot = hashmap__upsert(p->pycode, code, NULL);
	struct pycode *pc = (struct pycode *)(uintptr_t)*slot;
	struct py_code c;

	if (pc)
		return pc;
	pc = xcalloc(1, sizeof(*pc));
	*slot = (uint64_t)(uintptr_t)pc;
	if (world__py_code(a->w, p->pid, code, &c))
		return pc;
	pycode_fill(pc, c.qualname, c.filename, c.firstlineno, c.linetable, c.ltlen);
	c.linetable = NULL;
	py_code__free(&c);
	return pc;
}

void account__py_code(struct account *a, struct proc *p, const struct tm_py_code_event *x)
{
	uint64_t *slot = hashmap__upsert(p->pycode, x->e.addr & TM_PY_CODE_MASK, NULL);
	struct pycode *pc = (struct pycode *)(uintptr_t)*slot;
	uint8_t *lt;

	(void)a;
	/* it comes before the stacks that hold it, and again when the address holds another code
	 * object (of another module): it replaces what was known; nothing to name it by, nothing */
	if (!x->qualname[0] || !x->filename[0])
		return;
	if (!pc) {
		pc = xcalloc(1, sizeof(*pc));
		*slot = (uint64_t)(uintptr_t)pc;
	}
	lt = xmalloc(x->ltlen ? x->ltlen : 1);
	memcpy(lt, x->lt, x->ltlen);
	pycode_fill(pc, x->qualname, x->filename, x->firstlineno, lt, x->ltlen);
	pc->lt_partial = x->ltlen == TM_PY_LT_LEN;
	pc->full_tried = false;
}

/* The line of instruction lasti (-1: the first line) of pc; past the part of its location
 * table the BPF side sent, the whole table is read from the process, once, if it still lives. */
static int pycode_line(struct account *a, struct proc *p, uint64_t code, struct pycode *pc, int lasti)
{
	int line = pyframes__line(pc->lt, pc->ltlen, pc->firstlineno, lasti);
	struct py_code c;

	if (line >= 0 || !pc->lt_partial || pc->full_tried || !p->alive)
		return line;
	pc->full_tried = true;
	if (world__py_code(a->w, p->pid, code, &c))
		return line;
	if (intern(c.filename) == pc->file && c.firstlineno == pc->firstlineno) { /* the same code */
		free(pc->lt);
		pc->lt = c.linetable;
		pc->ltlen = c.ltlen;
		pc->lt_partial = false;
		c.linetable = NULL;
		line = pyframes__line(pc->lt, pc->ltlen, pc->firstlineno, lasti);
	}
	py_code__free(&c);
	return line;
}

/* The frame a Python entry names: "module.qualname (file.py:line)", and its source. */
static const char *py_frame(struct account *a, struct proc *p, uint64_t ent, const struct frame_src **src)
{
	uint64_t code = ent & TM_PY_CODE_MASK, lasti = (ent >> TM_PY_LASTI_SHIFT) & TM_PY_LASTI_MAX, *slot;
	const struct pycode *pc = pycode_of(a, p, code);
	struct frame_src *fs;
	const char *name;
	char buf[768];
	bool created;
	int line;

	if (!pc->func) {
		a->st.py_unnamed++;
		snprintf(buf, sizeof(buf), "[python code 0x%llx]", (unsigned long long)code);
		*src = NULL;
		return intern(buf);
	}
	/* lasti is one past the instruction (0: not started, the maximum: beyond what fits) */
	line = lasti && lasti < TM_PY_LASTI_MAX ? pycode_line(a, p, code, (struct pycode *)pc, (int)lasti - 1) :
						    pc->firstlineno;
	if (line < 0)
		line = pc->firstlineno;
	snprintf(buf, sizeof(buf), "%s (%s:%d)", pc->func, pc->base, line);
	name = intern(buf);
	slot = hashmap__upsert(a->fsrcs, (uint64_t)(uintptr_t)name, &created);
	if (created) {
		fs = xcalloc(1, sizeof(*fs));
		*fs = (struct frame_src){ pc->func, pc->file, line };
		*slot = (uint64_t)(uintptr_t)fs;
	}
	*src = (const struct frame_src *)(uintptr_t)*slot;
	return name;
}

/* CPython 3.12+ run with -X perf names each Python function's trampoline in its perf map
 * "py::qualname:file.py": named here as the 3.11 frames read from its memory are, "module.qualname
 * (file.py)" (the map has no line), with its source for pprof. NULL when raw is not such an
 * entry. Done here, not where the map is read: recordings keep what the map said. */
static const char *perf_py_frame(struct account *a, const char *raw, const struct frame_src **src)
{
	const char *q = raw + 4, *colon, *file;
	char mod[128], func[640], buf[768];
	struct frame_src *fs;
	const char *name;
	uint64_t *slot;
	bool created;

	if (strncmp(raw, "py::", 4) || !(colon = strchr(q, ':')) || colon == q || !colon[1])
		return NULL;
	file = colon + 1;
	module_of(file, mod, sizeof(mod));
	snprintf(func, sizeof(func), "%s.%.*s", mod, (int)(colon - q), q);
	snprintf(buf, sizeof(buf), "%s (%s)", func, basename_of(file));
	name = intern(buf);
	slot = hashmap__upsert(a->fsrcs, (uint64_t)(uintptr_t)name, &created);
	if (created) {
		fs = xcalloc(1, sizeof(*fs));
		*fs = (struct frame_src){ intern(func), intern(file), 0 };
		*slot = (uint64_t)(uintptr_t)fs;
	}
	*src = (const struct frame_src *)(uintptr_t)*slot;
	return name;
}

/* Frame k of ss is a -X perf trampoline named name (src): the _PyEval_EvalFrameDefault it
 * called, frame k - 1, is that function's run of the interpreter and gives it its place, as a
 * 3.11 Python frame replaces it. The index the frame is now at. */
static int perf_py_place(struct symstack *ss, int k, const char *name, const struct frame_src *src, size_t n)
{
	if (!ss->srcs)
		ss->srcs = xcalloc(n ? n : 1, sizeof(*ss->srcs));
	if (k > 0 && ss->frames[k - 1] == intern("_PyEval_EvalFrameDefault") && !ss->srcs[k - 1]) {
		ss->frames[k - 1] = ss->frames[k];
		ss->ips[k - 1] = ss->ips[k];
		ss->maps[k - 1] = ss->maps[k];
		k--;
	}
	ss->frames[k] = name;
	ss->srcs[k] = src;
	return k;
}

void account__free_pycode(struct proc *p)
{
	size_t pos = 0;
	uint64_t k, v;

	while (hashmap__next(p->pycode, &pos, &k, &v)) {
		struct pycode *pc = (struct pycode *)(uintptr_t)v;

		if (pc)
			free(pc->lt);
		free(pc);
	}
}

const struct symstack *account__stack(struct account *a, struct proc *p, int32_t id)
{
	const char *eval = intern("_PyEval_EvalFrameDefault");
	uint64_t ips[TM_MAX_STACK_DEPTH], *slot;
	int n, i, k, nat, py, j;
	struct symstack *ss;
	bool created, pypart;

	if (id < 0)
		return NULL;
	slot = hashmap__upsert(p->stacks, (uint64_t)id, &created);
	if (!created)
		return (const struct symstack *)(uintptr_t)*slot;
	n = world__read_stack(a->w, id, ips, TM_MAX_STACK_DEPTH);
	if (n < 0) {
		a->st.stacks_unreadable++; /* freed after its last user exited, before we read it */
		n = 0;
	}
	/* a Python part: its frames replace the _PyEval_EvalFrameDefault calls that run them */
	py = pyframes__split(ips, n);
	nat = py < 0 ? n : py;
	if (py >= 0 && (ips[py] & (TM_PYF_TRUNC | TM_PYF_NOGIL)))
		a->st.py_cut++; /* a frame unreadable, too deep, or the thread's state not found */
	ss = xcalloc(1, sizeof(*ss) + n * sizeof(ss->frames[0]));
	ss->ips = xcalloc(n ? n : 1, sizeof(*ss->ips));
	ss->maps = xcalloc(n ? n : 1, sizeof(*ss->maps));
	pypart = py >= 0 && py + 1 < n;
	if (pypart)
		ss->srcs = xcalloc(n, sizeof(*ss->srcs));
	j = py + 1;
	for (i = 0, k = 0; i < nat; i++) {
		/* return addresses point after the call: look up the call itself */
		uint64_t ip = i ? ips[i] - 1 : ips[i];
		const struct map_entry *m;
		const struct frame_src *src;
		const char *name, *pyname;
		bool known;

		name = account__frame_name(a, p, ip, &known);
		if (name == eval && pypart && j < n) {
			bool entry;

			do { /* innermost first, up to the frame this call began with */
				entry = ips[j] & TM_PY_ENTRY;
				ss->ips[k] = ips[j];
				ss->frames[k] = py_frame(a, p, ips[j], &ss->srcs[k]);
				k++;
				j++;
			} while (!entry && j < n);
			continue;
		}
		ss->ips[k] = ips[i];
		ss->frames[k] = name;
		if (!known)
			ss->unknown++;
		m = procmaps__find(&p->maps, ip); /* as account__frame_name found it */
		if (m && map_entry__is_file(m))
			ss->maps[k] = frame_map(a, p, m);
		else if (known && (pyname = perf_py_frame(a, name, &src)))
			k = perf_py_place(ss, k, pyname, src, (size_t)n);
		k++;
	}
	/* frames of calls the native walk did not reach */
	for (; pypart && j < n; j++, k++) {
		ss->ips[k] = ips[j];
		ss->frames[k] = py_frame(a, p, ips[j], &ss->srcs[k]);
	}
	ss->n = k;
	a->st.frames += k;
	a->st.frames_unknown += ss->unknown;
	if (py >= 0)
		a->st.py_frames += n - py - 1;
	if (p->alive)
		(*hashmap__upsert(a->stack_users, (uint64_t)id, NULL))++;
	*slot = (uint64_t)(uintptr_t)ss;
	return ss;
}

const struct symstack *account__cached_stack(const struct proc *p, int32_t id)
{
	uint64_t *slot = id < 0 ? NULL : hashmap__find(p->stacks, (uint64_t)id);

	return slot ? (const struct symstack *)(uintptr_t)*slot : NULL;
}

void account__resymbolize(struct account *a)
{
	const char *unknown = intern("[unknown]"), *anon = intern("[anon]");
	size_t i, pos;
	uint64_t id, v;

	world__perfmap_expire(a->w);
	for (i = 0; i < a->m.nprocs; i++) {
		struct proc *p = a->m.procs[i];

		for (pos = 0; hashmap__next(p->stacks, &pos, &id, &v);) {
			struct symstack *ss = (struct symstack *)(uintptr_t)v;
			int k;

			/* Python frames the process was gone too soon to name: the BPF side's names */
			for (k = 0; ss && ss->srcs && k < ss->n; k++) {
				uint64_t *pc = ss->srcs[k] ? NULL : hashmap__find(p->pycode, ss->ips[k] & TM_PY_CODE_MASK);

				if (pc && *pc && ((struct pycode *)(uintptr_t)*pc)->func &&
				    !strncmp(ss->frames[k], "[python code ", 13)) {
					ss->frames[k] = py_frame(a, p, ss->ips[k], &ss->srcs[k]);
					a->st.py_unnamed--;
				}
			}
			for (k = 0; ss && ss->unknown && k < ss->n; k++) {
				uint64_t ip = k ? ss->ips[k] - 1 : ss->ips[k];

				if (ss->srcs && ss->srcs[k])
					continue;
				const struct map_entry *m = procmaps__find(&p->maps, ip);
				const char *jit;

				if ((m && map_entry__is_file(m)) ||
				    (ss->frames[k] != unknown && ss->frames[k] != anon))
					continue;
				jit = world__perfmap(a->w, p->pid, p->uid, ip);
				if (jit && jit != ss->frames[k]) {
					const struct frame_src *src;
					const char *pyname = perf_py_frame(a, jit, &src);

					ss->frames[k] = jit;
					ss->unknown--;
					a->st.frames_unknown--;
					/* the interpreter's frame it takes the place of goes: the rest move in */
					if (pyname && perf_py_place(ss, k, pyname, src, (size_t)ss->n) < k) {
						for (int j = k + 1; j < ss->n; j++) {
							ss->frames[j - 1] = ss->frames[j];
							ss->ips[j - 1] = ss->ips[j];
							ss->maps[j - 1] = ss->maps[j];
							ss->srcs[j - 1] = ss->srcs[j];
						}
						ss->n--;
						a->st.frames--;
						k--;
					}
				}
			}
		}
	}
}

int account__read_maps(struct account *a, struct proc *p)
{
	int err;

	p->maps_stale = p->maps_moved = false;
	p->maps_new = 0;
	if (!p->alive)
		return -ESRCH;
	err = world__read_maps(a->w, p->pid, &p->maps);
	if (err) {
		a->st.maps_read_failed++;
		return err;
	}
	world__owner(a->w, p->pid, &p->uid);
	p->maps_read = true;
	p->maps_reads++;
	/* the BPF walk learns where code without frame pointers is */
	if (world__set_unwind(a->w, p->pid, &p->maps))
		a->st.unwind_set_failed++;
	return 0;
}

const struct map_entry *account__find_map(struct account *a, struct proc *p, uint64_t addr)
{
	const struct map_entry *m = procmaps__find(&p->maps, addr);

	if (!m && (p->maps_stale || !p->maps_read) && !account__read_maps(a, p))
		m = procmaps__find(&p->maps, addr);
	return m;
}

/* Maps of this many entries or more are read again at a refresh for new mappings of files
 * only once those are as many as the entries: each read parses every line (a program mapping
 * 60k files had its maps read 18 times, 290k lines, a sixth of the tool's time), and with the
 * maps at least doubling between reads all of them parse at most twice the last one's lines;
 * an event in a mapping not read yet reads them then (account__find_map). Code, fixed
 * mappings and unmappings are read at the next refresh, at any size: the unwinder, the
 * frames' names and the pages' files need them. */
#define MAPS_DEFER_MIN 4096

static bool maps_due(const struct proc *p)
{
	if (!p->maps_read)
		return true;
	return p->maps_stale && (p->maps_moved || p->maps.n < MAPS_DEFER_MIN || p->maps_new >= p->maps.n);
}

void account__refresh_maps(struct account *a)
{
	size_t i;

	for (i = 0; i < a->m.nprocs; i++) {
		struct proc *p = a->m.procs[i];

		if (p->alive && maps_due(p))
			account__read_maps(a, p);
	}
}

/* A process is gone and its stacks are symbolized: stacks no live process uses leave the
 * kernel's stack map, whose ids would otherwise run out with many short processes (ASLR makes
 * each one's stacks distinct). */
void account__release_stacks(struct account *a, struct proc *p)
{
	size_t pos = 0;
	uint64_t id, v;

	while (hashmap__next(p->stacks, &pos, &id, &v)) {
		uint64_t *users = hashmap__find(a->stack_users, id);

		if (!users || --*users)
			continue;
		hashmap__delete(a->stack_users, id);
		world__drop_stack(a->w, (int32_t)id);
	}
}

void account__free_stacks(struct proc *p)
{
	size_t pos = 0;
	uint64_t k, v;

	while (hashmap__next(p->stacks, &pos, &k, &v)) {
		struct symstack *ss = (struct symstack *)(uintptr_t)v;

		if (ss) {
			free(ss->ips);
			free(ss->maps);
			free(ss->srcs);
		}
		free(ss);
	}
}
