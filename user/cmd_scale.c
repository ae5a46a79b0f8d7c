// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `taskmem-trace scale --n 1000,2000,4000 -- ./prog {N}`: what one more task costs. The command
 * runs once per N, each run traced by the tool itself (a child taskmem-trace writing --json to a
 * file of ours: the live path unchanged, with its exit codes and Ctrl-C handling), and the
 * bytes at each run's peak are fitted as fixed + per_task * N by least squares, per stack (its
 * frames and label, the processes merged), per category and in total; and so is the kernel's
 * share at its peak, part by part, when every run has one (a memory cgroup held each run). */
#include <argp.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cmd.h"
#include "escape.h"
#include "jreport.h"
#include "outfile.h"
#include "report.h"
#include "strtab.h"
#include "util.h"

#define EXIT_USAGE 2
#define EXIT_SETUP 125
#define MIB (1024.0 * 1024.0)
#define MAX_RUNS 64
#define MAX_PASS 32 /* live-run options passed on */
/* a stack is "not linear" when its worst residual is both this large and over --nonlinear % of
 * its largest value: a few pages of noise on a small stack are not a curve */
#define NONLINEAR_FLOOR (64 * 1024)

enum { OPT_N = 1000, OPT_JSON, OPT_PPROF, OPT_KEEP, OPT_TOP, OPT_NONLINEAR, OPT_HTML,
       /* the live run's options, passed on to each run */
       OPT_INTERVAL, OPT_RINGBUF, OPT_STACKS, OPT_MAX_PROCS, OPT_MAX_THREADS, OPT_UNWIND_MEMORY,
       OPT_DURATION, OPT_AS_ROOT };

static struct {
	long n[MAX_RUNS];
	int nruns;
	const char *json, *pprof, *keep, *html;
	char pprof_base[4200];
	char default_html[4200]; /* no output asked for: the HTML page here */
	int top;
	double nonlinear;        /* relative residual (fraction) over which a stack is flagged */
	char *pass[MAX_PASS];    /* "--interval=5", ... */
	int npass;
	char **argv;
	int argc;
} senv = { .top = 10, .nonlinear = 0.10 };

static const char scale_doc[] =
	"Run COMMAND once per task count N ({N} in it is replaced by N), each run\n"
	"traced as taskmem-trace does, and fit the bytes at each run's peak as\n"
	"fixed + per_task x N (least squares), per stack (frames and label, the\n"
	"processes merged), per category and in total: what one more task costs,\n"
	"what the program costs with none, and which stacks do not grow in a\n"
	"straight line. Two counts give a line through both (no fit error);\n"
	"three or more also measure how well it fits. When every run has the\n"
	"kernel's share (a memory cgroup of its own), its parts are fitted too,\n"
	"outside the RSS's total. The table goes to stdout;\n"
	"with no output option, an HTML page named after the command is written\n"
	"(as taskmem-trace does): a differential flame graph of the bytes per task\n"
	"(red grew, blue shrank, hatched not linear) and the fit per category.\n"
	"\v"
	"Examples:\n"
	"  sudo taskmem-trace scale --n 10000,100000 -- ./go_bench {N}\n"
	"      the table, and the HTML page (its path printed at the end)\n"
	"  sudo taskmem-trace scale --n 100,200,400 --html s.html -- ./prog {N}\n"
	"      then open s.html in a browser (works offline)\n"
	"  sudo taskmem-trace scale --n 200,400,800 --json s.json -- ./server --conns={N}\n"
	"  sudo taskmem-trace scale --n 1000,2000,4000 --keep runs/ -- ./prog {N}\n"
	"      keeps each run's report: runs/run-1000.json ... (taskmem-trace diff\n"
	"      runs/run-1000.json runs/run-4000.json compares two of them)\n"
	"  sudo taskmem-trace scale --n 1000,4000 --pprof s.pb.gz -- ./prog {N}\n"
	"      then: go tool pprof -top -diff_base s.base.pb.gz s.pb.gz   (what\n"
	"      3000 more tasks hold)\n"
	"\n"
	"fit_error is the slope's standard error in bytes per task (none with two\n"
	"counts); a stack is flagged as not linear when its largest residual is\n"
	"over --nonlinear percent of its largest value (and over 64 KiB).\n"
	"Exit code: 0; 2 bad usage or an unwritable output; a run that fails ends\n"
	"the scale with that run's exit code (the command's own, or 125-127 as\n"
	"taskmem-trace's); Ctrl-C stops the current run and reports the runs\n"
	"done before it (exit 130).\n";

