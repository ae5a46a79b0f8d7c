// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `taskmem-trace diff A.json B.json`: what grew from one run to another, per stack (its frames
 * and label, the processes merged as the summary merges them) and per category, at each run's
 * peak, from the two runs' JSON reports. */
#include <argp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "escape.h"
#include "jreport.h"
#include "outfile.h"
#include "report.h"
#include "strtab.h"
#include "util.h"

#define EXIT_FAILED 1 /* an output could not be written */
#define EXIT_USAGE 2  /* bad usage, a report that cannot be read, an unwritable output */
#define MIB (1024.0 * 1024.0)

enum { OPT_JSON = 1000, OPT_PPROF, OPT_TOP, OPT_HTML };

static struct {
	const char *a, *b, *json, *pprof, *html;
	char default_html[4200]; /* no output asked for: the HTML page here */
	int top;
} denv = { .top = 10 };

static const char diff_doc[] =
	"Compare two runs from their JSON reports (taskmem-trace --json, schema\n"
	"taskmem-trace/2): bytes at each run's peak per stack (frames and label,\n"
	"the processes merged) and per category, in A, in B and B - A, largest\n"
	"growth first. The table goes to stdout; no root is needed. With no output\n"
	"option, an HTML page named after B's command is written (as taskmem-trace\n"
	"does): a differential flame graph of B - A (red grew, blue shrank).\n"
	"\v"
	"Examples:\n"
	"  sudo taskmem-trace --json a.json -- ./server --workers 4\n"
	"  sudo taskmem-trace --json b.json -- ./server --workers 8\n"
	"  taskmem-trace diff a.json b.json     the table, and the HTML page\n"
	"      (its path printed at the end)\n"
	"  taskmem-trace diff a.json b.json --html d.html\n"
	"      then open d.html in a browser (works offline)\n"
	"  taskmem-trace diff a.json b.json --json d.json --pprof d.pb.gz\n"
	"      then: go tool pprof -top -diff_base d.base.pb.gz d.pb.gz\n"
	"\n"
	"--pprof F writes B's profile to F and A's beside it as the base\n"
	"(d.pb.gz: d.base.pb.gz), so that pprof shows B - A.\n"
	"Exit code: 0; 1 an output could not be written; 2 bad usage, or a report\n"
	"that is missing, too large, not JSON or of another schema.\n";

static const struct argp_option diff_opts[] = {
	{ "html", OPT_HTML, "FILE", 0, "Write the differential flame graph page (default when no output is given)", 0 },
	{ "json", OPT_JSON, "FILE", 0, "Write the comparison as JSON (schema taskmem-trace-diff/1)", 0 },
	{ "pprof", OPT_PPROF, "FILE", 0, "Write B's profile to FILE and A's as FILE's .base.pb.gz, for go tool pprof -diff_base", 0 },
	{ "top", OPT_TOP, "N", 0, "Stacks shown in the table (default 10)", 0 },
	{},
};

