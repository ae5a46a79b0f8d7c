// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include "elfsyms.h"
#include "hashmap.h"
#include "procfile.h"
#include "procmaps.h"
#include "pyframes_user.h"
#include "strtab.h"
#include "util.h"

#define CODE_READ 256          /* bytes of a code object read: its fields are below */
#define STR_MAX 512            /* bytes of a name or file name kept */
#define LINETABLE_MAX (64u << 10)

/* One interpreter build's offsets, from its DWARF; -1 where a member was not found. */
struct py_layout {
	int err;                  /* 0, or why the build is not read (-ENODATA: no debug info) */
	long rt_gilstate, gs_tstate_current, gs_interp;
	long ts_thread_id, ts_cframe, cf_current_frame;
	long ts_next, is_threads, threads_head; /* the interpreter's list of threads */
	long fr_code, fr_previous, fr_prev_instr, fr_is_entry, fr_globals;
	long co_code, co_filename, co_qualname, co_linetable, co_firstlineno;
	long var_size, bytes_sval;        /* PyVarObject.ob_size, PyBytesObject.ob_sval */
	long str_length, str_state;       /* PyASCIIObject.length, .state */
	long ascii_size, compact_size;    /* sizeof PyASCIIObject, PyCompactUnicodeObject: data */
	long ob_type;                     /* PyObject.ob_type: a code object's is &PyCode_Type */
};

/* A process's interpreter: its build's layout, and where its PyCode_Type is. */
struct py_target {
	const struct py_layout *lay;
	uint64_t code_type;
	uint64_t fixed_ino;  /* the file is an ET_EXEC executable: its addresses are fixed */
	uint32_t fixed_dev;
};

uint64_t pyframes__fixed_exe(const struct py_target *tgt, uint32_t *dev)
{
	*dev = tgt ? tgt->fixed_dev : 0;
	return tgt ? tgt->fixed_ino : 0;
}

/* What the DWARF is searched for: a member of a struct (by its tag or typedef name), or with
 * member NULL, the struct's size. */
struct want {
	const char *type, *member;
	size_t field; /* offsetof(struct py_layout, ...) */
};

#define W(t, m, f) { t, m, offsetof(struct py_layout, f) }
static const struct want wants[] = {
	W("pyruntimestate", "gilstate", rt_gilstate),
	W("_gilstate_runtime_state", "tstate_current", gs_tstate_current),
	W("_gilstate_runtime_state", "autoInterpreterState", gs_interp),
	W("_ts", "thread_id", ts_thread_id),
	W("_ts", "cframe", ts_cframe),
	W("_ts", "next", ts_next),
	W("_is", "threads", is_threads),
	W("pythreads", "head", threads_head),
	W("_PyCFrame", "current_frame", cf_current_frame),
	W("_PyInterpreterFrame", "f_code", fr_code),
	W("_PyInterpreterFrame", "previous", fr_previous),
	W("_PyInterpreterFrame", "prev_instr", fr_prev_instr),
	W("_PyInterpreterFrame", "is_entry", fr_is_entry),
	W("_PyInterpreterFrame", "f_globals", fr_globals),
	W("PyCodeObject", "co_code_adaptive", co_code),
	W("PyCodeObject", "co_filename", co_filename),
	W("PyCodeObject", "co_qualname", co_qualname),
	W("PyCodeObject", "co_linetable", co_linetable),
	W("PyCodeObject", "co_firstlineno", co_firstlineno),
	W("PyVarObject", "ob_size", var_size),
	W("PyBytesObject", "ob_sval", bytes_sval),
	W("PyASCIIObject", "length", str_length),
	W("PyASCIIObject", "state", str_state),
	W("PyASCIIObject", NULL, ascii_size),
	W("PyCompactUnicodeObject", NULL, compact_size),
	W("_object", "ob_type", ob_type),
};
#define NWANTS (sizeof(wants) / sizeof(wants[0]))

static long *field(struct py_layout *l, size_t i)
{
	return (long *)((char *)l + wants[i].field);
}