static const struct argp_option scale_opts[] = {
	{ "n", OPT_N, "N1,N2,...", 0, "Task counts, comma-separated, at least two different (required)", 0 },
	{ "html", OPT_HTML, "FILE", 0, "Write the differential flame graph page (default when no output is given)", 0 },
	{ "json", OPT_JSON, "FILE", 0, "Write the fit as JSON (schema taskmem-trace-scale/1)", 0 },
	{ "pprof", OPT_PPROF, "FILE", 0, "Write the largest N's peak to FILE and the smallest's as FILE's .base.pb.gz, for go tool pprof -diff_base", 0 },
	{ "keep", OPT_KEEP, "DIR", 0, "Keep each run's JSON report as DIR/run-N.json (default: a temporary directory, removed)", 0 },
	{ "top", OPT_TOP, "N", 0, "Stacks shown in the table (default 10)", 0 },
	{ "nonlinear", OPT_NONLINEAR, "PCT", 0, "Flag stacks whose largest residual is over PCT% of their bytes (default 10)", 0 },
	{ NULL, 0, NULL, 0, "Options of each run (as taskmem-trace's):", 1 },
	{ "interval", OPT_INTERVAL, "MS", 0, "Timeline sample interval in milliseconds", 1 },
	{ "ringbuf-size", OPT_RINGBUF, "MB", 0, "Event ring buffer size in MiB, a power of two", 1 },
	{ "stack-storage-size", OPT_STACKS, "N", 0, "Distinct user stacks kept", 1 },
	{ "max-processes", OPT_MAX_PROCS, "N", 0, "Live processes followed at once", 1 },
	{ "max-threads", OPT_MAX_THREADS, "N", 0, "Live threads followed at once", 1 },
	{ "unwind-memory", OPT_UNWIND_MEMORY, "MB", 0, "Kernel memory for unwind tables in MiB", 1 },
	{ "duration", OPT_DURATION, "SECONDS", 0, "Stop each run after this long", 1 },
	{ "as-root", OPT_AS_ROOT, NULL, 0, "Under sudo, run the command as root", 1 },
	{ "verbose", 'v', NULL, 0, "Show libbpf's messages", 1 },
	{},
};

static long parse_long(const char *arg, long min, long max, struct argp_state *state, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max)
		argp_error(state, "%s must be a whole number from %ld to %ld, not '%s'", what, min, max, arg);
	return v;
}

static void parse_counts(char *arg, struct argp_state *state)
{
	char *save = NULL, *tok;
	bool two = false;
	int i;

	senv.nruns = 0;
	for (tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (senv.nruns == MAX_RUNS)
			argp_error(state, "--n: at most %d counts", MAX_RUNS);
		senv.n[senv.nruns++] = parse_long(tok, 0, 100000000, state, "each --n count");
	}
	for (i = 1; i < senv.nruns; i++)
		two |= senv.n[i] != senv.n[0];
	if (!two)
		argp_error(state, "--n needs at least two different counts, e.g. --n 1000,2000,4000");
}

/* A live-run option, checked here (a bad one is bad usage before any run) and passed on. */
static void pass_on(const char *name, const char *arg)
{
	char buf[256];

	if (senv.npass == MAX_PASS)
		return;
	snprintf(buf, sizeof(buf), arg ? "--%s=%s" : "--%s", name, arg ? arg : "");
	senv.pass[senv.npass++] = xstrdup(buf);
}

