// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "taskmem.skel.h"
#include "tracer.h"
#include "unwind.h"
#include "util.h"

struct tracer {
	struct taskmem_bpf *skel;
	struct ring_buffer *rb;
	tracer_event_fn fn;
	void *ctx;
	int handled;
	int unwind_files; /* tables loaded */
	uint32_t unwind_gen; /* of the last ranges set */
	/* tables loaded but not yet in unwind_files: each update of an array of maps waits for an
	 * RCU grace period (7-19 ms here), a batch waits once */
	int npend;
	uint32_t pend_idx[TM_MAX_UNWIND_FILES];
	int pend_fd[TM_MAX_UNWIND_FILES];
	struct tm_unwind_inode pend_ino[TM_MAX_UNWIND_FILES];
	struct tm_unwind_file pend_file[TM_MAX_UNWIND_FILES];
	pthread_t detaching[2]; /* see tracer__detach */
	int ndetaching;
	void (*on_poll)(void *arg); /* see tracer__on_poll */
	void *on_poll_arg;
};

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	if (level == LIBBPF_INFO && !verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct tracer *t = ctx;

	if (size < sizeof(struct tm_event))
		return 0;
	t->fn(t->ctx, data);
	t->handled++;
	return 0;
}

/* tracefs must be mounted for tracepoint attachment: mount it if it is not. */
static int ensure_tracefs(void)
{
	struct stat st;

	if (!stat("/sys/kernel/tracing/events/kmem/rss_stat", &st) ||
	    !stat("/sys/kernel/debug/tracing/events/kmem/rss_stat", &st))
		return 0;
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) && errno != EBUSY) {
		p_err("tracefs is not mounted and mounting it failed (%s); run: mount -t tracefs nodev /sys/kernel/tracing",
		      strerror(errno));
		return -ENOENT;
	}
	if (stat("/sys/kernel/tracing/events/kmem/rss_stat", &st)) {
		p_err("this kernel has no kmem:rss_stat tracepoint; taskmem-trace needs it (Linux >= 5.5)");
		return -ENOENT;
	}
	return 0;
}

int tracer__open(struct tracer **out, const struct tracer_opts *o, tracer_event_fn fn, void *ctx)
{
	struct tracer *t;
	struct stat st;
	unsigned char magic[2]; /* BTF_MAGIC 0xeB9F, little-endian */
	int err, fd, i;

	libbpf_set_print(libbpf_print);
	if (geteuid() != 0) {
		p_err("must run as root (it loads BPF programs); try: sudo taskmem-trace ...");
		return -EPERM;
	}
	if (stat("/sys/kernel/btf/vmlinux", &st)) {
		p_err("kernel BTF (/sys/kernel/btf/vmlinux) is missing; a kernel with CONFIG_DEBUG_INFO_BTF=y is needed");
		return -ENOENT;
	}
	/* present but not BTF (e.g. something mounted over it): libbpf would fail later with ESRCH */
	fd = open("/sys/kernel/btf/vmlinux", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, magic, 2) != 2 || magic[0] != 0x9f || magic[1] != 0xeb) {
		p_err("kernel BTF (/sys/kernel/btf/vmlinux) is unreadable or not BTF; a kernel with CONFIG_DEBUG_INFO_BTF=y is needed");
		if (fd >= 0)
			close(fd);
		return -ENOENT;
	}
	close(fd);
	err = ensure_tracefs();
	if (err)
		return err;

	t = xcalloc(1, sizeof(*t));
	t->fn = fn;
	t->ctx = ctx;
	t->skel = taskmem_bpf__open();
	if (!t->skel) {
		err = -errno;
		p_err("cannot open the BPF object: %s", strerror(-err));
		goto fail;
	}
	t->skel->rodata->wakeup_bytes = o->ringbuf_bytes / 8;
	t->skel->rodata->stack_cache = o->stack_cache;
	for (i = 1; o->sample_bytes && i <= TM_SAMPLE_PAGES; i++)
		t->skel->rodata->sample_chances[i] = poisson_chance32(o->sample_bytes, (uint64_t)i * 4096);
	bpf_map__set_max_entries(t->skel->maps.traced, o->max_processes);
	bpf_map__set_max_entries(t->skel->maps.mms, o->max_processes * 2);
	bpf_map__set_max_entries(t->skel->maps.tasks, o->max_threads);
	bpf_map__set_max_entries(t->skel->maps.exits, o->max_processes * 4);
	bpf_map__set_max_entries(t->skel->maps.stacks, o->stack_storage);
	bpf_map__set_max_entries(t->skel->maps.unwind_procs, o->max_processes);
	bpf_map__set_max_entries(t->skel->maps.py_procs, o->max_processes);
	bpf_map__set_max_entries(t->skel->maps.py_seen, 1 << 16); /* LRU: code objects named */
	bpf_map__set_max_entries(t->skel->maps.events, (uint32_t)o->ringbuf_bytes);
	/* the tree's slab objects (the kernel's share): kmem tracepoints, which fire machine-wide */
	bpf_map__set_max_entries(t->skel->maps.kobjs, o->slab_objects ? o->slab_objects : 1);
	bpf_map__set_max_entries(t->skel->maps.kslab, o->max_processes * 4);
	if (!o->slab_objects) {
		bpf_program__set_autoload(t->skel->progs.handle_kmalloc, false);
		bpf_program__set_autoload(t->skel->progs.handle_kmem_cache_alloc, false);
		bpf_program__set_autoload(t->skel->progs.handle_kfree, false);
		bpf_program__set_autoload(t->skel->progs.handle_kmem_cache_free, false);
	}
	err = taskmem_bpf__load(t->skel);
	if (err) {
		p_err("cannot load the BPF programs: %s (run with -v for the verifier's log)", strerror(-err));
		goto fail;
	}
	err = taskmem_bpf__attach(t->skel);
	if (err) {
		p_err("cannot attach the BPF programs: %s (needs tracepoints and BTF-enabled raw tracepoints)",
		      strerror(-err));
		goto fail;
	}
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), on_sample, t, NULL);
	if (!t->rb) {
		err = -errno;
		p_err("cannot open the ring buffer: %s", strerror(-err));
		goto fail;
	}
	*out = t;
	return 0;
