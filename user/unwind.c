// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unwind tables for the BPF stack walk. Debian builds glibc, CPython, Mono and BEAM without
 * frame pointers: a frame-pointer walk that starts in malloc stops there (rbp holds data). Their
 * .eh_frame (kept even in stripped files, for C++ exceptions) says, at each instruction, where
 * the frame's return address and the caller's rbp are; libdw evaluates it, and the rows are
 * flattened here into (pc, CFA = reg + off, rbp at CFA + off) for the BPF side to search. */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "hashmap.h"
#include "strtab.h"
#include "unwind.h"
#include "util.h"

/* Larger files (a compiler's cc1: 45k functions, 479k rows) are walked by frame pointers:
 * building and loading their table would stall the event loop for 0.5 s or more, and
 * short-lived processes would exit unread meanwhile. CPython has 9.8k, libc 3.7k. */
#define UNWIND_MAX_FDES 20000
/* Bounds on what is read of a file (a traced program can map a huge sparse one): section
 * headers, and each of the section names, .eh_frame_hdr, .eh_frame (python3.11's .eh_frame
 * is 0.4 MB, node's 2.7 MB for 76k functions). */
#define IMAGE_MAX_SECTIONS (1u << 17)
#define IMAGE_MAX_SECTION (32u << 20)

#define REG_RBP 6
#define REG_RSP 7
#define REG_RA 16

struct text_seg {
	uint64_t vaddr, end, off;
};

/* file offset of an address in an executable PT_LOAD segment, or -1 */
static int64_t to_off(const struct text_seg *segs, size_t n, uint64_t vaddr)
{
	for (size_t i = 0; i < n; i++)
		if (vaddr >= segs[i].vaddr && vaddr <= segs[i].end) /* the end: where the last function stops */
			return (int64_t)(vaddr - segs[i].vaddr + segs[i].off);
	return -1;
}

/* "register at CFA + off" (DW_CFA_offset), as libdw spells it: call_frame_cfa [plus_uconst] */
static bool saved_at_cfa(const Dwarf_Op *ops, size_t nops, int64_t *off)
{
	if (nops == 1 && ops[0].atom == DW_OP_call_frame_cfa) {
		*off = 0;
		return true;
	}
	if (nops == 2 && ops[0].atom == DW_OP_call_frame_cfa && ops[1].atom == DW_OP_plus_uconst) {
		*off = (int64_t)ops[1].number;
		return true;
	}
	return false;
}

/* The row of one CFI frame state; TM_CFA_NONE when the walk cannot go on from it. */
static struct tm_unwind_row frame_row(Dwarf_Frame *fr)
{
	struct tm_unwind_row r = { .cfa_reg = TM_CFA_NONE };
	Dwarf_Op mem[3], *ops;
	size_t nops;
	int64_t reg, cfa_off, ra_off, rbp_off;

	if (dwarf_frame_cfa(fr, &ops, &nops) || nops != 1)
		return r; /* a DWARF expression (PLT entries, signal frames): not followed */
	if (ops[0].atom == DW_OP_bregx) {
		reg = (int64_t)ops[0].number;
		cfa_off = (int64_t)ops[0].number2;
	} else if (ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg31) {
		reg = ops[0].atom - DW_OP_breg0;
		cfa_off = (int64_t)ops[0].number;
	} else {
		return r;
	}
	if ((reg != REG_RSP && reg != REG_RBP) || cfa_off < INT32_MIN || cfa_off > INT32_MAX)
		return r;
	if (dwarf_frame_register(fr, REG_RA, mem, &ops, &nops) || !saved_at_cfa(ops, nops, &ra_off) ||
	    ra_off != -8)
		return r;
	if (dwarf_frame_register(fr, REG_RBP, mem, &ops, &nops))
		return r;
	if (nops) { /* saved somewhere: only "at CFA + off" is followed */
		if (!saved_at_cfa(ops, nops, &rbp_off) || rbp_off < INT16_MIN || rbp_off > INT16_MAX)
			return r;
		r.rbp_saved = 1;
		r.rbp_off = (int16_t)rbp_off;
	} /* else the same value, or undefined: rbp is left as it is */
	r.cfa_reg = reg == REG_RSP ? TM_CFA_RSP : TM_CFA_RBP;
	r.cfa_off = (int32_t)cfa_off;
	return r;
}