/* The struct a DIE names: itself, or what a typedef (of a typedef) stands for. */
static bool struct_of(Dwarf_Die *die, Dwarf_Die *out)
{
	Dwarf_Attribute at;
	int depth;

	*out = *die;
	for (depth = 0; depth < 4 && dwarf_tag(out) == DW_TAG_typedef; depth++)
		if (!dwarf_attr(out, DW_AT_type, &at) || !dwarf_formref_die(&at, out))
			return false;
	return dwarf_tag(out) == DW_TAG_structure_type && !dwarf_hasattr(out, DW_AT_declaration);
}

/* Fill what this top-level DIE (a struct or typedef) answers; the count filled. */
static int take_type(Dwarf_Die *die, struct py_layout *l, bool *done)
{
	const char *name = dwarf_diename(die);
	Dwarf_Die st, mem;
	int filled = 0;
	size_t i;

	if (!name || !struct_of(die, &st))
		return 0;
	for (i = 0; i < NWANTS; i++) {
		if (done[i] || strcmp(wants[i].type, name))
			continue;
		if (!wants[i].member) {
			int sz = dwarf_bytesize(&st);

			if (sz > 0) {
				*field(l, i) = sz;
				done[i] = true;
				filled++;
			}
			continue;
		}
		if (dwarf_child(&st, &mem))
			continue;
		do {
			Dwarf_Attribute at;
			Dwarf_Word off;
			const char *mn = dwarf_diename(&mem);

			if (dwarf_tag(&mem) != DW_TAG_member || !mn || strcmp(mn, wants[i].member))
				continue;
			if (!dwarf_attr(&mem, DW_AT_data_member_location, &at) || dwarf_formudata(&at, &off))
				break;
			*field(l, i) = (long)off;
			done[i] = true;
			filled++;
			break;
		} while (!dwarf_siblingof(&mem, &mem));
	}
	return filled;
}

/* The offsets from the DWARF of fd (a debug file, or the binary itself). */
static int layout_from_dwarf(int fd, struct py_layout *l)
{
	Dwarf *dw = dwarf_begin(fd, DWARF_C_READ);
	bool done[NWANTS] = {};
	Dwarf_Off off = 0, next;
	size_t hsize, left = NWANTS, i;

	for (i = 0; i < NWANTS; i++)
		*field(l, i) = -1;
	if (!dw)
		return -ENODATA;
	while (left && !dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL)) {
		Dwarf_Die cu, d;

		if (dwarf_offdie(dw, off + hsize, &cu) && !dwarf_child(&cu, &d)) {
			do {
				int tag = dwarf_tag(&d);

				if (tag == DW_TAG_structure_type || tag == DW_TAG_typedef)
					left -= (size_t)take_type(&d, l, done);
			} while (left && !dwarf_siblingof(&d, &d));
		}
		off = next;
	}
	dwarf_end(dw);
	return left ? -ENODATA : 0;
}

/* Sanity: the frame chain's fields where the BPF side can read them, the rest plausible. */
static int layout_check(const struct py_layout *l)
{
	if (l->fr_globals % 8 || l->fr_globals + 8 > TM_PY_READ || l->fr_code % 8 || l->fr_previous % 8 || l->fr_prev_instr % 8 || l->fr_code + 8 > TM_PY_READ ||
	    l->fr_previous + 8 > TM_PY_READ || l->fr_prev_instr + 8 > TM_PY_READ || l->fr_is_entry >= TM_PY_READ)
		return -EINVAL;
	if (l->ts_next > 0xffff || l->is_threads + l->threads_head > 0xffff ||
	    l->ts_thread_id > 0xffff || l->ts_cframe > 0xffff || l->cf_current_frame > 0xffff ||
	    l->co_code > 0xffff || l->co_code + 2 > CODE_READ + 64 || l->co_filename + 8 > CODE_READ ||
	    l->co_qualname + 8 > CODE_READ || l->co_linetable + 8 > CODE_READ || l->co_firstlineno + 4 > CODE_READ)
		return -EINVAL;
	if (l->ob_type + 8 > CODE_READ || l->ob_type % 8 || l->ascii_size <= l->str_state || l->compact_size < l->ascii_size || l->bytes_sval <= l->var_size)
		return -EINVAL;
	return 0;
}

/* Layouts by build id (interned pointer), kept for the run. */
static struct hashmap *layouts;