fail:
	tracer__free(t);
	return err ? err : -EINVAL;
}

int tracer__follow(struct tracer *t, pid_t pid)
{
	uint32_t key = (uint32_t)pid, v = TM_TRACED;

	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.traced), &key, &v, BPF_ANY))
		return -errno;
	return 0;
}

int tracer__poll(struct tracer *t, int timeout_ms)
{
	int err;

	t->handled = 0;
	/* producers mostly skip wakeups (see event_submit), so consume after every wait */
	err = ring_buffer__poll(t->rb, timeout_ms);
	if (err < 0 && err != -EINTR)
		return err;
	err = ring_buffer__consume(t->rb);
	if (err < 0 && err != -EINTR)
		return err;
	if (t->on_poll)
		t->on_poll(t->on_poll_arg);
	return t->handled;
}

void tracer__on_poll(void *ctx, void (*fn)(void *arg), void *arg)
{
	struct tracer *t = ctx;

	t->on_poll = fn;
	t->on_poll_arg = arg;
}

int tracer__read_stack(void *ctx, int32_t id, uint64_t *ips, int max)
{
	struct tracer *t = ctx;
	struct tm_stack st;
	uint32_t key = (uint32_t)id;
	int n;

	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.stacks), &key, &st))
		return -errno;
	for (n = 0; n < max && n < (int)st.nr && n < TM_MAX_STACK_DEPTH; n++)
		ips[n] = st.ips[n];
	return n;
}

int tracer__exit_info(void *ctx, uint32_t tgid, struct tm_exit *out)
{
	struct tracer *t = ctx;

	return bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.exits), &tgid, out) ? -errno : 0;
}

int tracer__load_unwind(void *ctx, const void *table)
{
	/* mmapable: the rows are copied in place, where a batch update took the kernel 0.2 us per
	 * row (15 ms for the 75k of the C libraries loaded at every start) */
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	const struct unwind_table *ut = table;
	struct tracer *t = ctx;
	uint32_t idx = (uint32_t)t->unwind_files;
	size_t stride = (sizeof(*ut->rows) + 7) & ~(size_t)7, len; /* array elements: 8-aligned */
	char *mem;
	int fd;

	if (t->unwind_files >= TM_MAX_UNWIND_FILES)
		return -ENOSPC;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "tm_unwind", sizeof(uint32_t), sizeof(*ut->rows),
			    (uint32_t)ut->n, &opts);
	if (fd < 0)
		return -errno;
	len = ut->n * stride;
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		int err = -errno;

		close(fd);
		return err;
	}
	for (size_t i = 0; i < ut->n; i++)
		memcpy(mem + i * stride, &ut->rows[i], sizeof(*ut->rows));
	munmap(mem, len);
	/* in place at the next tracer__commit_unwind */
	t->pend_idx[t->npend] = idx;
	t->pend_fd[t->npend] = fd;
	t->pend_ino[t->npend] = ut->inode;
	t->pend_file[t->npend] = (struct tm_unwind_file){ .file = idx, .nrows = (uint32_t)ut->n };
	t->npend++;
	return t->unwind_files++;
}

