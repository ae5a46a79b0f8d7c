// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The table of counters (include/counters.h) as data for the outputs, and the one place where
 * the user-space counters are read from the accountant. */
#include <string.h>
#include "report.h"
#include "unwind.h"

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

/* The user rows are fields of struct account_stats and the unwind cache's totals: mapped here. */
void counters__collect(const struct account *a, const uint64_t kernel[TM_NR_COUNTERS],
		       uint64_t c[TM_NR_ALL_COUNTERS])
{
	size_t loaded = 0, skipped = 0, rows = 0;

	memcpy(c, kernel, TM_NR_COUNTERS * sizeof(*c));
	if (a->unwind)
		unwind__stats(a->unwind, &loaded, &skipped, &rows);
	c[TM_CNT_EVENTS_PROCESSED] = a->st.events;
	c[TM_CNT_GROWTH_WITHOUT_STACK] = a->st.stacks_missing;
	c[TM_CNT_UNPLACED_BYTES] = a->st.unplaced_bytes;
	c[TM_CNT_FRAMES] = a->st.frames;
	c[TM_CNT_FRAMES_UNSYMBOLIZED] = a->st.frames_unknown;
	c[TM_CNT_MAPS_READ_FAILED] = a->st.maps_read_failed;
	c[TM_CNT_ORPHAN_EVENTS] = a->st.orphan_events;
	c[TM_CNT_MM_TEARDOWN_UNSEEN] = a->st.mm_reused;
	c[TM_CNT_STACKS_UNREADABLE] = a->st.stacks_unreadable;
	c[TM_CNT_CFI_TABLES] = loaded;
	c[TM_CNT_CFI_ROWS] = rows;
	c[TM_CNT_CFI_TABLES_SKIPPED] = skipped;
	c[TM_CNT_CFI_SET_FAILED] = a->st.unwind_set_failed;
}