static error_t parse_scale_arg(int key, char *arg, struct argp_state *state)
{
	long v;

	switch (key) {
	case OPT_N: parse_counts(arg, state); break;
	case OPT_JSON: senv.json = arg; break;
	case OPT_HTML: senv.html = arg; break;
	case OPT_PPROF: senv.pprof = arg; break;
	case OPT_KEEP: senv.keep = arg; break;
	case OPT_TOP: senv.top = (int)parse_long(arg, 0, 100000, state, "--top"); break;
	case OPT_NONLINEAR:
		senv.nonlinear = parse_long(arg, 1, 1000, state, "--nonlinear") / 100.0;
		break;
	case OPT_INTERVAL:
		parse_long(arg, 1, 3600000, state, "--interval");
		pass_on("interval", arg);
		break;
	case OPT_RINGBUF:
		v = parse_long(arg, 1, 1024, state, "--ringbuf-size");
		if (v & (v - 1))
			argp_error(state, "--ringbuf-size must be a power of two, not %ld", v);
		pass_on("ringbuf-size", arg);
		break;
	case OPT_STACKS:
		parse_long(arg, 16, 1 << 22, state, "--stack-storage-size");
		pass_on("stack-storage-size", arg);
		break;
	case OPT_MAX_PROCS:
		parse_long(arg, 16, 1 << 22, state, "--max-processes");
		pass_on("max-processes", arg);
		break;
	case OPT_MAX_THREADS:
		parse_long(arg, 16, 1 << 22, state, "--max-threads");
		pass_on("max-threads", arg);
		break;
	case OPT_UNWIND_MEMORY:
		parse_long(arg, 0, 1 << 20, state, "--unwind-memory");
		pass_on("unwind-memory", arg);
		break;
	case OPT_DURATION: {
		char *end;
		double d;

		errno = 0;
		d = strtod(arg, &end);
		if (errno || end == arg || *end || d <= 0 || d > 1e6)
			argp_error(state, "--duration must be a positive number of seconds, not '%s'", arg);
		pass_on("duration", arg);
		break;
	}
	case OPT_AS_ROOT: pass_on("as-root", NULL); break;
	case 'v': pass_on("verbose", NULL); break;
	case ARGP_KEY_ARG:
		senv.argv = &state->argv[state->next - 1];
		senv.argc = state->argc - state->next + 1;
		state->next = state->argc;
		break;
	case ARGP_KEY_END: {
		bool has_n = false;
		int i;

		if (!senv.nruns)
			argp_error(state, "no task counts given: taskmem-trace scale --n 1000,2000,4000 -- COMMAND {N}");
		if (!senv.argv)
			argp_error(state, "no command given: taskmem-trace scale --n 1000,2000 -- COMMAND {N} [ARGS...]");
		for (i = 0; i < senv.argc; i++)
			has_n |= strstr(senv.argv[i], "{N}") != NULL;
		if (!has_n)
			argp_error(state, "the command has no {N} to replace with the task count");
		break;
	}
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* ---- the runs ---- */

static volatile sig_atomic_t got_signal;
static void on_signal(int sig)
{
	got_signal = sig;
}

/* s with every {N} replaced by n */
static char *with_n(const char *s, long n)
{
	char num[24], *out;
	const char *p;
	size_t len = 0, k = 0;

	snprintf(num, sizeof(num), "%ld", n);
	for (p = s; *p; p++, len++)
		if (!strncmp(p, "{N}", 3))
			len += strlen(num);
	out = xmalloc(len + 1);
	for (p = s; *p;) {
		if (!strncmp(p, "{N}", 3)) {
			memcpy(out + k, num, strlen(num));
			k += strlen(num);
			p += 3;
		} else {
			out[k++] = *p++;
		}
	}
	out[k] = 0;
	return out;
}

/* One traced run at n, its report written to json: the child taskmem-trace's exit code, or
 * -errno if it could not be started. */
static int run_one(long n, const char *json)
{
	char **argv = xcalloc(senv.npass + senv.argc + 6, sizeof(*argv));
	int k = 0, i, status;
	pid_t pid;

	argv[k++] = "taskmem-trace";
	for (i = 0; i < senv.npass; i++)
		argv[k++] = senv.pass[i];
	argv[k++] = "-q";
	argv[k++] = "--json";
	argv[k++] = (char *)json;
	argv[k++] = "--";
	for (i = 0; i < senv.argc; i++)
		argv[k++] = with_n(senv.argv[i], n);
	fprintf(stderr, "scale: N=%ld:", n);
	for (i = k - senv.argc; i < k; i++) {
		fputc(' ', stderr);
		esc_term(stderr, argv[i]);
	}
	fputc('\n', stderr);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execv("/proc/self/exe", argv); /* this very binary; caught signals are reset by exec */
		fprintf(stderr, "taskmem-trace scale: cannot run itself: %s\n", strerror(errno));
		_exit(EXIT_SETUP);
	}
	for (i = k - senv.argc; i < k; i++)
		free(argv[i]);
	free(argv);
	if (pid < 0)
		return -errno;
	for (bool passed = false;;) {
		/* a SIGTERM sent to us alone reaches the run too (once); a terminal's Ctrl-C has already */
		if (got_signal && got_signal != SIGINT && !passed) {
			kill(pid, got_signal);
			passed = true;
		}
		if (waitpid(pid, &status, 0) == pid)
			break;
		if (errno != EINTR)
			return -errno;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- the fit ---- */

struct fit {
	double per_task, fixed;
	double fit_error;   /* the slope's standard error (bytes per task); NAN with two counts */
	double max_residual, rel_residual;
	bool nonlinear;
};

static void fit_line(const double *x, const int64_t *y, int m, struct fit *f)
{
	double mx = 0, my = 0, sxx = 0, sxy = 0, ssr = 0, ymax = 0;
	int i, distinct = 0;

	for (i = 0; i < m; i++) {
		mx += x[i] / m;
		my += (double)y[i] / m;
		if (fabs((double)y[i]) > ymax)
			ymax = fabs((double)y[i]);
	}
	for (i = 0; i < m; i++) {
		sxx += (x[i] - mx) * (x[i] - mx);
		sxy += (x[i] - mx) * ((double)y[i] - my);
		distinct += i && x[i] != x[0];
	}
	f->per_task = sxx > 0 ? sxy / sxx : 0;
	f->fixed = my - f->per_task * mx;
	f->max_residual = 0;
	for (i = 0; i < m; i++) {
		double r = (double)y[i] - (f->fixed + f->per_task * x[i]);

		ssr += r * r;
		if (fabs(r) > f->max_residual)
			f->max_residual = fabs(r);
	}
	f->rel_residual = ymax > 0 ? f->max_residual / ymax : 0;
	/* with two counts (repeats aside) the line goes through the points: nothing to measure */
	f->fit_error = m > 2 && distinct > 1 && sxx > 0 ? sqrt(ssr / (m - 2) / sxx) : NAN;
	f->nonlinear = m > 2 && distinct > 1 && f->max_residual > NONLINEAR_FLOOR &&
		       f->rel_residual > senv.nonlinear;
}

struct row {
	const struct jrow *key;  /* NULL: the total or a category */
	const char *name;        /* a category's name */
	const int64_t *bytes;    /* [nruns] */
	struct fit f;
};

static int cmp_per_task(const void *x, const void *y)
{
	const struct row *a = x, *b = y;

	return a->f.per_task < b->f.per_task ? 1 : a->f.per_task > b->f.per_task ? -1 : 0;
}

static void fit_text(FILE *f, const struct fit *ft)
{
	fprintf(f, "%12.1f %11.2f ", ft->per_task, ft->fixed / MIB);
	if (isnan(ft->fit_error))
		fprintf(f, "%10s", "-");
	else
		fprintf(f, "%10.1f", ft->fit_error);
}

static void summary(FILE *f, struct jreport *const *reps, const long *ns, int m, const struct row *tot,
		    const struct row *cats, const struct row *kern, const struct row *rows, size_t nrows)
{
	size_t i, shown = 0, flagged = 0;
	int r;

	fprintf(f, "== taskmem-trace scale:");
	for (r = 0; r < senv.argc && r < 8; r++) {
		fputc(' ', f);
		esc_term(f, senv.argv[r]);
	}
	fprintf(f, "%s\nruns:        N   peak MiB   seconds  exit  dropped\n", senv.argc > 8 ? " ..." : "");
	for (r = 0; r < m; r++)
		fprintf(f, "  %10ld %10.2f %9.2f  %4d  %7lld\n", ns[r], reps[r]->rss_bytes / MIB, reps[r]->duration_s,
			reps[r]->exit_code, (long long)reps[r]->dropped);
	for (r = 0; r < m && !reps[r]->dropped; r++)
		;
	if (r < m)
		fprintf(f, "WARNING: runs dropped events (raise --ringbuf-size): their stacks, and so the fit, may be off\n");
	fprintf(f, "fit of the peak, bytes = fixed + per_task x N (least squares over %d runs):\n", m);
	fprintf(f, "  %-22s %12s %11s %10s\n", "", "B per task", "fixed MiB", "fit error");
	fprintf(f, "  %-22s ", "total");
	fit_text(f, &tot->f);
	fputc('\n', f);
	for (r = 0; r < NR_CATS; r++) {
		fprintf(f, "  %-22s ", cats[r].name);
		fit_text(f, &cats[r].f);
		fputc('\n', f);
	}
	if (kern) {
		fprintf(f, "the kernel's share at its peak, outside the RSS above (each run's memory cgroup):\n");
		for (r = 0; r < NR_KPARTS; r++) {
			fprintf(f, "  %-22s ", kpart_text[r]);
			fit_text(f, &kern[r].f);
			fputc('\n', f);
		}
	} else {
		for (r = 0; r < m && !reps[r]->has_kernel; r++)
			;
		if (r < m) /* some runs had it: say why it is missing */
			fprintf(f, "the kernel's share: not fitted (not every run had a memory cgroup of its own)\n");
	}
	fprintf(f, "stacks by bytes per task:\n");
	for (i = 0; i < nrows && shown < (size_t)senv.top; i++, shown++) {
		fprintf(f, "  %-22s ", rows[i].key->label);
		fit_text(f, &rows[i].f);
		jrow__write_stack(f, rows[i].key, 4);
		fputc('\n', f);
	}
	for (i = 0; i < nrows; i++) {
		if (!rows[i].f.nonlinear)
			continue;
		if (!flagged++)
			fprintf(f, "stacks that do not grow linearly (largest residual over %.0f%% of their bytes):\n",
				senv.nonlinear * 100);
		fprintf(f, "  %-22s residual %.2f MiB (%.0f%%), bytes by N:", rows[i].key->label,
			rows[i].f.max_residual / MIB, rows[i].f.rel_residual * 100);
		for (r = 0; r < m; r++)
			fprintf(f, " %.2f", rows[i].bytes[r] / MIB);
		fprintf(f, " MiB;");
		jrow__write_stack(f, rows[i].key, 4);
		fputc('\n', f);
	}
	if (isnan(tot->f.fit_error))
		fprintf(f, "(two task counts: the line goes through both points, so there is no fit error and no\n"
			   " test of linearity; give three or more counts to have them)\n");
	else if (!flagged)
		fprintf(f, "every stack grows linearly (no residual over %.0f%% of its bytes and 64 KiB)\n",
			senv.nonlinear * 100);
}

static void json_fit(FILE *f, const struct fit *ft)
{
	fprintf(f, "\"bytes_per_task\": %.1f, \"fixed_bytes\": %.0f, \"fit_error\": ", ft->per_task, ft->fixed);
	if (isnan(ft->fit_error))
		fprintf(f, "null");
	else
		fprintf(f, "%.1f", ft->fit_error);
	fprintf(f, ", \"max_residual_bytes\": %.0f, \"relative_residual\": %.4f, \"nonlinear\": %s",
		ft->max_residual, ft->rel_residual, isnan(ft->fit_error) ? "null" : ft->nonlinear ? "true" : "false");
}

static void json_bytes(FILE *f, const int64_t *b, int m)
{
	int r;

	fprintf(f, ", \"bytes\": [");
	for (r = 0; r < m; r++)
		fprintf(f, "%s%lld", r ? ", " : "", (long long)b[r]);
	fputc(']', f);
}

static int write_json(const char *path, struct jreport *const *reps, const long *ns, int m, const struct row *tot,
		      const struct row *cats, const struct row *kern, const struct row *rows, size_t nrows)
{
	struct outfile o;
	size_t i;
	int r, c, k, err = outfile__open(&o, path);
	FILE *f;

	if (err)
		return err;
	f = o.f;
	fprintf(f, "{\n  \"schema\": \"taskmem-trace-scale/1\",\n  \"command\": [");
	for (r = 0; r < senv.argc; r++) {
		fputs(r ? ", " : "", f);
		esc_json(f, senv.argv[r]);
	}
	fprintf(f, "],\n  \"runs\": [");
	for (r = 0; r < m; r++) {
		fprintf(f, "%s\n    {\"n\": %ld, \"exit_code\": %d, \"duration_s\": %.6f, \"dropped\": %lld, \"rss_bytes\": %lld, "
			   "\"categories\": {", r ? "," : "", ns[r], reps[r]->exit_code, reps[r]->duration_s,
			(long long)reps[r]->dropped, (long long)reps[r]->rss_bytes);
		for (c = 0; c < NR_CATS; c++)
			fprintf(f, "%s\"%s\": %lld", c ? ", " : "", cat_names[c], (long long)reps[r]->cats[c]);
		fprintf(f, "}}");
	}
	fprintf(f, "\n  ],\n  \"total\": {");
	json_fit(f, &tot->f);
	json_bytes(f, tot->bytes, m);
	fprintf(f, "},\n  \"categories\": [");
	for (c = 0; c < NR_CATS; c++) {
		fprintf(f, "%s\n    {\"category\": \"%s\", ", c ? "," : "", cats[c].name);
		json_fit(f, &cats[c].f);
		json_bytes(f, cats[c].bytes, m);
		fputc('}', f);
	}
	if (kern) {
		fprintf(f, "\n  ],\n  \"kernel\": [");
		for (c = 0; c < NR_KPARTS; c++) {
			fprintf(f, "%s\n    {\"part\": \"%s\", ", c ? "," : "", kern[c].name);
			json_fit(f, &kern[c].f);
			json_bytes(f, kern[c].bytes, m);
			fputc('}', f);
		}
	}
	fprintf(f, "\n  ],\n  \"per_task\": [");
	for (i = 0; i < nrows; i++) {
		const struct jrow *key = rows[i].key;

		fprintf(f, "%s\n    {\"label\": ", i ? "," : "");
		esc_json(f, key->label);
		fprintf(f, ", \"category\": \"%s\", ", cat_names[key->cat]);
		json_fit(f, &rows[i].f);
		json_bytes(f, rows[i].bytes, m);
		fprintf(f, ", \"stack\": [");
		for (k = 0; k < key->nframes; k++) {
			fputs(k ? ", " : "", f);
			esc_json(f, key->frames[k]);
		}
		fprintf(f, "]}");
	}
	fprintf(f, "\n  ]\n}\n");
	return outfile__close(&o);
}

/* ---- the HTML page: report_diff.js reads this ---- */

struct page {
	struct jreport *const *reps;
	const long *ns;
	int m;
	const struct row *tot, *cats, *kern, *rows;  /* kern: NULL when not every run has it */
	size_t n;
};

static void page_fit(FILE *f, const struct fit *ft)
{
	fprintf(f, "\"bytes_per_task\":%.1f,\"fixed_bytes\":%.0f,\"fit_error\":", ft->per_task, ft->fixed);
	if (isnan(ft->fit_error))
		fprintf(f, "null");
	else
		fprintf(f, "%.1f", ft->fit_error);
}

/* what: 0 bytes per task, 1 fixed bytes, 2 + r: run r's bytes */
static void page_values(FILE *f, const struct page *p, int what)
{
	size_t i;

	fputc('[', f);
	for (i = 0; i < p->n; i++) {
		fputs(i ? "," : "", f);
		if (what == 0)
			fprintf(f, "%.1f", p->rows[i].f.per_task);
		else if (what == 1)
			fprintf(f, "%.0f", p->rows[i].f.fixed);
		else
			fprintf(f, "%lld", (long long)p->rows[i].bytes[what - 2]);
	}
	fputc(']', f);
}

static void page_row(FILE *f, const char *sep, const char *name, const struct row *r, int m)
{
	int k;

	fprintf(f, "%s{\"name\":\"%s\",\"nonlinear\":%s,\"v\":[%.1f,", sep, name, r->f.nonlinear ? "true" : "false",
		r->f.per_task);
	if (isnan(r->f.fit_error))
		fprintf(f, "null");
	else
		fprintf(f, "%.1f", r->f.fit_error);
	fprintf(f, ",%.0f", r->f.fixed);
	for (k = 0; k < m; k++)
		fprintf(f, ",%lld", (long long)r->bytes[k]);
	fprintf(f, "]}");
}

static void put_page(FILE *f, const void *ctx)
{
	const struct page *p = ctx;
	size_t i;
	int r, c;

	fprintf(f, "{\"kind\":\"scale\",\"runs\":[");
	for (r = 0; r < p->m; r++)
		fprintf(f, "%s{\"n\":%ld,\"rss_bytes\":%lld,\"duration_s\":%.6f,\"exit_code\":%d,\"dropped\":%lld}",
			r ? "," : "", p->ns[r], (long long)p->reps[r]->rss_bytes, p->reps[r]->duration_s,
			p->reps[r]->exit_code, (long long)p->reps[r]->dropped);
	fprintf(f, "],\n\"total\":{");
	page_fit(f, &p->tot->f);
	fprintf(f, "},\n\"views\":[{\"name\":\"bytes per task: the slope of bytes over N\",\"signed\":1,\"unit\":\"per task\",\"v\":");
	page_values(f, p, 0);
	fprintf(f, "},\n{\"name\":\"fixed bytes: the line at N = 0\",\"signed\":1,\"v\":");
	page_values(f, p, 1);
	for (r = 0; r < p->m; r++) {
		fprintf(f, "},\n{\"name\":\"the peak of the run at N=%ld\",\"v\":", p->ns[r]);
		page_values(f, p, 2 + r);
	}
	fprintf(f, "}],\n\"nonlinear\":[");
	for (i = 0; i < p->n; i++)
		fprintf(f, "%s%d", i ? "," : "", p->rows[i].f.nonlinear);
	fprintf(f, "],\n\"stack\":[");
	for (i = 0; i < p->n; i++) {
		const struct fit *ft = &p->rows[i].f;

		fprintf(f, "%s{\"fit_error\":", i ? ",\n" : "");
		if (isnan(ft->fit_error))
			fprintf(f, "null");
		else
			fprintf(f, "%.1f", ft->fit_error);
		fprintf(f, ",\"residual\":%.0f,\"relative\":%.4f,\"bytes\":[", ft->max_residual, ft->rel_residual);
		for (r = 0; r < p->m; r++)
			fprintf(f, "%s%lld", r ? "," : "", (long long)p->rows[i].bytes[r]);
		fprintf(f, "]}");
	}
	fprintf(f, "],\n\"table\":{\"cols\":[{\"name\":\"per task\",\"fmt\":\"bytes\"},{\"name\":\"fit error\",\"fmt\":\"err\"},"
		   "{\"name\":\"fixed\",\"fmt\":\"bytes\"}");
	for (r = 0; r < p->m; r++)
		fprintf(f, ",{\"name\":\"N=%ld\",\"fmt\":\"bytes\"}", p->ns[r]);
	fprintf(f, "],\"rows\":[");
	page_row(f, "", "total", p->tot, p->m);
	for (c = 0; c < NR_CATS; c++)
		page_row(f, ",\n", p->cats[c].name, &p->cats[c], p->m);
	for (c = 0; p->kern && c < NR_KPARTS; c++) { /* outside the RSS: named apart from the categories */
		char name[64];

		snprintf(name, sizeof(name), "kernel: %s", kpart_names[c]);
		page_row(f, ",\n", name, &p->kern[c], p->m);
	}
	fprintf(f, "]}}");
}

static int write_html(const char *path, struct page *p)
{
	const struct jrow **rows = xcalloc(p->n ? p->n : 1, sizeof(*rows));
	size_t i;
	int err;

	for (i = 0; i < p->n; i++)
		rows[i] = p->rows[i].key;
	err = report__html_diff(path, rows, p->n, (const char *const *)senv.argv, senv.argc, put_page, p);
	free(rows);
	return err;
}

/* Fit and write what the m runs done say. */
static int report(struct jreport *const *reps, const long *ns, int m)
{
	double x[MAX_RUNS];
	int64_t tot_b[MAX_RUNS], cat_b[NR_CATS][MAX_RUNS], kern_b[NR_KPARTS][MAX_RUNS];
	struct row tot = { .name = "total", .bytes = tot_b }, cats[NR_CATS], kern[NR_KPARTS], *rows;
	bool has_kernel = true;
	struct jkey *keys;
	size_t n, i;
	int r, c, rc = 0;

	for (r = 0; r < m; r++) {
		x[r] = (double)ns[r];
		tot_b[r] = reps[r]->rss_bytes;
		for (c = 0; c < NR_CATS; c++)
			cat_b[c][r] = reps[r]->cats[c];
		for (c = 0; c < NR_KPARTS; c++)
			kern_b[c][r] = reps[r]->kernel[c];
		has_kernel &= reps[r]->has_kernel;
	}
	fit_line(x, tot_b, m, &tot.f);
	for (c = 0; c < NR_CATS; c++) {
		cats[c] = (struct row){ .name = cat_names[c], .bytes = cat_b[c] };
		fit_line(x, cat_b[c], m, &cats[c].f);
	}
	for (c = 0; c < NR_KPARTS; c++) {
		kern[c] = (struct row){ .name = kpart_names[c], .bytes = kern_b[c] };
		fit_line(x, kern_b[c], m, &kern[c].f);
	}
	jkeys__build(reps, m, &keys, &n);
	rows = xcalloc(n ? n : 1, sizeof(*rows));
	for (i = 0; i < n; i++) {
		rows[i] = (struct row){ .key = keys[i].row, .bytes = keys[i].bytes };
		fit_line(x, keys[i].bytes, m, &rows[i].f);
	}
	qsort(rows, n, sizeof(*rows), cmp_per_task);
	if (senv.json && write_json(senv.json, reps, ns, m, &tot, cats, has_kernel ? kern : NULL, rows, n))
		rc = 1;
	if (senv.html && write_html(senv.html, &(struct page){ reps, ns, m, &tot, cats, has_kernel ? kern : NULL, rows, n }))
		rc = 1;
	if (senv.pprof) { /* the pair: the run at the smallest N as the base, the largest's */
		int lo = 0, hi = 0;

		for (r = 1; r < m; r++) {
			lo = ns[r] < ns[lo] ? r : lo;
			hi = ns[r] > ns[hi] ? r : hi;
		}
		if (pprof__write_keys(senv.pprof_base, keys, n, lo, reps[lo]->duration_s) ||
		    pprof__write_keys(senv.pprof, keys, n, hi, reps[hi]->duration_s))
			rc = 1;
	}
	summary(stdout, reps, ns, m, &tot, cats, has_kernel ? kern : NULL, rows, n);
	fflush(stdout);
	free(rows);
	jkeys__free(keys, n);
	return rc;
}

int cmd_scale(int argc, char **argv)
{
	static const struct argp argp = { .options = scale_opts, .parser = parse_scale_arg,
					  .args_doc = "--n N1,N2[,...] [OPTIONS] -- COMMAND {N} [ARGS...]",
					  .doc = scale_doc };
	struct jreport *reps[MAX_RUNS] = {};
	struct sigaction sa = {};
	static char paths[MAX_RUNS][4200]; /* "" for a run not made */
	char dir[4096], msg[512];
	long done_n[MAX_RUNS];
	int r, m = 0, rc = 0, err, distinct = 0;

	argv[0] = "taskmem-trace scale"; /* its name in usage and errors */
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL))
		return EXIT_USAGE;
	if (senv.pprof)
		pprof__base_path(senv.pprof, senv.pprof_base, sizeof(senv.pprof_base));
	if (!senv.json && !senv.pprof && !senv.html) { /* as the live run: the page, here or in /tmp */
		char name[128];

		snprintf(name, sizeof(name), "scale-%s", basename_of(senv.argv[0]));
		senv.html = outfile__default_html(senv.default_html, sizeof(senv.default_html), name, 0);
	}
	{
		const char *outs[4] = { senv.json, senv.pprof, senv.pprof ? senv.pprof_base : NULL, senv.html };

		for (r = 0; r < 4; r++) {
			if (outs[r] && (err = outfile__check_writable(outs[r]))) {
				p_err("cannot write %s: %s", outs[r], strerror(-err));
				return EXIT_USAGE;
			}
		}
	}
	if (senv.keep) {
		if (mkdir(senv.keep, 0755) && errno != EEXIST) {
			p_err("cannot make %s: %s", senv.keep, strerror(errno));
			return EXIT_USAGE;
		}
		snprintf(dir, sizeof(dir), "%s", senv.keep);
	} else {
		snprintf(dir, sizeof(dir), "%s/taskmem-scale.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (!mkdtemp(dir)) {
			p_err("cannot make a temporary directory %s: %s", dir, strerror(errno));
			return EXIT_USAGE;
		}
	}
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	for (r = 0; r < senv.nruns && !got_signal; r++) {
		snprintf(paths[r], sizeof(paths[r]), "%s/run-%ld.json", dir, senv.n[r]);
		err = run_one(senv.n[r], paths[r]);
		if (got_signal) {
			p_err("interrupted during the run at N=%ld: it is left out", senv.n[r]);
			break;
		}
		if (err) {
			if (err < 0)
				p_err("cannot run taskmem-trace for N=%ld: %s", senv.n[r], strerror(-err));
			else
				p_err("the run at N=%ld failed (exit code %d): no fit from a failed run", senv.n[r], err);
			rc = err < 0 ? EXIT_SETUP : err;
			goto out;
		}
		if (jreport__load(paths[r], &reps[m], msg, sizeof(msg))) {
			p_err("%s", msg);
			rc = EXIT_SETUP;
			goto out;
		}
		done_n[m] = senv.n[r];
		if (m && done_n[m] != done_n[0])
			distinct = 1; /* two counts at least: a line to fit */
		m++;
	}
	if (got_signal)
		rc = 128 + got_signal;
	if (!distinct) {
		if (got_signal)
			p_err("fewer than two task counts done: no fit");
		goto out;
	}
	if (report(reps, done_n, m))
		rc = rc ? rc : 1;
	else if (senv.html == senv.default_html)
		fprintf(stderr, "report: %s\n", senv.html); /* the user asked for nothing else */
out:
	for (r = 0; r < senv.nruns; r++) {
		jreport__free(reps[r]);
		if (!senv.keep && paths[r][0])
			unlink(paths[r]);
	}
	if (!senv.keep)
		rmdir(dir);
	for (r = 0; r < senv.npass; r++)
		free(senv.pass[r]);
	strtab__free();
	return rc;
}
