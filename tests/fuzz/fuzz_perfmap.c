// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer harness: user/perfmap.c's parser of /tmp/perf-PID.map text (written by the traced
 * program's runtime, so the program controls every byte), fed in two pieces as a growing file
 * is, then lookups around every entry. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "perfmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct perfmap pm = {};
	size_t half = size / 2, used, i;

	used = perfmap__parse(&pm, (const char *)data, half);
	if (used > half)
		__builtin_trap();
	/* the rest, starting where the first read stopped (an unfinished line is read again) */
	used += perfmap__parse(&pm, (const char *)data + used, size - used);
	if (used > size)
		__builtin_trap();
	for (i = 0; i < pm.n; i++) {
		const struct pm_sym *s = &pm.s[i];

		if (!s->size || s->start + s->size <= s->start || s->name >= pm.names_len ||
		    (i && pm.sorted == pm.n && s->start < s[-1].start))
			__builtin_trap();
		if (!perfmap__find(&pm, s->start))
			__builtin_trap(); /* every entry's start is covered by some entry */
		perfmap__find(&pm, s->start + s->size - 1);
		perfmap__find(&pm, s->start + s->size);
	}
	perfmap__find(&pm, 0);
	perfmap__find(&pm, UINT64_MAX);
	perfmap__clear(&pm);
	return 0;
}
