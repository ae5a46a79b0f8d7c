// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* taskmem-trace: where a process tree's resident memory comes from, by stack and category. */
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "account.h"
#include "cgroup.h"
#include "cmd.h"
#include "demangle.h"
#include "elfsyms.h"
#include "launcher.h"
#include "outfile.h"
#include "perfmap.h"
#include "pyframes_user.h"
#include "rectypes.h"
#include "report.h"
#include "strtab.h"
#include "tracer.h"
#include "unwind.h"
#include "util.h"

/* Exit codes of the tool itself (the command's own code is passed through otherwise). */
#define EXIT_USAGE 2
#define EXIT_SETUP 125    /* could not trace: not root, no BTF, BPF load failed */
#define EXIT_NOEXEC 126
#define EXIT_NOTFOUND 127

enum {
	OPT_FOLDED = 1000,
	OPT_JSON,
	OPT_HTML,
	OPT_PPROF,
	OPT_TRACE,
	OPT_INTERVAL,
	OPT_RINGBUF,
	OPT_STACKS,
	OPT_MAX_PROCS,
	OPT_MAX_THREADS,
	OPT_TOP,
	OPT_DURATION,
	OPT_AS_ROOT,
	OPT_UNWIND_MEMORY,
	OPT_LIMIT,
	OPT_GROWTH_WINDOW,
	OPT_C_FRAMES_ONLY,
	OPT_NO_CGROUP,
	OPT_KERNEL_SLAB,
	OPT_SLAB_OBJECTS,
	OPT_SAMPLE_BYTES,
	OPT_NO_HOLD,
	OPT_STACK_CACHE,
};

static struct env {
	const char *folded, *json, *pprof, *trace, *html;
	char default_html[4200]; /* no output asked for: an HTML report here */
	uint64_t interval_ns;
	struct tracer_opts t;
	bool quiet, as_root, c_frames_only;
	bool no_cgroup;         /* --no-cgroup: no cgroup of its own; the kernel's share from BPF */
	bool no_hold;           /* --no-hold: the command never waits for unwind tables */
	int top;
	pid_t attach_pid;
	double duration_s;
	char **argv;
	int argc;
	bool recording;        /* the record subcommand */
	const char *record;    /* record -o FILE */
	struct rec_writer *rec; /* open while recording */
	uint64_t limit;         /* --limit bytes, 0: none */
	uint64_t growth_window_ns; /* --growth-window, 0: not given */
	uint64_t sample_bytes;  /* --sample-bytes, 0: every stack walked */
	struct cgroup *cg;      /* the run's own (--limit), removed at the end */
	struct cgroup *ctx_cg;  /* the one the tree is in otherwise (read only): OOM scope */
	uint64_t cg_sampled_ns;
} env = {
	.interval_ns = 10 * 1000000ull,
	.t = { .max_processes = 8192, .max_threads = 65536, .stack_storage = 32768,
	       .ringbuf_bytes = 16ull << 20 },
	.top = 10,
};

const char *argp_program_version = "taskmem-trace 0.1";
static const char doc[] =
	"Trace a command's process tree and credit every resident byte, over time,\n"
	"to the user stack that brought it in and to a category: stack, heap,\n"
	"runtime, file or other.\n"
	"\v"
	"Examples:\n"
	"  sudo taskmem-trace -- ./go_bench 100000      summary at the peak (stderr)\n"
	"      and an HTML report, its path printed at the end\n"
	"  sudo taskmem-trace --html out.html -- node app.js\n"
	"      then open out.html in a browser (works offline)\n"
	"  sudo taskmem-trace --json out.json -- python3 app.py\n"
	"  sudo taskmem-trace --folded out.folded -- ./server\n"
	"      then: flamegraph.pl out.folded > out.svg\n"
	"  sudo taskmem-trace --pprof out.pb.gz -- ./server\n"
	"      then: go tool pprof -top out.pb.gz   (or -http=:8080)\n"
	"  sudo taskmem-trace --interval 100 --json o.json -- make -j2\n"
	"  sudo taskmem-trace -p 1234 --duration 30 --json o.json   (attach)\n"
	"  sudo taskmem-trace -p 1234 --sample-bytes 524288 --duration 60\n"
	"      a production service: stacks walked for a sample of the growth\n"
	"  sudo taskmem-trace record -o run.tmt -- ./server   then, anywhere:\n"
	"  taskmem-trace report run.tmt --html out.html   (see record/report --help)\n"
	"  taskmem-trace diff a.json b.json   what grew between two runs (diff --help)\n"
	"  sudo taskmem-trace scale --n 1000,2000,4000 -- ./prog {N}\n"
	"      bytes per task, per stack: the slope over N (scale --help)\n"
	"  sudo taskmem-trace --limit 512M -- ./server\n"
	"      as in a container with a 512 MiB limit: an OOM kill is named, with\n"
	"      what grew in the seconds before it (--growth-window)\n"
	"\n"
	"Exit code: the command's own (128+N when signal N killed it); else\n"
	"2 bad usage or unwritable output, 125 cannot trace (not root, no BTF,\n"
	"BPF refused, no memory cgroup for --limit), 126 command not executable,\n"
	"127 command not found.\n"
	"The run lasts until the last process of the command's tree exits (a\n"
	"daemon it started too). SIGINT/SIGTERM or --duration stop the tree and\n"
	"still write the reports.\n";

