// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer harness: the /proc/PID/smaps parser of -p (add_preexisting in user/attach.c, which
 * credits each mapping's Rss/Anonymous to a "pre-existing:<file>" label; a traced program names
 * its files). The parser is static, so attach.c is compiled into this harness. */
#include "../../user/attach.c"

/* The program names its mappings, but the kernel writes the sizes: resident kB, at most the
 * machine's memory. Inputs with larger ones (which overflow the byte totals) are not real. */
static bool sizes_possible(const char *text)
{
	const char *line;

	for (line = text; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (!strncmp(line, "Rss:", 4) && strtoull(line + 4, NULL, 10) > (1ull << 40))
			return false;
		if (!strncmp(line, "Anonymous:", 10) && strtoull(line + 10, NULL, 10) > (1ull << 40))
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct account *a;
	struct proc *p;
	struct mm *mm;
	char *text;

	if (!size)
		return 0;
	text = malloc(size);
	if (!text)
		return 0;
	/* first byte: is the process Go (its arena is heap); the rest is the smaps text */
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0;
	if (!sizes_possible(text)) {
		free(text);
		return 0;
	}
	a = account__new(&(struct account_opts){ .interval_ns = 10000000 });
	p = proc_new(&a->m, 1234, 0);
	p->is_go = data[0] & 1;
	mm = mm_new(&a->m, ATTACH_MM_ID, p);
	add_preexisting(a, p, mm, text);
	account__finish(a, 1000000);
	account__free(a);
	free(text);
	/* labels and interned strings live for a run; drop them between inputs */
	labels__free();
	strtab__free();
	return 0;
}
