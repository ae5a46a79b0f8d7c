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
/* Budgets of one table (issue 15: the traced program chooses the files): rows of one function
 * (compilers emit a few thousand at most; CPython's eval loop has 1.6k), rows of one table
 * (16 MiB in the kernel), and rows that libdw evaluates, each in time linear in its function's
 * (the FDEs not read here: PLT entries, signal trampolines; a few dozen rows in libc). Over one,
 * the file is walked by frame pointers and counted. */
#define UNWIND_MAX_FDE_ROWS (1u << 16)
#define UNWIND_MAX_ROWS (1u << 20)
#define UNWIND_MAX_SLOW_ROWS 4096
#define UNWIND_MAX_SLOW_FDE_ROWS 512
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

struct fde_ref {
	uint64_t start; /* the function's address */
	uint64_t fde;   /* its FDE's address (in .eh_frame) */
};

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

/* ---- each FDE's CFI program run once, for the rules x86-64 compilers emit ----
 * libdw's dwarf_cfi_addrframe runs an FDE's program from its start for every address asked:
 * one call per row made a table quadratic in its rows (an FDE of 128k rows: 13 s). Here the
 * program is walked once and a row emitted at each advance, with libdw's semantics (its ABI
 * defaults for x86-64, its rules as frame_row reads them); an FDE that uses what is not read
 * here (DW_CFA_set_loc, a CFA expression, an encoding other than absolute or pc-relative)
 * falls back to libdw, within a budget of its own. */

enum { RULE_NONE, RULE_AT_CFA, RULE_OTHER }; /* NONE: undefined, same value, unspecified */
enum { CFA_UNDEF, CFA_OFF, CFA_INVALID };

struct cfi_state {
	uint64_t cfa_reg, cfa_off;
	int64_t ra_off, rbp_off; /* RULE_AT_CFA: the register is saved at CFA + off */
	uint8_t cfa, ra, rbp;
};

struct cie {
	uint64_t caf, ra_reg;
	int64_t daf;
	uint8_t fde_enc;
	bool z;
	int err; /* 0, -EINVAL: libdw would refuse it too, -EOPNOTSUPP: not read here */
	struct cfi_state init; /* after its initial instructions */
};

struct cur {
	const uint8_t *p, *end;
	bool bad;
};

/* A build's state: what the FDEs are read from, the rows they make, the budgets spent */
struct builder {
	struct unwind_table *t;
	size_t cap;
	const struct text_seg *segs;
	size_t nsegs;
	const uint8_t *eh;  /* .eh_frame */
	uint64_t eh_size, eh_vaddr;
	struct hashmap *cies; /* CIE offset -> index + 1 in cie */
	struct cie *cie;
	size_t ncie, ciecap;
	Elf *elf;
	Dwarf_CFI *cfi;     /* opened on the first FDE libdw has to read */
	size_t slow_rows;   /* rows asked of libdw */
	size_t fde_rows;    /* rows of the FDE being read */
	bool irregular;     /* see unwind_table.irregular */
};

static uint64_t uleb(struct cur *c)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (c->p < c->end) {
		uint8_t b = *c->p++;

		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			return v;
	}
	c->bad = true;
	return 0;
}

static int64_t sleb(struct cur *c)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (c->p < c->end) {
		uint8_t b = *c->p++;

		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80)) {
			if (shift < 64 && (b & 0x40))
				v |= ~0ull << shift;
			return (int64_t)v;
		}
	}
	c->bad = true;
	return 0;
}

static uint64_t fixed(struct cur *c, unsigned n)
{
	uint64_t v = 0;

	if ((size_t)(c->end - c->p) < n) {
		c->bad = true;
		c->p = c->end;
		return 0;
	}
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)c->p[i] << (8 * i);
	c->p += n;
	return v;
}

