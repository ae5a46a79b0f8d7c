// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer harness: user/unwind.c (.eh_frame_hdr, and .eh_frame through libdw) on an arbitrary
 * file, as a traced program can map any file it wrote as executable and the tool then builds its
 * unwind table (the input written to a file: input_file.h). The table must come out sorted, one
 * row per pc, with known rules only. */
#include <linux/types.h>
#include "input_file.h"
#include "unwind.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = input_file(data, size);
	struct unwind_table t;

	if (!path)
		return 0;
	if (unwind__build(path, &t)) {
		if (t.n || t.rows)
			__builtin_trap(); /* a failed build leaves nothing behind */
		return 0;
	}
	for (size_t i = 0; i < t.n; i++) {
		if (t.rows[i].cfa_reg > TM_CFA_FP || (i && t.rows[i - 1].pc >= t.rows[i].pc))
			__builtin_trap();
	}
	if (t.fdes_fp > t.fdes)
		__builtin_trap();
	unwind__frameless(&t);
	unwind__table_free(&t);
	return 0;
}
