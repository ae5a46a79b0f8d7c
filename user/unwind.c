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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "hashmap.h"
#include "procfile.h"
#include "unwind_build.h"
#include "util.h"

/* A bound on the functions of a file (.eh_frame_hdr's table is read whole: 16 bytes each).
 * Tables are built on a worker thread (unwind_cache.c), so size costs no stall: gcc's cc1
 * (45k functions, 479k rows) builds in 70 ms, node (76k) too; CPython has 9.8k, libc 3.7k. A
 * function has two rows at least, so more than half the table's rows is over that budget
 * anyway. */
#define UNWIND_MAX_FDES (UNWIND_MAX_ROWS / 2)
/* Budgets of one table (issue 15: the traced program chooses the files): rows of one function
 * (compilers emit a few thousand at most; CPython's eval loop has 1.6k), rows of one table
 * (16 MiB in the kernel), and rows that libdw evaluates, each in time linear in its function's
 * (the FDEs not read here: PLT entries, signal trampolines; a few dozen rows in libc). Over one,
 * the file is walked by frame pointers and counted. */
#define UNWIND_MAX_SLOW_ROWS 4096
#define UNWIND_MAX_SLOW_FDE_ROWS 512
/* Bounds on what is read of a file (a traced program can map a huge sparse one): section
 * headers, and each of the section names, .eh_frame_hdr, .eh_frame (python3.11's .eh_frame
 * is 0.4 MB, node's 2.7 MB for 76k functions). */
#define IMAGE_MAX_SECTIONS (1u << 17)
#define IMAGE_MAX_SECTION (32u << 20)

/* file offset of an address in an executable PT_LOAD segment, or -1 */
int64_t unwind_to_off(const struct text_seg *segs, size_t n, uint64_t vaddr)
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

void unwind_emit(struct unwind_table *t, size_t *cap, int64_t pc, struct tm_unwind_row r)
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

static int fde_ref_cmp(const void *a, const void *b)
{
	const struct fde_ref *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Function starts and their FDEs from .eh_frame_hdr's sorted search table (the one the C++
 * runtime uses), sorted; *increasing: whether it was, strictly (libdw's binary search in a table
 * that is not finds other FDEs). Only its usual encoding (4-byte signed, relative to the header)
 * is read. */
static struct fde_ref *fde_starts(Elf *elf, size_t *n, bool *increasing)
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
		struct fde_ref *starts;

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
			int32_t rel[2];

			memcpy(rel, p + 12 + (size_t)i * 8, 8);
			starts[i] = (struct fde_ref){ sh.sh_addr + (int64_t)rel[0], sh.sh_addr + (int64_t)rel[1] };
			*increasing &= !i || starts[i].start > starts[i - 1].start;
		}
		qsort(starts, count, sizeof(*starts), fde_ref_cmp);
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

bool unwind__libdw_only;

static pthread_once_t elf_once = PTHREAD_ONCE_INIT;

static void elf_init(void)
{
	elf_version(EV_CURRENT);
}

static bool stopped(const struct builder *b)
{
	return b->stop && __atomic_load_n(b->stop, __ATOMIC_RELAXED);
}

/* The same, by libdw: a call per row, each running the FDE's program from its start */
static int fde_rows_libdw(struct builder *b, uint64_t start, uint64_t next, struct fde_walk *w)
{
	uint64_t pc = start;
	size_t rows = 0;

	*w = (struct fde_walk){ .row_pc = start };
	if (!b->cfi && !(b->cfi = dwarf_getcfi_elf(b->elf)))
		return 0;
	while (pc < next) {
		Dwarf_Frame *fr;
		/* a row can take libdw long (its FDE's program run from its start): stop between */
		if (stopped(b))
			return -EINTR;
		Dwarf_Addr s, e;
		struct tm_unwind_row r;

		if ((++b->slow_rows > UNWIND_MAX_SLOW_ROWS || ++rows > UNWIND_MAX_SLOW_FDE_ROWS) && !unwind__libdw_only)
			return -E2BIG;
		if (dwarf_cfi_addrframe(b->cfi, pc, &fr))
			break;
		if (dwarf_frame_info(fr, &s, &e, NULL) != REG_RA || e <= pc)
			r = (struct tm_unwind_row){ .cfa_reg = TM_CFA_NONE };
		else
			r = frame_row(fr);
		free(fr);
		w->fp |= r.cfa_reg == TM_CFA_RBP;
		unwind_emit(b->t, &b->cap, unwind_to_off(b->segs, b->nsegs, (int64_t)pc), r);
		w->any = true;
		if (e <= pc)
			break;
		pc = e;
	}
	w->row_pc = pc;
	return b->t->n > UNWIND_MAX_ROWS ? -E2BIG : 0;
}

