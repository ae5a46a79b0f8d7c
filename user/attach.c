// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* -p: a process that was already running. What is resident when we come is counted per
 * mapping, from /proc/PID/smaps, as "pre-existing"; its growth from then on is traced. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "account.h"
#include "procfile.h"
#include "strtab.h"
#include "util.h"

/* The value of /proc/PID/status's line "key\tvalue", or NULL: found at a line's start, so that
 * a process named "RssAnon: 9999999" (Name: comes first) is not taken for its own RSS. */
static const char *status_field(const char *text, const char *key)
{
	size_t len = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, len))
			return p + len;
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return NULL;
}

static int64_t status_kb(const char *text, const char *key)
{
	const char *p = status_field(text, key);

	return p ? strtoll(p, NULL, 10) * 1024 : 0;
}

/* Memory resident before we came: one record per mapping, labelled "pre-existing". */
static void add_preexisting(struct account *a, struct proc *p, struct mm *mm, const char *smaps)
{
	const char *line = smaps;
	uint64_t start = 0, rss = 0, anon = 0;
	char name[300] = "";
	bool have = false;

	for (;;) {
		const char *nl = line ? strchr(line, '\n') : NULL;
		unsigned long long s0 = 0, e0 = 0;
		char path[256] = "", one[512];
		size_t len = line ? (nl ? (size_t)(nl - line) : strlen(line)) : 0;
		bool header;

		/* parse one line at a time: anonymous headers have no path, and %[ would run on */
		if (len >= sizeof(one))
			len = sizeof(one) - 1;
		if (line)
			memcpy(one, line, len);
		one[line ? len : 0] = 0;
		header = line && *line && sscanf(one, "%llx-%llx %*s %*s %*s %*s %255[^\n]", &s0, &e0, path) >= 2;

		if (!line || !*line || header) {
			if (have && rss) {
				bool file = name[0] == '/';
				char lb[340];
				enum tm_cat cat = !strcmp(name, "[heap]") ? CAT_HEAP :
						  !strcmp(name, "[stack]") ? CAT_STACK :
						  p->is_go && ((start >> 32) & 0xff) == 0xc0 ? CAT_HEAP : CAT_OTHER;

				snprintf(lb, sizeof(lb), "pre-existing:%s",
					 file ? basename_of(name) : name[0] ? name :
					 cat == CAT_HEAP ? "[go arena: heap and goroutine stacks]" : "[anon]");
				if (rss > anon)
					pages__add(mm->pages, file ? TM_FILEPAGES : TM_SHMEMPAGES, start,
						   timeline__bucket(&a->tl, p, label_id(CAT_FILE, lb), -1), rss - anon);
				if (anon)
					pages__add(mm->pages, TM_ANONPAGES, start,
						   timeline__bucket(&a->tl, p, label_id(cat, lb), -1), anon);
			}
			if (!line || !*line)
				break;
			start = s0;
			rss = anon = 0;
			{
				char *q = path;

				while (*q == ' ')
					q++;
				snprintf(name, sizeof(name), "%s", q);
			}
			have = true;
		} else if (!strncmp(line, "Rss:", 4)) {
			rss = strtoull(line + 4, NULL, 10) * 1024;
		} else if (!strncmp(line, "Anonymous:", 10)) {
			anon = strtoull(line + 10, NULL, 10) * 1024;
		}
		line = nl ? nl + 1 : NULL;
	}
}

/* The process's name, and from /proc/PID/stat where its stack and break are. */
static void read_status(struct proc *p, const char *status, const char *stat)
{
	const char *c = status_field(status, "Name:");
	char comm[TM_COMM_LEN + 1] = "";
	/* after "(comm)": field 28 startstack, 47 start_brk, 48 brk (proc(5)) */
	const char *q = strrchr(stat, ')');
	unsigned long long v;
	int field = 2;

	if (c)
		sscanf(c, " %16[^\n]", comm);
	p->comm = intern(comm);
	while (q && *q) {
		q = strchr(q, ' ');
		if (!q)
			break;
		q++;
		field++;
		v = strtoull(q, NULL, 10);
		if (field == 28)
			p->start_stack = v;
		else if (field == 47)
			p->start_brk = v;
		else if (field == 48)
			p->brk = v;
	}
}

int account__attach(struct account *a, pid_t pid)
{
	char *status, *smaps, *stat, exe[TM_PATH_LEN];
	struct proc *p;
	struct mm *mm;
	int i;

	a->kern.attached = true; /* its threads began before the tool: not in the events */
	status = world__proc_text(a->w, pid, "status");
	smaps = world__proc_text(a->w, pid, "smaps");
	stat = world__proc_text(a->w, pid, "stat");
	if (!status || !smaps || !stat) {
		free(status);
		free(smaps);
		free(stat);
		return -ESRCH;
	}
	p = proc_new(&a->m, pid, a->o.start_ts);
	p->exec_seen = true;
	read_status(p, status, stat);
	if (world__exe(a->w, pid, exe, sizeof(exe)) > 0) {
		struct file_ref f = { .pid = pid, .path = exe, .exe = true };

		p->exe = intern(exe);
		p->is_go = world__is_go(a->w, &f);
	}
	p->stack_rlim = 8ull << 20;
	account__read_maps(a, p);
	mm = mm_new(&a->m, ATTACH_MM_ID, p);
	mm->last[TM_FILEPAGES] = status_kb(status, "RssFile:");
	mm->last[TM_ANONPAGES] = status_kb(status, "RssAnon:");
	mm->last[TM_SHMEMPAGES] = status_kb(status, "RssShmem:");
	for (i = 0; i < TM_NR_MEMBERS; i++)
		if (i != TM_SWAPENTS)
			mm->total += mm->last[i];
	p->kernel = mm->total;
	timeline__kernel(&a->tl, NULL, mm->total);
	add_preexisting(a, p, mm, smaps);
	timeline__mark_proc(&a->tl, p);
	timeline__grew(&a->tl, NULL, a->o.start_ts); /* the tree's peak */
	p->own_peak = p->kernel;
	p->own_peak_ts = a->o.start_ts;
	memcpy(p->own_peak_cat, p->cat, sizeof(p->cat));
	free(status);
	free(smaps);
	free(stat);
	return 0;
}
