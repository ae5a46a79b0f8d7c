// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer harness: user/jreport.c, the JSON reports `diff` and `scale` read back (a file
 * anyone may hand them), then the stacks of two copies lined up as diff does. */
#include <stdint.h>
#include <stdlib.h>
#include "input_file.h"
#include "jreport.h"
#include "strtab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = input_file(data, size);
	struct jreport *r[2] = {};
	struct jkey *keys = NULL;
	char msg[512];
	size_t n = 0, i;
	int64_t sum[2] = {};

	if (!path || jreport__load(path, &r[0], msg, sizeof(msg)) || jreport__load(path, &r[1], msg, sizeof(msg))) {
		jreport__free(r[0]);
		strtab__free();
		return 0;
	}
	jkeys__build(r, 2, &keys, &n);
	for (i = 0; i < n; i++) {
		sum[0] += keys[i].bytes[0];
		sum[1] += keys[i].bytes[1];
	}
	if (sum[0] != sum[1] || n > r[0]->nrows)
		__builtin_trap(); /* the same report twice: the same bytes, no key more than its rows */
	jkeys__free(keys, n);
	jreport__free(r[0]);
	jreport__free(r[1]);
	strtab__free();
	return 0;
}