static error_t parse_diff_arg(int key, char *arg, struct argp_state *state)
{
	char *end;
	long v;

	switch (key) {
	case OPT_JSON: denv.json = arg; break;
	case OPT_HTML: denv.html = arg; break;
	case OPT_PPROF: denv.pprof = arg; break;
	case OPT_TOP:
		v = strtol(arg, &end, 10);
		if (end == arg || *end || v < 0 || v > 100000)
			argp_error(state, "--top must be a whole number from 0 to 100000, not '%s'", arg);
		denv.top = (int)v;
		break;
	case ARGP_KEY_ARG:
		if (denv.b)
			argp_error(state, "two reports, not '%s' too", arg);
		*(denv.a ? &denv.b : &denv.a) = arg;
		break;
	case ARGP_KEY_END:
		if (!denv.b)
			argp_error(state, "two reports needed: taskmem-trace diff A.json B.json");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static int64_t growth(const struct jkey *k)
{
	return k->bytes[1] - k->bytes[0];
}

static int cmp_growth(const void *x, const void *y)
{
	int64_t a = growth(x), b = growth(y);

	return a < b ? 1 : a > b ? -1 : 0;
}

static void command_text(FILE *f, const struct jreport *r)
{
	int c;

	for (c = 0; c < r->argc && c < 6; c++) {
		fputs(c ? " " : "", f);
		esc_term(f, r->command[c]);
	}
	if (r->argc > 6)
		fputs(" ...", f);
}

static void summary(FILE *f, struct jreport *const *r, const struct jkey *k, size_t n)
{
	size_t i, shown = 0;
	int c;

	fprintf(f, "== taskmem-trace diff: peak resident memory, A -> B\n  A: ");
	command_text(f, r[0]);
	fprintf(f, "  (%s)\n  B: ", r[0]->path);
	command_text(f, r[1]);
	fprintf(f, "  (%s)\n", r[1]->path);
	fprintf(f, "  %-10s %12s %12s %12s\n", "", "A MiB", "B MiB", "B-A MiB");
	fprintf(f, "  %-10s %12.2f %12.2f %+12.2f\n", "total", r[0]->rss_bytes / MIB, r[1]->rss_bytes / MIB,
		(r[1]->rss_bytes - r[0]->rss_bytes) / MIB);
	for (c = 0; c < NR_CATS; c++)
		fprintf(f, "  %-10s %12.2f %12.2f %+12.2f\n", cat_names[c], r[0]->cats[c] / MIB, r[1]->cats[c] / MIB,
			(r[1]->cats[c] - r[0]->cats[c]) / MIB);
	if (r[0]->has_kernel && r[1]->has_kernel) {
		fprintf(f, "  the kernel's share at its peak, outside the RSS above:\n");
		for (c = 0; c < NR_KPARTS; c++)
			fprintf(f, "  %-13s %9.2f %12.2f %+12.2f\n", kpart_text[c], r[0]->kernel[c] / MIB,
				r[1]->kernel[c] / MIB, (r[1]->kernel[c] - r[0]->kernel[c]) / MIB);
	}
	for (c = 0; c < 2; c++)
		if (r[c]->dropped)
			fprintf(f, "WARNING: %s dropped %lld events: its stacks may be off\n", c ? "B" : "A",
				(long long)r[c]->dropped);
	fprintf(f, "stacks by growth (B-A, A, B in MiB):\n");
	for (i = 0; i < n && shown < (size_t)denv.top; i++) {
		if (!growth(&k[i]))
			continue;
		fprintf(f, "  %+9.2f %9.2f %9.2f  %-22s", growth(&k[i]) / MIB, k[i].bytes[0] / MIB, k[i].bytes[1] / MIB,
			k[i].row->label);
		jrow__write_stack(f, k[i].row, 5);
		fputc('\n', f);
		shown++;
	}
	if (!shown)
		fprintf(f, "  (no stack changed)\n");
}

static void json_frames(FILE *f, const struct jrow *r)
{
	int k;

	fputc('[', f);
	for (k = 0; k < r->nframes; k++) {
		fputs(k ? ", " : "", f);
		esc_json(f, r->frames[k]);
	}
	fputc(']', f);
}

static void json_run(FILE *f, const char *name, const struct jreport *r)
{
	int c;

	fprintf(f, "  \"%s\": {\"path\": ", name);
	esc_json(f, r->path);
	fprintf(f, ", \"command\": [");
	for (c = 0; c < r->argc; c++) {
		fputs(c ? ", " : "", f);
		esc_json(f, r->command[c]);
	}
	fprintf(f, "], \"exit_code\": %d, \"rss_bytes\": %lld},\n", r->exit_code, (long long)r->rss_bytes);
}

/* ---- the HTML page: report_diff.js reads this ---- */

struct page {
	struct jreport *const *r;
	const struct jkey *k;
	size_t n;
};

static void page_run(FILE *f, const struct jreport *r)
{
	int c;

	fprintf(f, "{\"path\":");
	esc_json(f, r->path);
	fprintf(f, ",\"command\":[");
	for (c = 0; c < r->argc; c++) {
		fputs(c ? "," : "", f);
		esc_json(f, r->command[c]);
	}
	fprintf(f, "],\"rss_bytes\":%lld,\"dropped\":%lld}", (long long)r->rss_bytes, (long long)r->dropped);
}

/* view: 0 A, 1 B, 2 B - A */
static void page_values(FILE *f, const struct page *p, int view)
{
	size_t i;

	fputc('[', f);
	for (i = 0; i < p->n; i++)
		fprintf(f, "%s%lld", i ? "," : "", (long long)(view == 2 ? growth(&p->k[i]) : p->k[i].bytes[view]));
	fputc(']', f);
}

static void put_page(FILE *f, const void *ctx)
{
	const struct page *p = ctx;
	struct jreport *const *r = p->r;
	char name[4200];
	int c;

	fprintf(f, "{\"kind\":\"diff\",\"a\":");
	page_run(f, r[0]);
	fprintf(f, ",\"b\":");
	page_run(f, r[1]);
	fprintf(f, ",\n\"views\":[{\"name\":\"B - A: what grew (red) and shrank (blue)\",\"signed\":1,\"v\":");
	page_values(f, p, 2);
	for (c = 0; c < 2; c++) {
		snprintf(name, sizeof(name), "%s: the peak of %s", c ? "B" : "A", r[c]->path);
		fprintf(f, "},\n{\"name\":");
		esc_json(f, name);
		fprintf(f, ",\"v\":");
		page_values(f, p, c);
	}
	fprintf(f, "}],\n\"table\":{\"cols\":[{\"name\":\"A\",\"fmt\":\"bytes\"},{\"name\":\"B\",\"fmt\":\"bytes\"},"
		   "{\"name\":\"B - A\",\"fmt\":\"signed\"}],\"rows\":[{\"name\":\"total\",\"v\":[%lld,%lld,%lld]}",
		(long long)r[0]->rss_bytes, (long long)r[1]->rss_bytes, (long long)(r[1]->rss_bytes - r[0]->rss_bytes));
	for (c = 0; c < NR_CATS; c++)
		fprintf(f, ",\n{\"name\":\"%s\",\"v\":[%lld,%lld,%lld]}", cat_names[c], (long long)r[0]->cats[c],
			(long long)r[1]->cats[c], (long long)(r[1]->cats[c] - r[0]->cats[c]));
	for (c = 0; r[0]->has_kernel && r[1]->has_kernel && c < NR_KPARTS; c++)
		fprintf(f, ",\n{\"name\":\"kernel: %s\",\"v\":[%lld,%lld,%lld]}", kpart_names[c], (long long)r[0]->kernel[c],
			(long long)r[1]->kernel[c], (long long)(r[1]->kernel[c] - r[0]->kernel[c]));
	fprintf(f, "]}}");
}

static int write_html(const char *path, struct jreport *const *r, const struct jkey *k, size_t n)
{
	const struct jrow **rows = xcalloc(n ? n : 1, sizeof(*rows));
	struct page p = { r, k, n };
	size_t i;
	int err;

	for (i = 0; i < n; i++)
		rows[i] = k[i].row;
	err = report__html_diff(path, rows, n, r[1]->command, r[1]->argc, put_page, &p);
	free(rows);
	return err;
}

static int write_json(const char *path, struct jreport *const *r, const struct jkey *k, size_t n)
{
	struct outfile o;
	size_t i;
	int c, err = outfile__open(&o, path);

	if (err)
		return err;
	fprintf(o.f, "{\n  \"schema\": \"taskmem-trace-diff/1\",\n");
	json_run(o.f, "a", r[0]);
	json_run(o.f, "b", r[1]);
	fprintf(o.f, "  \"total\": {\"a_bytes\": %lld, \"b_bytes\": %lld, \"diff_bytes\": %lld},\n  \"categories\": [",
		(long long)r[0]->rss_bytes, (long long)r[1]->rss_bytes, (long long)(r[1]->rss_bytes - r[0]->rss_bytes));
	for (c = 0; c < NR_CATS; c++)
		fprintf(o.f, "%s\n    {\"category\": \"%s\", \"a_bytes\": %lld, \"b_bytes\": %lld, \"diff_bytes\": %lld}",
			c ? "," : "", cat_names[c], (long long)r[0]->cats[c], (long long)r[1]->cats[c],
			(long long)(r[1]->cats[c] - r[0]->cats[c]));
	if (r[0]->has_kernel && r[1]->has_kernel) { /* both runs had a memory cgroup of their own */
		fprintf(o.f, "\n  ],\n  \"kernel\": [");
		for (c = 0; c < NR_KPARTS; c++)
			fprintf(o.f, "%s\n    {\"part\": \"%s\", \"a_bytes\": %lld, \"b_bytes\": %lld, \"diff_bytes\": %lld}",
				c ? "," : "", kpart_names[c], (long long)r[0]->kernel[c], (long long)r[1]->kernel[c],
				(long long)(r[1]->kernel[c] - r[0]->kernel[c]));
	}
	fprintf(o.f, "\n  ],\n  \"diff\": [");
	for (i = 0; i < n; i++) {
		fprintf(o.f, "%s\n    {\"label\": ", i ? "," : "");
		esc_json(o.f, k[i].row->label);
		fprintf(o.f, ", \"category\": \"%s\", \"a_bytes\": %lld, \"b_bytes\": %lld, \"diff_bytes\": %lld, \"frames\": ",
			cat_names[k[i].row->cat], (long long)k[i].bytes[0], (long long)k[i].bytes[1], (long long)growth(&k[i]));
		json_frames(o.f, k[i].row);
		fputc('}', o.f);
	}
	fprintf(o.f, "\n  ]\n}\n");
	return outfile__close(&o);
}

int cmd_diff(int argc, char **argv)
{
	static const struct argp argp = { .options = diff_opts, .parser = parse_diff_arg,
					  .args_doc = "A.json B.json", .doc = diff_doc };
	struct jreport *r[2] = {};
	struct jkey *keys = NULL;
	char msg[512], base[4200];
	size_t n = 0;
	int rc = 0, i;

	argv[0] = "taskmem-trace diff"; /* its name in usage and errors */
	signal(SIGPIPE, SIG_IGN);
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EXIT_USAGE;
	if (denv.pprof)
		pprof__base_path(denv.pprof, base, sizeof(base));
	{
		const char *outs[4] = { denv.json, denv.pprof, denv.pprof ? base : NULL, denv.html };

		for (i = 0; i < 4; i++) {
			int err = outs[i] ? outfile__check_writable(outs[i]) : 0;

			if (err) {
				p_err("cannot write %s: %s", outs[i], strerror(-err));
				return EXIT_USAGE;
			}
		}
	}
	for (i = 0; i < 2; i++) {
		if (jreport__load(i ? denv.b : denv.a, &r[i], msg, sizeof(msg))) {
			p_err("%s", msg);
			rc = EXIT_USAGE;
			goto out;
		}
	}
	if (!denv.json && !denv.pprof && !denv.html) {
		char name[128];
		int err;

		/* as the live run: the page, named after B's command, here or in /tmp */
		snprintf(name, sizeof(name), "diff-%s", r[1]->argc ? basename_of(r[1]->command[0]) : "run");
		denv.html = outfile__default_html(denv.default_html, sizeof(denv.default_html), name, 0);
		if ((err = outfile__check_writable(denv.html))) {
			p_err("cannot write %s: %s", denv.html, strerror(-err));
			rc = EXIT_USAGE;
			goto out;
		}
	}
	jkeys__build(r, 2, &keys, &n);
	qsort(keys, n, sizeof(*keys), cmp_growth);
	if (denv.json && write_json(denv.json, r, keys, n))
		rc = EXIT_FAILED;
	if (denv.html && write_html(denv.html, r, keys, n))
		rc = EXIT_FAILED;
	if (denv.pprof && (pprof__write_keys(base, keys, n, 0, r[0]->duration_s) ||
			   pprof__write_keys(denv.pprof, keys, n, 1, r[1]->duration_s)))
		rc = EXIT_FAILED;
	summary(stdout, r, keys, n);
	fflush(stdout);
	if (!rc && denv.html == denv.default_html)
		fprintf(stderr, "report: %s\n", denv.html);
out:
	jkeys__free(keys, n);
	jreport__free(r[0]);
	jreport__free(r[1]);
	strtab__free();
	return rc;
}