int tracer__commit_unwind(void *ctx)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bopts);
	struct tracer *t = ctx;
	uint32_t n = (uint32_t)t->npend;
	int err = 0, i;

	if (!n)
		return 0;
	if (bpf_map_update_batch(bpf_map__fd(t->skel->maps.unwind_files), t->pend_idx, t->pend_fd, &n, &bopts))
		err = -errno;
	/* the BPF mmap hook finds a table by inode: only once its rows are reachable */
	for (i = 0; !err && i < t->npend; i++)
		if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.unwind_inodes), &t->pend_ino[i],
					&t->pend_file[i], BPF_ANY))
			err = -errno;
	for (i = 0; i < t->npend; i++)
		close(t->pend_fd[i]); /* unwind_files holds them */
	t->npend = 0;
	return err;
}

/* Ranges BPF added itself as mmap returned that the maps read does not cover yet (the maps were
 * read before those mmaps: a library mapped meanwhile) are kept, while there is room. */
static void keep_newer(int fd, uint32_t tgid, struct tm_unwind_proc *up)
{
	struct tm_unwind_proc cur;
	uint32_t i, j;

	if (bpf_map_lookup_elem(fd, &tgid, &cur))
		return;
	for (i = 0; i < cur.n && i < TM_UNWIND_RANGES && up->n < TM_UNWIND_RANGES; i++) {
		for (j = 0; j < up->n; j++)
			if (cur.r[i].start < up->r[j].end && up->r[j].start < cur.r[i].end)
				break;
		if (j == up->n)
			up->r[up->n++] = cur.r[i];
	}
}

int tracer__set_unwind(void *ctx, uint32_t tgid, const struct tm_unwind_proc *given, const struct tm_py_proc *py)
{
	struct tracer *t = ctx;
	int fd = bpf_map__fd(t->skel->maps.unwind_procs), pfd = bpf_map__fd(t->skel->maps.py_procs);
	struct tm_unwind_proc merged = *given, *up = &merged;
	/* a new generation: the walk's cached frames of this process are stale (BPF adds 1 per
	 * mapping it adds itself: steps of 1 << 12 keep the two apart) */
	uint32_t v;
	bool keep;

	keep_newer(fd, tgid, up);
	/* no ranges yet (its tables are being built) but flags (CPython's -X perf trampolines):
	 * the entry stays, or the walk would not step over them until the next maps read */
	keep = up->n || up->flags;
	v = TM_TRACED | (keep ? TM_TRACED_UNWIND : 0) | (py ? TM_TRACED_PY : 0) |
	    ++t->unwind_gen << (TM_TRACED_GEN_SHIFT + 12);

	if (keep ? bpf_map_update_elem(fd, &tgid, up, BPF_ANY) :
		   bpf_map_delete_elem(fd, &tgid) && errno != ENOENT)
		return -errno;
	if (py ? bpf_map_update_elem(pfd, &tgid, py, BPF_ANY) :
		 bpf_map_delete_elem(pfd, &tgid) && errno != ENOENT)
		return -errno;
	/* only while the process is traced: an exited one must not come back */
	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.traced), &tgid, &v, BPF_EXIST) && errno != ENOENT)
		return -errno;
	return 0;
}

