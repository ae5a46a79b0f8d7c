// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of classification (user/classify.c) on synthetic inputs, no kernel: every table
 * row yields its label in the runtimes it is for and not in the others; the address rules;
 * and docs/classification.md shows the tables as they are.
 *
 * usage: test_classify                 run the tests (from the source tree: reads docs/)
 *        test_classify --docs FILE     print FILE with its generated tables remade (make docs) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "classify.h"
#include "model.h"
#include "util.h"
#include "check.h"

#define MAP_GROWSDOWN 0x100
#define MAP_STACK 0x20000
#define DOC "docs/classification.md"


/* ---- a synthetic process: classify()'s callbacks answer from these facts ---- */

struct fake {
	enum runtime rt;
	struct cl_region reg;    /* the region at the address */
	struct cl_frames fault;  /* the faulting stack */
	const char *path;        /* the mapping at the address */
	int region_calls, stack_calls, path_calls;
};

static int fake_region(void *ctx)
{
	struct fake *f = ctx;

	f->region_calls++;
	return classify_region(f->rt, &f->reg);
}

static int fake_stack(void *ctx, enum cl_stack which)
{
	struct fake *f = ctx;

	f->stack_calls++;
	return classify_stack(f->rt, which, &f->fault);
}

static const char *fake_path(void *ctx)
{
	struct fake *f = ctx;

	f->path_calls++;
	return f->path;
}

/* An anonymous page faulted at addr. */
static struct classify_in fault_at(struct fake *f, uint64_t addr)
{
	return (struct classify_in){
		.member = TM_ANONPAGES, .cause = TM_CAUSE_FAULT, .rt = f->rt, .addr = addr, .ctx = f,
		.region_label = fake_region, .stack_label = fake_stack, .map_path = fake_path,
	};
}

/* An anonymous page in a region made by mmap (neither file nor thread stack). */
static int in_region(struct fake *f)
{
	struct classify_in in = fault_at(f, 0x7f0000001000);

	in.in_region = true;
	return classify(&in);
}

static const char *name_of(int label)
{
	static char buf[4][128];
	static int k;
	const struct label *l = label >= 0 ? label_get(label) : NULL;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", l ? cat_names[l->cat] : "-", l ? l->name : "(none)");
	return buf[k];
}

static int rule_label(const struct cl_rule *r)
{
	return label_id(r->cat, r->label);
}

/* The label of one row's input (frames or module built from its needle) in runtime rt. */
static int row_input_label(const struct cl_rule *r, enum runtime rt, bool go_arena)
{
	const char *frames[] = { "inner_helper", r->needle, "main" };
	const char *heap_frames[] = { "malloc", r->needle, "main" };
	struct fake f = { .rt = rt };
	char mod[128];
	struct classify_in in;

	switch (r->site) {
	case SITE_MMAP_STACK:
		f.reg = (struct cl_region){ .len = 3 << 12, .module = "", .stack = { frames, 3 } };
		return in_region(&f);
	case SITE_MMAP_MODULE:
		snprintf(mod, sizeof(mod), "%s%s", r->needle, strchr(r->needle, '.') ? ".6" : ".11");
		f.reg = (struct cl_region){ .len = r->len ? r->len : 3 << 12, .module = mod };
		return in_region(&f);
	case SITE_HEAP_STACK:
		/* a malloc'd block in glibc's heap */
		f.reg = (struct cl_region){ .len = 64 << 20, .module = "libc.so.6" };
		f.fault = (struct cl_frames){ heap_frames, 3 };
		return in_region(&f);
	case SITE_FAULT_STACK:
		/* an anonymous region whose own rules would say otherwise */
		f.reg = (struct cl_region){ .len = 64 << 20, .module = "", .stack = { frames, 3 } };
		f.fault = (struct cl_frames){ frames, 3 };
		return in_region(&f);
	case SITE_GO_STACK:
		f.fault = (struct cl_frames){ frames, 3 };
		in = fault_at(&f, go_arena ? 0xc000100000ull : 0x7f0000001000ull);
		return classify(&in);
	default:
		return -1;
	}
}