/* A DW_EH_PE value at c (its address vaddr): absolute or pc-relative only; false otherwise */
static bool encoded(struct cur *c, uint8_t enc, uint64_t vaddr, uint64_t *out)
{
	uint64_t v;

	switch (enc & 0x0f) {
	case DW_EH_PE_absptr: v = fixed(c, 8); break;
	case DW_EH_PE_uleb128: v = uleb(c); break;
	case DW_EH_PE_udata2: v = fixed(c, 2); break;
	case DW_EH_PE_udata4: v = fixed(c, 4); break;
	case DW_EH_PE_udata8: v = fixed(c, 8); break;
	case DW_EH_PE_sleb128: v = (uint64_t)sleb(c); break;
	case DW_EH_PE_sdata2: v = (uint64_t)(int16_t)fixed(c, 2); break;
	case DW_EH_PE_sdata4: v = (uint64_t)(int32_t)fixed(c, 4); break;
	case DW_EH_PE_sdata8: v = fixed(c, 8); break;
	default: return false;
	}
	if ((enc & 0x70) == DW_EH_PE_pcrel)
		v += vaddr;
	else if (enc & 0x70)
		return false;
	*out = v;
	return !c->bad && !(enc & DW_EH_PE_indirect);
}

/* libdw keeps a rule's value in 61 bits */
static int64_t rule_value(uint64_t v)
{
	return (int64_t)(v << 3) >> 3;
}

static void set_rule(struct cfi_state *s, uint64_t reg, uint8_t rule, int64_t off)
{
	if (reg == REG_RA) {
		s->ra = rule;
		s->ra_off = off;
	} else if (reg == REG_RBP) {
		s->rbp = rule;
		s->rbp_off = off;
	}
}

/* The row of a state, as frame_row reads libdw's */
static struct tm_unwind_row state_row(const struct cie *ci, const struct cfi_state *s)
{
	struct tm_unwind_row r = { .cfa_reg = TM_CFA_NONE };
	int64_t reg = (int64_t)s->cfa_reg, off = (int64_t)s->cfa_off;

	if (ci->ra_reg != REG_RA || s->cfa != CFA_OFF || (reg != REG_RSP && reg != REG_RBP) ||
	    off < INT32_MIN || off > INT32_MAX || s->ra != RULE_AT_CFA || s->ra_off != -8 || s->rbp == RULE_OTHER)
		return r;
	if (s->rbp == RULE_AT_CFA) {
		if (s->rbp_off < INT16_MIN || s->rbp_off > INT16_MAX)
			return r;
		r.rbp_saved = 1;
		r.rbp_off = (int16_t)s->rbp_off;
	}
	r.cfa_reg = reg == REG_RSP ? TM_CFA_RSP : TM_CFA_RBP;
	r.cfa_off = (int32_t)off;
	return r;
}

#define CFI_MAX_REMEMBERED 64 /* remember_state nesting; deeper: libdw's */
#define CFI_MAX_REG (INT32_MAX / 8) /* libdw refuses larger register numbers */
#define CFI_SANE_REG 4096 /* x86-64 has 130; libdw allocates up to the largest named (GBs) */

/* Where an FDE's rows go: [row_pc, ...) is the row being read, the FDE ends at end */
struct fde_walk {
	uint64_t row_pc, end, next; /* next: where the next function starts */
	bool any, fp, done;
};

static void walk_row(struct builder *b, const struct cie *ci, const struct cfi_state *s, struct fde_walk *w)
{
	struct tm_unwind_row r = state_row(ci, s);

	w->fp |= r.cfa_reg == TM_CFA_RBP;
	w->any = true;
	b->fde_rows++;
	emit(b->t, &b->cap, to_off(b->segs, b->nsegs, (int64_t)w->row_pc), r);
}

/* Run a CFI program from *s: a CIE's initial instructions (w NULL: restore not allowed), or an
 * FDE's (its rows emitted as it goes). 0 at its end; -EINVAL where libdw stops with an error
 * (the row being read is not emitted); -EOPNOTSUPP: not read here; -E2BIG: over budget. */
