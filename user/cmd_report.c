// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `taskmem-trace report run.tmt [outputs]`: the reports of a recorded run, from the recording
 * alone (replay.c), byte-identical to those its live run wrote. */
#include <argp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include "cmd.h"
#include "demangle.h"
#include "outfile.h"
#include "replay.h"
#include "strtab.h"
#include "util.h"

#define EXIT_FAILED 1 /* a report could not be written */
#define EXIT_USAGE 2  /* bad usage, an unreadable recording, an unwritable output */

enum { OPT_FOLDED = 1000, OPT_JSON, OPT_HTML, OPT_PPROF, OPT_TRACE, OPT_TOP };

static struct {
	const char *path, *folded, *json, *pprof, *trace, *html;
	int top; /* -1: the recorded one */
	bool quiet;
} renv = { .top = -1 };

static const char report_doc[] =
	"Render the reports of a run recorded by `taskmem-trace record -o FILE`,\n"
	"here or on another machine: no root, no BPF and no traced binaries are\n"
	"needed. A report is byte-identical to the one the recording run wrote\n"
	"live with the same option. The summary goes to stderr (-q: none); with no\n"
	"output option, an HTML report named after the command is written.\n"
	"\v"
	"Examples:\n"
	"  taskmem-trace report run.tmt --html out.html\n"
	"  taskmem-trace report run.tmt --json o.json --folded o.folded --pprof o.pb.gz --trace o.trace.json\n"
	"  taskmem-trace report -q --top 20 run.tmt --json o.json\n"
	"\n"
	"Exit code: 0; 1 a report could not be written; 2 bad usage, an output\n"
	"that cannot be created, or a recording that is missing, truncated,\n"
	"corrupt or made by a taskmem-trace with other event layouts (one line\n"
	"on stderr says which).\n";

static const struct argp_option report_opts[] = {
	{ "html", OPT_HTML, "FILE", 0, "Write the interactive HTML report", 0 },
	{ "json", OPT_JSON, "FILE", 0, "Write the full report as JSON", 0 },
	{ "pprof", OPT_PPROF, "FILE", 0, "Write resident bytes at the peak as a gzipped pprof profile", 0 },
	{ "trace", OPT_TRACE, "FILE", 0, "Write the timeline as Chrome trace-event counters", 0 },
	{ "folded", OPT_FOLDED, "FILE", 0, "Write resident bytes at the peak per stack, flamegraph.pl format", 0 },
	{ "top", OPT_TOP, "N", 0, "Stacks shown in the summary (default: as recorded)", 0 },
	{ "quiet", 'q', NULL, 0, "No summary on stderr", 0 },
	{},
};

static error_t parse_report_arg(int key, char *arg, struct argp_state *state)
{
	char *end;
	long v;

	switch (key) {
	case OPT_HTML: renv.html = arg; break;
	case OPT_JSON: renv.json = arg; break;
	case OPT_FOLDED: renv.folded = arg; break;
	case OPT_PPROF: renv.pprof = arg; break;
	case OPT_TRACE: renv.trace = arg; break;
	case 'q': renv.quiet = true; break;
	case OPT_TOP:
		v = strtol(arg, &end, 10);
		if (end == arg || *end || v < 0 || v > 1000)
			argp_error(state, "--top must be a whole number from 0 to 1000, not '%s'", arg);
		renv.top = (int)v;
		break;
	case ARGP_KEY_ARG:
		if (renv.path)
			argp_error(state, "one recording at a time, not '%s' too", arg);
		renv.path = arg;
		break;
	case ARGP_KEY_END:
		if (!renv.path)
			argp_error(state, "no recording given: taskmem-trace report FILE [--html F --json F ...]");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static int write_all(const struct account *a, const struct report_info *ri)
{
	return report__write_all(a, ri, &(struct report_outputs){ renv.folded, renv.json, renv.pprof, renv.trace, renv.html },
				 renv.quiet) ? EXIT_FAILED : 0;
}

int cmd_report(int argc, char **argv)
{
	static const struct argp argp = { .options = report_opts, .parser = parse_report_arg,
					  .args_doc = "FILE", .doc = report_doc };
	const char *outs[5];
	struct report_info ri;
	struct replay *r;
	char msg[1024], def_html[4200];
	int rc, i;

	argv[0] = "taskmem-trace report"; /* its name in usage and errors */
	signal(SIGPIPE, SIG_IGN); /* a reader of stderr that is gone must not cost the files */
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL))
		return EXIT_USAGE;
	if (replay__open(&r, renv.path, msg, sizeof(msg))) {
		p_err("%s", msg);
		return EXIT_USAGE;
	}
	if (!renv.json && !renv.folded && !renv.pprof && !renv.trace && !renv.html)
		renv.html = outfile__default_html(def_html, sizeof(def_html), replay__run_info(r)->argv[0],
						  replay__run_info(r)->attach_pid);
	outs[0] = renv.json, outs[1] = renv.folded, outs[2] = renv.pprof, outs[3] = renv.trace, outs[4] = renv.html;
	for (i = 0; i < 5; i++) {
		int err = outs[i] ? outfile__check_writable(outs[i]) : 0;

		if (err) {
			p_err("cannot write %s: %s", outs[i], strerror(-err));
			replay__free(r);
			return EXIT_USAGE;
		}
	}
	/* the whole recording first: it is checked to its last block before anything is written */
	if (replay__run(r, msg, sizeof(msg))) {
		p_err("%s", msg);
		replay__free(r);
		return EXIT_USAGE;
	}
	replay__report_info(r, &ri);
	if (renv.top >= 0)
		ri.top = renv.top;
	rc = write_all(replay__account(r), &ri);
	if (!rc && renv.html == def_html)
		fprintf(stderr, "report: %s\n", renv.html);
	replay__free(r);
	demangle__free();
	strtab__free();
	return rc;
}