/* Every row: its input gives its label in its runtimes, and not in the others. */
static void test_table_rows(void)
{
	size_t t, r;
	int rt, rows = 0;

	for (t = 0; t < cl_ntables; t++) {
		const struct cl_table *tb = &cl_tables[t];

		CHECK(tb->runtimes && !(tb->runtimes & ~RT_ALL), "table %s applies to some runtimes", tb->name);
		for (r = 0; r < tb->n; r++) {
			const struct cl_rule *ru = &tb->rules[r];
			int want = rule_label(ru);

			rows++;
			for (rt = 0; rt < NR_RUNTIMES; rt++) {
				bool mine = tb->runtimes & RT_BIT(rt);
				int got = row_input_label(ru, rt, true);

				if (mine)
					CHECK(got == want, "%s: `%s` in a %s process: %s, want %s", tb->name, ru->needle,
					      runtime_names[rt], name_of(got), name_of(want));
				else
					CHECK(got != want, "%s: `%s` in a %s process: %s, which is the %s table's",
					      tb->name, ru->needle, runtime_names[rt], name_of(got), tb->name);
			}
			if (ru->site == SITE_GO_STACK) {
				/* outside the arena the same frames are metadata, never a stack */
				int got = row_input_label(ru, RT_GO, false);

				if (ru->cat == CAT_STACK)
					CHECK(got == label_id(CAT_RUNTIME, "other"), "go: `%s` outside the arena: %s",
					      ru->needle, name_of(got));
				else
					CHECK(got == want, "go: `%s` outside the arena: %s, want %s", ru->needle,
					      name_of(got), name_of(want));
			}
			if (ru->site == SITE_HEAP_STACK) {
				/* glibc's brk heap too */
				const char *frames[] = { "malloc", ru->needle };
				struct fake f = { .rt = __builtin_ctz(tb->runtimes), .fault = { frames, 2 } };
				struct classify_in in = fault_at(&f, 0x5555000000);
				int got;

				in.in_brk = true;
				got = classify(&in);
				CHECK(got == want, "%s: `%s` in the brk heap of a %s process: %s", tb->name,
				      ru->needle, runtime_names[f.rt], name_of(got));
			}
			CHECK(ru->site != SITE_MMAP_MODULE || !ru->heap || ru->cat == CAT_HEAP,
			      "%s: `%s` marked a heap", tb->name, ru->needle);
		}
	}
	CHECK(rows > 60, "%d rows in %zu tables", rows, cl_ntables);
}

/* A C++ program's big malloc from protobuf's Arena is malloc's, not HotSpot's Arena:: */
static void test_protobuf(void)
{
	const char *frames[] = { "sysmalloc", "_int_malloc", "malloc", "operator new(unsigned long)",
				 "google::protobuf::Arena::AllocateBlock(unsigned long)",
				 "google::protobuf::internal::ThreadSafeArena::AllocateAlignedFallback(unsigned long)",
				 "main", "__libc_start_call_main" };
	struct fake f = { .rt = RT_NATIVE, .reg = { .len = 8 << 20, .module = "libc.so.6", .caller = "sysmalloc",
						    .stack = { frames, 8 } } };
	int got = in_region(&f);

	CHECK(got == label_id(CAT_HEAP, "malloc"), "protobuf's Arena::AllocateBlock in a C++ program: %s",
	      name_of(got));
	f.rt = RT_JVM; /* the same stack in a JVM: HotSpot's Arena:: rule */
	got = in_region(&f);
	CHECK(got == label_id(CAT_RUNTIME, "java-vm"), "the same stack in a JVM: %s", name_of(got));
}