/* Reading a layout from the DWARF takes ~0.4 s (libdw inflates all of .debug_info first), during
 * which the process's first frames are missed: what was read is kept by build id for the next
 * runs, in root's own directory. */
#define CACHE_DIR "/var/cache/taskmem-trace"
#define CACHE_MAGIC "taskmem-trace cpython layout 6"

static void cache_path(const char *build_id, char *buf, size_t len)
{
	snprintf(buf, len, CACHE_DIR "/cpython-%s.layout", build_id);
}

static int cache_load(const char *build_id, struct py_layout *l)
{
	char path[256], *text, *p, *end;
	size_t len, i;
	struct stat st;
	int fd;

	cache_path(build_id, path, sizeof(path));
	fd = open_regular(path);
	if (fd < 0)
		return -ENOENT;
	/* only a file of root's that no one else may write */
	if (fstat(fd, &st) || st.st_uid != 0 || (st.st_mode & 022)) {
		close(fd);
		return -EPERM;
	}
	close(fd);
	if (read_whole(path, 4096, &text, &len))
		return -ENOENT;
	p = strchr(text, '\n');
	if (!p || strncmp(text, CACHE_MAGIC "\n", sizeof(CACHE_MAGIC))) {
		free(text);
		return -EINVAL;
	}
	for (i = 0; i < NWANTS; i++) {
		long v = strtol(p, &end, 10);

		if (end == p) {
			free(text);
			return -EINVAL;
		}
		*field(l, i) = v;
		p = end;
	}
	free(text);
	return layout_check(l);
}

static void cache_store(const char *build_id, const struct py_layout *l)
{
	char path[256], tmp[280];
	size_t i;
	FILE *f;

	if (mkdir(CACHE_DIR, 0755) && errno != EEXIST)
		return;
	cache_path(build_id, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	f = fopen(tmp, "wx");
	if (!f)
		return;
	fprintf(f, CACHE_MAGIC "\n");
	for (i = 0; i < NWANTS; i++)
		fprintf(f, "%ld%c", *field((struct py_layout *)l, i), i + 1 < NWANTS ? ' ' : '\n');
	if (fclose(f) || rename(tmp, path))
		unlink(tmp);
}

static const struct py_layout *layout_of(const struct file_ref *f, const char *build_id)
{
	struct py_layout *l;
	char path[160];
	struct stat st;
	bool created;
	uint64_t *slot;
	int fd;

	if (!layouts)
		layouts = hashmap__new();
	slot = hashmap__upsert(layouts, (uint64_t)(uintptr_t)build_id, &created);
	if (!created)
		return (const struct py_layout *)(uintptr_t)*slot;
	l = xcalloc(1, sizeof(*l));
	*slot = (uint64_t)(uintptr_t)l;
	l->err = -ENODATA;
	/* the build id is the traced file's: only hex goes into a path */
	if (build_id && (strlen(build_id) <= 2 || strspn(build_id, "0123456789abcdef") != strlen(build_id)))
		build_id = NULL;
	if (build_id && !cache_load(build_id, l)) {
		l->err = 0;
		return l;
	}
	if (build_id) {
		snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%.2s/%s.debug", build_id, build_id + 2);
		fd = open_regular(path);
		if (fd >= 0) {
			l->err = layout_from_dwarf(fd, l);
			close(fd);
		}
	}
	if (l->err) { /* a build of one's own may carry its DWARF */
		fd = open_ref(f, &st);
		if (fd >= 0) {
			l->err = layout_from_dwarf(fd, l);
			close(fd);
		}
	}
	if (!l->err)
		l->err = layout_check(l);
	if (!l->err && build_id)
		cache_store(build_id, l);
	if (l->err == -ENODATA)
		p_warn("%s: a CPython without debug info for build id %s (Debian: python3.11-dbg): its "
		       "Python frames are not read", f->path, build_id ? build_id : "(none)");
	else if (l->err)
		p_warn("%s: a CPython whose frame layout is not 3.11's: its Python frames are not read", f->path);
	return l;
}

/* What a CPython file's dynamic symbols say, from one scan of its .dynsym. */
struct py_file {
	uint64_t rt_off, rt_va;     /* _PyRuntime: file offset, address */
	uint64_t code_off, code_va; /* PyCode_Type */
	uint32_t version;           /* Py_Version (3.11+: 0x030b02f0 is 3.11.2), 0: it has none */
	bool has_rt, has_code;
	bool fixed;                 /* an ET_EXEC executable: its addresses are its own */
	bool trampolines;           /* 3.12+'s -X perf trampolines (_Py_trampoline_func_start) */
	bool warned;                /* its version was refused, once */
};

/* By file (file_key): scanned once per run, not at every read of a process's maps. */
static struct hashmap *pyfiles;

/* The file offset the virtual address vaddr is loaded from; -ENOENT if no segment holds it. */
static int va_to_off(Elf *elf, uint64_t vaddr, uint64_t *off)
{
	size_t i, nph;

	if (elf_getphdrnum(elf, &nph))
		return -ENOENT;
	for (i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr &&
		    vaddr < ph.p_vaddr + ph.p_filesz) {
			*off = vaddr - ph.p_vaddr + ph.p_offset;
			return 0;
		}
	}
	return -ENOENT;
}

