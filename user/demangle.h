/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Readable names for C++ and Rust (legacy and v0) symbols, by libiberty's demangler (the one
 * binutils and gdb use). Function names only, no parameter lists, so a flame graph stays
 * narrow; Rust's hash suffixes are dropped. */
#ifndef TM_DEMANGLE_H
#define TM_DEMANGLE_H
/* sym: an interned string; returns an interned demangled name, or sym itself. Cached. */
const char *demangle(const char *sym);
void demangle__free(void);
#endif