static int run_cfi(struct builder *b, const struct cie *ci, struct cfi_state *s, struct cur *c, struct fde_walk *w)
{
	struct cfi_state stack[CFI_MAX_REMEMBERED];
	unsigned depth = 0;
	uint64_t loc = w ? w->row_pc : 0;

	while (c->p < c->end) {
		uint8_t op = *c->p++;
		uint64_t reg = op & 0x3f, v = 0;
		int64_t sv;

		switch (op & 0xc0 ? op & 0xc0 : op) {
		case DW_CFA_advance_loc:
			v = reg;
			goto advance;
		case DW_CFA_advance_loc1:
			v = fixed(c, 1);
			goto advance;
		case DW_CFA_advance_loc2:
			v = fixed(c, 2);
			goto advance;
		case DW_CFA_advance_loc4:
			v = fixed(c, 4);
advance:
			if (c->bad || !w)
				return -EINVAL;
			loc += v * ci->caf;
			if (loc <= w->row_pc)
				continue; /* an empty row: the state goes on */
			walk_row(b, ci, s, w);
			if (b->fde_rows > UNWIND_MAX_FDE_ROWS || b->t->n > UNWIND_MAX_ROWS)
				return -E2BIG;
			w->row_pc = loc;
			if (loc >= w->end || loc >= w->next) {
				w->done = true;
				return 0;
			}
			continue;
		case DW_CFA_offset:
			v = uleb(c) * (uint64_t)ci->daf;
			goto offset;
		case DW_CFA_offset_extended:
			reg = uleb(c);
			v = uleb(c) * (uint64_t)ci->daf;
			goto offset;
		case DW_CFA_offset_extended_sf:
			reg = uleb(c);
			v = (uint64_t)sleb(c) * (uint64_t)ci->daf;
			goto offset;
		case DW_CFA_GNU_negative_offset_extended:
			reg = uleb(c);
			v = -uleb(c) * (uint64_t)ci->daf;
offset:
			if (c->bad || reg >= CFI_MAX_REG)
				return -EINVAL;
			b->irregular |= reg > CFI_SANE_REG;
			set_rule(s, reg, RULE_AT_CFA, rule_value(v));
			continue;
		case DW_CFA_restore:
			goto restore;
		case DW_CFA_restore_extended:
			reg = uleb(c);
restore:
			if (c->bad || !w || reg >= CFI_MAX_REG)
				return -EINVAL;
			b->irregular |= reg > CFI_SANE_REG;
			if (reg == REG_RA) {
				s->ra = ci->init.ra;
				s->ra_off = ci->init.ra_off;
			} else if (reg == REG_RBP) {
				s->rbp = ci->init.rbp;
				s->rbp_off = ci->init.rbp_off;
			}
			continue;
		case DW_CFA_undefined:
		case DW_CFA_same_value:
			reg = uleb(c);
			if (c->bad || reg >= CFI_MAX_REG)
				return -EINVAL;
			b->irregular |= reg > CFI_SANE_REG;
			set_rule(s, reg, RULE_NONE, 0);
			continue;
		case DW_CFA_register:
			reg = uleb(c);
			uleb(c);
			goto other;
		case DW_CFA_val_offset:
			reg = uleb(c);
			uleb(c);
			goto other;
		case DW_CFA_val_offset_sf:
			reg = uleb(c);
			sleb(c);
other:
			if (c->bad || reg >= CFI_MAX_REG)
				return -EINVAL;
			b->irregular |= reg > CFI_SANE_REG;
			set_rule(s, reg, RULE_OTHER, 0);
			continue;
		case DW_CFA_expression:
		case DW_CFA_val_expression: {
			const uint8_t *x;

			reg = uleb(c);
			v = uleb(c);
			if (c->bad || v > (uint64_t)(c->end - c->p) || reg >= CFI_MAX_REG)
				return -EINVAL;
			b->irregular |= reg > CFI_SANE_REG;
			x = c->p;
			c->p += v;
			if (reg != REG_RA && reg != REG_RBP)
				continue;
			/* libdw's expression with the CFA pushed first: "at CFA + n" when it is empty or
			 * DW_OP_plus_uconst n alone */
			if (op == DW_CFA_expression && !v) {
				set_rule(s, reg, RULE_AT_CFA, 0);
			} else if (op == DW_CFA_expression && x[0] == DW_OP_plus_uconst) {
				struct cur e = { x + 1, x + v, false };
				uint64_t n = uleb(&e);

				if (e.bad || e.p != e.end)
					return -EOPNOTSUPP;
				set_rule(s, reg, RULE_AT_CFA, (int64_t)n);
			} else if (op == DW_CFA_val_expression) {
				set_rule(s, reg, RULE_OTHER, 0);
			} else {
				return -EOPNOTSUPP;
			}
			continue;
		}
		case DW_CFA_remember_state:
			if (depth == CFI_MAX_REMEMBERED)
				return -EOPNOTSUPP;
			stack[depth++] = *s;
			continue;
		case DW_CFA_restore_state:
			if (!depth)
				return -EINVAL;
			*s = stack[--depth];
			continue;
		case DW_CFA_def_cfa:
			reg = uleb(c);
			v = uleb(c);
			goto def_cfa;
		case DW_CFA_def_cfa_sf:
			reg = uleb(c);
			v = (uint64_t)sleb(c) * (uint64_t)ci->daf;
def_cfa:
			if (c->bad)
				return -EINVAL;
			s->cfa = CFA_OFF;
			s->cfa_reg = reg;
			s->cfa_off = v;
			continue;
		case DW_CFA_def_cfa_register:
			reg = uleb(c);
			if (c->bad)
				return -EINVAL;
			if (s->cfa != CFA_OFF)
				s->cfa = CFA_INVALID;
			s->cfa_reg = reg;
			continue;
		case DW_CFA_def_cfa_offset:
			v = uleb(c);
			goto def_cfa_offset;
		case DW_CFA_def_cfa_offset_sf:
			sv = sleb(c);
			v = (uint64_t)sv * (uint64_t)ci->daf;
def_cfa_offset:
			if (c->bad)
				return -EINVAL;
			if (s->cfa != CFA_OFF)
				s->cfa = CFA_INVALID;
			s->cfa_off = v;
			continue;
		case DW_CFA_GNU_args_size:
			uleb(c);
			if (c->bad)
				return -EINVAL;
			continue;
		case DW_CFA_nop:
			continue;
		case DW_CFA_set_loc:
		case DW_CFA_def_cfa_expression:
		case DW_CFA_MIPS_advance_loc8:
		case DW_CFA_GNU_window_save:
			return -EOPNOTSUPP;
		default:
			return -EINVAL;
		}
	}
	return 0;
}

