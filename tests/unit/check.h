/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What every unit test binary counts and prints: CHECK(cond, printf-args) per check, then
 * check_summary() as its last line ("unit: N passed, N failed", which tests/run.sh adds up)
 * and its exit code. */
#ifndef TM_UNIT_CHECK_H
#define TM_UNIT_CHECK_H
#include <stdio.h>

static int passed, failed;
#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		if (cond) {                                                     \
			passed++;                                               \
		} else {                                                        \
			failed++;                                               \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);             \
			printf(__VA_ARGS__);                                    \
			printf("\n");                                           \
		}                                                               \
	} while (0)
#endif