static bool same_rule(const struct tm_unwind_row *a, const struct tm_unwind_row *b)
{
	if (a->cfa_reg == TM_CFA_NONE || b->cfa_reg == TM_CFA_NONE)
		return a->cfa_reg == b->cfa_reg;
	return a->cfa_reg == b->cfa_reg && a->cfa_off == b->cfa_off && a->rbp_saved == b->rbp_saved &&
	       a->rbp_off == b->rbp_off;
}

static void emit(struct unwind_table *t, size_t *cap, int64_t pc, struct tm_unwind_row r)
{
	if (pc < 0 || pc > UINT32_MAX)
		return;
	r.pc = (uint32_t)pc;
	if (t->n && t->rows[t->n - 1].pc == r.pc) { /* an empty range: the later rule wins */
		t->n--;
	}
	if (t->n && same_rule(&t->rows[t->n - 1], &r))
		return;
	GROW(t->rows, *cap, t->n + 1);
	t->rows[t->n++] = r;
}

static int row_cmp(const void *a, const void *b)
{
	const struct tm_unwind_row *x = a, *y = b;

	if (x->pc != y->pc)
		return x->pc < y->pc ? -1 : 1;
	/* at one pc an FDE's row wins over the frame-pointer default kept below */
	return (x->cfa_reg == TM_CFA_FP) - (y->cfa_reg == TM_CFA_FP);
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Function starts from .eh_frame_hdr's sorted search table (the one the C++ runtime uses).
 * Only its usual encoding (4-byte signed, relative to the header) is read. */
static uint64_t *fde_starts(Elf *elf, size_t *n)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	*n = 0;
	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *d;
		const uint8_t *p;
		uint32_t count;
		uint64_t *starts;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)) ||
		    strcmp(name, ".eh_frame_hdr"))
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf || d->d_size < 12)
			return NULL;
		p = d->d_buf;
		/* version 1; eh_frame_ptr sdata4|pcrel; fde_count udata4; table sdata4|datarel */
		if (p[0] != 1 || p[1] != 0x1b || p[2] != 0x03 || p[3] != 0x3b)
			return NULL;
		memcpy(&count, p + 8, 4);
		if (count == 0 || 12 + (uint64_t)count * 8 > d->d_size)
			return NULL;
		starts = xmalloc(count * sizeof(*starts));
		for (uint32_t i = 0; i < count; i++) {
			int32_t rel;

			memcpy(&rel, p + 12 + (size_t)i * 8, 4);
			starts[i] = sh.sh_addr + (int64_t)rel;
		}
		qsort(starts, count, sizeof(*starts), u64_cmp);
		*n = count;
		return starts;
	}
	return NULL;
}

/* pread len bytes at off of the file into the image at the same offset; false if they are not
 * all there (the file is shorter, or shrank meanwhile). */