/* The CIE at off in .eh_frame, read and its initial state run once per build */
static const struct cie *cie_at(struct builder *b, uint64_t off)
{
	static const uint8_t aug_ok[] = "zRPLS";
	struct cie ci = { .err = -EOPNOTSUPP };
	struct cur c;
	uint64_t *slot, len;
	const char *aug;
	bool created;
	uint8_t version;

	slot = hashmap__upsert(b->cies, off, &created);
	if (!created)
		return &b->cie[*slot - 1];
	if (off + 4 > b->eh_size)
		goto done;
	c = (struct cur){ b->eh + off, b->eh + b->eh_size, false };
	len = fixed(&c, 4);
	if (len == 0xffffffff || len > (uint64_t)(c.end - c.p) || len < 5)
		goto done; /* 64-bit DWARF: libdw's */
	c.end = c.p + len;
	if (fixed(&c, 4) != 0) /* not a CIE */
		goto done;
	version = (uint8_t)fixed(&c, 1);
	aug = (const char *)c.p;
	while (c.p < c.end && *c.p)
		c.p++;
	if (c.p == c.end || (version != 1 && version != 3))
		goto done;
	c.p++;
	for (const char *a = aug; *a; a++)
		if (!memchr(aug_ok, *a, sizeof(aug_ok) - 1) || (a != aug && *a == 'z') || (a == aug && *a != 'z'))
			goto done;
	ci.caf = uleb(&c);
	ci.daf = sleb(&c);
	ci.ra_reg = version == 1 ? fixed(&c, 1) : uleb(&c);
	ci.fde_enc = DW_EH_PE_absptr;
	if (*aug == 'z') {
		uint64_t alen = uleb(&c);
		const uint8_t *data = c.p;

		if (c.bad || alen > (uint64_t)(c.end - c.p))
			goto done;
		ci.z = true;
		for (const char *a = aug + 1; *a; a++) {
			uint64_t ignored;
			uint8_t enc;

			if (*a == 'S')
				continue;
			enc = (uint8_t)fixed(&c, 1);
			if (*a == 'R')
				ci.fde_enc = enc;
			else if (*a == 'P' && ((enc & 0x70) == DW_EH_PE_aligned || !encoded(&c, enc & 0x0f, 0, &ignored)))
				goto done; /* read for its size only */
		}
		if (c.bad || c.p > data + alen)
			goto done;
		c.p = data + alen;
	}
	if (c.bad)
		goto done;
	/* libdw's x86-64 defaults: rbp same value, the rest undefined, no CFA */
	ci.init = (struct cfi_state){ .cfa = CFA_UNDEF, .ra = RULE_NONE, .rbp = RULE_NONE };
	ci.err = run_cfi(b, &ci, &ci.init, &c, NULL);
	b->irregular |= c.bad;
done:
	GROW(b->cie, b->ciecap, b->ncie + 1);
	b->cie[b->ncie++] = ci;
	*slot = b->ncie;
	return &b->cie[b->ncie - 1];
}