static const char record_doc[] =
	"Trace like taskmem-trace does, and also write everything the run saw to a\n"
	"recording (-o FILE): `taskmem-trace report FILE` renders any output from it\n"
	"later, on this or another machine, without the traced binaries. Output\n"
	"options given here are written at the end of the run too, and a report\n"
	"from the recording is byte-identical to them. No HTML report is written\n"
	"unless asked for.\n"
	"\v"
	"Examples:\n"
	"  sudo taskmem-trace record -o run.tmt -- ./go_bench 100000\n"
	"  taskmem-trace report run.tmt --html out.html --json out.json\n"
	"  sudo taskmem-trace record -o run.tmt --json live.json -- make -j2\n"
	"  sudo taskmem-trace record -o run.tmt -p 1234 --duration 30   (attach)\n"
	"\n"
	"Exit code: as taskmem-trace's (the command's own); a recording that\n"
	"cannot be written is a failure (125), and leaves no file.\n";

static const struct argp_option record_opts[] = {
	{ "output", 'o', "FILE", 0, "Write the recording to FILE (required)", 0 },
	{},
};

static const struct argp_option opts[] = {
	{ "html", OPT_HTML, "FILE", 0, "Write an interactive report: flame graph, timeline (default when no output is given)", 0 },
	{ "json", OPT_JSON, "FILE", 0, "Write the full report as JSON (schema taskmem-trace/2)", 0 },
	{ "pprof", OPT_PPROF, "FILE", 0, "Write resident bytes at the peak as a gzipped pprof profile (go tool pprof)", 0 },
	{ "trace", OPT_TRACE, "FILE", 0, "Write the timeline as Chrome trace-event counters (Perfetto, chrome://tracing)", 0 },
	{ "folded", OPT_FOLDED, "FILE", 0, "Write resident bytes at the peak per stack, flamegraph.pl format", 0 },
	{ "interval", OPT_INTERVAL, "MS", 0, "Timeline sample interval in milliseconds (default 10)", 0 },
	{ "top", OPT_TOP, "N", 0, "Stacks shown in the summary (default 10)", 0 },
	{ "ringbuf-size", OPT_RINGBUF, "MB", 0, "Event ring buffer size in MiB, a power of two (default 16)", 0 },
	{ "stack-storage-size", OPT_STACKS, "N", 0, "Distinct user stacks kept (default 32768)", 0 },
	{ "max-processes", OPT_MAX_PROCS, "N", 0, "Live processes followed at once (default 8192)", 0 },
	{ "max-threads", OPT_MAX_THREADS, "N", 0, "Live threads followed at once (default 65536)", 0 },
	{ "unwind-memory", OPT_UNWIND_MEMORY, "MB", 0, "Kernel memory for unwind tables in MiB, for the whole run (default 64); files over it are walked by frame pointers and counted", 0 },
	{ "no-cgroup", OPT_NO_CGROUP, NULL, 0, "Do not run the command in a memory cgroup of its own: the kernel's share (stacks, page tables, slab) is then measured from the kernel's events alone, without sockets; not with --limit", 0 },
	{ "kernel-slab", OPT_KERNEL_SLAB, NULL, 0, "Also measure the slab objects the tree allocates, for the kernel's share (kmem tracepoints, which fire machine-wide: 20-30% of the tool's BPF time on go_bench or a build); without it slab is the cgroup's remainder, or not measured without a cgroup", 0 },
	{ "kernel-slab-objects", OPT_SLAB_OBJECTS, "N", 0, "Slab objects of the tree --kernel-slab follows at once (default 65536; implies --kernel-slab)", 0 },
	{ "c-frames-only", OPT_C_FRAMES_ONLY, NULL, 0, "CPython 3.11: show the interpreter's C frames, not the Python functions it runs (not reading them costs less per fault; a 3.12+ run with -X perf still names them from its perf map)", 0 },
	{ "sample-bytes", OPT_SAMPLE_BYTES, "N", 0, "Walk the user stack for a sample of the growth, one page in every N bytes on average (Poisson, as Go's MemProfileRate, e.g. 524288), each standing for the bytes it represents: the mode for -p on a production service. Totals, frees, the timeline and categories decided by address stay exact; bytes per stack are estimates, marked so in every output (default: every stack walked)", 0 },
	{ "stack-cache", OPT_STACK_CACHE, "MODE", 0, "on (default): a fault whose thread, registers and stack words the walk reads are all those of the thread's last walk on that CPU takes that walk's stack, not walking it again (the same stack by construction); off: every stack walked; check: both, counting any difference as stack_cache_wrong (for testing the shortcut)", 0 },
	{ "no-hold", OPT_NO_HOLD, NULL, 0, "Never stop the command while the unwind tables of its code (executable, libraries) are built; by default it is stopped at its exec until they are, and for a large library within 2 s of it, while it has one thread and no tracer: about 0.1 s for a large program on an idle machine, 1.5 s at a time and 3 s in all at most (-v says how long); without them the stacks of what it allocates meanwhile are cut", 0 },
	{ "pid", 'p', "PID", 0, "Attach to a running process (and its future children) instead of starting one", 0 },
	{ "duration", OPT_DURATION, "SECONDS", 0, "Stop after this long: the command's tree is stopped (SIGTERM, SIGKILL 2 s later), an attached process left running (default: Ctrl-C or the end of the last process)", 0 },
	{ "limit", OPT_LIMIT, "SIZE", 0, "Run the command in a memory cgroup of its own with this limit (e.g. 512M; K, M, G, T), as docker run -m would: its OOM kill is named, and the cgroup's usage drawn beside the tree's; not with -p", 0 },
	{ "growth-window", OPT_GROWTH_WINDOW, "SECONDS", 0, "Report the stacks that grew most in the last SECONDS before the end (before an OOM kill: by default, 5 s)", 0 },
	{ "as-root", OPT_AS_ROOT, NULL, 0, "Under sudo, run the command as root (default: as the user who ran sudo, as sudo -u would)", 0 },
	{ "quiet", 'q', NULL, 0, "No live status line and no summary on stderr", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf's messages", 0 },
	{},
};

static int parse_num(const char *arg, long long min, long long max, struct argp_state *state, const char *what)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max)
		argp_error(state, "%s must be a whole number from %lld to %lld, not '%s'", what, min, max, arg);
	return (int)v;
}

