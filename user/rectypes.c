// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Encoders and decoders of the record payloads (docs/recording.md, "Record types"). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rectypes.h"
#include "util.h"

/* Which fields of struct rt_answer a world answer's payload holds, in this order. */
enum {
	F_PID = 1 << 0,  /* i32 */
	F_NUM = 1 << 1,  /* u64 */
	F_NUM2 = 1 << 2, /* u32 */
	F_QSTR = 1 << 3, /* str */
	F_RET = 1 << 4,  /* i32 */
	F_VAL1 = 1 << 5, /* u64 val[0] */
	F_VAL2 = 1 << 6, /* u64 val[0..1] */
	F_VAL3 = 1 << 7, /* u64 val[0..2] */
	F_ASTR = 1 << 8, /* str */
	F_IPS = 1 << 9,  /* ret x u64 when ret > 0 */
	F_QUESTION = F_PID | F_NUM | F_NUM2 | F_QSTR,
};

static const struct {
	const char *name;
	unsigned fields;
	const char *asks; /* the question, in words */
} rt_types[REC_NR_TYPES] = {
	[REC_END] = { .name = "REC_END" },
	[REC_RUN_INFO] = { .name = "REC_RUN_INFO" },
	[REC_EVENT] = { .name = "REC_EVENT" },
	[REC_MAPS] = { "REC_MAPS", F_PID | F_RET | F_ASTR, "the maps of pid" },
	[REC_EXE] = { "REC_EXE", F_PID | F_RET | F_ASTR, "the exe of pid" },
	[REC_SYMBOL] = { "REC_SYMBOL", F_NUM | F_QSTR | F_RET | F_VAL1 | F_ASTR, "the symbol at" },
	[REC_PERFMAP] = { "REC_PERFMAP", F_PID | F_NUM | F_NUM2 | F_RET | F_ASTR, "the perf-map name of pid" },
	[REC_STACK] = { "REC_STACK", F_PID | F_RET | F_IPS, "stack" },
	[REC_EXIT] = { "REC_EXIT", F_PID | F_RET | F_VAL2, "the exit of pid" },
	[REC_REFRESH] = { .name = "REC_REFRESH" },
	[REC_FINISH] = { .name = "REC_FINISH" },
	[REC_PROC_FILE] = { "REC_PROC_FILE", F_PID | F_QSTR | F_RET | F_ASTR, "a /proc file of pid" },
	[REC_OWNER] = { "REC_OWNER", F_PID | F_RET | F_VAL1, "the owner of pid" },
	[REC_EXEC_FILE] = { "REC_EXEC_FILE", F_NUM | F_NUM2 | F_QSTR | F_RET | F_ASTR, "whether this ran: inode" },
	[REC_IS_GO] = { "REC_IS_GO", F_QSTR | F_RET, "whether Go is" },
	[REC_TEXT_OFFSET] = { "REC_TEXT_OFFSET", F_QSTR | F_RET | F_VAL1, "the text offset of" },
	[REC_UNWIND_SET] = { "REC_UNWIND_SET", F_PID | F_RET, "the unwind ranges of pid" },
	[REC_UNWIND_STATS] = { "REC_UNWIND_STATS", F_VAL3, "the unwind tables' totals" },
	[REC_RUN_END] = { .name = "REC_RUN_END" },
	[REC_BUILD_ID] = { "REC_BUILD_ID", F_QSTR | F_RET | F_ASTR, "the build id of" },
	[REC_CGROUP] = { .name = "REC_CGROUP" },
	[REC_PY_CODE] = { "REC_PY_CODE", F_PID | F_NUM | F_RET | F_VAL3 | F_ASTR, "the Python code object of pid" },
};

const char *rt_type_name(uint32_t type, char *buf, size_t len)
{
	if (type < REC_NR_TYPES && rt_types[type].name)
		return rt_types[type].name;
	snprintf(buf, len, "type %u", type);
	return buf;
}

bool rt_is_answer(uint32_t type)
{
	return type < REC_NR_TYPES && rt_types[type].asks;
}

static void put_bytes(struct rec_buf *b, const char *s, uint32_t len)
{
	rec_buf__u32(b, len);
	rec_buf__bytes(b, s, len);
}

static unsigned nvals(unsigned f)
{
	return f & F_VAL3 ? 3 : f & F_VAL2 ? 2 : f & F_VAL1 ? 1 : 0;
}