/* The rows of the FDE of the function at f->start (up to next, where the next one starts);
 * *pc: where its rows end. 0; -EOPNOTSUPP: for libdw; -E2BIG: over budget. */
static int fde_rows(struct builder *b, const struct fde_ref *f, uint64_t next, struct fde_walk *w)
{
	uint64_t off = f->fde - b->eh_vaddr, len, cie_ptr, start, range;
	const struct cie *ci;
	struct cfi_state s;
	struct cur c;
	int err;

	if (f->fde < b->eh_vaddr || off >= b->eh_size || b->eh_size - off < 8)
		return -EOPNOTSUPP;
	c = (struct cur){ b->eh + off, b->eh + b->eh_size, false };
	len = fixed(&c, 4);
	if (len == 0xffffffff || len > (uint64_t)(c.end - c.p) || len < 4)
		return -EOPNOTSUPP;
	c.end = c.p + len;
	cie_ptr = fixed(&c, 4);
	if (!cie_ptr || cie_ptr > off + 4)
		return -EOPNOTSUPP;
	ci = cie_at(b, off + 4 - cie_ptr);
	if (ci->err == -EOPNOTSUPP)
		return -EOPNOTSUPP;
	if (!encoded(&c, ci->fde_enc, b->eh_vaddr + (uint64_t)(c.p - b->eh), &start) || start != f->start ||
	    !encoded(&c, ci->fde_enc & 0x0f, 0, &range))
		return -EOPNOTSUPP;
	if (ci->z) {
		uint64_t alen = uleb(&c);

		if (c.bad || alen > (uint64_t)(c.end - c.p))
			return -EOPNOTSUPP;
		c.p += alen;
	}
	*w = (struct fde_walk){ .row_pc = start, .end = start + range, .next = next };
	if (ci->err || w->end <= start)
		return 0; /* libdw finds no frame there: no rows */
	s = ci->init;
	b->fde_rows = 0;
	err = run_cfi(b, ci, &s, &c, w);
	b->irregular |= c.bad; /* a number cut off by the end: libdw reads it as the largest */
	if (err == -EINVAL)
		return 0; /* rows up to the error */
	if (err)
		return err;
	if (!w->done && w->row_pc < w->end) {
		walk_row(b, ci, &s, w);
		w->row_pc = w->end;
	}
	return b->fde_rows > UNWIND_MAX_FDE_ROWS || b->t->n > UNWIND_MAX_ROWS ? -E2BIG : 0;
}

bool unwind__libdw_only;

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
		emit(b->t, &b->cap, to_off(b->segs, b->nsegs, (int64_t)pc), r);
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