/* 0, or -errno when the file could not be opened (the process gone: not kept) */
static int py_file_scan(const struct file_ref *f, struct py_file *pf)
{
	GElf_Ehdr eh;
	struct stat st;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	uint64_t ver_va = 0, off;
	size_t i;
	Elf *elf;
	int fd = open_ref(f, &st);

	if (fd < 0)
		return fd;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	while (elf && (scn = elf_nextscn(elf, scn))) {
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		for (i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;
			const char *n;

			if (!gelf_getsym(d, (int)i, &s) || s.st_shndx == SHN_UNDEF)
				continue;
			n = elf_strptr(elf, sh.sh_link, s.st_name);
			if (!n || (n[0] != '_' && n[0] != 'P'))
				continue;
			if (!strcmp(n, "_PyRuntime"))
				pf->has_rt = !va_to_off(elf, pf->rt_va = s.st_value, &pf->rt_off);
			else if (!strcmp(n, "PyCode_Type"))
				pf->has_code = !va_to_off(elf, pf->code_va = s.st_value, &pf->code_off);
			else if (!strcmp(n, "Py_Version"))
				ver_va = s.st_value;
			else if (!strcmp(n, "_Py_trampoline_func_start"))
				pf->trampolines = true;
		}
		break;
	}
	pf->fixed = elf && gelf_getehdr(elf, &eh) && eh.e_type == ET_EXEC;
	/* a constant in .rodata: read from the file (pread, never mapped) */
	if (elf && ver_va && !va_to_off(elf, ver_va, &off) && pread(fd, &pf->version, 4, (off_t)off) != 4)
		pf->version = 0;
	if (elf)
		elf_end(elf);
	close(fd);
	return 0;
}

/* The file's symbols, scanned once per file (by device and inode; a file without: each time). */
static struct py_file *py_file_of(const struct file_ref *f, struct py_file *tmp)
{
	uint64_t key, *slot;
	struct py_file *pf;

	memset(tmp, 0, sizeof(*tmp));
	if (!f->ino)
		return py_file_scan(f, tmp), tmp;
	if (!pyfiles)
		pyfiles = hashmap__new();
	key = (uint64_t)(uintptr_t)file_key(f->dev, f->ino);
	slot = hashmap__find(pyfiles, key);
	if (slot)
		return (struct py_file *)(uintptr_t)*slot;
	if (py_file_scan(f, tmp))
		return tmp;
	pf = xmalloc(sizeof(*pf));
	*pf = *tmp;
	*hashmap__upsert(pyfiles, key, NULL) = (uint64_t)(uintptr_t)pf;
	return pf;
}

/* The frame chain this file reads is 3.11's (Py_Version exists since 3.11): another version's
 * DWARF may even be found (a 3.13 with its -dbg package) but its frames are laid out otherwise,
 * so it is refused by version first, warned about once. */
