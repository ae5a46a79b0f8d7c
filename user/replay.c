// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The replay of a recording: the records in the order the live run made them, through the
 * core. What main.c does live, in the same order (docs/recording.md, "Record types"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "replay.h"
#include "util.h"

struct replay {
	char path[4096];
	struct rec_reader *rd;
	struct rt_run_info info;
	struct rt_run_end end;
	struct account *acct;
};

static int fail(char *msg, size_t len, const char *path, const char *what)
{
	snprintf(msg, len, "%s: %s", path, what);
	return -EINVAL;
}

int replay__open(struct replay **out, const char *path, char *msg, size_t msglen)
{
	struct replay *r = xcalloc(1, sizeof(*r));
	struct rec_error rerr;
	char why[200];
	const void *data;
	uint32_t type, len;
	int err;

	*out = NULL;
	snprintf(r->path, sizeof(r->path), "%s", path);
	err = rec_reader__open(&r->rd, path, &rerr);
	if (err) {
		snprintf(msg, msglen, "%s", rerr.msg);
		free(r);
		return err;
	}
	err = rec_reader__next(r->rd, &type, &data, &len);
	if (err < 0)
		snprintf(msg, msglen, "%s", rec_reader__error(r->rd)->msg);
	else if (err == 0 || type != REC_RUN_INFO)
		err = fail(msg, msglen, path, "corrupt: it does not begin with its run information");
	else if ((err = rt_run_info__decode(data, len, &r->info, why, sizeof(why))))
		fail(msg, msglen, path, why);
	if (err) {
		replay__free(r);
		return err < 0 ? err : -EINVAL;
	}
	*out = r;
	return 0;
}

const struct rt_run_info *replay__run_info(const struct replay *r)
{
	return &r->info;
}

static struct account *new_account(struct replay *r)
{
	return account__new(&(struct account_opts){ .start_ts = r->info.start_ts,
						     .interval_ns = r->info.interval_ns,
						     .sample_bytes = r->info.sample_bytes,
						     .world = { .replay = r->rd, .replay_path = r->path } });
}

int replay__run(struct replay *r, char *msg, size_t msglen)
{
	bool finished = false, ended = false;
	union rt_event ev;
	uint64_t end_ts;
	uint32_t type, len;
	const void *data;
	char why[128], tn[32];
	int err;

	r->acct = new_account(r);
	if (r->info.attach_pid)
		account__attach(r->acct, r->info.attach_pid);
	else
		account__add_root(r->acct, r->info.root_pid);
	for (;;) {
		const char *werr = world__replay_error(r->acct->w);

		if (werr) {
			snprintf(msg, msglen, "%s", werr);
			return -EINVAL;
		}
		err = rec_reader__next(r->rd, &type, &data, &len);
		if (err < 0) {
			snprintf(msg, msglen, "%s", rec_reader__error(r->rd)->msg);
			return err;
		}
		if (err == 0)
			break;
		if (ended) /* RUN_END is the last */
			return fail(msg, msglen, r->path, "corrupt: records after its end of run");
		switch (type) {
		case REC_EVENT:
			if (finished)
				return fail(msg, msglen, r->path, "corrupt: an event after the end of the run");
			/* copied: the core's questions read on, and data is the reader's */
			if (rt_event__decode(data, len, &ev))
				return fail(msg, msglen, r->path, "corrupt: an event of the wrong size");
			account__event(r->acct, &ev.e);
			break;
		case REC_REFRESH:
			if (finished || len)
				return fail(msg, msglen, r->path, "corrupt: a misplaced or malformed refresh");
			account__refresh_maps(r->acct);
			break;
		case REC_CGROUP: {
			struct cg_sample cs;

			if (finished || rt_cgroup__decode(data, len, &cs))
				return fail(msg, msglen, r->path, "corrupt: a misplaced or malformed cgroup sample");
			account__cgroup(r->acct, &cs);
			break;
		}
		case REC_FINISH:
			if (finished || rt_finish__decode(data, len, &end_ts))
				return fail(msg, msglen, r->path, "corrupt: a misplaced or malformed end of run");
			finished = true;
			account__finish(r->acct, end_ts);
			account__resymbolize(r->acct);
			break;
		case REC_RUN_END:
			if (!finished || rt_run_end__decode(data, len, &r->end))
				return fail(msg, msglen, r->path, "corrupt: a misplaced or malformed run summary");
			ended = true;
			break;
		default:
			snprintf(why, sizeof(why), "the recording answers a question (%s) the core did not ask",
				 rt_type_name(type, tn, sizeof(tn)));
			snprintf(msg, msglen, "%s: %s: recorded by a different taskmem-trace", r->path, why);
			return -EINVAL;
		}
	}
	if (!ended)
		return fail(msg, msglen, r->path, "corrupt: it has no end of run");
	return 0;
}

struct account *replay__account(const struct replay *r)
{
	return r->acct;
}

void replay__report_info(const struct replay *r, struct report_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->argv = r->info.argv;
	ri->argc = (int)r->info.argc;
	ri->exit_code = r->end.exit_code;
	ri->exit_desc = r->end.exit_desc;
	ri->duration_s = r->end.duration_s;
	ri->cmd_end_s = r->end.cmd_end_s;
	ri->run_as = r->end.run_as[0] ? r->end.run_as : NULL;
	memcpy(ri->counters, r->end.counters, sizeof(ri->counters));
	ri->interval_ns = r->info.interval_ns;
	ri->top = r->info.top;
	ri->growth_window_ns = r->end.growth_window_ns;
}

void replay__free(struct replay *r)
{
	if (!r)
		return;
	account__free(r->acct);
	rec_reader__close(r->rd);
	rt_run_info__free(&r->info);
	free(r);
}