/* What the address decides before any table, and which facts each path asks for. */
static void test_address_rules(void)
{
	const char *frames[] = { "runtime.malg" };
	struct fake f = { .rt = RT_NATIVE, .path = "/usr/lib/x86_64-linux-gnu/libfoo.so.1" };
	struct classify_in in = fault_at(&f, 0x7f0000001000);
	int got;

	in.member = TM_FILEPAGES;
	CHECK(classify(&in) == label_id(CAT_FILE, "libfoo.so.1"), "file pages: by the file's name");
	in.addr = 0;
	CHECK(classify(&in) == label_id(CAT_FILE, "[unknown file]") && f.path_calls == 1,
	      "file pages with no address: unknown file, maps not asked");
	in = fault_at(&f, 0x7f0000001000);
	in.member = TM_SHMEMPAGES;
	f.path = "/SYSV00000000";
	CHECK(classify(&in) == label_id(CAT_SHARED, "sysv"), "shared memory: by its object (SysV)");
	f.path = "/memfd:pool (deleted)";
	CHECK(label_get(classify(&in))->cat == CAT_SHARED && strstr(label_get(classify(&in))->name, "memfd:pool"),
	      "shared memory: a memfd by its name");
	f.path = "/dev/zero (deleted)";
	CHECK(classify(&in) == label_id(CAT_SHARED, "anon"), "shared memory: MAP_SHARED|MAP_ANONYMOUS");
	in = fault_at(&f, 0x7f0000001000);
	in.cause = TM_CAUSE_EXEC;
	CHECK(classify(&in) == label_id(CAT_STACK, "main"), "execve's argv/envp");
	in.cause = TM_CAUSE_FORK;
	CHECK(classify(&in) == label_id(CAT_OTHER, "[address unknown]"), "no address");

	in = fault_at(&f, 0x7f0000001000);
	in.in_region = true;
	in.region_flags = MAP_STACK;
	CHECK(classify(&in) == label_id(CAT_STACK, "thread"), "MAP_STACK: thread stack");
	in.region_flags = MAP_GROWSDOWN;
	CHECK(classify(&in) == label_id(CAT_STACK, "thread"), "MAP_GROWSDOWN: thread stack");
	in.region_flags = 0;
	in.region_file = true;
	CHECK(classify(&in) == label_id(CAT_OTHER, "file-private"), "private file mapping");
	CHECK(!f.region_calls && !f.stack_calls, "none of these asks for stacks");

	f.reg = (struct cl_region){ .len = 4096, .module = "myprog" };
	CHECK(in_region(&f) == label_id(CAT_OTHER, "mmap") && !f.stack_calls,
	      "the program's own mmap, without the faulting stack");
	f.reg.module = "ld-linux-x86-64.so.2";
	CHECK(in_region(&f) == label_id(CAT_OTHER, "loader"), "the loader's mmap");

	in = fault_at(&f, 0x5555000000);
	in.in_brk = true;
	CHECK(classify(&in) == label_id(CAT_HEAP, "brk"), "brk heap");
	in.allocator = classify_allocator(RT_NATIVE, "libtcmalloc_minimal.so.4");
	CHECK(classify(&in) == label_id(CAT_HEAP, "tcmalloc"), "the break of a process with tcmalloc: its heap");
	CHECK(!classify_allocator(RT_GO, "libjemalloc.so.2") && !classify_allocator(RT_NATIVE, "libc.so.6"),
	      "no allocator for Go, nor for glibc");
	in.allocator = NULL;
	in.in_brk = false;
	in.in_main_stack = true;
	CHECK(classify(&in) == label_id(CAT_STACK, "main"), "main stack");
	in.in_main_stack = false;
	f.path_calls = 0;
	f.path = "[heap]";
	CHECK(classify(&in) == label_id(CAT_HEAP, "brk"), "maps: [heap]");
	f.path = "[stack]";
	CHECK(classify(&in) == label_id(CAT_STACK, "main"), "maps: [stack]");
	f.path = "/usr/bin/prog";
	CHECK(classify(&in) == label_id(CAT_OTHER, "file-private"), "maps: a file's copy");
	f.path = "";
	CHECK(classify(&in) == label_id(CAT_OTHER, "anon"), "maps: anonymous");
	f.path = NULL;
	CHECK(classify(&in) == label_id(CAT_OTHER, "unknown"), "maps: nothing there");
	CHECK(f.path_calls == 5, "maps asked once each time (%d)", f.path_calls);

	/* Go: arena by address, its own mappings by stack, thread stacks and main stack generic */
	f = (struct fake){ .rt = RT_GO };
	in = fault_at(&f, 0xc000000000ull);
	CHECK(classify(&in) == label_id(CAT_HEAP, "go"), "go arena, no rule: heap/go");
	CHECK(classify_go_arena(0x00c000000000ull) && classify_go_arena(0x01c000200000ull) &&
	      classify_go_arena(0x7fc000000000ull) &&
	      !classify_go_arena(0x7f0000001000ull) && !classify_go_arena(0x80c000000000ull) && !classify_go_arena(0x00c100000000ull), "Go's arena hints");
	in.addr = 0x7f0000001000;
	CHECK(classify(&in) == label_id(CAT_RUNTIME, "other"), "go, outside the arena, no rule: runtime/other");
	f.fault = (struct cl_frames){ frames, 1 };
	CHECK(classify(&in) == label_id(CAT_RUNTIME, "sched"), "go, outside the arena: runtime.malg");
	in.in_region = true;
	in.region_flags = MAP_STACK;
	CHECK(classify(&in) == label_id(CAT_STACK, "thread"), "go: a thread stack (cgo)");
	in.in_region = false;
	in.region_flags = 0;
	in.in_main_stack = true;
	CHECK(classify(&in) == label_id(CAT_STACK, "main"), "go: main stack");
	in.in_main_stack = false;
	in.in_brk = true;
	f.rt = in.rt = RT_NATIVE;
	got = classify(&in);
	CHECK(got == label_id(CAT_HEAP, "brk"), "runtime.malg in a native process's brk heap: %s", name_of(got));
}

