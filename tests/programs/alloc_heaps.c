/* alloc_heaps MIB: mallocs MIB MiB in blocks of 64 B to 1 MiB in fill_heap() and touches every
 * byte, holds it, prints the allocator's own view (glibc, jemalloc, tcmalloc or mimalloc, as
 * LD_PRELOAD chose), then waits on stdin being closed so a test can sample it. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *keep[1 << 20];

__attribute__((noinline)) static size_t fill_heap(size_t bytes)
{
	static const size_t sizes[] = { 64, 200, 1000, 4000, 20000, 100000, 1 << 20 };
	size_t done = 0, n = 0, i = 0;

	while (done < bytes && n < sizeof(keep) / sizeof(keep[0])) {
		size_t sz = sizes[i++ % (sizeof(sizes) / sizeof(sizes[0]))];
		char *p = malloc(sz);

		memset(p, 1, sz);
		keep[n++] = p;
		done += sz;
	}
	return done;
}

int main(int argc, char **argv)
{
	size_t want = (argc > 1 ? strtoul(argv[1], NULL, 10) : 64) << 20, made = fill_heap(want);
	int (*mallctl)(const char *, void *, size_t *, void *, size_t) = dlsym(RTLD_DEFAULT, "mallctl");
	int (*tc)(const char *, size_t *) = dlsym(RTLD_DEFAULT, "MallocExtension_GetNumericProperty");
	void (*mi)(size_t *, size_t *, size_t *, size_t *, size_t *, size_t *, size_t *, size_t *) =
		dlsym(RTLD_DEFAULT, "mi_process_info");
	size_t v = 0, len = sizeof(v);

	printf("made %zu\n", made);
	if (mallctl) {
		uint64_t epoch = 1;
		size_t el = sizeof(epoch);

		mallctl("epoch", &epoch, &el, &epoch, el);
		if (!mallctl("stats.resident", &v, &len, NULL, 0))
			printf("jemalloc stats.resident %zu\n", v);
		if (!mallctl("stats.allocated", &v, &len, NULL, 0))
			printf("jemalloc stats.allocated %zu\n", v);
	} else if (tc) {
		if (tc("generic.current_allocated_bytes", &v))
			printf("tcmalloc generic.current_allocated_bytes %zu\n", v);
		if (tc("generic.heap_size", &v))
			printf("tcmalloc generic.heap_size %zu\n", v);
	} else if (mi) {
		size_t el, ut, st, rss, prss, commit, pcommit, pf;

		mi(&el, &ut, &st, &rss, &prss, &commit, &pcommit, &pf);
		printf("mimalloc current_commit %zu\n", commit);
	} else {
		struct mallinfo2 m = mallinfo2();

		printf("glibc arena %zu mmap %zu\n", m.arena, m.hblkhd);
	}
	fflush(stdout);
	usleep(200000);
	return 0;
}
