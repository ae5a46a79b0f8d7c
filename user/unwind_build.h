/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What building an unwind table shares between unwind.c (the file, its FDEs, the table) and
 * cfi.c (an FDE's CFI program run once): private to the two. */
#ifndef TM_UNWIND_BUILD_H
#define TM_UNWIND_BUILD_H
#include <elfutils/libdw.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdint.h>
#include "hashmap.h"
#include "unwind.h"

/* Budgets of rows: of one function, of one table */
#define UNWIND_MAX_FDE_ROWS (1u << 16)
#define UNWIND_MAX_ROWS (1u << 20)

#define REG_RBP 6
#define REG_RSP 7
#define REG_RA 16

struct text_seg {
	uint64_t vaddr, end, off;
};

struct fde_ref {
	uint64_t start; /* the function's address */
	uint64_t fde;   /* its FDE's address (in .eh_frame) */
};

struct cie;

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
	const bool *stop;   /* set by another thread: give up (-EINTR); NULL: never */
};

/* Where an FDE's rows go: [row_pc, ...) is the row being read, the FDE ends at end */
struct fde_walk {
	uint64_t row_pc, end, next; /* next: where the next function starts */
	bool any, fp, done;
};

/* file offset of an address in an executable PT_LOAD segment, or -1 */
int64_t unwind_to_off(const struct text_seg *segs, size_t n, uint64_t vaddr);
/* A row from file offset pc on (merged with the row before when the rule is the same) */
void unwind_emit(struct unwind_table *t, size_t *cap, int64_t pc, struct tm_unwind_row r);
/* The rows of the FDE f (the function before next), run once from its CIE's state; 0, or
 * -EOPNOTSUPP when something in it is not read here (libdw then), -E2BIG over a budget. */
int cfi_fde_rows(struct builder *b, const struct fde_ref *f, uint64_t next, struct fde_walk *w);
#endif