static bool image_read(int fd, char *img, uint64_t size, uint64_t off, uint64_t len)
{
	while (len) {
		ssize_t r;

		if (off > size || len > size - off)
			return false;
		r = pread(fd, img + off, len, (off_t)off);
		if (r <= 0)
			return false;
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	return true;
}

/* The file as libelf and libdw need it for its CFI, in memory of our own: the ELF, program
 * and section headers, the section names, .eh_frame_hdr and .eh_frame, each at its offset in
 * an anonymous mapping of the file's size whose other pages are never touched (zero, no
 * memory). Neither a mapping of the file, where a traced program that truncates it meanwhile
 * turns a read into SIGBUS, nor libelf's own pread mode, in which libdw's reading of a hostile
 * .eh_frame leaked inside libelf (129 bytes under the fuzzer, CI). NULL if it is not an ELF64
 * file with those sections. */
static Elf *image_open(int fd, uint64_t size, char **img)
{
	const Elf64_Ehdr *eh;
	const Elf64_Shdr *sh;
	uint64_t shnum, shstrndx;
	Elf *elf;

	*img = NULL;
	if (size < sizeof(Elf64_Ehdr) || size > (1ull << 40))
		return NULL;
	*img = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (*img == MAP_FAILED) {
		*img = NULL;
		return NULL;
	}
	eh = (const Elf64_Ehdr *)*img;
	if (!image_read(fd, *img, size, 0, sizeof(*eh)) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    (eh->e_phnum && eh->e_phentsize != sizeof(Elf64_Phdr)) || !eh->e_shoff || eh->e_shoff % 8 ||
	    !image_read(fd, *img, size, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr)) ||
	    !image_read(fd, *img, size, eh->e_shoff, sizeof(Elf64_Shdr)))
		return NULL;
	sh = (const Elf64_Shdr *)(*img + eh->e_shoff);
	/* more than 0xff00 sections, or their names' index: in section 0 */
	shnum = eh->e_shnum ? eh->e_shnum : sh[0].sh_size;
	shstrndx = eh->e_shstrndx == SHN_XINDEX ? sh[0].sh_link : eh->e_shstrndx;
	if (!shnum || shnum > IMAGE_MAX_SECTIONS || shstrndx >= shnum ||
	    !image_read(fd, *img, size, eh->e_shoff, shnum * sizeof(Elf64_Shdr)) ||
	    sh[shstrndx].sh_type == SHT_NOBITS || sh[shstrndx].sh_size > IMAGE_MAX_SECTION ||
	    !image_read(fd, *img, size, sh[shstrndx].sh_offset, sh[shstrndx].sh_size))
		return NULL;
	for (uint64_t i = 0; i < shnum; i++) {
		uint64_t name = sh[i].sh_name, strsz = sh[shstrndx].sh_size;
		const char *s;

		if (sh[i].sh_type == SHT_NOBITS || name >= strsz)
			continue;
		s = *img + sh[shstrndx].sh_offset + name; /* within the names read above */
		if (!memchr(s, 0, strsz - name) || (strcmp(s, ".eh_frame") && strcmp(s, ".eh_frame_hdr")))
			continue;
		if (sh[i].sh_size > IMAGE_MAX_SECTION || !image_read(fd, *img, size, sh[i].sh_offset, sh[i].sh_size))
			return NULL;
	}
	elf = elf_memory(*img, size);
	if (elf && elf_kind(elf) != ELF_K_ELF) {
		elf_end(elf);
		elf = NULL;
	}
	return elf;
}

