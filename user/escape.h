/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Text the traced program controls (comm, paths, symbol names) written out safely: as a JSON
 * string that is always valid UTF-8, and for a terminal with no control sequence left in it. */
#ifndef TM_ESCAPE_H
#define TM_ESCAPE_H
#include <stddef.h>
#include <stdio.h>

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if the byte at s does not start one. */
size_t utf8_seq(const unsigned char *s);
/* s as a JSON string: quotes, backslash, controls and <>& (the HTML embeds it in a <script>)
 * as escapes; a byte that is not valid UTF-8 as \u00XX (its Latin-1 reading). */
void esc_json(FILE *f, const char *s);
/* s for a terminal: control characters (C0, DEL, C1) and bytes that are not valid UTF-8 as
 * \xNN, so that no escape sequence reaches it (window titles, OSC 52 clipboard writes). */
void esc_term(FILE *f, const char *s);
#endif