static void test_runtime_of(void)
{
	static const struct {
		const char *name;
		enum runtime rt;
	} cases[] = {
		{ "libjvm.so", RT_JVM }, { "java", RT_NATIVE }, { "node", RT_V8 }, { "nodejs", RT_V8 },
		{ "node_helper.so", RT_NATIVE }, { "libnode.so.108", RT_V8 }, { "python3.11", RT_CPYTHON },
		{ "python3.11d", RT_CPYTHON }, { "libpython3.11.so.1.0", RT_CPYTHON }, { "mono", RT_MONO },
		{ "mono-sgen", RT_MONO }, { "monodis", RT_NATIVE }, { "libmonosgen-2.0.so.1", RT_MONO },
		{ "beam.smp", RT_BEAM }, { "libc.so.6", RT_NATIVE }, { "", RT_NATIVE },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(classify_runtime_of(cases[i].name) == cases[i].rt, "%s: %s", cases[i].name,
		      runtime_names[classify_runtime_of(cases[i].name)]);
}

/* ---- the docs' generated tables ---- */

#define GEN_BEGIN "<!-- generated by `make docs` from user/classify.c: "
#define GEN_END "<!-- end of generated table -->"

static const char *const site_names[NR_SITES] = {
	[SITE_MMAP_STACK] = "mmap-stack", [SITE_MMAP_MODULE] = "mmap-module",
	[SITE_HEAP_STACK] = "heap-stack", [SITE_GO_STACK] = "go-stack", [SITE_FAULT_STACK] = "fault-stack",
};

static void put_runtimes(FILE *o, unsigned mask)
{
	const char *sep = "";
	int rt;

	if (mask == RT_ALL) {
		fputs("every process", o);
		return;
	}
	if (mask == RT_NATIVE_CODE) {
		fputs("every process but Go", o);
		return;
	}
	for (rt = 0; rt < NR_RUNTIMES; rt++)
		if (mask & RT_BIT(rt)) {
			fprintf(o, "%s`%s`", sep, runtime_names[rt]);
			sep = ", ";
		}
	fputs(" processes", o);
}

/* One table's rules at one site, as markdown: consecutive rules of one label (and size) in a row. */
static int put_table(FILE *o, const char *table, const char *site)
{
	const struct cl_table *tb = NULL;
	const struct cl_rule *rows[64];
	size_t t, r, k, nrows = 0;
	int s;

	for (t = 0; t < cl_ntables; t++)
		if (!strcmp(cl_tables[t].name, table))
			tb = &cl_tables[t];
	for (s = 0; s < NR_SITES && strcmp(site_names[s], site); s++)
		;
	if (!tb || s == NR_SITES)
		return -1;
	fputs("Applies to ", o);
	put_runtimes(o, tb->runtimes);
	fputs(".\n\n", o);
	fputs(s == SITE_MMAP_STACK ? "| frame contains | label |\n| --- | --- |\n" :
	      s == SITE_MMAP_MODULE ? "| mmap called from | size | label |\n| --- | --- | --- |\n" :
	      "| innermost frame contains | label |\n| --- | --- |\n", o);
	for (r = 0; r <= tb->n; r++) {
		const struct cl_rule *ru = r < tb->n && (int)tb->rules[r].site == s ? &tb->rules[r] : NULL;

		if (nrows && (!ru || ru->cat != rows[0]->cat || strcmp(ru->label, rows[0]->label) ||
			      ru->len != rows[0]->len)) {
			const char *sep = " (";

			fputs("| ", o);
			for (k = 0; k < nrows; k++)
				fprintf(o, "%s`%s%s`", k ? ", " : "", rows[k]->needle, s == SITE_MMAP_MODULE ? "*" : "");
			for (k = 0; k < nrows; k++)
				if (rows[k]->note) {
					fprintf(o, "%s%s", sep, rows[k]->note);
					sep = "; ";
				}
			fputs(*sep == ';' ? ") | " : " | ", o);
			if (s == SITE_MMAP_MODULE) {
				if (!rows[0]->len)
					fputs("any | ", o);
				else if (rows[0]->len % (1 << 20) == 0)
					fprintf(o, "%llu MiB | ", (unsigned long long)rows[0]->len >> 20);
				else
					fprintf(o, "%llu bytes | ", (unsigned long long)rows[0]->len);
			}
			fprintf(o, "`%s/%s` |\n", cat_names[rows[0]->cat], rows[0]->label);
			nrows = 0;
		}
		if (ru && nrows < sizeof(rows) / sizeof(rows[0]))
			rows[nrows++] = ru;
	}
	return 0;
}

static void put_runtime_modules(FILE *o)
{
	size_t i;

	fputs("| the executable or a mapped file named | runtime |\n| --- | --- |\n", o);
	for (i = 0; i < cl_nruntime_modules; i++)
		fprintf(o, "| `%s%s` | `%s` |\n", cl_runtime_modules[i].name, cl_runtime_modules[i].exact ? "" : "*",
			runtime_names[cl_runtime_modules[i].rt]);
}

/* text with every generated section remade from the tables; NULL on an unknown section */
static char *remake_docs(const char *text)
{
	char *out = NULL, line[512];
	size_t len = 0;
	FILE *o = open_memstream(&out, &len);
	const char *p = text;
	bool skipping = false, bad = false;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);

		if (skipping && !strncmp(p, GEN_END, strlen(GEN_END)))
			skipping = false;
		if (!skipping)
			fwrite(p, 1, n, o);
		if (!strncmp(p, GEN_BEGIN, strlen(GEN_BEGIN))) {
			char table[64] = "", site[64] = "";

			snprintf(line, sizeof(line), "%.*s", (int)(n - strlen(GEN_BEGIN)), p + strlen(GEN_BEGIN));
			sscanf(line, "%63s %63s", table, site);
			if (!strcmp(table, "runtimes"))
				put_runtime_modules(o);
			else if (put_table(o, table, site))
				bad = true;
			skipping = true;
		}
		p += n;
	}
	fclose(o);
	if (bad || skipping) {
		free(out);
		return NULL;
	}
	return out;
}