int unwind__build(const char *path, struct unwind_table *t)
{
	struct text_seg segs[8];
	struct stat st;
	size_t nsegs = 0, nphdr, nstarts = 0, cap = 0;
	uint64_t *starts = NULL;
	Dwarf_CFI *cfi = NULL;
	Elf *elf = NULL;
	char *img = NULL;
	int fd, err = -ENOENT;

	memset(t, 0, sizeof(*t));
	elf_version(EV_CURRENT);
	fd = open_regular(path); /* the traced program may have put a FIFO there */
	if (fd < 0)
		return -ENOENT;
	if (fstat(fd, &st)) {
		close(fd);
		return -ENOENT;
	}
	t->inode = (struct tm_unwind_inode){ .ino = st.st_ino, .dev = kernel_dev(st.st_dev) };
	elf = image_open(fd, (uint64_t)st.st_size, &img);
	if (!elf || gelf_getclass(elf) != ELFCLASS64 || elf_getphdrnum(elf, &nphdr)) {
		err = -ENOEXEC;
		goto out;
	}
	for (size_t i = 0; i < nphdr && nsegs < 8; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X))
			segs[nsegs++] = (struct text_seg){ ph.p_vaddr, ph.p_vaddr + ph.p_memsz, ph.p_offset };
	}
	/* code before the first FDE of each segment is walked by frame pointer too */
	for (size_t i = 0; i < nsegs; i++)
		emit(t, &cap, (int64_t)segs[i].off, (struct tm_unwind_row){ .cfa_reg = TM_CFA_FP });
	starts = fde_starts(elf, &nstarts);
	if (nstarts > UNWIND_MAX_FDES) {
		err = -EFBIG;
		goto out;
	}
	cfi = starts ? dwarf_getcfi_elf(elf) : NULL;
	if (!cfi)
		goto out;
	for (size_t i = 0; i < nstarts; i++) {
		uint64_t pc = starts[i], next = i + 1 < nstarts ? starts[i + 1] : UINT64_MAX;
		bool fp = false, any = false;

		if (i && starts[i] == starts[i - 1])
			continue;
		while (pc < next) {
			Dwarf_Frame *fr;
			Dwarf_Addr s, e;
			struct tm_unwind_row r;

			if (dwarf_cfi_addrframe(cfi, pc, &fr))
				break;
			if (dwarf_frame_info(fr, &s, &e, NULL) != REG_RA || e <= pc)
				r = (struct tm_unwind_row){ .cfa_reg = TM_CFA_NONE };
			else
				r = frame_row(fr);
			free(fr);
			fp |= r.cfa_reg == TM_CFA_RBP;
			emit(t, &cap, to_off(segs, nsegs, pc), r);
			any = true;
			if (e <= pc)
				break;
			pc = e;
		}
		if (!any)
			continue;
		t->fdes++;
		t->fdes_fp += fp;
		/* the function ends before the next one starts: code no FDE covers, which a cgo Go
		 * binary has plenty of (Go's own functions keep frame pointers, only its C has CFI) */
		if (pc < next)
			emit(t, &cap, to_off(segs, nsegs, pc), (struct tm_unwind_row){ .cfa_reg = TM_CFA_FP });
	}
	/* file offsets keep the order of addresses within a segment; segments may not (and a
	 * hostile file's FDEs may overlap): sorted, then one row per pc */
	if (t->n) {
		size_t j = 0;

		qsort(t->rows, t->n, sizeof(*t->rows), row_cmp);
		for (size_t i = 1; i < t->n; i++)
			if (t->rows[i].pc != t->rows[j].pc)
				t->rows[++j] = t->rows[i];
		t->n = j + 1;
	}
	err = t->n ? 0 : -ENOENT;
out:
	free(starts);
	if (cfi)
		dwarf_cfi_end(cfi);
	if (elf)
		elf_end(elf);
	if (img)
		munmap(img, (size_t)st.st_size);
	close(fd);
	if (err)
		unwind__table_free(t);
	return err;
}

void unwind__table_free(struct unwind_table *t)
{
	free(t->rows);
	memset(t, 0, sizeof(*t));
}

bool unwind__frameless(const struct unwind_table *t)
{
	return t->n && t->fdes_fp * 2 < t->fdes;
}

/* ---- which mappings use which table ---- */

struct unwind_cache {
	struct hashmap *files; /* interned path -> file index + 1, or 0: walked by frame pointers */
	unwind_load_fn load;
	unwind_commit_fn commit;
	void *ctx;
	size_t loaded, skipped, rows;
	size_t pending, pending_rows; /* loaded, not yet committed */
	uint64_t ino[TM_MAX_UNWIND_FILES]; /* of each loaded file */
};

struct unwind_cache *unwind__cache_new(unwind_load_fn load, unwind_commit_fn commit, void *ctx)
{
	struct unwind_cache *c = xcalloc(1, sizeof(*c));

	c->files = hashmap__new();
	c->load = load;
	c->commit = commit;
	c->ctx = ctx;
	return c;
}

void unwind__cache_free(struct unwind_cache *c)
{
	if (!c)
		return;
	hashmap__free(c->files);
	free(c);
}

