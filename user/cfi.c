// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <dwarf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "unwind_build.h"
#include "util.h"

/* Each FDE's CFI program run once, for the rules x86-64 compilers emit.
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


static void walk_row(struct builder *b, const struct cie *ci, const struct cfi_state *s, struct fde_walk *w)
{
	struct tm_unwind_row r = state_row(ci, s);

	w->fp |= r.cfa_reg == TM_CFA_RBP;
	w->any = true;
	b->fde_rows++;
	unwind_emit(b->t, &b->cap, unwind_to_off(b->segs, b->nsegs, (int64_t)w->row_pc), r);
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
int cfi_fde_rows(struct builder *b, const struct fde_ref *f, uint64_t next, struct fde_walk *w)
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
