/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The payloads of a recording's record types (enum rec_type in recording.h), in one place: an
 * encoder and a decoder for each, the layouts of docs/recording.md's "Record types". The
 * decoders take bytes from anywhere: every length is checked, every string is bounded. */
#ifndef TM_RECTYPES_H
#define TM_RECTYPES_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "recording.h"
#include "oom.h"
#include "taskmem.h"
#include "pyframes.h"

/* REC_RUN_INFO, the first record: how the core was set up, and the layouts it was fed with
 * (a recording made with other layouts is refused, not misread). */
struct rt_run_info {
	uint32_t event_size, exec_event_size, nr_counters, max_stack_depth;
	uint64_t start_ts, interval_ns;
	int32_t top;
	int32_t root_pid;   /* the launched process (0: -p) */
	int32_t attach_pid; /* -p PID (0: launched) */
	uint32_t argc;
	char **argv;        /* decoded: owned, NULL-terminated (rt_run_info__free) */
	uint64_t sample_bytes; /* --sample-bytes, or 0 (then not written: older readers) */
};

/* REC_RUN_END, the last: what the reports say that the core does not know. */
struct rt_run_end {
	int32_t exit_code;
	char exit_desc[64];
	double duration_s, cmd_end_s;
	uint64_t counters[TM_NR_COUNTERS];
	char run_as[96];         /* who the command ran as under sudo, or "" */
	uint64_t growth_window_ns; /* --growth-window, or 0 (then not written: older readers) */
};

/* One ring-buffer record (REC_EVENT), aligned and with its strings terminated. */
union rt_event {
	struct tm_event e;
	struct tm_exec_event x;
	struct tm_py_code_event py;
};

/* A world answer (REC_MAPS ... REC_UNWIND_STATS): the question world.c was asked, then what it
 * answered. Each type uses the fields its row in rt_fields (rectypes.c) names, in this order. */
struct rt_answer {
	uint32_t type;
	/* the question */
	int32_t pid;          /* also STACK: the stack id; EXIT: the tgid */
	uint64_t num;         /* SYMBOL: file offset; PERFMAP: ip; EXEC_FILE: inode; PY_CODE: address */
	uint32_t num2;        /* PERFMAP: uid; EXEC_FILE: device */
	const char *qstr;     /* SYMBOL, IS_GO, TEXT_OFFSET: the file; PROC_FILE: the name;
			       * EXEC_FILE: the path execve was given */
	uint32_t qlen;
	/* the answer */
	int32_t ret;          /* what the call returned: 0/-errno, a length, a bool, a frame count */
	uint64_t val[3];      /* SYMBOL, TEXT_OFFSET: an offset; EXIT: maxrss, exit code; OWNER:
			       * uid; UNWIND_STATS: tables, skipped, rows; PY_CODE: first line, the
			       * lengths of the name and the file name in astr */
	const char *astr;     /* maps or /proc text, a path, a symbol or JIT name */
	uint32_t alen;
	const void *ips;      /* STACK: ret little-endian u64s (decoded: points into the payload) */
};

void rt_run_info__encode(struct rec_buf *b, const struct rt_run_info *ri);
/* 0, or -EINVAL with why in msg. */
int rt_run_info__decode(const void *p, uint32_t len, struct rt_run_info *ri, char *msg, size_t msglen);
void rt_run_info__free(struct rt_run_info *ri);
void rt_run_end__encode(struct rec_buf *b, const struct rt_run_end *re);
int rt_run_end__decode(const void *p, uint32_t len, struct rt_run_end *re);
/* The size of event e as recorded (an exec event carries more). */
size_t rt_event__size(const struct tm_event *e);
int rt_event__decode(const void *p, uint32_t len, union rt_event *ev);
/* CGROUP: u64 ts, u32 flags, u32 version, u64 usage, max_usage, limit, failcnt, oom, oom_kill */
void rt_cgroup__encode(struct rec_buf *b, const struct cg_sample *s);
int rt_cgroup__decode(const void *p, uint32_t len, struct cg_sample *s);
/* FINISH: u64 end_ts */
int rt_finish__decode(const void *p, uint32_t len, uint64_t *end_ts);

/* Is type a world answer? */
bool rt_is_answer(uint32_t type);
void rt_answer__encode(struct rec_buf *b, const struct rt_answer *a);
/* Decode a payload of a->type into a; 0 or -EINVAL. */
int rt_answer__decode(const void *p, uint32_t len, struct rt_answer *a);
/* Do two answers carry the same question? */
bool rt_answer__same_question(const struct rt_answer *a, const struct rt_answer *b);
/* The question in words, e.g. "stack 12", "symbol of /usr/bin/x+0x1234". */
void rt_answer__describe(const struct rt_answer *a, char *buf, size_t len);
/* A type's name ("REC_MAPS"), or "type N". */
const char *rt_type_name(uint32_t type, char *buf, size_t len);
#endif