/* .eh_frame's bytes and address; false if the file has none */
static bool eh_frame(Elf *elf, struct builder *b)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return false;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS ||
		    !(name = elf_strptr(elf, shstrndx, sh.sh_name)) || strcmp(name, ".eh_frame"))
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf)
			return false;
		b->eh = d->d_buf;
		b->eh_size = d->d_size;
		b->eh_vaddr = sh.sh_addr;
		return true;
	}
	return false;
}

int unwind__build_fd(int fd, struct unwind_table *t)
{
	return unwind__build_fd_until(fd, t, NULL);
}

int unwind__build_fd_until(int fd, struct unwind_table *t, const bool *stop)
{
	struct text_seg segs[8];
	struct stat st;
	size_t nsegs = 0, nphdr, nstarts = 0;
	struct fde_ref *starts = NULL;
	struct builder b = { .t = t, .segs = segs, .stop = stop };
	GElf_Ehdr eh;
	bool foreign, increasing = true;
	Elf *elf = NULL;
	char *img = NULL;
	int err = -ENOENT;

	memset(t, 0, sizeof(*t));
	pthread_once(&elf_once, elf_init); /* libelf's global state: set once, by whichever thread */
	if (fstat(fd, &st))
		return -ENOENT;
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
	b.nsegs = nsegs;
	b.elf = elf;
	/* libdw's defaults (and refusals) are the machine's: only x86-64's are written here */
	foreign = !gelf_getehdr(elf, &eh) || eh.e_machine != EM_X86_64;
	/* code before the first FDE of each segment is walked by frame pointer too */
	for (size_t i = 0; i < nsegs; i++)
		unwind_emit(t, &b.cap, (int64_t)segs[i].off, (struct tm_unwind_row){ .cfa_reg = TM_CFA_FP });
	starts = fde_starts(elf, &nstarts, &increasing);
	if (nstarts > UNWIND_MAX_FDES) {
		err = -EFBIG;
		goto out;
	}
	if (!starts || !eh_frame(elf, &b))
		goto out;
	foreign |= !increasing; /* a table out of order: as libdw reads it, within its budget */
	b.cies = hashmap__new();
	for (size_t i = 0; i < nstarts; i++) {
		uint64_t next = i + 1 < nstarts ? starts[i + 1].start : UINT64_MAX;
		struct tm_unwind_row last = t->n ? t->rows[t->n - 1] : (struct tm_unwind_row){};
		size_t n = t->n;
		struct fde_walk w;
		int e;

		if (i && starts[i].start == starts[i - 1].start)
			continue;
		if (stopped(&b)) {
			err = -EINTR;
			goto out;
		}
		e = unwind__libdw_only || foreign ? -EOPNOTSUPP : cfi_fde_rows(&b, &starts[i], next, &w);
		if (e == -EOPNOTSUPP) { /* back to the rows before it (emit may have dropped the last) */
			t->n = n;
			if (n)
				t->rows[n - 1] = last;
			e = fde_rows_libdw(&b, starts[i].start, next, &w);
			t->fdes_libdw++;
		}
		if (e) {
			err = e;
			goto out;
		}
		b.irregular |= w.end > next;
		if (!w.any)
			continue;
		t->fdes++;
		t->fdes_fp += w.fp;
		/* the function ends before the next one starts: code no FDE covers, which a cgo Go
		 * binary has plenty of (Go's own functions keep frame pointers, only its C has CFI) */
		if (w.row_pc < next)
			unwind_emit(t, &b.cap, unwind_to_off(segs, nsegs, (int64_t)w.row_pc), (struct tm_unwind_row){ .cfa_reg = TM_CFA_FP });
	}
	/* file offsets keep the order of addresses within a segment; segments may not (and a
	 * hostile file's FDEs may overlap): sorted, then one row per pc */
	if (stopped(&b)) { /* (the sort of a million rows takes 0.1 s) */
		err = -EINTR;
		goto out;
	}
	if (t->n) {
		size_t j = 0;

		qsort(t->rows, t->n, sizeof(*t->rows), row_cmp);
		for (size_t i = 1; i < t->n; i++)
			if (t->rows[i].pc != t->rows[j].pc)
				t->rows[++j] = t->rows[i];
		t->n = j + 1;
	}
	t->irregular = b.irregular;
	err = t->n ? 0 : -ENOENT;
out:
	free(starts);
	free(b.cie);
	hashmap__free(b.cies);
	if (b.cfi)
		dwarf_cfi_end(b.cfi);
	if (elf)
		elf_end(elf);
	if (img)
		munmap(img, (size_t)st.st_size);
	if (err)
		unwind__table_free(t);
	return err;
}

int unwind__build(const char *path, struct unwind_table *t)
{
	int fd = open_regular(path), err;

	if (fd < 0) {
		memset(t, 0, sizeof(*t));
		return -ENOENT;
	}
	err = unwind__build_fd(fd, t);
	close(fd);
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
