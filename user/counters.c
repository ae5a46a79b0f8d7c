// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The table of counters (include/counters.h) as data for the outputs, and the one place where
 * the user-space counters are read from the accountant. */
#include <string.h>
#include "elfsyms.h"
#include "perfmap.h"
#include "procfile.h"
#include "report.h"
#include "unwind.h"
#include "view.h"

#define TM_CNT_ROW(id, key_, wording_, show_, meaning_) \
	[TM_CNT_##id] = { .key = key_, .wording = wording_, .meaning = meaning_, .show = CNT_##show_ },

const struct counter_info tm_counters[TM_NR_ALL_COUNTERS] = { TM_COUNTERS(TM_CNT_ROW) };

uint64_t counters__dropped(const uint64_t c[TM_NR_ALL_COUNTERS])
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < TM_NR_ALL_COUNTERS; i++)
		if (tm_counters[i].show == CNT_DROP)
			sum += c[i];
	return sum;
}

bool counters__loss(int id)
{
	return tm_counters[id].show == CNT_DROP || tm_counters[id].show == CNT_LOSS;
}

/* The user rows are fields of struct account_stats (the unwind cache's totals among them),
 * and the parsers' budget counts: mapped here. */
void counters__collect(const struct account *a, const uint64_t kernel[TM_NR_COUNTERS],
		       uint64_t c[TM_NR_ALL_COUNTERS])
{
	const struct account_stats *st = view__stats(a);

	memcpy(c, kernel, TM_NR_COUNTERS * sizeof(*c));
	c[TM_CNT_EVENTS_PROCESSED] = st->events;
	c[TM_CNT_GROWTH_WITHOUT_STACK] = st->stacks_missing;
	c[TM_CNT_UNPLACED_BYTES] = st->unplaced_bytes;
	c[TM_CNT_UNMATCHED_FILE_BYTES] = st->file_unmatched;
	c[TM_CNT_FRAMES] = st->frames;
	c[TM_CNT_FRAMES_UNSYMBOLIZED] = st->frames_unknown;
	c[TM_CNT_MAPS_READ_FAILED] = st->maps_read_failed;
	c[TM_CNT_ORPHAN_EVENTS] = st->orphan_events;
	c[TM_CNT_MM_TEARDOWN_UNSEEN] = st->mm_reused;
	c[TM_CNT_STACKS_UNREADABLE] = st->stacks_unreadable;
	c[TM_CNT_CFI_TABLES] = st->cfi_tables;
	c[TM_CNT_CFI_ROWS] = st->cfi_rows;
	c[TM_CNT_CFI_TABLES_SKIPPED] = st->cfi_skipped;
	c[TM_CNT_CFI_SET_FAILED] = st->unwind_set_failed;
	c[TM_CNT_COW_COPIES] = st->cow_copies;
	c[TM_CNT_PY_FRAMES] = st->py_frames;
	c[TM_CNT_PY_FRAMES_UNNAMED] = st->py_unnamed;
	c[TM_CNT_PY_STACKS_CUT] = st->py_cut;
	/* the parsers' budgets are the run's, kept by the parsers themselves */
	c[TM_CNT_CFI_OVER_BUDGET] = unwind__over_budget();
	c[TM_CNT_SYMTABS_SKIPPED] = elfsyms__skipped();
	c[TM_CNT_PERFMAP_SKIPPED] = perfmap__bytes_skipped();
	c[TM_CNT_FILES_REFUSED] = files_refused();
}
