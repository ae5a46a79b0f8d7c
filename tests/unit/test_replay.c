// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The core without a kernel: the recordings of real runs in tests/data/ (made by `make golden`)
 * replayed through replay.c and the whole core, each against its golden JSON, its records never
 * above the kernel's counts; every output the same bytes when replayed twice; recordings the
 * replay must refuse: truncated, a question that differs from the recorded one, other event
 * layouts, an answer nobody asked for. Run from the source tree; needs no root and no BPF. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "account.h"
#include "demangle.h"
#include "recording.h"
#include "rectypes.h"
#include "replay.h"
#include "report.h"
#include "strtab.h"
#include "util.h"
#include "check.h"


static char dir[64];

static char *slurp(const char *path, size_t *len)
{
	char *buf;

	return read_whole(path, SIZE_MAX, &buf, len) ? NULL : buf;
}

static bool same_files(const char *a, const char *b)
{
	size_t la, lb;
	char *x = slurp(a, &la), *y = slurp(b, &lb);
	bool same = x && y && la == lb && !memcmp(x, y, la);

	free(x);
	free(y);
	return same;
}

static const char *outs[] = { "json", "folded", "trace", "pprof", "html" };

static int64_t cats_sum(const int64_t cat[NR_CATS])
{
	int64_t sum = 0;
	int c;

	for (c = 0; c < NR_CATS; c++)
		sum += cat[c];
	return sum;
}

/* The records never hold more than the kernel counts: at every sample (the exact peak's too)
 * the tree's categories add up to at most its total, and each process's to at most its RSS.
 * Else the stacks the HTML flame graph, folded and pprof show add up to more than the JSON's
 * peak. 0, or -1 with msg. */
static int attributed_within(const struct account *a, char *msg, size_t len)
{
	size_t i, j, ns = view__nsamples(a);

	for (i = 0; i < ns; i++) {
		struct view_sample s;
		int64_t sum;

		view__sample(a, i, &s);
		sum = cats_sum(s.cat);
		if (sum > s.tree) {
			snprintf(msg, len, "at %.6f s%s the categories add up to %lld bytes, the tree holds %lld",
				 s.t / 1e9, s.absolute ? " (the peak)" : "", (long long)sum, (long long)s.tree);
			return -1;
		}
		for (j = 0; j < s.nprocs; j++) {
			const struct sample_proc *sp = &s.procs[j];

			sum = cats_sum(sp->cat);
			if (sum > sp->kernel) {
				snprintf(msg, len, "at %.6f s%s process %u's categories add up to %lld bytes, its RSS is %lld",
					 s.t / 1e9, s.absolute ? " (the peak)" : "", sp->proc, (long long)sum,
					 (long long)sp->kernel);
				return -1;
			}
		}
	}
	return 0;
}

/* Replay path and write every output as DIR/tag.FORMAT; 0, or -1 with msg. */
static int replay_in_process(const char *path, const char *tag, char *msg, size_t len)
{
	struct replay *r;
	struct report_info ri;
	char out[160];
	int err = 0;

	msg[0] = 0;
	if (replay__open(&r, path, msg, len))
		return -1;
	if (replay__run(r, msg, len)) {
		replay__free(r);
		return -1;
	}
	replay__report_info(r, &ri);
	if (attributed_within(replay__account(r), msg, len)) {
		replay__free(r);
		return -1;
	}
	for (size_t i = 0; i < sizeof(outs) / sizeof(*outs); i++) {
		const struct account *a = replay__account(r);

		snprintf(out, sizeof(out), "%s/%s.%s", dir, tag, outs[i]);
		if (i == 0)
			err |= report__json(out, a, &ri);
		else if (i == 1)
			err |= report__folded(out, a, &ri);
		else if (i == 2)
			err |= report__trace(out, a, &ri);
		else if (i == 3)
			err |= report__pprof(out, a, &ri);
		else
			err |= report__html(out, a, &ri);
	}
	replay__free(r);
	return err ? -1 : 0;
}

/* In a child process: the label registry, the interned strings and classify's cached label
 * ids are the process's, as in `report`, which replays one recording per process. */