void rt_answer__encode(struct rec_buf *b, const struct rt_answer *a)
{
	unsigned f = rt_types[a->type].fields, i;

	if (f & F_PID)
		rec_buf__u32(b, (uint32_t)a->pid);
	if (f & F_NUM)
		rec_buf__u64(b, a->num);
	if (f & F_NUM2)
		rec_buf__u32(b, a->num2);
	if (f & F_QSTR)
		put_bytes(b, a->qstr, a->qlen);
	if (f & F_RET)
		rec_buf__u32(b, (uint32_t)a->ret);
	for (i = 0; i < nvals(f); i++)
		rec_buf__u64(b, a->val[i]);
	if (f & F_ASTR)
		put_bytes(b, a->astr, a->alen);
	if ((f & F_IPS) && a->ret > 0)
		rec_buf__bytes(b, a->ips, (size_t)a->ret * 8); /* little-endian hosts only, as the rest */
}

int rt_answer__decode(const void *p, uint32_t len, struct rt_answer *a)
{
	struct rec_cursor c = { .p = p, .left = len };
	unsigned f, i;

	if (!rt_is_answer(a->type))
		return -EINVAL;
	f = rt_types[a->type].fields;
	if (f & F_PID)
		a->pid = (int32_t)rec_get_u32(&c);
	if (f & F_NUM)
		a->num = rec_get_u64(&c);
	if (f & F_NUM2)
		a->num2 = rec_get_u32(&c);
	if (f & F_QSTR)
		a->qstr = rec_get_str(&c, &a->qlen);
	if (f & F_RET)
		a->ret = (int32_t)rec_get_u32(&c);
	for (i = 0; i < nvals(f); i++)
		a->val[i] = rec_get_u64(&c);
	if (f & F_ASTR)
		a->astr = rec_get_str(&c, &a->alen);
	if ((f & F_IPS) && a->ret > 0) {
		if (a->ret > TM_MAX_STACK_DEPTH)
			return -EINVAL;
		a->ips = rec_get_bytes(&c, (size_t)a->ret * 8);
	}
	return c.bad || c.left ? -EINVAL : 0;
}

bool rt_answer__same_question(const struct rt_answer *a, const struct rt_answer *b)
{
	unsigned f = rt_types[a->type].fields;

	if (a->type != b->type)
		return false;
	return (!(f & F_PID) || a->pid == b->pid) && (!(f & F_NUM) || a->num == b->num) &&
	       (!(f & F_NUM2) || a->num2 == b->num2) &&
	       (!(f & F_QSTR) || (a->qlen == b->qlen && !memcmp(a->qstr, b->qstr, a->qlen)));
}

void rt_answer__describe(const struct rt_answer *a, char *buf, size_t len)
{
	unsigned f = rt_is_answer(a->type) ? rt_types[a->type].fields : 0;
	size_t n = (size_t)snprintf(buf, len, "%s", f ? rt_types[a->type].asks : "nothing");
	uint32_t i;

	if ((f & F_PID) && n < len)
		n += (size_t)snprintf(buf + n, len - n, " %d", a->pid);
	if ((f & F_QSTR) && n + 2 < len) { /* a path from anywhere: its first 80 bytes, printable */
		buf[n++] = ' ';
		for (i = 0; i < a->qlen && i < 80 && n + 1 < len; i++)
			buf[n++] = a->qstr[i] >= 32 && a->qstr[i] < 127 ? a->qstr[i] : '?';
		buf[n] = 0;
	}
	if ((f & F_NUM) && n < len)
		n += (size_t)snprintf(buf + n, len - n, " 0x%" PRIx64, a->num);
	if ((f & F_NUM2) && n < len)
		snprintf(buf + n, len - n, " (%u)", a->num2);
}

void rt_run_info__encode(struct rec_buf *b, const struct rt_run_info *ri)
{
	uint32_t i;

	rec_buf__u32(b, ri->event_size);
	rec_buf__u32(b, ri->exec_event_size);
	rec_buf__u32(b, ri->nr_counters);
	rec_buf__u32(b, ri->max_stack_depth);
	rec_buf__u64(b, ri->start_ts);
	rec_buf__u64(b, ri->interval_ns);
	rec_buf__u32(b, (uint32_t)ri->top);
	rec_buf__u32(b, (uint32_t)ri->root_pid);
	rec_buf__u32(b, (uint32_t)ri->attach_pid);
	rec_buf__u32(b, ri->argc);
	for (i = 0; i < ri->argc; i++)
		rec_buf__str(b, ri->argv[i]);
	if (ri->sample_bytes)
		rec_buf__u64(b, ri->sample_bytes);
}