static char *slurp_file(const char *path)
{
	char *buf;
	size_t len;

	return read_whole(path, SIZE_MAX, &buf, &len) ? NULL : buf;
}

static void test_docs(void)
{
	char *text = slurp_file(DOC), *want = text ? remake_docs(text) : NULL;
	size_t t, n = 0;
	const char *p;

	CHECK(text, "%s readable (run from the source tree)", DOC);
	CHECK(!text || want, "%s: every generated section names a table and site, and ends", DOC);
	if (want && strcmp(text, want)) {
		for (p = text; *p && *p == want[p - text]; p++)
			n += *p == '\n';
		CHECK(false, "%s:%zu differs from the tables in user/classify.c: run `make docs`", DOC, n + 1);
	}
	/* every table of every site with rules appears in the docs */
	for (t = 0; text && t < cl_ntables; t++) {
		bool site[NR_SITES] = {};
		size_t r;
		int s;

		for (r = 0; r < cl_tables[t].n; r++)
			site[cl_tables[t].rules[r].site] = true;
		for (s = 0; s < NR_SITES; s++) {
			char marker[160];

			snprintf(marker, sizeof(marker), GEN_BEGIN "%s %s ", cl_tables[t].name, site_names[s]);
			CHECK(!site[s] || strstr(text, marker), "%s shows table %s, %s", DOC, cl_tables[t].name,
			      site_names[s]);
		}
	}
	free(text);
	free(want);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--docs")) {
		char *text = slurp_file(argv[2]), *out = text ? remake_docs(text) : NULL;

		if (!out) {
			fprintf(stderr, "%s: cannot read, or a generated section is unknown or unended\n", argv[2]);
			return 1;
		}
		fputs(out, stdout);
		free(text);
		free(out);
		return 0;
	}
	test_table_rows();
	test_protobuf();
	test_address_rules();
	test_runtime_of();
	test_docs();
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