int unwind__build(const char *path, struct unwind_table *t)
{
	struct text_seg segs[8];
	struct stat st;
	size_t nsegs = 0, nphdr, nstarts = 0;
	struct fde_ref *starts = NULL;
	struct builder b = { .t = t, .segs = segs };
	GElf_Ehdr eh;
	bool foreign, increasing = true;
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
	b.nsegs = nsegs;
	b.elf = elf;
	/* libdw's defaults (and refusals) are the machine's: only x86-64's are written here */
	foreign = !gelf_getehdr(elf, &eh) || eh.e_machine != EM_X86_64;
	/* code before the first FDE of each segment is walked by frame pointer too */
	for (size_t i = 0; i < nsegs; i++)
		emit(t, &b.cap, (int64_t)segs[i].off, (struct tm_unwind_row){ .cfa_reg = TM_CFA_FP });
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
		e = unwind__libdw_only || foreign ? -EOPNOTSUPP : fde_rows(&b, &starts[i], next, &w);
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
			emit(t, &b.cap, to_off(segs, nsegs, (int64_t)w.row_pc), (struct tm_unwind_row){ .cfa_reg = TM_CFA_FP });
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

/* The kernel memory of all tables (BPF arrays, 16 bytes a row), a budget for the run: 64
 * slots of tables as large as a program can make them would pin gigabytes (issue 15.3) */
static uint64_t memory_budget = UNWIND_MEMORY_DEFAULT;
/* files whose table was over a budget (its build, or the memory left): process-wide, as the
 * symbol tables' and perf maps' counts */
static size_t over_budget;

void unwind__set_memory_budget(uint64_t bytes)
{
	memory_budget = bytes;
}

size_t unwind__over_budget(void)
{
	return over_budget;
}

struct unwind_cache {
	/* "dev:ino" (interned) -> file index + 1 | rows << 32, or 0: walked by frame pointers.
	 * By file, not path: hard links or bind mounts of one file are one table */
	struct hashmap *files;
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

/* bytes of kernel memory a table of n rows takes (tracer__load_unwind: 8-aligned elements) */
static uint64_t table_bytes(size_t n)
{
	return (uint64_t)n * ((sizeof(struct tm_unwind_row) + 7) & ~(size_t)7);
}

/* The slot of the file at path whose device and inode (as /proc/PID/maps names them) are dev
 * and ino, or found by stat when ino is 0: its file index + 1 (0: walked by frame pointers) |
 * its rows << 32 */
static uint64_t file_slot(struct unwind_cache *c, const char *path, uint32_t dev, uint64_t ino)
{
	struct unwind_table t;
	uint64_t *slot, v = 0;
	char key[64];
	bool created;
	int idx;

	if (!ino) {
		struct stat st;

		if (stat(path, &st))
			return 0;
		dev = kernel_dev(st.st_dev);
		ino = st.st_ino;
	}
	snprintf(key, sizeof(key), "%x:%llx", dev, (unsigned long long)ino);
	slot = hashmap__upsert(c->files, (uint64_t)(uintptr_t)intern(key), &created);
	if (!created)
		return *slot;
	idx = unwind__build(path, &t);
	if (idx == -EFBIG || idx == -E2BIG) {
		c->skipped++;
		over_budget++;
		if (verbose)
			p_warn("no unwind table for %s: %s", path,
			       idx == -EFBIG ? "too many functions" : "more rows than a table may have");
	}
	/* the path may name another file than the mapping by now (replaced, renamed over) */
	if (!idx && t.inode.ino != ino)
		idx = -ESTALE;
	if (idx) {
		unwind__table_free(&t);
		return 0;
	}
	if (unwind__frameless(&t)) {
		if (table_bytes(c->rows + t.n) > memory_budget) {
			idx = -EDQUOT;
			over_budget++;
		} else {
			idx = c->loaded < TM_MAX_UNWIND_FILES ? c->load(c->ctx, &t) : -ENOSPC;
		}
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
				p_warn("no unwind table for %s: %s", path,
				       idx == -EDQUOT ? "over the memory budget (--unwind-memory)" : strerror(-idx));
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

		if (!m->exec || !map_entry__is_file(m) || !(v = file_slot(c, m->path, m->dev, m->ino)))
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
			file_slot(c, p, pm.e[i].dev, pm.e[i].ino);
		if (strcmp(base, "libc.so.6"))
			continue;
		for (size_t j = 0; j < sizeof(libs) / sizeof(*libs); j++) {
			snprintf(path, sizeof(path), "%.*s%s", (int)(base - p), p, libs[j]);
			if (!access(path, R_OK))
				file_slot(c, path, 0, 0);
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
