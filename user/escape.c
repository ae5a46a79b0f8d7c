// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "escape.h"

size_t utf8_seq(const unsigned char *s)
{
	size_t n, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at the string's end */
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, UTF-16 surrogates, past U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void esc_json(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;

	fputc('"', f);
	while (s && *s) {
		n = utf8_seq(s);
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if (!n || *s < 0x20 || *s == '<' || *s == '>' || *s == '&')
			fprintf(f, "\\u%04x", *s);
		else
			fwrite(s, 1, n, f);
		s += n ? n : 1;
	}
	fputc('"', f);
}

void esc_term(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;

	while (s && *s) {
		n = utf8_seq(s);
		/* C1 controls (U+0080-U+009F) are 0xc2 0x80-0x9f in UTF-8 */
		if (!n || *s < 0x20 || *s == 0x7f || (n == 2 && s[0] == 0xc2 && s[1] < 0xa0)) {
			fprintf(f, "\\x%02x", *s);
			s++;
			continue;
		}
		fwrite(s, 1, n, f);
		s += n;
	}
}
