// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer harness: user/unwind.c (.eh_frame_hdr, and .eh_frame through libdw) on an arbitrary
 * file, as a traced program can map any file it wrote as executable and the tool then builds its
 * unwind table. The table must come out sorted, one row per pc, with known rules only. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/types.h>
#include "unwind.h"

static char dir[] = "/tmp/fuzz-unwind.XXXXXX", path[64];

static void cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct unwind_table t;

	if (fd < 0) {
		if (!mkdtemp(dir))
			abort();
		snprintf(path, sizeof(path), "%s/input", dir);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			abort();
		atexit(cleanup);
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	if (unwind__build(path, &t)) {
		if (t.n || t.rows)
			__builtin_trap(); /* a failed build leaves nothing behind */
		return 0;
	}
	for (size_t i = 0; i < t.n; i++) {
		if (t.rows[i].cfa_reg > TM_CFA_RBP || (i && t.rows[i - 1].pc >= t.rows[i].pc))
			__builtin_trap();
	}
	if (t.fdes_fp > t.fdes)
		__builtin_trap();
	unwind__frameless(&t);
	unwind__table_free(&t);
	return 0;
}