/* "512M", "1.5G", "4096": K, M, G, T are powers of 1024 (a trailing B or iB is allowed) */
static uint64_t parse_size(const char *arg, struct argp_state *state)
{
	static const char units[] = "KMGT";
	const char *u;
	char *end;
	double v, mul = 1;

	errno = 0;
	v = strtod(arg, &end);
	if (!errno && end != arg && *end && (u = strchr(units, *end & ~0x20))) {
		mul = (double)(1ull << (10 * (u - units + 1)));
		end++;
		if ((*end & ~0x20) == 'I' && (end[1] & ~0x20) == 'B')
			end += 2;
		else if ((*end & ~0x20) == 'B')
			end++;
	}
	if (errno || end == arg || *end || !(v * mul >= 4096) || v * mul > 1e18)
		argp_error(state, "--limit must be a size like 512M or 2G (K, M, G, T; at least 4K), not '%s'", arg);
	return (uint64_t)(v * mul);
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	long long v;

	switch (key) {
	case OPT_HTML:
		env.html = arg;
		break;
	case OPT_JSON:
		env.json = arg;
		break;
	case OPT_FOLDED:
		env.folded = arg;
		break;
	case OPT_PPROF:
		env.pprof = arg;
		break;
	case OPT_TRACE:
		env.trace = arg;
		break;
	case OPT_INTERVAL:
		env.interval_ns = parse_num(arg, 1, 3600000, state, "--interval") * 1000000ull;
		break;
	case OPT_TOP:
		env.top = parse_num(arg, 0, 1000, state, "--top");
		break;
	case OPT_RINGBUF:
		v = parse_num(arg, 1, 1024, state, "--ringbuf-size");
		if (v & (v - 1))
			argp_error(state, "--ringbuf-size must be a power of two, not %lld", v);
		env.t.ringbuf_bytes = (uint64_t)v << 20;
		break;
	case OPT_STACKS:
		env.t.stack_storage = parse_num(arg, 16, 1 << 22, state, "--stack-storage-size");
		break;
	case OPT_MAX_PROCS:
		env.t.max_processes = parse_num(arg, 16, 1 << 22, state, "--max-processes");
		break;
	case OPT_MAX_THREADS:
		env.t.max_threads = parse_num(arg, 16, 1 << 22, state, "--max-threads");
		break;
	case 'q':
		env.quiet = true;
		break;
	case 'p':
		env.attach_pid = parse_num(arg, 1, 4194304, state, "-p");
		break;
	case OPT_AS_ROOT:
		env.as_root = true;
		break;
	case OPT_C_FRAMES_ONLY:
		env.c_frames_only = true;
		break;
	case OPT_NO_HOLD:
		env.no_hold = true;
		break;
	case OPT_STACK_CACHE:
		if (!strcmp(arg, "on"))
			env.t.stack_cache = TM_STACK_CACHE_ON;
		else if (!strcmp(arg, "off"))
			env.t.stack_cache = TM_STACK_CACHE_OFF;
		else if (!strcmp(arg, "check"))
			env.t.stack_cache = TM_STACK_CACHE_CHECK;
		else
			argp_error(state, "--stack-cache must be on, off or check, not '%s'", arg);
		break;
	case OPT_NO_CGROUP:
		env.no_cgroup = true;
		break;
	case OPT_KERNEL_SLAB:
		if (!env.t.slab_objects)
			env.t.slab_objects = 65536;
		break;
	case OPT_SLAB_OBJECTS:
		env.t.slab_objects = parse_num(arg, 16, 1 << 24, state, "--kernel-slab-objects");
		break;
	case OPT_SAMPLE_BYTES: {
		char *end;
		unsigned long long n;

		errno = 0;
		n = strtoull(arg, &end, 10);
		if (errno || end == arg || *end || *arg == '-' || n < 4096 || n > (1ull << 40))
			argp_error(state, "--sample-bytes must be a whole number of bytes from 4096 to %llu, not '%s'",
				   1ull << 40, arg);
		env.sample_bytes = n;
		env.t.sample_bytes = n;
		break;
	}
	case OPT_UNWIND_MEMORY:
		unwind__set_memory_budget((uint64_t)parse_num(arg, 0, 1 << 20, state, "--unwind-memory") << 20);
		break;
	case OPT_DURATION: {
		char *end;

		errno = 0;
		env.duration_s = strtod(arg, &end);
		if (errno || end == arg || *end || env.duration_s <= 0 || env.duration_s > 1e6)
			argp_error(state, "--duration must be a positive number of seconds, not '%s'", arg);
		break;
	}
	case OPT_LIMIT:
		env.limit = parse_size(arg, state);
		break;
	case OPT_GROWTH_WINDOW: {
		char *end;
		double s;

		errno = 0;
		s = strtod(arg, &end);
		if (errno || end == arg || *end || !(s > 0) || s > 1e6)
			argp_error(state, "--growth-window must be a positive number of seconds, not '%s'", arg);
		env.growth_window_ns = (uint64_t)(s * 1e9);
		break;
	}
	case 'v':
		verbose = true;
		break;
	case ARGP_KEY_ARG:
		env.argv = &state->argv[state->next - 1];
		env.argc = state->argc - state->next + 1;
		state->next = state->argc;
		break;
	case ARGP_KEY_END:
		if (!env.argv && !env.attach_pid)
			argp_error(state, "no command given: taskmem-trace [OPTIONS] -- COMMAND [ARGS...] (or -p PID)");
		if (env.argv && env.attach_pid)
			argp_error(state, "give either -p PID or a command, not both");
		/* a running process cannot be moved under a limit it did not start with */
		if (env.limit && env.attach_pid)
			argp_error(state, "--limit runs a command in a cgroup of its own: not with -p");
		if (env.limit && env.no_cgroup)
			argp_error(state, "--limit runs the command in a cgroup of its own: not with --no-cgroup");
		if (env.recording && !env.record)
			argp_error(state, "no recording given: taskmem-trace record -o FILE -- COMMAND");
		if (env.attach_pid && pid_gone(env.attach_pid))
			argp_error(state, "no process with pid %d (or it has exited)", env.attach_pid);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp argp = { .options = opts, .parser = parse_arg,
				  .args_doc = "-- COMMAND [ARGS...]\n-p PID", .doc = doc };

static error_t parse_record_arg(int key, char *arg, struct argp_state *state)
{
	if (key != 'o')
		return ARGP_ERR_UNKNOWN;
	env.record = arg;
	return 0;
}

/* `record`: the options of a live run, and -o */
static const struct argp record_argp = {
	.options = record_opts, .parser = parse_record_arg, .doc = record_doc,
	.args_doc = "-o FILE [OPTIONS] -- COMMAND [ARGS...]\n-o FILE [OPTIONS] -p PID",
	.children = (const struct argp_child[]){
		{ &(const struct argp){ .options = opts, .parser = parse_arg }, 0, "Options of a live run:", 0 }, {} },
};

/* A recording that will not be finished: no file is left. */
static void discard_recording(void)
{
	if (env.rec)
		rec_writer__discard(env.rec);
	env.rec = NULL;
}

static volatile sig_atomic_t got_signal;
static void on_signal(int sig)
{
	got_signal = sig;
}

static struct account *g_acct;

/* One status line, rewritten in place, while the command runs (stderr is a terminal). */
static void live_status(struct tracer *t, uint64_t start, uint64_t *last_events, uint64_t *last_ns)
{
	uint64_t kc[TM_NR_COUNTERS], c[TM_NR_ALL_COUNTERS], now = now_ns();
	int64_t cats[NR_CATS];
	struct view_totals tot;
	double rate;
	int k;

	tracer__counters(t, kc);
	counters__collect(g_acct, kc, c);
	view__totals(g_acct, &tot);
	rate = now > *last_ns ? (c[TM_CNT_EVENTS_PROCESSED] - *last_events) * 1e9 / (now - *last_ns) : 0;
	*last_events = c[TM_CNT_EVENTS_PROCESSED];
	*last_ns = now;
	fprintf(stderr, "\r\033[K taskmem-trace %.1fs | RSS %.1f MiB:", (now - start) / 1e9,
		tot.tree / (1024.0 * 1024));
	categories_with_unattributed(tot.cat, tot.tree, cats);
	for (k = 0; k < NR_CATS; k++)
		fprintf(stderr, " %s %.1f", cat_names[k], cats[k] / (1024.0 * 1024));
	fprintf(stderr, " | %.0f ev/s | dropped %llu", rate,
		(unsigned long long)counters__dropped(c));
	fflush(stderr);
}
static void on_event(void *ctx, const struct tm_event *e)
{
	if (env.rec)
		rec_writer__add(env.rec, REC_EVENT, e, rt_event__size(e));
	account__event(g_acct, e);
}

/* The cgroup's counters into the core, and the recording (the replay gets the same). */
static void sample_cgroup(struct cgroup *cg, uint32_t flags)
{
	struct cg_sample s = { .flags = flags };

	if (!cg || cgroup__read(cg, &s.c))
		return;
	s.ts = now_ns();
	s.version = (uint32_t)cgroup__version(cg);
	if (env.rec) {
		struct rec_buf b = {};

		rt_cgroup__encode(&b, &s);
		rec_writer__add(env.rec, REC_CGROUP, b.p, b.len);
		rec_buf__free(&b);
	}
	account__cgroup(g_acct, &s);
}

/* The cgroup that holds the tree, sampled over time for the kernel's share: the run's own
 * (made for every launched run where it can be), or with -p the process's. */
static struct cgroup *tree_cg(void)
{
	return env.cg ? env.cg : env.attach_pid ? env.ctx_cg : NULL;
}

/* The run's cgroup (--limit's drawn and summarized; without a limit it is also the OOM
 * scope's), and -p's process's cgroup (the OOM scope) */
static void sample_tree_cgroups(void)
{
	if (env.cg)
		sample_cgroup(env.cg, (env.limit ? CG_SAMPLE_OWN : 0) | CG_SAMPLE_RUN | CG_SAMPLE_KERNEL);
	sample_cgroup(env.ctx_cg, env.attach_pid ? CG_SAMPLE_KERNEL : 0);
}

/* The run's own cgroup is drawn over time: at the timeline's interval, at most 20 times a
 * second (its peak is the kernel's max_usage, not a sample's). */
#define CG_SAMPLE_MIN_NS 50000000ull

/* Between event batches: what the core asks now is asked here in the replay too. */
static void refresh(void)
{
	uint64_t now;

	if (env.rec)
		rec_writer__add(env.rec, REC_REFRESH, NULL, 0);
	account__refresh_maps(g_acct);
	now = tree_cg() ? now_ns() : 0;
	if (tree_cg() && now - env.cg_sampled_ns >= (env.interval_ns > CG_SAMPLE_MIN_NS ? env.interval_ns : CG_SAMPLE_MIN_NS)) {
		sample_tree_cgroups();
		env.cg_sampled_ns = now;
	}
}

/* The run's cgroup is removed once its tree is gone (a cgroup with processes cannot be). */
static void remove_cgroup(void)
{
	const char *path = env.cg ? xstrdup(cgroup__path(env.cg)) : NULL;

	if (env.cg && cgroup__remove(env.cg))
		p_warn("could not remove the cgroup %s (the next run removes it once it is empty)", path);
	env.cg = NULL;
	free((void *)path);
	cgroup__remove(env.ctx_cg); /* only freed */
	env.ctx_cg = NULL;
}

/* How long the main loop may wait for events: 5 ms while they flow (most records do not wake
 * us), doubling up to 50 ms while none come, so that a command that sleeps for an hour after
 * its growth costs next to nothing. Exec and fork records wake us at once in any case. */
static int poll_timeout_ms(int handled, int prev)
{
	if (handled > 0)
		return 5;
	return prev * 2 > 50 ? 50 : prev * 2;
}

static struct account *new_account(struct tracer *t, uint64_t start, pid_t root)
{
	/* a launched tree's perf maps are written after now; an attached one's may be older */
	time_t not_before = env.attach_pid ? 0 : time(NULL) - 1;

	if (env.rec) { /* first: how the core is set up, for the replay to set it up the same */
		struct rt_run_info ri = { .event_size = sizeof(struct tm_event),
					  .exec_event_size = sizeof(struct tm_exec_event),
					  .nr_counters = TM_NR_COUNTERS, .max_stack_depth = TM_MAX_STACK_DEPTH,
					  .start_ts = start, .interval_ns = env.interval_ns, .top = env.top,
					  .root_pid = env.attach_pid ? 0 : root, .attach_pid = env.attach_pid,
					  .sample_bytes = env.sample_bytes };
		char pidarg[32], *argv[2] = { pidarg, NULL };
		struct rec_buf b = {};

		snprintf(pidarg, sizeof(pidarg), "pid %d", env.attach_pid);
		ri.argv = env.attach_pid ? argv : env.argv;
		ri.argc = env.attach_pid ? 1 : (uint32_t)env.argc;
		rt_run_info__encode(&b, &ri);
		rec_writer__add(env.rec, REC_RUN_INFO, b.p, b.len);
		rec_buf__free(&b);
	}
	return account__new(&(struct account_opts){ .start_ts = start, .interval_ns = env.interval_ns,
						     .sample_bytes = env.sample_bytes,
						     .world = { .read_stack = tracer__read_stack,
								.drop_stack = tracer__drop_stack,
								.exit_info = tracer__exit_info,
								.load_unwind = tracer__load_unwind,
								.commit_unwind = tracer__commit_unwind,
								.set_unwind = tracer__set_unwind,
								.set_python = tracer__set_python,
								.add_unwind = tracer__add_unwind,
								.on_poll = tracer__on_poll, .ctx = t,
								.perfmap_not_before = not_before,
								.hold_pid = env.attach_pid || env.no_hold ? 0 : root,
								.c_frames_only = env.c_frames_only,
								.record = env.rec } });
}

/* The run is over: clear the status line, take the events still queued (the command's
 * teardown and exit), and close the timeline at end. */
static void finish_run(struct tracer *t, bool live, uint64_t end)
{
	if (live)
		fputs("\r\033[K", stderr); /* the summary replaces the status line */
	while (tracer__poll(t, 0) > 0)
		;
	tracer__detach(t);
	/* the counters at the end: the OOM kills, the high-water mark */
	sample_tree_cgroups();
	if (env.rec) {
		struct rec_buf b = {};

		rec_buf__u64(&b, end);
		rec_writer__add(env.rec, REC_FINISH, b.p, b.len);
		rec_buf__free(&b);
	}
	account__finish(g_acct, end);
	account__resymbolize(g_acct);
}

/* Summary and every report asked for; returns non-zero if one could not be written. */
static int write_reports(struct tracer *t, struct report_info *ri)
{
	int rc = 0;

	ri->interval_ns = env.interval_ns;
	ri->top = env.top;
	ri->growth_window_ns = env.growth_window_ns;
	tracer__counters(t, ri->counters);
	if (env.rec) { /* what the reports say that the core does not know, then the end */
		struct rt_run_end re = { .exit_code = ri->exit_code, .duration_s = ri->duration_s,
					 .cmd_end_s = ri->cmd_end_s, .growth_window_ns = env.growth_window_ns };
		struct rec_buf b = {};
		struct rec_writer *w = env.rec;

		snprintf(re.exit_desc, sizeof(re.exit_desc), "%s", ri->exit_desc);
		snprintf(re.run_as, sizeof(re.run_as), "%s", ri->run_as ? ri->run_as : "");
		memcpy(re.counters, ri->counters, sizeof(re.counters));
		rt_run_end__encode(&b, &re);
		rec_writer__add(w, REC_RUN_END, b.p, b.len);
		rec_buf__free(&b);
		env.rec = NULL;
		if (rec_writer__close(w))
			rc = EXIT_SETUP;
	}
	if (report__write_all(g_acct, ri, &(struct report_outputs){ env.folded, env.json, env.pprof, env.trace, env.html },
			      env.quiet))
		rc = EXIT_SETUP;
	if (!rc && env.html && env.html == env.default_html)
		fprintf(stderr, "report: %s\n", env.html); /* even with -q: the user asked for nothing else */
	return rc;
}

/* -p: follow a process we did not start until Ctrl-C, --duration or its exit; leave it running. */
static int attach_main(struct tracer *t)
{
	struct report_info ri = {};
	uint64_t start = now_ns(), end, status_events = 0, status_ns = 0;
	int timeout_ms = 5;
	char desc[64], pidarg[32], *argv[2] = { pidarg, NULL };
	bool live = !env.quiet && isatty(STDERR_FILENO);
	int err, rc;

	g_acct = new_account(t, start, 0);
	/* follow first, then take stock, so no change falls between the two */
	err = tracer__follow(t, env.attach_pid);
	if (!err)
		err = account__attach(g_acct, env.attach_pid);
	if (err) {
		p_err("cannot attach to pid %d: %s", env.attach_pid, strerror(-err));
		discard_recording();
		remove_cgroup();
		tracer__free(t);
		account__free(g_acct);
		return EXIT_SETUP;
	}
	/* its cgroup's OOM counters tell a cgroup's OOM kill from the system's; sampled after the
	 * stock is taken, the order a replay asks in (`report` refused a `record -p` before) */
	if (!cgroup__open_pid(&env.ctx_cg, env.attach_pid))
		sample_tree_cgroups();
	for (;;) {
		err = tracer__poll(t, timeout_ms);
		timeout_ms = poll_timeout_ms(err, timeout_ms);
		if (err < 0) {
			p_err("reading events failed: %s", strerror(-err));
			break;
		}
		refresh();
		if (live && now_ns() - status_ns >= 250000000ull)
			live_status(t, start, &status_events, &status_ns);
		if (got_signal || (env.duration_s && now_ns() - start >= env.duration_s * 1e9) ||
		    !account__alive(g_acct, env.attach_pid) || pid_gone(env.attach_pid))
			break;
	}
	end = now_ns();
	finish_run(t, live, end);
	snprintf(pidarg, sizeof(pidarg), "pid %d", env.attach_pid);
	snprintf(desc, sizeof(desc), account__alive(g_acct, env.attach_pid) ? "attached, left running" :
				     account__oom_victim(g_acct, env.attach_pid) ? "attached until the OOM killer killed it" :
										   "attached until it exited");
	ri.argv = argv;
	ri.argc = 1;
	ri.exit_desc = desc;
	ri.duration_s = (end - start) / 1e9;
	rc = write_reports(t, &ri);
	remove_cgroup();
	tracer__free(t);
	account__free(g_acct);
	elfsyms__free_all();
	perfmap__free_all();
	pyframes__free_all();
	demangle__free();
	strtab__free();
	return rc;
}

int main(int argc, char **argv)
{
	struct launcher l = { .go_fd = -1, .err_fd = -1 };
	char run_as[96] = "";
	struct report_info ri = {};
	struct tracer *t = NULL;
	struct sigaction sa = {};
	uint64_t start, end, signalled_at = 0;
	int status = 0, err, exit_code = EXIT_SETUP, rc = 0;
	char desc[64];
	uint64_t status_events = 0, status_ns = 0;
	int timeout_ms = 5;
	bool live;
	const char *outs[5];
	size_t i;

	argp_err_exit_status = EXIT_USAGE;
	if (argc > 1 && !strcmp(argv[1], "report"))
		return cmd_report(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "diff"))
		return cmd_diff(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "scale"))
		return cmd_scale(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "record")) {
		argv[1] = "taskmem-trace record"; /* its name in usage and errors */
		env.recording = true;
		err = argp_parse(&record_argp, argc - 1, argv + 1, ARGP_IN_ORDER, NULL, NULL);
	} else {
		err = argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL);
	}
	if (err)
		return EXIT_USAGE;
	outs[0] = env.json;
	outs[1] = env.folded;
	outs[2] = env.pprof;
	outs[3] = env.trace;
	if (!env.json && !env.folded && !env.pprof && !env.trace && !env.html && !env.record)
		env.html = outfile__default_html(env.default_html, sizeof(env.default_html),
						  env.argv ? env.argv[0] : "attach", env.attach_pid);
	outs[4] = env.html;
	for (i = 0; i < 5; i++) {
		if (outs[i] && (err = outfile__check_writable(outs[i]))) {
			p_err("cannot write %s: %s", outs[i], strerror(-err));
			return EXIT_USAGE;
		}
	}
	if (env.record && rec_writer__open(&env.rec, env.record, 0, argp_program_version))
		return EXIT_USAGE;

	/* from here on a signal stops the run, also one that comes while the BPF programs load:
	 * the tool must never die of it with the command left waiting at its gate */
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* a reader of stderr that went away must not kill the tool before the reports are out */
	signal(SIGPIPE, SIG_IGN);

	/* The command's process is forked first, while the tool is small: the kernel's high-water
	 * mark of the pid (our oracle) includes the forked copy it had before exec. It waits at a
	 * gate until it is followed, and never runs if tracing cannot start. */
	if (!env.attach_pid) {
		/* under sudo the command is the invoking user's, not root's (its files, its powers) */
		l.as_user = !env.as_root && sudo_user(&l.uid, &l.gid);
		if (l.as_user)
			snprintf(run_as, sizeof(run_as), "uid %u gid %u (sudo's user; --as-root keeps root)",
				 (unsigned)l.uid, (unsigned)l.gid);
		else if (env.as_root && sudo_user(&l.uid, &l.gid))
			snprintf(run_as, sizeof(run_as), "root (--as-root)");
		err = launcher__fork(&l, env.argv);
		if (err) {
			p_err("cannot start '%s': %s", env.argv[0], strerror(-err));
			discard_recording();
			return EXIT_SETUP;
		}
	}
	err = tracer__open(&t, &env.t, on_event, NULL);
	if (err) {
		launcher__abort(&l);
		discard_recording();
		return EXIT_SETUP;
	}
	/* --limit: the command runs in a cgroup of its own, moved there while at the gate */
	if (env.limit && ((err = cgroup__create(&env.cg, env.limit)) || (err = cgroup__add(env.cg, l.pid)))) {
		p_err("--limit needs a memory cgroup (cgroup v1's memory controller, or memory in cgroup2's controllers): %s",
		      strerror(-err));
		launcher__abort(&l);
		remove_cgroup();
		discard_recording();
		tracer__free(t);
		return EXIT_SETUP;
	}
	/* otherwise a cgroup of its own without a limit, whose counters are the kernel's share,
	 * unless the one it is in has a limit (a container's, a slice's) that it would escape, or
	 * it is cgroup2's (one hierarchy for every controller: the command would leave its slice's
	 * CPU and I/O limits too); where none is made, the one it is in tells a cgroup's OOM kill
	 * from the system's */
	if (!env.attach_pid && !env.limit && !cgroup__open_pid(&env.ctx_cg, l.pid) && !env.no_cgroup &&
	    cgroup__version(env.ctx_cg) == 1 &&
	    !cgroup__limited(env.ctx_cg) && !cgroup__create(&env.cg, CG_NO_LIMIT)) {
		if (cgroup__add(env.cg, l.pid)) {
			cgroup__remove(env.cg);
			env.cg = NULL;
		} else {
			cgroup__remove(env.ctx_cg); /* only freed: the tree is in the run's now */
			env.ctx_cg = NULL;
		}
	}
	if (env.attach_pid)
		return attach_main(t);
	/* time 0 is when the command's process was forked (before the tracer's setup, while it
	 * waits at the gate), as the process's own clock (/proc/PID/stat starttime) counts */
	start = l.forked_ns;
	g_acct = new_account(t, start, l.pid);
	account__add_root(g_acct, l.pid);
	sample_tree_cgroups();
	err = tracer__follow(t, l.pid);
	if (err) {
		p_err("cannot follow pid %d: %s", l.pid, strerror(-err));
		launcher__abort(&l);
		goto cleanup;
	}
	if (got_signal) { /* stopped before the command ran: it never starts */
		p_err("stopped by signal %d before '%s' started", got_signal, env.argv[0]);
		launcher__abort(&l);
		exit_code = 128 + got_signal;
		goto cleanup;
	}
	err = launcher__go(&l);
	if (err) {
		p_err("cannot run '%s': %s", env.argv[0], strerror(err));
		waitpid(l.pid, NULL, 0);
		exit_code = err == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC;
		goto cleanup;
	}

	live = !env.quiet && isatty(STDERR_FILENO);
	/* until the last process of the tree is gone: daemons that outlive the command too */
	for (;;) {
		bool expired, more;

		err = tracer__poll(t, timeout_ms);
		timeout_ms = poll_timeout_ms(err, timeout_ms);
		if (world__holding(g_acct->w)) /* the command waits for the worker: look often */
			timeout_ms = 2;
		if (err < 0) {
			p_err("reading events failed: %s", strerror(-err));
			world__hold_end(g_acct->w, false);
			launcher__signal_tree(&l, SIGKILL);
		}
		refresh();
		if (live && now_ns() - status_ns >= 250000000ull)
			live_status(t, start, &status_events, &status_ns);
		more = launcher__reap(&l);
		if (l.exited && !ri.cmd_end_s) {
			ri.cmd_end_s = (now_ns() - start) / 1e9;
			world__hold_end(g_acct->w, true); /* reaped: its pid may be another's now */
		}
		if (!more)
			break;
		expired = env.duration_s && now_ns() - start >= env.duration_s * 1e9;
		if ((got_signal || expired) && !signalled_at) {
			/* stop the tree and report what was seen */
			world__hold_end(g_acct->w, false);
			launcher__signal_tree(&l, got_signal == SIGHUP || !got_signal ? SIGTERM : got_signal);
			signalled_at = now_ns();
		} else if (signalled_at && now_ns() - signalled_at > 2000000000ull) {
			launcher__signal_tree(&l, SIGKILL);
		}
	}
	end = now_ns();
	status = l.status;
	finish_run(t, live, end);

	if (WIFSIGNALED(status)) {
		struct view_oom oom;

		view__oom(g_acct, &oom);
		exit_code = 128 + WTERMSIG(status);
		if (WTERMSIG(status) == SIGKILL && oom.kills && account__oom_victim(g_acct, l.pid))
			snprintf(desc, sizeof(desc), "killed by the OOM killer (signal 9)");
		else
			snprintf(desc, sizeof(desc), "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	} else {
		exit_code = WEXITSTATUS(status);
		snprintf(desc, sizeof(desc), "exited with %d", exit_code);
	}
	ri.argv = env.argv;
	ri.argc = env.argc;
	ri.run_as = run_as[0] ? run_as : NULL;
	ri.exit_code = exit_code;
	ri.exit_desc = desc;
	ri.duration_s = (end - start) / 1e9;
	rc = write_reports(t, &ri);
	if (rc && !exit_code)
		exit_code = rc; /* a report that could not be written is a failure */

cleanup:
	remove_cgroup(); /* after the tree is gone: a cgroup with processes cannot be removed */
	discard_recording(); /* the run could not start */
	tracer__free(t);
	account__free(g_acct);
	elfsyms__free_all();
	perfmap__free_all();
	pyframes__free_all();
	demangle__free();
	strtab__free();
	return exit_code;
}