int rt_run_info__decode(const void *p, uint32_t len, struct rt_run_info *ri, char *msg, size_t msglen)
{
	struct rec_cursor c = { .p = p, .left = len };
	uint32_t i, n;

	memset(ri, 0, sizeof(*ri));
	ri->event_size = rec_get_u32(&c);
	ri->exec_event_size = rec_get_u32(&c);
	ri->nr_counters = rec_get_u32(&c);
	ri->max_stack_depth = rec_get_u32(&c);
	if (!c.bad && (ri->event_size != sizeof(struct tm_event) ||
		       ri->exec_event_size != sizeof(struct tm_exec_event) ||
		       !ri->nr_counters || ri->nr_counters > TM_NR_COUNTERS ||
		       ri->max_stack_depth != TM_MAX_STACK_DEPTH)) {
		snprintf(msg, msglen, "recorded with other event layouts (event %u, exec event %u bytes, "
			 "%u counters, %u frames; this taskmem-trace: %zu, %zu, %d, %d): "
			 "report it with the taskmem-trace that recorded it", ri->event_size,
			 ri->exec_event_size, ri->nr_counters, ri->max_stack_depth, sizeof(struct tm_event),
			 sizeof(struct tm_exec_event), TM_NR_COUNTERS, TM_MAX_STACK_DEPTH);
		return -EINVAL;
	}
	ri->start_ts = rec_get_u64(&c);
	ri->interval_ns = rec_get_u64(&c);
	ri->top = (int32_t)rec_get_u32(&c);
	ri->root_pid = (int32_t)rec_get_u32(&c);
	ri->attach_pid = (int32_t)rec_get_u32(&c);
	n = rec_get_u32(&c);
	/* each argument takes 4 bytes at least: no count the payload cannot hold */
	if (c.bad || !n || n > c.left / 4 || !ri->interval_ns || ri->top < 0 || ri->top > 1000 ||
	    (ri->root_pid <= 0) == (ri->attach_pid <= 0)) {
		snprintf(msg, msglen, "its run information is malformed");
		return -EINVAL;
	}
	ri->argv = xcalloc(n + 1, sizeof(*ri->argv));
	for (i = 0; i < n; i++) {
		uint32_t l;
		const char *s = rec_get_str(&c, &l);

		if (!s)
			break;
		ri->argv[i] = strndup(s, l);
		if (!ri->argv[i])
			abort();
		ri->argc++;
	}
	if (!c.bad && c.left == 8) /* written by --sample-bytes runs only */
		ri->sample_bytes = rec_get_u64(&c);
	if (c.bad || c.left) {
		rt_run_info__free(ri);
		snprintf(msg, msglen, "its run information is malformed");
		return -EINVAL;
	}
	return 0;
}

void rt_run_info__free(struct rt_run_info *ri)
{
	uint32_t i;

	for (i = 0; ri->argv && i < ri->argc; i++)
		free(ri->argv[i]);
	free(ri->argv);
	ri->argv = NULL;
	ri->argc = 0;
}

static uint64_t double_bits(double d)
{
	uint64_t v;

	memcpy(&v, &d, sizeof(v));
	return v;
}

static double bits_double(uint64_t v)
{
	double d;

	memcpy(&d, &v, sizeof(d));
	return d;
}

void rt_run_end__encode(struct rec_buf *b, const struct rt_run_end *re)
{
	int i;

	rec_buf__u32(b, (uint32_t)re->exit_code);
	rec_buf__str(b, re->exit_desc);
	rec_buf__u64(b, double_bits(re->duration_s));
	rec_buf__u64(b, double_bits(re->cmd_end_s));
	rec_buf__u32(b, TM_NR_COUNTERS);
	for (i = 0; i < TM_NR_COUNTERS; i++)
		rec_buf__u64(b, re->counters[i]);
	rec_buf__str(b, re->run_as);
	if (re->growth_window_ns)
		rec_buf__u64(b, re->growth_window_ns);
}

int rt_run_end__decode(const void *p, uint32_t len, struct rt_run_end *re)
{
	struct rec_cursor c = { .p = p, .left = len };
	const char *s;
	uint32_t l, n;
	int i;

	re->exit_code = (int32_t)rec_get_u32(&c);
	s = rec_get_str(&c, &l);
	if (!s || l >= sizeof(re->exit_desc) || memchr(s, 0, l))
		return -EINVAL;
	memcpy(re->exit_desc, s, l);
	re->exit_desc[l] = 0;
	re->duration_s = bits_double(rec_get_u64(&c));
	re->cmd_end_s = bits_double(rec_get_u64(&c));
	/* kernel counters are appended, never moved: a recording made before some were added
	 * has fewer, and those it lacks are 0 */
	n = rec_get_u32(&c);
	if (!n || n > TM_NR_COUNTERS)
		return -EINVAL;
	for (i = 0; i < TM_NR_COUNTERS; i++)
		re->counters[i] = (uint32_t)i < n ? rec_get_u64(&c) : 0;
	s = rec_get_str(&c, &l);
	if (!s || l >= sizeof(re->run_as) || memchr(s, 0, l))
		return -EINVAL;
	memcpy(re->run_as, s, l);
	re->run_as[l] = 0;
	re->growth_window_ns = c.left ? rec_get_u64(&c) : 0; /* written only when given */
	return c.bad || c.left ? -EINVAL : 0;
}

