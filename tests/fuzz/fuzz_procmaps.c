// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer harness: user/procmaps.c's parser of /proc/PID/maps text (a traced program names
 * the files it maps, and so controls part of every line), then lookups, copy and clear. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "procmaps.h"
#include "strtab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct procmaps pm = {}, copy = {};
	char *text = malloc(size + 1);
	size_t i;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	if (procmaps__parse(&pm, text) == 0) {
		for (i = 0; i < pm.n; i++) {
			const struct map_entry *m = &pm.e[i];

			if (m->end <= m->start || !m->path)
				__builtin_trap(); /* malformed lines must be skipped */
			procmaps__find(&pm, m->start);
			procmaps__find(&pm, m->end - 1);
			map_entry__is_file(m);
		}
		procmaps__find(&pm, 0);
		procmaps__find(&pm, UINT64_MAX);
		procmaps__copy(&copy, &pm);
		/* parsing again into a used table replaces its contents (the same text: the snapshot
		 * it shares is kept; its first half: a prefix matched, then a table of its own) */
		procmaps__parse(&pm, text);
		text[size / 2] = 0;
		procmaps__parse(&copy, text);
		for (i = 0; i + 1 < copy.n; i++) /* the lines before the cut are the same entries */
			if (i >= pm.n || copy.e[i].start != pm.e[i].start || copy.e[i].path != pm.e[i].path)
				__builtin_trap();
	}
	procmaps__clear(&pm);
	procmaps__clear(&copy);
	free(text);
	strtab__free();
	return 0;
}