int tracer__add_unwind(void *ctx, uint32_t tgid, const struct tm_unwind_range *r, uint32_t n)
{
	struct tracer *t = ctx;
	int fd = bpf_map__fd(t->skel->maps.unwind_procs), tfd = bpf_map__fd(t->skel->maps.traced);
	struct tm_unwind_proc up = {};
	uint32_t v, i, j, small;

	if (bpf_map_lookup_elem(tfd, &tgid, &v))
		return errno == ENOENT ? 0 : -errno; /* exited meanwhile */
	if (bpf_map_lookup_elem(fd, &tgid, &up) && errno != ENOENT)
		return -errno;
	if (up.n > TM_UNWIND_RANGES)
		up.n = TM_UNWIND_RANGES;
	for (i = 0; i < n; i++) {
		for (j = 0; j < up.n; j++) /* BPF may have added it as it was mapped again */
			if (r[i].start < up.r[j].end && up.r[j].start < r[i].end)
				break;
		if (j < up.n)
			continue;
		if (up.n < TM_UNWIND_RANGES) {
			up.r[up.n++] = r[i];
			continue;
		}
		/* no room: the largest text mappings are kept, as unwind__proc_ranges does */
		for (small = 0, j = 1; j < up.n; j++)
			if (up.r[j].end - up.r[j].start < up.r[small].end - up.r[small].start)
				small = j;
		if (up.r[small].end - up.r[small].start < r[i].end - r[i].start)
			up.r[small] = r[i];
	}
	if (bpf_map_update_elem(fd, &tgid, &up, BPF_ANY))
		return -errno;
	/* a new generation (the walk's cached frames of the process are stale), as set_unwind's */
	v = (v & ((1u << TM_TRACED_GEN_SHIFT) - 1)) | TM_TRACED_UNWIND | ++t->unwind_gen << (TM_TRACED_GEN_SHIFT + 12);
	if (bpf_map_update_elem(tfd, &tgid, &v, BPF_EXIST) && errno != ENOENT)
		return -errno;
	return 0;
}

int tracer__set_python(void *ctx, uint32_t tgid, const struct tm_py_proc *py, uint64_t exe_ino, uint32_t exe_dev)
{
	struct tm_unwind_inode key = { .ino = exe_ino, .dev = exe_dev };
	struct tracer *t = ctx;
	int tfd = bpf_map__fd(t->skel->maps.traced);
	uint32_t v;

	/* the next processes that exec it are set up by the kernel side at exec (full: not) */
	if (exe_ino)
		bpf_map_update_elem(bpf_map__fd(t->skel->maps.py_exes), &key, py, BPF_ANY);
	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.py_procs), &tgid, py, BPF_ANY))
		return -errno;
	if (bpf_map_lookup_elem(tfd, &tgid, &v))
		return errno == ENOENT ? 0 : -errno; /* exited meanwhile */
	v |= TM_TRACED_PY;
	if (bpf_map_update_elem(tfd, &tgid, &v, BPF_EXIST) && errno != ENOENT)
		return -errno;
	return 0;
}

void tracer__drop_stack(void *ctx, int32_t id)
{
	struct tracer *t = ctx;
	uint32_t key = (uint32_t)id;

	/* a seqlock (bpf/taskmem.bpf.c): odd while the delete is made, so that no walk kept before
	 * or during it is taken after it */
	__atomic_fetch_add(&t->skel->bss->stack_drops, 1, __ATOMIC_SEQ_CST);
	bpf_map_delete_elem(bpf_map__fd(t->skel->maps.stacks), &key);
	__atomic_fetch_add(&t->skel->bss->stack_drops, 1, __ATOMIC_SEQ_CST);
}

void tracer__counters(struct tracer *t, uint64_t out[TM_NR_COUNTERS])
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(t->skel->maps.counters);
	uint64_t *vals;
	uint32_t i;
	int c;

	memset(out, 0, sizeof(uint64_t) * TM_NR_COUNTERS);
	if (ncpu <= 0)
		return;
	vals = xcalloc(ncpu, sizeof(*vals));
	for (i = 0; i < TM_NR_COUNTERS; i++) {
		if (bpf_map_lookup_elem(fd, &i, vals))
			continue;
		for (c = 0; c < ncpu; c++)
			out[i] += vals[c];
	}
	free(vals);
}

static void *destroy_link(void *link)
{
	bpf_link__destroy(link);
	return NULL;
}

void tracer__detach(struct tracer *t)
{
	/* a classic tracepoint's detach waits for RCU grace periods, ~75 ms each here */
	struct bpf_link **classic[] = { &t->skel->links.handle_rss_stat,
					&t->skel->links.handle_page_fault_kernel };

	for (size_t i = 0; i < sizeof(classic) / sizeof(*classic); i++)
		if (*classic[i] && !pthread_create(&t->detaching[t->ndetaching], NULL, destroy_link, *classic[i])) {
			t->ndetaching++;
			*classic[i] = NULL; /* the thread's now */
		}
}

void tracer__free(struct tracer *t)
{
	if (!t)
		return;
	while (t->ndetaching > 0)
		pthread_join(t->detaching[--t->ndetaching], NULL);
	for (int i = 0; i < t->npend; i++)
		close(t->pend_fd[i]);
	ring_buffer__free(t->rb);
	taskmem_bpf__destroy(t->skel);
	free(t);
}
