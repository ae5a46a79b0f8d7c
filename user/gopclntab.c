// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The layout is Go's src/runtime/symtab.go (pcHeader, functab, _func) and debug/gosym. */
#include <stdbool.h>
#include <string.h>
#include "gopclntab.h"

#define MAGIC_116 0xfffffffau
#define MAGIC_118 0xfffffff0u
#define MAGIC_120 0xfffffff1u

static uint64_t rd(const uint8_t *p, int size)
{
	uint64_t v = 0;

	memcpy(&v, p, size); /* little-endian hosts only: amd64, arm64 */
	return v;
}

/* A field of `size` bytes at off, if it lies inside the table. */
static int field(const uint8_t *data, size_t len, uint64_t off, int size, uint64_t *out)
{
	if (off > len || len - off < (uint64_t)size)
		return -1;
	*out = rd(data + off, size);
	return 0;
}

int gopclntab__parse(const uint8_t *data, size_t len, uint64_t text_vaddr,
		     void (*add)(void *ctx, uint64_t addr, uint64_t size, const char *name), void *ctx)
{
	uint64_t magic, nfunc, text = 0, nameoff_base, functab, i;
	int ps, hdr_words, found = 0;
	bool old;

	if (len < 16 || field(data, len, 0, 4, &magic))
		return -1;
	if (magic != MAGIC_116 && magic != MAGIC_118 && magic != MAGIC_120)
		return -1;
	ps = data[7];
	if (data[4] || data[5] || (ps != 4 && ps != 8))
		return -1;
	old = magic == MAGIC_116; /* no textStart; functab entries are pointer-sized */
	hdr_words = old ? 7 : 8;
	if (len < 8 + (uint64_t)hdr_words * ps)
		return -1;
	nfunc = rd(data + 8, ps);
	if (!old)
		text = rd(data + 8 + 2 * ps, ps);
	if (!text)
		text = text_vaddr; /* PIE: the header's value is relocated at run time */
	nameoff_base = rd(data + 8 + (old ? 2 : 3) * ps, ps);
	functab = rd(data + 8 + (old ? 6 : 7) * ps, ps);
	if (nameoff_base >= len || functab >= len)
		return -1;
	{
		uint64_t esz = old ? 2 * (uint64_t)ps : 8; /* (entry, funcoff) pairs */

		if (nfunc > (len - functab) / esz || (nfunc + 1) * esz > len - functab)
			return -1;
		for (i = 0; i < nfunc; i++) {
			uint64_t e0, e1, foff, nameoff, at = functab + i * esz;
			const char *name;
			const void *nul;

			if (old) {
				e0 = rd(data + at, ps);
				foff = rd(data + at + ps, ps);
				e1 = rd(data + at + esz, ps);
			} else {
				e0 = text + rd(data + at, 4);
				foff = rd(data + at + 4, 4);
				e1 = text + rd(data + at + esz, 4);
			}
			/* _func: entry (uintptr, or uint32 offset since 1.18), then nameOff int32 */
			if (foff > len - functab ||
			    field(data, len, functab + foff + (old ? ps : 4), 4, &nameoff))
				continue;
			nameoff = (uint64_t)(int64_t)(int32_t)nameoff;
			if (nameoff >= len - nameoff_base)
				continue;
			name = (const char *)data + nameoff_base + nameoff;
			nul = memchr(name, 0, len - nameoff_base - nameoff);
			if (!nul || !*name)
				continue;
			add(ctx, e0, e1 > e0 ? e1 - e0 : 0, name);
			found++;
		}
	}
	return found;
}
