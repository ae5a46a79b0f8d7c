/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The account's side of classification: resolves what classify() needs to know of an address
 * from the process (its regions, maps, stacks, runtime) and caches the answers per region and
 * per stack. */
#ifndef TM_RESOLVE_H
#define TM_RESOLVE_H
#include <stdint.h>
#include "account.h"

/* The label of bytes of member at addr, brought in by stack_id. */
int resolve__classify(struct account *a, struct proc *p, int member, uint64_t addr, int32_t stack_id,
		      int cause, bool on_stack);
#endif
