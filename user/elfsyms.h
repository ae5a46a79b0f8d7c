/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Function symbols of one ELF file (libelf): .symtab, else .dynsym, with PT_LOAD segments to
 * turn a file offset into a symbol address. Cached by file (device and inode) for the whole run. */
#ifndef TM_ELFSYMS_H
#define TM_ELFSYMS_H
#include <stdint.h>
#include <stdbool.h>

struct elf_syms;

struct file_ref;
/* The cached table of a traced process's file (loaded on first use, opened through the
 * process); NULL if the file cannot be read as ELF, or not be opened. */
const struct elf_syms *elfsyms__get_ref(const struct file_ref *r);
/* Whether the file (kernel dev_t, inode) was read already */
bool elfsyms__cached(uint32_t dev, uint64_t ino);
/* The same for a file of the tool's own (tests, fuzzers). */
const struct elf_syms *elfsyms__get(const char *path);
/* Symbol containing the file offset, or NULL; *sym_off is the offset into it. */
const char *elfsyms__lookup(const struct elf_syms *es, uint64_t file_off, uint64_t *sym_off);
/* File offset of the first executable segment (where the kernel's mm->start_code points). */
bool elfsyms__text_offset(const struct elf_syms *es, uint64_t *off);
bool elfsyms__is_go(const struct elf_syms *es); /* has .gopclntab or runtime.main */
/* The file's GNU build id in hex (interned), or NULL. */
const char *elfsyms__build_id(const struct elf_syms *es);
size_t elfsyms__count(const struct elf_syms *es);
void elfsyms__free_all(void);
/* Files of the run with a table not read: over its bound, or the run's budget (ELF_MAX_*) */
size_t elfsyms__skipped(void);
#endif
