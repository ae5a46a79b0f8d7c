// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer harness: `report` replaying a recording from anywhere through the core (user/
 * replay.c, world.c in replay mode, rectypes.c's decoders, then account, model, pages,
 * timeline, classify and symbolize on whatever events and answers the file holds). The first
 * byte picks what the rest is (mod 2):
 *   0: a recording file, as is;
 *   1: records (type byte, 2-byte little-endian length, payload), written by rec_writer into a
 *      valid container, so that every byte reaches the replay (the seeds are real recordings
 *      in this form, made by mkseeds_replay.py).
 * A refused recording must say why in one line; an accepted one is read whole through view.h,
 * as the reports read it. Files go to a private directory in /dev/shm. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "demangle.h"
#include "recording.h"
#include "replay.h"
#include "strtab.h"
#include "view.h"

static char dir[64], path[96];

static void cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

static void setup(void)
{
	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "%s/fuzz-replay.XXXXXX", access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/in.tmt", dir);
	atexit(cleanup);
}

static void check_msg(const char *msg, size_t cap)
{
	size_t n = strnlen(msg, cap);

	if (!n || n == cap || memchr(msg, '\n', n))
		__builtin_trap(); /* a refusal says what, in one line */
}

/* Everything a report reads, touched. */
static void read_view(const struct account *a)
{
	struct view_totals t;
	struct view_proc p;
	struct view_bucket b;
	struct view_sample s;
	volatile uint64_t sum = 0;
	size_t i, k;

	view__totals(a, &t);
	sum += view__stats(a)->events;
	for (i = 0; i < view__nprocs(a); i++) {
		view__proc(a, i, &p);
		sum += p.own_peak + (p.comm ? strlen(p.comm) : 0) + (p.exe ? strlen(p.exe) : 0);
	}
	for (i = 0; i < view__nbuckets(a); i++) {
		view__bucket(a, i, &b);
		sum += b.peak + b.label;
		for (k = 0; b.stack && k < (size_t)b.stack->n; k++)
			sum += strlen(b.stack->frames[k]);
	}
	for (i = 0; i < view__nsamples(a); i++) {
		view__sample(a, i, &s);
		for (k = 0; k < s.nprocs; k++)
			sum += s.procs[k].kernel;
		for (k = 0; k < s.nbuckets; k++)
			sum += s.buckets[k].cur;
	}
	(void)sum;
}

static void write_records(const uint8_t *p, size_t size)
{
	const uint8_t *end = p + size;
	struct rec_writer *w;

	if (rec_writer__open(&w, path, 0, "taskmem-trace fuzz"))
		abort();
	while (end - p >= 3) {
		size_t l = p[1] | p[2] << 8;

		if (l > (size_t)(end - p - 3))
			l = end - p - 3;
		/* type 0 and the end record are the container's: those are fuzz_recording's */
		if (p[0] != REC_NONE && p[0] != REC_END && rec_writer__add(w, p[0], p + 3, l))
			abort();
		p += 3 + l;
	}
	if (rec_writer__close(w))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replay *r;
	char msg[1024];
	FILE *f;

	if (!size)
		return 0;
	setup();
	if (data[0] % 2 == 0) {
		f = fopen(path, "w");
		if (!f || fwrite(data + 1, 1, size - 1, f) != size - 1)
			abort();
		fclose(f);
	} else {
		write_records(data + 1, size - 1);
	}
	if (replay__open(&r, path, msg, sizeof(msg))) {
		check_msg(msg, sizeof(msg));
	} else {
		if (replay__run(r, msg, sizeof(msg)))
			check_msg(msg, sizeof(msg));
		else
			read_view(replay__account(r));
		replay__free(r);
	}
	demangle__free();
	strtab__free();
	return 0;
}
