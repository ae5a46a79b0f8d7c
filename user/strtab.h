/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Interned strings: paths, symbol names and labels live once and compare by pointer. */
#ifndef TM_STRTAB_H
#define TM_STRTAB_H
const char *intern(const char *s);
void strtab__free(void);
#endif