/* Values no kernel gives (user addresses end below 2^57 with 5-level page tables; an RSS
 * counter stays below 2^48 bytes): refused, so that the core's page walks and sums stay
 * bounded whatever a file holds. */
#define ADDR_LIMIT (1ull << 57)
#define RSS_LIMIT (1ull << 48)

static bool plausible(const struct tm_event *e)
{
	bool ret_ok = e->ret < ADDR_LIMIT || e->ret >= (uint64_t)-4095; /* an address or -errno */

	if (e->addr >= ADDR_LIMIT || e->len >= ADDR_LIMIT)
		return false;
	switch (e->kind) {
	case TM_EV_RSS:
		return e->ret < RSS_LIMIT && e->member < TM_NR_MEMBERS;
	case TM_EV_MREMAP:
		return ret_ok && e->arg < ADDR_LIMIT;
	case TM_EV_MMAP:
	case TM_EV_BRK:
		return ret_ok;
	default:
		return true;
	}
}

size_t rt_event__size(const struct tm_event *e)
{
	if (e->kind == TM_EV_PYCODE)
		return sizeof(struct tm_py_code_event);
	return e->kind == TM_EV_EXEC && (e->flags & TM_F_EXEC_INFO) ? sizeof(struct tm_exec_event) :
								       sizeof(struct tm_event);
}

int rt_event__decode(const void *p, uint32_t len, union rt_event *ev)
{
	if (len != sizeof(struct tm_event) && len != sizeof(struct tm_exec_event) &&
	    len != sizeof(struct tm_py_code_event))
		return -EINVAL;
	memset(ev, 0, sizeof(*ev));
	memcpy(ev, p, len);
	if (len != rt_event__size(&ev->e))
		return -EINVAL;
	/* the kernel's strings are terminated: a recording's need not be */
	ev->e.comm[TM_COMM_LEN - 1] = 0;
	if (ev->e.kind == TM_EV_EXEC)
		ev->x.filename[TM_PATH_LEN - 1] = 0;
	if (ev->e.kind == TM_EV_PYCODE) {
		ev->py.qualname[TM_PY_NAME_LEN - 1] = 0;
		ev->py.filename[TM_PY_FILE_LEN - 1] = 0;
		if (ev->py.ltlen > TM_PY_LT_LEN)
			return -EINVAL;
	}
	return plausible(&ev->e) ? 0 : -EINVAL;
}

int rt_finish__decode(const void *p, uint32_t len, uint64_t *end_ts)
{
	struct rec_cursor c = { .p = p, .left = len };

	*end_ts = rec_get_u64(&c);
	return c.bad || c.left ? -EINVAL : 0;
}

void rt_cgroup__encode(struct rec_buf *b, const struct cg_sample *s)
{
	rec_buf__u64(b, s->ts);
	rec_buf__u32(b, s->flags);
	rec_buf__u32(b, s->version);
	rec_buf__u64(b, s->c.usage);
	rec_buf__u64(b, s->c.max_usage);
	rec_buf__u64(b, s->c.limit);
	rec_buf__u64(b, s->c.failcnt);
	rec_buf__u64(b, s->c.oom);
	rec_buf__u64(b, s->c.oom_kill);
	rec_buf__u64(b, s->c.kmem);
	rec_buf__u64(b, s->c.kmem_max);
	rec_buf__u64(b, s->c.sock);
	rec_buf__u64(b, s->c.slab);
	rec_buf__u64(b, s->c.kernel_stack);
	rec_buf__u64(b, s->c.pagetables);
}

int rt_cgroup__decode(const void *p, uint32_t len, struct cg_sample *s)
{
	struct rec_cursor c = { .p = p, .left = len };

	memset(s, 0, sizeof(*s));
	s->ts = rec_get_u64(&c);
	s->flags = rec_get_u32(&c);
	s->version = rec_get_u32(&c);
	s->c.usage = rec_get_u64(&c);
	s->c.max_usage = rec_get_u64(&c);
	s->c.limit = rec_get_u64(&c);
	s->c.failcnt = rec_get_u64(&c);
	s->c.oom = rec_get_u64(&c);
	s->c.oom_kill = rec_get_u64(&c);
	/* the kernel's counters came later: a recording from before has none */
	if (c.left) {
		s->c.kmem = rec_get_u64(&c);
		s->c.kmem_max = rec_get_u64(&c);
		s->c.sock = rec_get_u64(&c);
		s->c.slab = rec_get_u64(&c);
		s->c.kernel_stack = rec_get_u64(&c);
		s->c.pagetables = rec_get_u64(&c);
	}
	return c.bad || c.left || (s->version != 1 && s->version != 2) ? -EINVAL : 0;
}
