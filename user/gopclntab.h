/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Function names of a Go binary from its .gopclntab, for binaries stripped of .symtab
 * (go build -ldflags=-s): Go keeps the table for its own tracebacks. Go 1.16 to 1.2x layouts. */
#ifndef TM_GOPCLNTAB_H
#define TM_GOPCLNTAB_H
#include <stddef.h>
#include <stdint.h>

/* Calls add(ctx, entry vaddr, size, name) for each function; name is NUL-terminated inside data.
 * text_vaddr is the .text section's address, used when the header's own is missing (PIE).
 * Returns the number of functions, or -1 when data is not a table this reader knows. Every
 * offset is bounds-checked: the table comes from a file the traced program controls. */
int gopclntab__parse(const uint8_t *data, size_t len, uint64_t text_vaddr,
		     void (*add)(void *ctx, uint64_t addr, uint64_t size, const char *name), void *ctx);
#endif
