// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer harness: user/unwind.c (.eh_frame_hdr, and .eh_frame through libdw) on an arbitrary
 * file, as a traced program can map any file it wrote as executable and the tool then builds its
 * unwind table (the input written to a file: input_file.h). The table must come out sorted, one
 * row per pc, with known rules only, and equal the one libdw builds asked at every row (each
 * FDE's program is run once here, with libdw's semantics), unless over a budget, irregular
 * (overlapping FDEs, huge register numbers) or partly read by libdw itself. */
#include <errno.h>
#include <string.h>
#include <linux/types.h>
#include "input_file.h"
#include "unwind.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = input_file(data, size);
	struct unwind_table t, ref;
	int err, ref_err;

	if (!path)
		return 0;
	err = unwind__build(path, &t);
	/* libdw's table as reference, when it is libdw's to compare with: not over a budget, and
	 * regular (libdw's answer then depends on its cache, or it runs out of memory) */
	if (err != -E2BIG && !t.irregular && !t.fdes_libdw) {
		unwind__libdw_only = true;
		ref_err = unwind__build(path, &ref);
		unwind__libdw_only = false;
		if (err != ref_err || t.n != ref.n || t.fdes != ref.fdes || t.fdes_fp != ref.fdes_fp ||
		    (t.n && memcmp(t.rows, ref.rows, t.n * sizeof(*t.rows))))
			__builtin_trap();
		unwind__table_free(&ref);
	}
	if (err) {
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
