// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The core without a kernel: the recordings of real runs in tests/data/ (made by `make golden`)
 * replayed through replay.c and the whole core, each against its golden JSON, its records never
 * above the kernel's counts; every output the same bytes when replayed twice; recordings the
 * replay must refuse: truncated, a question that differs from the recorded one, other event
 * layouts, an answer nobody asked for; and events of a made-up process. Run from the source
 * tree; needs no root and no BPF. */
#include <errno.h>
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

/* An RSS change of the anonymous pages of pid's address space: the counter's new total. */
static void rss_event(struct account *a, uint64_t ts, uint32_t pid, uint8_t cause, uint64_t addr, uint64_t len,
		      uint64_t total)
{
	struct tm_event e = { .ts = ts, .kind = TM_EV_RSS, .member = TM_ANONPAGES, .cause = cause, .flags = TM_F_CURR,
			      .tgid = pid, .tid = pid, .mm_id = 7, .stack_id = -ENOENT, .addr = addr, .len = len,
			      .arg = cause == TM_CAUSE_SYSCALL ? 11ull << 32 : 0, /* munmap */
			      .ret = total, .extra3 = ts };

	account__event(a, &e);
}

/* A range free (munmap) whose pages' records are not in its range, because another free took
 * them (a free near a fault takes from its 64 KiB window; a fault-around block placed by a
 * wrong guess): its bytes come from the process's other records. Else they stay attributed to
 * the end, and the stacks at the peak add up to more than the peak (python.tmt: the ld.so
 * cache's munmap after a library's relocations had taken two of its pages; the HTML report's
 * flame graph then showed 8 KiB more than the JSON's peak). Events of a made-up process, on a
 * pid beyond pid_max: the live world finds nothing of it. */
static void test_range_free_elsewhere(void)
{
	const uint32_t pid = 999999999;
	const uint64_t x = 0x10000000, y = 0x20000000, pg = 4096;
	struct account *a = account__new(&(struct account_opts){ .start_ts = 1, .interval_ns = 1000000 });
	struct tm_event ex = { .ts = 2, .kind = TM_EV_EXEC, .tgid = pid, .tid = pid, .comm = "made-up" };
	struct view_totals t;
	int i;

	account__add_root(a, pid);
	account__event(a, &ex);
	rss_event(a, 10, pid, TM_CAUSE_FAULT, x, 0, pg);
	rss_event(a, 20, pid, TM_CAUSE_FAULT, x + 2 * pg, 0, 2 * pg);
	rss_event(a, 30, pid, TM_CAUSE_FAULT, x + pg + 8, 0, pg); /* no record of its own: takes x's */
	rss_event(a, 40, pid, TM_CAUSE_SYSCALL, x, pg, 0);        /* x's record is gone */
	view__totals(a, &t);
	CHECK(t.tree == 0 && cats_sum(t.cat) == 0, "a range free whose records were taken takes others: "
	      "the tree holds %lld bytes, its categories %lld", (long long)t.tree, (long long)cats_sum(t.cat));
	for (i = 0; i < 3; i++) /* a new peak of 3 pages, then a page goes */
		rss_event(a, 50 + i, pid, TM_CAUSE_FAULT, y + i * pg, 0, (i + 1) * pg);
	rss_event(a, 60, pid, TM_CAUSE_SYSCALL, y + 2 * pg, pg, 2 * pg);
	account__finish(a, 70);
	view__totals(a, &t);
	CHECK(t.peak_tree == 3 * (int64_t)pg && cats_sum(t.peak_cat) == t.peak_tree,
	      "at the peak the categories add up to the tree: %lld bytes, the tree %lld",
	      (long long)cats_sum(t.peak_cat), (long long)t.peak_tree);
	account__free(a);
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
	test_range_free_elsewhere(); /* last: its labels are this process's */
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