static int py_version_ok(const struct file_ref *f, struct py_file *pf)
{
	if (pf->version >> 16 == 0x030b)
		return 0;
	if (!pf->warned) {
		pf->warned = true;
		if (pf->version)
			p_warn("%s: CPython %u.%u: Python frames are read from memory for 3.11 only (3.12+ run with "
			       "-X perf or PYTHONPERFSUPPORT=1 are named from their perf map)",
			       f->path, pf->version >> 24, (pf->version >> 16) & 0xff);
		else
			p_warn("%s: a CPython older than 3.11: its Python frames are not read", f->path);
	}
	return -EPROTONOSUPPORT;
}

bool pyframes__perf_trampolines(pid_t pid, const struct procmaps *pm)
{
	size_t i;

	for (i = 0; i < pm->n; i++) {
		const struct map_entry *m = &pm->e[i];
		struct file_ref f = { .pid = pid, .start = m->start, .end = m->end, .ino = m->ino, .dev = m->dev,
				      .path = m->path };
		struct py_file tmp;

		if (m->exec && map_entry__is_file(m) && pyframes__is_cpython(m->path) && py_file_of(&f, &tmp)->trampolines)
			return true;
	}
	return false;
}

void pyframes__free_all(void)
{
	size_t pos = 0;
	uint64_t k, v;

	while (pyfiles && hashmap__next(pyfiles, &pos, &k, &v))
		free((void *)(uintptr_t)v);
	hashmap__free(pyfiles);
	pyfiles = NULL;
}

bool pyframes__is_cpython(const char *path)
{
	const char *b = basename_of(path);

	return !strncmp(b, "python3", 7) || !strncmp(b, "libpython3", 10);
}

/* What the BPF side needs, for an interpreter of layout l whose _PyRuntime is at rt. */
static void py_proc_of(const struct py_layout *l, uint64_t rt, struct tm_py_proc *out)
{
	*out = (struct tm_py_proc){
		.tstate_addr = rt + (uint64_t)l->rt_gilstate + (uint64_t)l->gs_tstate_current,
		.ts_thread_id = (__u16)l->ts_thread_id,
		.ts_cframe = (__u16)l->ts_cframe,
		.cf_current_frame = (__u16)l->cf_current_frame,
		.fr_code = (__u16)l->fr_code,
		.fr_previous = (__u16)l->fr_previous,
		.fr_prev_instr = (__u16)l->fr_prev_instr,
		.fr_is_entry = (__u16)l->fr_is_entry,
		.co_code = (__u16)l->co_code,
		.co_qualname = (__u16)l->co_qualname,
		.co_filename = (__u16)l->co_filename,
		.co_firstlineno = (__u16)l->co_firstlineno,
		.co_linetable = (__u16)l->co_linetable,
		.str_state = (__u16)l->str_state,
		.str_ascii_data = (__u16)l->ascii_size,
		.bytes_size = (__u16)l->var_size,
		.bytes_data = (__u16)l->bytes_sval,
		.fr_globals = (__u16)l->fr_globals,
		.ts_next = (__u16)l->ts_next,
		.is_threads_head = (__u16)(l->is_threads + l->threads_head),
		.interp_addr = rt + (uint64_t)l->rt_gilstate + (uint64_t)l->gs_interp,
	};
}

/* The address in the process of file offset off of the file mapping m maps, or 0. */
static uint64_t addr_of(const struct procmaps *pm, const struct map_entry *m, uint64_t off)
{
	size_t j;

	for (j = 0; j < pm->n; j++) {
		const struct map_entry *d = &pm->e[j];

		if (d->ino == m->ino && d->dev == m->dev && off >= d->off && off < d->off + (d->end - d->start))
			return d->start + off - d->off;
	}
	return 0;
}

