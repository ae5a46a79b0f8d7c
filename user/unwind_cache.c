// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Which files get unwind tables (within the run's kernel-memory budget), and which text
 * mappings of a process use them. Tables are built on a worker thread (a big or hostile file
 * takes from 0.1 s to seconds: on the event loop, events were lost and Ctrl-C unseen
 * meanwhile); the event loop opens the files, loads the tables and sets the BPF maps. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "hashmap.h"
#include "procfile.h"
#include "strtab.h"
#include "unwind.h"
#include "util.h"

/* The kernel memory of all tables (BPF arrays, 16 bytes a row), a budget for the run: 64
 * slots of tables as large as a program can make them would pin gigabytes (issue 15.3) */
static uint64_t memory_budget = UNWIND_MEMORY_DEFAULT;
/* files whose table was over a budget (its build, or the memory left): process-wide, as the
 * symbol tables' and perf maps' counts */
static size_t over_budget;

void unwind__set_memory_budget(uint64_t bytes)
{
	memory_budget = bytes;
}

size_t unwind__over_budget(void)
{
	return over_budget;
}

/* Files queued, being built, or built and not yet loaded, at most (each holds an fd, and once
 * built its rows): past it a file is left to frame pointers until its next maps read */
#define UNWIND_MAX_QUEUED 256
/* Mappings of files being built that processes wait for, at most (48 bytes each; each maps
 * read and each table loaded scans them): past it, frame pointers until the next maps read */
#define UNWIND_MAX_WAITERS 4096
/* The worker's nice value (the event loop's thread keeps the tool's) */
#define WORKER_NICE 10
/* The launched command is held (stopped) while it waits for a table being built at its start,
 * at most this long at a time, and this long in all: a table takes 10 ms to a second to build,
 * and the stacks of what the command allocates meanwhile would be cut at the first frame of
 * that file (Node's libnode, CPython, a JVM: their first tens of MiB) */
#define HOLD_MAX_NS (1500ull * 1000000)
#define HOLD_BUDGET_NS (3000ull * 1000000)
/* After its exec's maps read, for text mappings this large only (a smaller file's table is built
 * within milliseconds, less than a stop and a continue take: CPython's extension modules,
 * dlopened one by one), and only this long after the exec: a stop and continue end a waiting
 * epoll_wait or semop with EINTR, even in a process of one thread (signal(7)) */
#define HOLD_MIN_TEXT (1ull << 20)
#define HOLD_WINDOW_NS (2000ull * 1000000)
/* The value of a file's slot while its table is being built */
#define SLOT_BUILDING ((uint64_t)UINT32_MAX)

/* A file for the worker: read from fd (opened through the process, by the event loop), the
 * table or error back to the event loop */
struct job {
	struct job *next;
	const char *key; /* "dev:ino", interned */
	uint64_t ino;
	char *path;      /* for the messages */
	int fd;
	int err;         /* unwind__build_fd's */
	struct unwind_table t;
	uint64_t slot;   /* once loaded (or not) */
};

/* A text mapping of a process whose maps were read while its file's table was being built */
struct waiter {
	const char *key;
	uint64_t start, end, off, ino;
	uint32_t dev;
	pid_t pid;
};

struct unwind_cache {
	/* "dev:ino" (interned) -> file index + 1 | rows << 32, or 0: walked by frame pointers, or
	 * SLOT_BUILDING. By file, not path: hard links or bind mounts of one file are one table */
	struct hashmap *files;
	unwind_load_fn load;
	unwind_commit_fn commit;
	unwind_add_fn add; /* NULL: tables built on the spot */
	void *ctx;
	size_t loaded, skipped, rows;
	size_t pending, pending_rows; /* loaded, not yet committed */
	uint64_t ino[TM_MAX_UNWIND_FILES]; /* of each loaded file */
	bool sync; /* build on the spot for now (the preload, before the command starts) */
	/* The worker thread: it takes jobs from todo one at a time and puts them, built, on done;
	 * only it parses files, only the event loop loads tables and touches BPF maps and the
	 * fields above. lock guards todo, done and stop. */
	pthread_t worker;
	pid_t worker_tid; /* its thread id (set by it) */
	int nice;         /* its nice value: the tool's while the command waits for it, else WORKER_NICE */
	bool started, stop;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct job *todo, **todo_tail, *done, **done_tail;
	size_t queued; /* jobs made and not yet taken back from done */
	struct waiter *w;
	size_t nw, wcap;
	/* The hold (unwind__hold): the process, whether its exec's maps read is still to come,
	 * whether it is stopped now, since when, its last exec, how long in all, how many times */
	pid_t hold_pid;
	bool exec_read, held;
	uint64_t held_since, exec_ns, held_ns;
	size_t holds;
};