static int replay_to(const char *path, const char *tag, char *msg, size_t len)
{
	int fd[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe(fd))
		abort();
	pid = fork();
	if (pid == 0) {
		int rc = replay_in_process(path, tag, msg, len);

		if (write(fd[1], msg, strlen(msg)) < 0)
			_exit(3);
		_exit(rc ? 1 : 0);
	}
	close(fd[1]);
	n = read(fd[0], msg, len - 1);
	msg[n > 0 ? n : 0] = 0;
	close(fd[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void golden(const char *name)
{
	char path[128], gold[128], a[160], b[160], msg[1024];

	snprintf(path, sizeof(path), "tests/data/%s.tmt", name);
	snprintf(gold, sizeof(gold), "tests/data/%s.json", name);
	CHECK(!replay_to(path, "one", msg, sizeof(msg)), "%s: replay refused or wrong: %s", name, msg);
	snprintf(a, sizeof(a), "%s/one.json", dir);
	CHECK(same_files(a, gold), "%s: replay differs from its golden JSON (%s vs %s; `make golden` "
	      "remakes them when the change is meant)", name, a, gold);
	CHECK(!replay_to(path, "two", msg, sizeof(msg)), "%s: second replay refused: %s", name, msg);
	for (size_t i = 0; i < sizeof(outs) / sizeof(*outs); i++) {
		snprintf(a, sizeof(a), "%s/one.%s", dir, outs[i]);
		snprintf(b, sizeof(b), "%s/two.%s", dir, outs[i]);
		CHECK(same_files(a, b), "%s: two replays give different %s", name, outs[i]);
	}
}

/* Copy src's records into dst, with edit() changing them on the way; 0 or -1. */
typedef void (*edit_fn)(uint32_t *type, uint8_t *data, uint32_t *len, int *n);
static int rewrite(const char *src, const char *dst, edit_fn edit)
{
	struct rec_reader *r;
	struct rec_writer *w;
	const void *data;
	uint32_t type, len;
	uint8_t *copy;
	int n = 0, ret;

	if (rec_reader__open(&r, src, NULL) || rec_writer__open(&w, dst, 0, "taskmem-trace test"))
		return -1;
	while ((ret = rec_reader__next(r, &type, &data, &len)) > 0) {
		copy = xcalloc(1, len + 64); /* room for what an edit writes instead (extra_answer: 24 bytes) */
		memcpy(copy, data, len);
		edit(&type, copy, &len, &n);
		if (type)
			rec_writer__add(w, type, copy, len);
		free(copy);
	}
	rec_reader__close(r);
	return rec_writer__close(w) || ret ? -1 : 0;
}

static void other_stack(uint32_t *type, uint8_t *data, uint32_t *len, int *n)
{
	if (*type == REC_STACK && !(*n)++)
		data[0] ^= 1; /* the stack id asked */
}

static void other_layout(uint32_t *type, uint8_t *data, uint32_t *len, int *n)
{
	if (*type == REC_RUN_INFO)
		data[0] += 8; /* sizeof(struct tm_event) */
}

static void extra_answer(uint32_t *type, uint8_t *data, uint32_t *len, int *n)
{
	if (*type == REC_REFRESH && !(*n)++) { /* a refresh becomes an answer nobody asks for */
		*type = REC_UNWIND_STATS;
		memset(data, 0, 24);
		*len = 24;
	}
}

static void refused(const char *name, edit_fn edit, const char *want)
{
	char path[160], msg[1024];

	snprintf(path, sizeof(path), "%s/edited.tmt", dir);
	CHECK(!rewrite("tests/data/go.tmt", path, edit), "%s: rewriting failed", name);
	CHECK(replay_to(path, "bad", msg, sizeof(msg)) && strstr(msg, want) && !strchr(msg, '\n'),
	      "%s: not refused with \"%s\" in one line: \"%s\"", name, want, msg);
}

static void truncated(void)
{
	char path[160], msg[1024];
	size_t len;
	char *all = slurp("tests/data/go.tmt", &len);
	FILE *f;

	snprintf(path, sizeof(path), "%s/cut.tmt", dir);
	f = fopen(path, "wb");
	CHECK(all && f && fwrite(all, 1, len - 100, f) == len - 100, "writing a truncated copy");
	fclose(f);
	free(all);
	CHECK(replay_to(path, "bad", msg, sizeof(msg)) && strstr(msg, "truncated"),
	      "a truncated recording is not refused as truncated: \"%s\"", msg);
	CHECK(replay_to("tests/data/none.tmt", "bad", msg, sizeof(msg)) && strstr(msg, "cannot read"),
	      "a missing recording: \"%s\"", msg);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_replay.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	golden("go");
	golden("python");
	golden("tree_frees");
	truncated();
	refused("another stack asked", other_stack, "recorded stack");
	refused("other event layouts", other_layout, "other event layouts");
	refused("an answer nobody asked for", extra_answer, "the core did not ask");
	if (!failed) { /* keep the outputs of a failure to look at */
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			return 1;
	} else {
		printf("outputs kept in %s\n", dir);
	}
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