/* The slot of path: its file index + 1 (0: walked by frame pointers) | its rows << 32 */
static uint64_t file_slot(struct unwind_cache *c, const char *path)
{
	struct unwind_table t;
	uint64_t *slot, v = 0;
	bool created;
	int idx;

	path = intern(path);
	slot = hashmap__upsert(c->files, (uint64_t)(uintptr_t)path, &created);
	if (!created)
		return *slot;
	idx = unwind__build(path, &t);
	if (idx == -EFBIG) {
		c->skipped++;
		if (verbose)
			p_warn("no unwind table for %s: more than %d functions", path, UNWIND_MAX_FDES);
	}
	if (idx)
		return 0;
	if (unwind__frameless(&t)) {
		idx = c->loaded < TM_MAX_UNWIND_FILES ? c->load(c->ctx, &t) : -ENOSPC;
		if (idx >= 0 && idx < TM_MAX_UNWIND_FILES) {
			v = ((uint64_t)idx + 1) | (uint64_t)t.n << 32;
			c->ino[idx] = t.inode.ino;
			c->loaded++;
			c->pending++;
			c->pending_rows += t.n;
			c->rows += t.n;
		} else {
			c->skipped++;
			if (verbose)
				p_warn("no unwind table for %s: %s", path, strerror(-idx));
		}
	}
	unwind__table_free(&t);
	*slot = v; /* still valid: nothing else inserts into c->files meanwhile */
	return v;
}

/* Put the tables loaded since the last call in place. If the kernel refuses, their slots stay
 * handed out: a walk that reaches such code finds no row there and ends (cfi_no_row). */
static void commit(struct unwind_cache *c)
{
	int err;

	if (!c->pending)
		return;
	err = c->commit(c->ctx);
	if (err) {
		c->skipped += c->pending;
		c->loaded -= c->pending;
		c->rows -= c->pending_rows;
		if (verbose)
			p_warn("unwind tables not usable: %s", strerror(-err));
	}
	c->pending = c->pending_rows = 0;
}

int unwind__proc_ranges(struct unwind_cache *c, const struct procmaps *pm, struct tm_unwind_proc *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < pm->n; i++) {
		const struct map_entry *m = &pm->e[i];
		struct tm_unwind_range r;
		uint64_t v;
		uint32_t j, small = 0;

		if (!m->exec || !map_entry__is_file(m) || !(v = file_slot(c, m->path)))
			continue;
		r = (struct tm_unwind_range){ .start = m->start, .end = m->end, .off = m->off,
					      .file = (uint32_t)(v & 0xffffffff) - 1, .nrows = (uint32_t)(v >> 32) };
		/* the same path may be another file for the process (another mount namespace, a
		 * library replaced since): a wrong table would make up frames */
		if (m->ino && m->ino != c->ino[r.file])
			continue;
		if (out->n < TM_UNWIND_RANGES) {
			out->r[out->n++] = r;
			continue;
		}
		/* more than fit: keep the largest text mappings */
		for (j = 1; j < out->n; j++)
			if (out->r[j].end - out->r[j].start < out->r[small].end - out->r[small].start)
				small = j;
		if (out->r[small].end - out->r[small].start < r.end - r.start)
			out->r[small] = r;
	}
	commit(c);
	return (int)out->n;
}

void unwind__preload(struct unwind_cache *c)
{
	static const char *const libs[] = { "libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1" };
	struct procmaps pm = {};
	char path[4096];

	if (procmaps__read(&pm, getpid()))
		return;
	for (size_t i = 0; i < pm.n; i++) {
		const char *p = pm.e[i].path, *base = basename_of(p);

		if (!pm.e[i].exec || !map_entry__is_file(&pm.e[i]))
			continue;
		if (!strncmp(base, "ld-linux", 8))
			file_slot(c, p);
		if (strcmp(base, "libc.so.6"))
			continue;
		for (size_t j = 0; j < sizeof(libs) / sizeof(*libs); j++) {
			snprintf(path, sizeof(path), "%.*s%s", (int)(base - p), p, libs[j]);
			if (!access(path, R_OK))
				file_slot(c, path);
		}
	}
	commit(c);
	procmaps__clear(&pm);
}

void unwind__stats(const struct unwind_cache *c, size_t *loaded, size_t *skipped, size_t *rows)
{
	*loaded = c->loaded;
	*skipped = c->skipped;
	*rows = c->rows;
}