struct unwind_cache *unwind__cache_new(unwind_load_fn load, unwind_commit_fn commit, unwind_add_fn add, void *ctx)
{
	struct unwind_cache *c = xcalloc(1, sizeof(*c));

	c->files = hashmap__new();
	c->load = load;
	c->commit = commit;
	c->add = add;
	c->ctx = ctx;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	c->nice = WORKER_NICE;
	c->todo_tail = &c->todo;
	c->done_tail = &c->done;
	return c;
}

static void job_free(struct job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	unwind__table_free(&j->t);
	free(j->path);
	free(j);
}

/* The worker's nice value: the tool's while the command is stopped waiting for it (at nice 10
 * on a loaded machine a 0.1 s hold took 0.6-1.5 s), WORKER_NICE else */
static void worker_nice(struct unwind_cache *c, int nice)
{
	pid_t tid;

	pthread_mutex_lock(&c->lock);
	c->nice = nice; /* a worker not yet started takes it as it starts */
	tid = c->worker_tid;
	pthread_mutex_unlock(&c->lock);
	if (tid)
		setpriority(PRIO_PROCESS, (id_t)tid, nice);
}

/* The held command is no longer held: continued (go), or gone (reaped: its pid may be
 * another process's now) */
static void unhold(struct unwind_cache *c, bool go)
{
	if (!c->held)
		return;
	if (go)
		kill(c->hold_pid, SIGCONT);
	c->held = false;
	c->held_ns += now_ns() - c->held_since;
	worker_nice(c, WORKER_NICE);
}

/* Whether pid may be stopped: one thread (loading its libraries at its start, not a server's
 * workers in epoll_wait) and not ptraced (a debugger would see the stop). Its whole status is
 * read: the Groups line before Threads is long for a user in many groups. */
static bool may_stop(pid_t pid)
{
	char path[64], *status;
	size_t len;
	bool yes;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_whole(path, 1 << 20, &status, &len))
		return false;
	yes = strstr(status, "\nTracerPid:") && status_value(status, "\nTracerPid:") == 0 &&
	      status_value(status, "\nThreads:") == 1;
	free(status);
	return yes;
}

static bool waiting(const struct unwind_cache *c, pid_t pid)
{
	for (size_t i = 0; i < c->nw; i++)
		if (c->w[i].pid == pid)
			return true;
	return false;
}

/* Stop the command (pid) now, if it may be */
static void hold_now(struct unwind_cache *c, pid_t pid)
{
	if (c->held || c->held_ns >= HOLD_BUDGET_NS || !may_stop(pid) || kill(pid, SIGSTOP))
		return;
	c->held = true;
	c->held_since = now_ns();
	c->holds++;
	worker_nice(c, 0);
}

/* At each poll: the held command goes on once it waits for no table, or at the time limit */
static void hold_check(struct unwind_cache *c)
{
	uint64_t t;

	if (!c->held)
		return;
	t = now_ns() - c->held_since;
	if (!waiting(c, c->hold_pid) || t >= HOLD_MAX_NS || c->held_ns + t >= HOLD_BUDGET_NS)
		unhold(c, true);
}

void unwind__hold(struct unwind_cache *c, pid_t pid)
{
	c->hold_pid = pid;
}

void unwind__hold_end(struct unwind_cache *c, bool gone)
{
	unhold(c, !gone);
	c->hold_pid = 0;
}