int pyframes__target(pid_t pid, const struct procmaps *pm, struct tm_py_proc *out, struct py_target **tgt)
{
	int err = -ENOENT;
	size_t i;

	for (i = 0; i < pm->n; i++) {
		const struct map_entry *m = &pm->e[i];
		struct file_ref f = { .pid = pid, .start = m->start, .end = m->end, .ino = m->ino, .dev = m->dev,
				      .path = m->path };
		const struct py_layout *l;

		if (!m->exec || !map_entry__is_file(m) || !pyframes__is_cpython(m->path))
			continue;
		/* python3.11 or its libpython: the one with _PyRuntime (and a known layout) */
		struct py_file tmp, *pf = py_file_of(&f, &tmp);
		uint64_t rt, ct;

		if (!pf->has_rt || !pf->has_code)
			continue;
		err = py_version_ok(&f, pf);
		if (err)
			continue;
		l = layout_of(&f, elfsyms__build_id(elfsyms__get_ref(&f)));
		if (l->err) {
			err = l->err;
			continue;
		}
		rt = addr_of(pm, m, pf->rt_off);
		ct = addr_of(pm, m, pf->code_off);
		if (!rt || !ct)
			continue; /* its data not mapped yet */
		py_proc_of(l, rt, out);
		*tgt = xcalloc(1, sizeof(**tgt));
		(*tgt)->lay = l;
		(*tgt)->code_type = ct;
		if (pf->fixed) {
			(*tgt)->fixed_ino = m->ino;
			(*tgt)->fixed_dev = m->dev;
		}
		return 0;
	}
	return err;
}

int pyframes__exe_target(const struct file_ref *f, struct tm_py_proc *out, struct py_target **tgt)
{
	const struct py_layout *l;
	struct py_file tmp, *pf;

	if (!pyframes__is_cpython(f->path))
		return -ENOENT;
	pf = py_file_of(f, &tmp);
	if (!pf->has_rt || !pf->fixed || !pf->has_code)
		return -ENOENT;
	if (py_version_ok(f, pf))
		return -EPROTONOSUPPORT;
	l = layout_of(f, elfsyms__build_id(elfsyms__get_ref(f)));
	if (l->err)
		return l->err;
	py_proc_of(l, pf->rt_va, out);
	*tgt = xcalloc(1, sizeof(**tgt));
	(*tgt)->lay = l;
	(*tgt)->code_type = pf->code_va;
	(*tgt)->fixed_ino = f->ino;
	(*tgt)->fixed_dev = f->dev;
	return 0;
}

static int read_mem(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

static uint64_t word_at(const uint8_t *b, long off)
{
	uint64_t v;

	memcpy(&v, b + off, sizeof(v));
	return v;
}

/* A str object as UTF-8 (at most STR_MAX bytes). 3.11's state bits (Include/cpython/
 * unicodeobject.h): interned:2, kind:3, compact:1, ascii:1, ready:1. */
static int read_str(pid_t pid, const struct py_layout *l, uint64_t addr, char **out)
{
	uint8_t hdr[128], raw[STR_MAX * 4];
	uint32_t state, kind;
	uint64_t len;
	size_t i, o = 0, n;
	char *s;
	int err;

	if (!addr || l->compact_size > (long)sizeof(hdr))
		return -EFAULT;
	err = read_mem(pid, addr, hdr, (size_t)l->compact_size);
	if (err)
		return err;
	len = word_at(hdr, l->str_length);
	memcpy(&state, hdr + l->str_state, sizeof(state));
	kind = (state >> 2) & 7;
	if (!(state & (1u << 5)) || (kind != 1 && kind != 2 && kind != 4))
		return -EINVAL; /* not compact: a legacy string, never a code object's */
	n = len < STR_MAX ? (size_t)len : STR_MAX;
	err = read_mem(pid, addr + (uint64_t)((state & (1u << 6)) ? l->ascii_size : l->compact_size), raw, n * kind);
	if (err)
		return err;
	s = xmalloc(n * 4 + 1);
	for (i = 0; i < n; i++) {
		uint32_t c = kind == 1 ? raw[i] : kind == 2 ? (uint32_t)(raw[2 * i] | raw[2 * i + 1] << 8) :
				 (uint32_t)(raw[4 * i] | raw[4 * i + 1] << 8 | raw[4 * i + 2] << 16 | (uint32_t)raw[4 * i + 3] << 24);

		if (c < 0x80) {
			s[o++] = c >= 32 ? (char)c : '?';
		} else if (c < 0x800) {
			s[o++] = (char)(0xc0 | c >> 6);
			s[o++] = (char)(0x80 | (c & 0x3f));
		} else if (c < 0x10000) {
			s[o++] = (char)(0xe0 | c >> 12);
			s[o++] = (char)(0x80 | ((c >> 6) & 0x3f));
			s[o++] = (char)(0x80 | (c & 0x3f));
		} else {
			s[o++] = (char)(0xf0 | (c >> 18 & 7));
			s[o++] = (char)(0x80 | ((c >> 12) & 0x3f));
			s[o++] = (char)(0x80 | ((c >> 6) & 0x3f));
			s[o++] = (char)(0x80 | (c & 0x3f));
		}
	}
	s[o] = 0;
	*out = s;
	return 0;
}

int pyframes__read_code(pid_t pid, const struct py_target *t, uint64_t code, struct py_code *out)
{
	const struct py_layout *l = t ? t->lay : NULL;
	uint8_t co[CODE_READ], bh[64];
	uint64_t lt, ltlen;
	int32_t first;
	int err;

	memset(out, 0, sizeof(*out));
	if (!l || l->err)
		return -ENOENT;
	err = read_mem(pid, code, co, sizeof(co));
	if (err)
		return err;
	if (word_at(co, l->ob_type) != t->code_type)
		return -ESTALE; /* freed since (a module's body, once run), and perhaps reused */
	memcpy(&first, co + l->co_firstlineno, sizeof(first));
	out->firstlineno = first;
	err = read_str(pid, l, word_at(co, l->co_qualname), &out->qualname);
	if (!err)
		err = read_str(pid, l, word_at(co, l->co_filename), &out->filename);
	lt = word_at(co, l->co_linetable);
	if (!err && lt && l->bytes_sval <= (long)sizeof(bh) && !read_mem(pid, lt, bh, (size_t)l->bytes_sval)) {
		ltlen = word_at(bh, l->var_size);
		if (ltlen > LINETABLE_MAX)
			ltlen = LINETABLE_MAX; /* the lines of the first 64 KiB only */
		out->linetable = xmalloc(ltlen ? ltlen : 1);
		if (read_mem(pid, lt + (uint64_t)l->bytes_sval, out->linetable, ltlen)) {
			free(out->linetable);
			out->linetable = NULL;
		} else {
			out->ltlen = ltlen;
		}
	}
	if (err)
		py_code__free(out);
	return err;
}

void py_code__free(struct py_code *c)
{
	free(c->qualname);
	free(c->filename);
	free(c->linetable);
	memset(c, 0, sizeof(*c));
}

/* Objects/locations.md (3.11): entries of a first byte 1cccclll (code c, l + 1 code units),
 * then varints of 6 bits a byte (0x40: more follow); a signed one keeps its sign in bit 0. */
static unsigned varint(const uint8_t *p, size_t len, size_t *i)
{
	unsigned v = 0, shift = 0, b;

	do {
		if (*i >= len || shift > 24)
			return v;
		b = p[(*i)++];
		v |= (b & 63) << shift;
		shift += 6;
	} while (b & 64);
	return v;
}

static int svarint(const uint8_t *p, size_t len, size_t *i)
{
	unsigned v = varint(p, len, i);

	return v & 1 ? -(int)(v >> 1) : (int)(v >> 1);
}

int pyframes__line(const uint8_t *lt, size_t len, int firstlineno, int lasti)
{
	int line = firstlineno, addr = 0;
	size_t i = 0;

	if (lasti < 0)
		return firstlineno;
	while (i < len) {
		uint8_t b = lt[i];
		int code = (b >> 3) & 15, units = (b & 7) + 1, delta = 0;
		size_t j = i + 1;

		if (!(b & 0x80))
			return -1; /* not an entry's start: a table this reader does not know */
		if (code == 14 || code == 13) /* long form, or no column: the line delta first */
			delta = svarint(lt, len, &j);
		else if (code >= 10 && code <= 12) /* one line forms: a delta of 0 to 2 */
			delta = code - 10;
		line += delta;
		if (lasti < addr + units)
			return code == 15 ? -1 : line; /* 15: no location */
		addr += units;
		for (i = i + 1; i < len && !(lt[i] & 0x80); i++)
			;
	}
	return -1;
}

int pyframes__split(const uint64_t *ips, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if ((ips[i] & TM_PY_MARK_MASK) == TM_PY_MARK && i + 1 + (int)((ips[i] >> 8) & 0xff) == n)
			return i;
	return -1;
}