bool unwind__holding(const struct unwind_cache *c)
{
	return c->held;
}

void unwind__hold_exec(struct unwind_cache *c, pid_t pid, uint64_t ts)
{
	if (!c->hold_pid || pid != c->hold_pid)
		return;
	c->exec_read = true;
	c->exec_ns = ts;
	if (now_ns() - ts >= HOLD_WINDOW_NS) /* read late (a backlog): it may be serving by now */
		return;
	/* at once, before its maps are read: its loader runs meanwhile, and a program may
	 * allocate within milliseconds (cc1: 6-14% of its GC bytes cut when stopped after the
	 * read); continued at that read if none of its tables is being built */
	hold_now(c, pid);
}

void unwind__cache_free(struct unwind_cache *c)
{
	struct timespec until;
	size_t unfinished = 0;
	struct job *j;

	if (!c)
		return;
	unhold(c, true);
	if (verbose && c->holds)
		p_warn("the command was held %.3f s in all (%zu time%s) while the unwind tables of its code were built",
		       c->held_ns / 1e9, c->holds, c->holds == 1 ? "" : "s");
	if (c->started) { /* a build in progress gives up at its next function */
		pthread_mutex_lock(&c->lock);
		__atomic_store_n(&c->stop, true, __ATOMIC_RELAXED);
		pthread_cond_signal(&c->wake);
		pthread_mutex_unlock(&c->lock);
		/* a read blocked on the traced program's own file system (FUSE, a hung NFS) would
		 * hold the tool's exit: after a second the worker is left, and with it the cache */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		if (pthread_timedjoin_np(c->worker, NULL, &until)) {
			p_warn("an unwind table's file did not answer for a second: left unread");
			return;
		}
	}
	while ((j = c->todo)) {
		c->todo = j->next;
		unfinished++;
		job_free(j);
	}
	while ((j = c->done)) {
		c->done = j->next;
		unfinished += j->err == -EINTR;
		job_free(j);
	}
	if (verbose && unfinished)
		p_warn("%zu unwind table(s) still being built when the run ended: their processes were walked by frame pointers",
		       unfinished);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c->w);
	hashmap__free(c->files);
	free(c);
}

static void *worker_main(void *arg)
{
	struct unwind_cache *c = arg;
	struct job *j;

	/* below the event loop's thread: on a busy machine draining events comes first (unless
	 * the command waits for it) */
	pthread_mutex_lock(&c->lock);
	c->worker_tid = gettid();
	setpriority(PRIO_PROCESS, (id_t)c->worker_tid, c->nice);
	for (;;) {
		while (!c->stop && !c->todo)
			pthread_cond_wait(&c->wake, &c->lock);
		if (c->stop)
			break;
		j = c->todo;
		if (!(c->todo = j->next))
			c->todo_tail = &c->todo;
		pthread_mutex_unlock(&c->lock);
		j->err = unwind__build_fd_until(j->fd, &j->t, &c->stop);
		close(j->fd);
		j->fd = -1;
		pthread_mutex_lock(&c->lock);
		j->next = NULL;
		*c->done_tail = j;
		c->done_tail = &j->next;
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* 0 or -errno. The worker takes no signal: the event loop's thread gets them all (and the
 * worker's reads are never cut by one). */
static int start_worker(struct unwind_cache *c)
{
	sigset_t all, old;
	int err;

	if (c->started)
		return 0;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&c->worker, NULL, worker_main, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return -err;
	pthread_setname_np(c->worker, "tm-unwind"); /* in ps -L and /proc/PID/task */
	c->started = true;
	return 0;
}

/* bytes of kernel memory a table of n rows takes (tracer__load_unwind: 8-aligned elements) */
static uint64_t table_bytes(size_t n)
{
	return (uint64_t)n * ((sizeof(struct tm_unwind_row) + 7) & ~(size_t)7);
}

/* A file's table built (err: unwind__build_fd's): loaded if the file needs one and there is
 * room, counted if not. Its slot's value: file index + 1 | rows << 32, or 0. */
static uint64_t table_built(struct unwind_cache *c, const char *path, uint64_t ino, int err, struct unwind_table *t)
{
	uint64_t v = 0;
	int idx = err;

	if (idx == -EFBIG || idx == -E2BIG) {
		c->skipped++;
		over_budget++;
		if (verbose)
			p_warn("no unwind table for %s: %s", path,
			       idx == -EFBIG ? "too many functions" : "more rows than a table may have");
	}
	/* open_ref checked the identity: this is only a second look */
	if (!idx && t->inode.ino != ino)
		idx = -ESTALE;
	if (idx) {
		unwind__table_free(t);
		return 0;
	}
	if (unwind__frameless(t)) {
		if (table_bytes(c->rows + t->n) > memory_budget) {
			idx = -EDQUOT;
			over_budget++;
		} else {
			idx = c->loaded < TM_MAX_UNWIND_FILES ? c->load(c->ctx, t) : -ENOSPC;
		}
		if (idx >= 0 && idx < TM_MAX_UNWIND_FILES) {
			v = ((uint64_t)idx + 1) | (uint64_t)t->n << 32;
			c->ino[idx] = t->inode.ino;
			c->loaded++;
			c->pending++;
			c->pending_rows += t->n;
			c->rows += t->n;
		} else {
			c->skipped++;
			if (verbose)
				p_warn("no unwind table for %s: %s", path,
				       idx == -EDQUOT ? "over the memory budget (--unwind-memory)" : strerror(-idx));
		}
	}
	unwind__table_free(t);
	return v;
}

/* The slot of the file r names (its device and inode as the kernel names them): its file
 * index + 1 (0: walked by frame pointers) | its rows << 32, or SLOT_BUILDING */
static uint64_t file_slot(struct unwind_cache *c, const struct file_ref *r)
{
	const char *key = file_key(r->dev, r->ino);
	struct unwind_table t;
	uint64_t *slot, v;
	struct stat st;
	struct job *j;
	bool created;
	int err, fd;

	slot = hashmap__upsert(c->files, (uint64_t)(uintptr_t)key, &created);
	if (!created)
		return *slot;
	fd = open_ref(r, &st);
	if (fd < 0) { /* gone, or not the mapped file: another process may show it */
		hashmap__delete(c->files, (uint64_t)(uintptr_t)key);
		return 0;
	}
	if (c->add && !c->sync && !start_worker(c)) { /* (no thread: built on the spot) */
		if (c->queued >= UNWIND_MAX_QUEUED) { /* frame pointers, until a later maps read */
			c->skipped++;
			close(fd);
			hashmap__delete(c->files, (uint64_t)(uintptr_t)key);
			return 0;
		}
		*slot = SLOT_BUILDING;
		j = xcalloc(1, sizeof(*j));
		*j = (struct job){ .key = key, .ino = r->ino, .path = xstrdup(r->path ? r->path : "?"), .fd = fd };
		c->queued++;
		pthread_mutex_lock(&c->lock);
		*c->todo_tail = j;
		c->todo_tail = &j->next;
		pthread_cond_signal(&c->wake);
		pthread_mutex_unlock(&c->lock);
		return SLOT_BUILDING;
	}
	err = unwind__build_fd(fd, &t);
	close(fd);
	v = table_built(c, r->path, r->ino, err, &t);
	*slot = v; /* still valid: nothing else inserts into c->files meanwhile */
	return v;
}

/* Forget what pid waited for: its maps were read again (or the table came) */
static void drop_waiters(struct unwind_cache *c, pid_t pid)
{
	for (size_t i = 0; i < c->nw;)
		if (c->w[i].pid == pid)
			c->w[i] = c->w[--c->nw];
		else
			i++;
}

/* Whether pid still maps the waiter's file at its place (it may have unmapped it, exec'd or
 * exited, and the pid been reused, since its maps were read) */
static bool still_mapped(const struct waiter *x)
{
	char path[80];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", (int)x->pid, (unsigned long long)x->start,
		 (unsigned long long)x->end);
	return !stat(path, &st) && st.st_ino == x->ino && kernel_dev(st.st_dev) == x->dev;
}

static int waiter_cmp(const void *a, const void *b)
{
	const struct waiter *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* The table of key is loaded (v: its slot, 0 if not): the processes whose maps showed the
 * file meanwhile get their mappings of it */
static void give(struct unwind_cache *c, const char *key, uint64_t v)
{
	struct tm_unwind_range r[TM_UNWIND_RANGES];
	struct waiter *mine;
	size_t n = 0;

	if (!c->nw)
		return;
	mine = xmalloc(c->nw * sizeof(*mine));
	for (size_t i = 0; i < c->nw;) /* taken out */
		if (c->w[i].key == key) {
			mine[n++] = c->w[i];
			c->w[i] = c->w[--c->nw];
		} else {
			i++;
		}
	qsort(mine, n, sizeof(*mine), waiter_cmp); /* by process */
	for (size_t i = 0, j; v && i < n; i = j) {
		uint32_t nr = 0;
		int err;

		for (j = i; j < n && mine[j].pid == mine[i].pid; j++)
			if (nr < TM_UNWIND_RANGES && still_mapped(&mine[j]))
				r[nr++] = (struct tm_unwind_range){ .start = mine[j].start, .end = mine[j].end,
								    .off = mine[j].off, .file = (uint32_t)(v & 0xffffffff) - 1,
								    .nrows = (uint32_t)(v >> 32) };
		if (nr && (err = c->add(c->ctx, (uint32_t)mine[i].pid, r, nr)) && verbose)
			p_warn("unwind ranges of pid %d not set: %s", (int)mine[i].pid, strerror(-err));
	}
	free(mine);
}

/* Put the tables loaded since the last call in place. If the kernel refuses, their slots stay
 * handed out: a walk that reaches such code finds no row there and ends (cfi_no_row). */
static void commit(struct unwind_cache *c)
{
	int err;

	if (!c->pending)
		return;
	err = c->commit(c->ctx);
	if (err) {
		c->skipped += c->pending;
		c->loaded -= c->pending;
		c->rows -= c->pending_rows;
		if (verbose)
			p_warn("unwind tables not usable: %s", strerror(-err));
	}
	c->pending = c->pending_rows = 0;
}

int unwind__proc_ranges(struct unwind_cache *c, pid_t pid, const struct procmaps *pm, struct tm_unwind_proc *out)
{
	bool waits_long = false; /* for a large text mapping's table */
	uint32_t waits = 0;
	size_t first; /* pid's waiters are c->w[first..] */

	memset(out, 0, sizeof(*out));
	if (c->nw)
		drop_waiters(c, pid);
	first = c->nw;
	for (size_t i = 0; i < pm->n; i++) {
		const struct map_entry *m = &pm->e[i];
		struct tm_unwind_range r;
		struct file_ref fr = { .pid = pid, .start = m->start, .end = m->end, .ino = m->ino, .dev = m->dev,
				       .path = m->path };
		uint64_t v;
		uint32_t j, small = 0;

		if (!m->exec || !map_entry__is_file(m) || !m->ino || !(v = file_slot(c, &fr)))
			continue;
		if (v == SLOT_BUILDING) { /* given when it is loaded (a few of them: BPF keeps 8) */
			struct waiter x = { .key = file_key(m->dev, m->ino), .start = m->start, .end = m->end,
					    .off = m->off, .ino = m->ino, .dev = m->dev, .pid = pid };

			if (waits < TM_UNWIND_RANGES && c->nw < UNWIND_MAX_WAITERS) {
				GROW(c->w, c->wcap, c->nw + 1);
				c->w[c->nw++] = x;
				waits++;
			} else if (waits == TM_UNWIND_RANGES) { /* the largest text mappings wait */
				size_t s = first;

				for (j = 0; j < waits; j++)
					if (c->w[first + j].end - c->w[first + j].start < c->w[s].end - c->w[s].start)
						s = first + j;
				if (c->w[s].end - c->w[s].start < x.end - x.start)
					c->w[s] = x;
				else
					continue;
			} else {
				continue;
			}
			waits_long |= m->end - m->start >= HOLD_MIN_TEXT;
			continue;
		}
		r = (struct tm_unwind_range){ .start = m->start, .end = m->end, .off = m->off,
					      .file = (uint32_t)(v & 0xffffffff) - 1, .nrows = (uint32_t)(v >> 32) };
		/* the same path may be another file for the process (another mount namespace, a
		 * library replaced since): a wrong table would make up frames */
		if (m->ino && m->ino != c->ino[r.file])
			continue;
		if (out->n < TM_UNWIND_RANGES) {
			out->r[out->n++] = r;
			continue;
		}
		/* more than fit: keep the largest text mappings */
		for (j = 1; j < out->n; j++)
			if (out->r[j].end - out->r[j].start < out->r[small].end - out->r[small].start)
				small = j;
		if (out->r[small].end - out->r[small].start < r.end - r.start)
			out->r[small] = r;
	}
	commit(c);
	if (pid == c->hold_pid) { /* the command waits for tables: right after its exec, or large ones */
		if (waits && now_ns() - c->exec_ns < HOLD_WINDOW_NS && (c->exec_read || waits_long))
			hold_now(c, pid);
		c->exec_read = false;
		hold_check(c);
	}
	return (int)out->n;
}

void unwind__cache_poll(void *arg)
{
	struct unwind_cache *c = arg;
	struct job *done, *j;

	hold_check(c);
	if (!c->queued)
		return;
	pthread_mutex_lock(&c->lock);
	done = c->done;
	c->done = NULL;
	c->done_tail = &c->done;
	pthread_mutex_unlock(&c->lock);
	if (!done)
		return;
	for (j = done; j; j = j->next) {
		uint64_t *slot = hashmap__find(c->files, (uint64_t)(uintptr_t)j->key);
		uint64_t v = table_built(c, j->path, j->ino, j->err, &j->t);

		if (slot)
			*slot = v;
		j->slot = v;
	}
	commit(c); /* one grace period for all of them */
	while ((j = done)) {
		done = j->next;
		give(c, j->key, j->slot);
		c->queued--;
		job_free(j);
	}
	hold_check(c);
}

void unwind__preload(struct unwind_cache *c)
{
	static const char *const libs[] = { "libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1" };
	struct procmaps pm = {};
	char path[4096];
	struct stat st;

	if (procmaps__read(&pm, getpid()))
		return;
	c->sync = true; /* the command waits at its gate meanwhile: ready before it starts */
	for (size_t i = 0; i < pm.n; i++) {
		const struct map_entry *m = &pm.e[i];
		const char *p = m->path, *base = basename_of(p);
		struct file_ref fr = { .pid = getpid(), .start = m->start, .end = m->end, .ino = m->ino, .dev = m->dev,
				       .path = p };

		if (!m->exec || !map_entry__is_file(m))
			continue;
		if (!strncmp(base, "ld-linux", 8))
			file_slot(c, &fr);
		if (strcmp(base, "libc.so.6"))
			continue;
		/* the tool's own libraries, beside its libc (not mapped by it: by path) */
		for (size_t j = 0; j < sizeof(libs) / sizeof(*libs); j++) {
			snprintf(path, sizeof(path), "%.*s%s", (int)(base - p), p, libs[j]);
			if (stat(path, &st) || !S_ISREG(st.st_mode))
				continue;
			fr = (struct file_ref){ .ino = st.st_ino, .dev = kernel_dev(st.st_dev), .path = path, .own_root = true };
			file_slot(c, &fr);
		}
	}
	c->sync = false;
	commit(c);
	procmaps__clear(&pm);
}

void unwind__stats(const struct unwind_cache *c, size_t *loaded, size_t *skipped, size_t *rows)
{
	*loaded = c->loaded;
	/* asked at the end of the run: a table still queued or being built is never loaded */
	*skipped = c->skipped + c->queued;
	*rows = c->rows;
}
