// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of user/recording.c: round trips, and every way a file can be refused (truncated at
 * each byte, each byte flipped, other files, other versions, lengths a record cannot have, a
 * disk that fills). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "recording.h"
#include "rectypes.h"
#include "../fuzz/recording_raw.h"
#include "check.h"


static char dir[] = "/tmp/test-recording.XXXXXX";

static const char *tmp_path(const char *name)
{
	static char p[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

/* xorshift: the same bytes for the writer and for the check */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Record i's bytes: compressible for even i, random for odd i */
static void fill(uint8_t *p, size_t len, size_t i)
{
	uint64_t s = i * 0x9e3779b97f4a7c15ull + 1;

	for (size_t k = 0; k < len; k++)
		p[k] = i % 2 ? (uint8_t)rnd(&s) : (uint8_t)(k / 64 + i);
}

/* Read a whole recording: its records' count, or the error's code (negative) with err set */
static long read_all(const char *path, struct rec_error *err, uint32_t *flags)
{
	struct rec_reader *r;
	uint32_t type, len;
	const void *data;
	long n = 0;
	int ret;

	memset(err, 0, sizeof(*err));
	if (rec_reader__open(&r, path, err))
		return -(long)err->code;
	if (flags)
		*flags = rec_reader__header(r)->flags;
	while ((ret = rec_reader__next(r, &type, &data, &len)) > 0)
		n++;
	if (ret < 0) {
		*err = *rec_reader__error(r);
		n = -(long)err->code;
	}
	rec_reader__close(r);
	return n;
}

static void test_round_trip(void)
{
	static const size_t sizes[] = { 0, 1, 7, 8, 100, 4095, 65536, REC_BLOCK_MAX - 8, REC_BLOCK_MAX,
					REC_BLOCK_MAX + 1, 3 * REC_BLOCK_MAX + 5, REC_MAX_LEN };
	enum { NS = sizeof(sizes) / sizeof(sizes[0]), N = 20000 };
	const char *path = tmp_path("round.tmt");
	uint8_t *buf = malloc(REC_MAX_LEN + 1);
	struct rec_writer *w;
	struct rec_reader *r;
	struct rec_error err;
	uint32_t type, len;
	const void *data;
	size_t i, bad = N, got = 0;
	int ret;

	CHECK(!rec_writer__open(&w, path, 0xa5a5u, "taskmem-trace test"), "writer opens");
	if (!w)
		return;
	for (i = 0; i < N; i++) {
		size_t len = i < NS ? sizes[i] : rnd(&(uint64_t){ i + 7 }) % 300;

		fill(buf, len, i);
		if (rec_writer__add(w, 2 + i % 1000, buf, len))
			break;
	}
	CHECK(i == N, "%zu records written", i);
	CHECK(rec_writer__add(w, 5, buf, REC_MAX_LEN + 1) == -E2BIG, "a record over the limit is refused");
	CHECK(rec_writer__add(w, REC_END, buf, 16) == -EINVAL && rec_writer__add(w, REC_NONE, buf, 0) == -EINVAL,
	      "the reserved types are refused");
	CHECK(!rec_writer__close(w), "writer closes");
	CHECK(access(path, F_OK) == 0, "the recording is in place");

	CHECK(!rec_reader__open(&r, path, &err), "reader opens: %s", err.msg);
	if (!r)
		return;
	CHECK(rec_reader__header(r)->version == REC_FORMAT_VERSION && rec_reader__header(r)->flags == 0xa5a5u &&
		      !strcmp(rec_reader__header(r)->tool_version, "taskmem-trace test"),
	      "header: version %u, flags %#x, tool %s", rec_reader__header(r)->version, rec_reader__header(r)->flags,
	      rec_reader__header(r)->tool_version);
	while ((ret = rec_reader__next(r, &type, &data, &len)) > 0) {
		size_t want = got < NS ? sizes[got] : rnd(&(uint64_t){ got + 7 }) % 300;

		fill(buf, want, got);
		if (bad == N && (type != 2 + got % 1000 || len != want || memcmp(data, buf, len)))
			bad = got;
		got++;
	}
	CHECK(ret == 0 && got == N, "%zu records read back, then the end (%d: %s)", got, ret,
	      rec_reader__error(r)->msg);
	CHECK(bad == N, "every record's type, length and bytes as written (first bad %zu)", bad);
	CHECK(rec_reader__next(r, &type, &data, &len) == 0, "the end stays the end");
	rec_reader__close(r);
	unlink(path);
	free(buf);
}

/* A small recording: its bytes in *data, *size */
static void small_recording(uint8_t **data, size_t *size)
{
	const char *path = tmp_path("small.tmt");
	struct rec_writer *w;
	FILE *f;

	*data = NULL;
	*size = 0;
	if (rec_writer__open(&w, path, 1, "taskmem-trace 0.1"))
		return;
	rec_writer__add(w, REC_EVENT, "0123456789abcdef0123456789abcdef", 32);
	rec_writer__add(w, REC_EXE, "", 0);
	rec_writer__add(w, REC_MAPS, "55d0c0000000-55d0c0001000 r--p 00000000 fe:01 123 /usr/bin/prog\n", 65);
	if (rec_writer__close(w) || !(f = fopen(path, "r")))
		return;
	*data = malloc(4096);
	*size = fread(*data, 1, 4096, f);
	fclose(f);
	unlink(path);
}

static void write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fwrite(data, 1, n, f);
		fclose(f);
	}
}

static void test_truncated_and_flipped(void)
{
	const char *path = tmp_path("cut.tmt");
	struct rec_error err;
	uint8_t *data, save;
	size_t size, n, not_truncated = SIZE_MAX, not_refused = SIZE_MAX, wrong_offset = SIZE_MAX;
	uint32_t flags = 0;
	long ret;

	small_recording(&data, &size);
	CHECK(data && size > 40 && size < 4096, "a small recording of %zu bytes", size);
	if (!data)
		return;
	write_file(path, data, size);
	CHECK(read_all(path, &err, &flags) == 3 && flags == 1, "it reads whole: %s", err.msg);
	for (n = 0; n < size; n++) {
		write_file(path, data, n);
		ret = read_all(path, &err, NULL);
		if (not_truncated == SIZE_MAX && (ret != -REC_ERR_TRUNCATED || !strstr(err.msg, "truncated")))
			not_truncated = n;
		if (wrong_offset == SIZE_MAX && err.offset != n)
			wrong_offset = n;
	}
	CHECK(not_truncated == SIZE_MAX, "every prefix is refused as truncated (first not: %zu bytes)", not_truncated);
	CHECK(wrong_offset == SIZE_MAX, "the offset said is where the file ends (first wrong: %zu)", wrong_offset);
	write_file(path, data, size - 1);
	read_all(path, &err, NULL);
	CHECK(strstr(err.msg, path) && strstr(err.msg, "truncated at byte") && !strchr(err.msg, '\n'),
	      "a one-line message with the path: %s", err.msg);

	for (n = 0; n < size; n++) {
		for (int bit = 0; bit < 8; bit++) {
			save = data[n];
			data[n] ^= 1 << bit;
			write_file(path, data, size);
			data[n] = save;
			if (read_all(path, &err, NULL) >= 0 && not_refused == SIZE_MAX)
				not_refused = n * 8 + bit;
		}
	}
	CHECK(not_refused == SIZE_MAX, "every flipped bit is refused (first not: byte %zu bit %zu)", not_refused / 8,
	      not_refused % 8);
	data[size / 2] ^= 0xff;
	write_file(path, data, size);
	data[size / 2] ^= 0xff;
	CHECK(read_all(path, &err, NULL) == -REC_ERR_CORRUPT && strstr(err.msg, "corrupt"), "a flipped byte in a block: %s",
	      err.msg);

	/* data after the end, and two recordings end to end */
	memcpy(data + size, "x", 1);
	write_file(path, data, size + 1);
	CHECK(read_all(path, &err, NULL) == -REC_ERR_CORRUPT && strstr(err.msg, "after the end"), "a byte after the end: %s",
	      err.msg);
	memcpy(data + size, data, size);
	write_file(path, data, 2 * size);
	CHECK(read_all(path, &err, NULL) == -REC_ERR_CORRUPT, "two recordings end to end: %s", err.msg);
	unlink(path);
	free(data);
}

static void test_other_files(void)
{
	const char *path = tmp_path("other.tmt");
	struct rec_error err;
	uint8_t stream[8 + 16] = {};
	FILE *f;

	write_file(path, "hello, world\n", 13);
	CHECK(read_all(path, &err, NULL) == -REC_ERR_NOT_RECORDING && strstr(err.msg, "not a taskmem-trace recording"),
	      "a text file: %s", err.msg);
	write_file(path, "\x89TMX\r\n\x1a\n\1\0\0\0", 12);
	CHECK(read_all(path, &err, NULL) == -REC_ERR_NOT_RECORDING, "wrong magic: %s", err.msg);
	write_file(path, "\x89TMT\r\n\n", 7);
	CHECK(read_all(path, &err, NULL) == -REC_ERR_NOT_RECORDING, "magic with its line end rewritten: %s", err.msg);
	CHECK(read_all(tmp_path("missing.tmt"), &err, NULL) == -REC_ERR_IO && err.sys_errno == ENOENT &&
		      strstr(err.msg, "No such file"), "a missing file: %s", err.msg);
	CHECK(read_all(dir, &err, NULL) == -REC_ERR_IO, "a directory: %s", err.msg);

	/* an empty, well-formed recording from the independent encoder: the format as documented */
	raw_le32(stream, REC_END);
	raw_le32(stream + 4, 16);
	f = fopen(path, "w");
	CHECK(f && !raw_recording(f, REC_FORMAT_VERSION, stream, sizeof(stream), 4096), "raw recording written");
	fclose(f);
	CHECK(read_all(path, &err, NULL) == 0, "docs/recording.md's format reads: %s", err.msg);

	f = fopen(path, "w");
	raw_recording(f, REC_FORMAT_VERSION + 1, stream, sizeof(stream), 4096);
	fclose(f);
	CHECK(read_all(path, &err, NULL) == -REC_ERR_TOO_NEW && strstr(err.msg, "newer"), "a future version: %s", err.msg);
	f = fopen(path, "w");
	raw_recording(f, REC_FORMAT_MIN - 1, stream, sizeof(stream), 4096);
	fclose(f);
	CHECK(read_all(path, &err, NULL) == -REC_ERR_TOO_OLD && strstr(err.msg, "older"), "a past version: %s", err.msg);
	unlink(path);
}

/* A raw record stream wrapped in valid checksums: what the record parser makes of it */
static long read_raw(const uint8_t *stream, size_t n, size_t blk, struct rec_error *err)
{
	const char *path = tmp_path("raw.tmt");
	FILE *f = fopen(path, "w");
	long ret;

	if (!f || raw_recording(f, REC_FORMAT_VERSION, stream, n, blk)) {
		if (f)
			fclose(f);
		return -100;
	}
	fclose(f);
	ret = read_all(path, err, NULL);
	unlink(path);
	return ret;
}

/* A raw stream read by a fresh process of this binary (a heap of its own) whose address space
 * may grow by 8 MiB only: a reader that allocated what a record's length claims (16 MiB) dies. */
static bool bounded_read(const uint8_t *stream, size_t n)
{
	const char *path = tmp_path("bounded.tmt");
	FILE *f = fopen(path, "w");
	int status = -1;
	pid_t pid;

	if (!f || raw_recording(f, REC_FORMAT_VERSION, stream, n, 4096)) {
		if (f)
			fclose(f);
		return false;
	}
	fclose(f);
	pid = fork();
	if (pid == 0) {
		if (freopen("/dev/null", "w", stderr))
			execl("/proc/self/exe", "test_recording", "--bounded-read", path, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	unlink(path);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* The child of bounded_read: 0 when path is refused as truncated within the limit */
static int bounded_read_child(const char *path)
{
	struct rec_error err;
	unsigned long vm = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f || fscanf(f, "%lu", &vm) != 1)
		return 1;
	fclose(f);
	if (setrlimit(RLIMIT_AS, &(struct rlimit){ vm * sysconf(_SC_PAGESIZE) + (8 << 20), RLIM_INFINITY }))
		return 1;
	return read_all(path, &err, NULL) == -REC_ERR_TRUNCATED ? 0 : 2;
}

static void test_bad_streams(void)
{
	uint8_t s[64] = {};
	struct rec_error err;

	/* one record, then the end record: fine, in blocks of any size */
	raw_le32(s, REC_EVENT);
	raw_le32(s + 4, 4);
	raw_le32(s + 12, REC_END);
	raw_le32(s + 16, 16);
	s[20] = 1; /* 1 record */
	s[28] = 4; /* of 4 bytes */
	CHECK(read_raw(s, 36, 4096, &err) == 1 && read_raw(s, 36, 1, &err) == 1 && read_raw(s, 36, 5, &err) == 1,
	      "records across blocks of 1 and 5 bytes: %s", err.msg);
	s[28] = 5;
	CHECK(read_raw(s, 36, 4096, &err) == -REC_ERR_CORRUPT, "the end record's byte count checked: %s", err.msg);
	s[28] = 4;
	s[20] = 0;
	CHECK(read_raw(s, 36, 4096, &err) == -REC_ERR_CORRUPT, "the end record's record count checked: %s", err.msg);
	s[20] = 1;
	CHECK(read_raw(s, 37, 4096, &err) == -REC_ERR_CORRUPT && strstr(err.msg, "after the end record"),
	      "a byte after the end record in its block: %s", err.msg);
	raw_le32(s + 16, 15);
	CHECK(read_raw(s, 36, 4096, &err) == -REC_ERR_CORRUPT, "an end record of 15 bytes: %s", err.msg);
	raw_le32(s + 16, 16);
	raw_le32(s, REC_NONE);
	CHECK(read_raw(s, 36, 4096, &err) == -REC_ERR_CORRUPT, "a record of type 0: %s", err.msg);
	raw_le32(s, 1000);
	CHECK(read_raw(s, 36, 4096, &err) == 1, "an unknown type is the caller's to judge: %s", err.msg);

	/* lengths: over the limit refused before any allocation; at the limit, bounded by the data */
	raw_le32(s + 4, REC_MAX_LEN + 1);
	CHECK(read_raw(s, 36, 4096, &err) == -REC_ERR_TOO_LARGE && strstr(err.msg, "16 MiB"), "oversized length: %s",
	      err.msg);
	raw_le32(s + 4, UINT32_MAX);
	CHECK(read_raw(s, 36, 4096, &err) == -REC_ERR_TOO_LARGE, "length 2^32-1: %s", err.msg);
	raw_le32(s + 4, REC_MAX_LEN);
	CHECK(read_raw(s, 36, 4096, &err) == -REC_ERR_TRUNCATED, "a 16 MiB record with 28 bytes of it: %s", err.msg);
	CHECK(bounded_read(s, 36), "memory for what is there, not for what a length claims");
	CHECK(read_raw(s, 0, 4096, &err) == -REC_ERR_TRUNCATED, "no blocks at all: %s", err.msg);
}

/* One block with valid checksums around c[0..clen) claimed to inflate to ulen bytes */
static long read_block(const uint8_t *c, uint32_t clen, uint32_t ulen, struct rec_error *err)
{
	const char *path = tmp_path("block.tmt");
	FILE *f = fopen(path, "w");
	long ret;

	if (!f || raw_header(f, REC_FORMAT_VERSION)) {
		if (f)
			fclose(f);
		return -100;
	}
	raw_block(f, 0, c, clen, ulen);
	fclose(f);
	ret = read_all(path, err, NULL);
	unlink(path);
	return ret;
}

static void test_bad_blocks(void)
{
	uint8_t s[24] = {}, c[64];
	uLongf clen = sizeof(c);
	struct rec_error err;
	z_stream z = {};

	raw_le32(s, REC_END);
	raw_le32(s + 4, 16);
	deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
	z.next_in = s;
	z.avail_in = sizeof(s);
	z.next_out = c;
	z.avail_out = clen;
	deflate(&z, Z_FINISH);
	clen -= z.avail_out;
	deflateEnd(&z);
	CHECK(read_block(c, clen, 24, &err) == 0, "the raw block reads: %s", err.msg);
	CHECK(read_block(c, clen, 23, &err) == -REC_ERR_CORRUPT && strstr(err.msg, "inflate"),
	      "a block longer than it says: %s", err.msg);
	CHECK(read_block(c, clen, 25, &err) == -REC_ERR_CORRUPT && strstr(err.msg, "inflate"),
	      "a block shorter than it says: %s", err.msg);
	CHECK(read_block((const uint8_t *)"hello, world", 12, 24, &err) == -REC_ERR_CORRUPT, "not deflate: %s", err.msg);
	CHECK(read_block(c, clen, 0, &err) == -REC_ERR_CORRUPT && strstr(err.msg, "lengths"), "a block of 0 bytes: %s",
	      err.msg);
	CHECK(read_block(c, clen, REC_BLOCK_MAX + 1, &err) == -REC_ERR_CORRUPT && strstr(err.msg, "lengths"),
	      "a block over the limit: %s", err.msg);
	CHECK(read_block(c, 0, 24, &err) == -REC_ERR_CORRUPT && strstr(err.msg, "lengths"), "no compressed bytes: %s",
	      err.msg);
}

static void test_blocks_moved(void)
{
	const char *path = tmp_path("moved.tmt");
	struct rec_writer *w;
	struct rec_error err;
	uint8_t *rec = malloc(REC_BLOCK_MAX), *file;
	size_t size, b1, b2, b3;
	FILE *f;

	/* incompressible: each record fills about one block */
	fill(rec, REC_BLOCK_MAX, 1);
	if (rec_writer__open(&w, path, 0, "t"))
		return;
	for (int i = 0; i < 3; i++)
		rec_writer__add(w, REC_EVENT, rec, REC_BLOCK_MAX - 100);
	rec_writer__close(w);
	f = fopen(path, "r");
	file = malloc(4 * REC_BLOCK_MAX);
	size = fread(file, 1, 4 * REC_BLOCK_MAX, f);
	fclose(f);
	/* blocks start after the 25-byte header (version "t"), each 16 bytes of head and its data */
	b1 = 25;
	b2 = b1 + 16 + (file[b1] | file[b1 + 1] << 8 | file[b1 + 2] << 16);
	b3 = b2 + 16 + (file[b2] | file[b2 + 1] << 8 | file[b2 + 2] << 16);
	CHECK(b3 < size, "three blocks at %zu, %zu, %zu of %zu", b1, b2, b3, size);
	/* the second block left out: each block's checksums hold, their numbers do not */
	f = fopen(path, "w");
	fwrite(file, 1, b2, f);
	fwrite(file + b3, 1, size - b3, f);
	fclose(f);
	CHECK(read_all(path, &err, NULL) == -REC_ERR_CORRUPT && strstr(err.msg, "block 1"), "a block left out: %s",
	      err.msg);
	unlink(path);
	free(file);
	free(rec);
}

/* A full disk: in a child, whose files may not grow past 4 KiB (EFBIG, as ENOSPC would be) */
static void test_write_error(void)
{
	const char *path = tmp_path("full.tmt");
	uint8_t *rec = malloc(65536);
	int status = -1;
	pid_t pid;

	fill(rec, 65536, 3);
	pid = fork();
	if (pid == 0) {
		struct rlimit rl = { 4096, 4096 };
		struct rec_writer *w;
		int err = 0, i;

		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
		if (!freopen("/dev/null", "w", stderr) || rec_writer__open(&w, path, 0, "t"))
			_exit(1);
		for (i = 0; i < 100 && !err; i++)
			err = rec_writer__add(w, REC_EVENT, rec, 65536);
		/* the error is kept: every later call and close say it */
		if (err != -EFBIG || rec_writer__add(w, REC_EVENT, rec, 1) != -EFBIG)
			_exit(2);
		_exit(rec_writer__close(w) == -EFBIG ? 0 : 3);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "write errors reported by add and close (status %#x)", status);
	CHECK(access(path, F_OK) != 0, "no recording left when it could not be written");
	free(rec);
}

static void test_payloads(void)
{
	struct rec_buf b = {};
	struct rec_cursor c;
	const char *s;
	uint32_t len;

	rec_buf__u32(&b, 0xdeadbeef);
	rec_buf__u64(&b, 0x0123456789abcdefull);
	rec_buf__str(&b, "/usr/bin/prog");
	rec_buf__str(&b, NULL);
	CHECK(b.len == 4 + 8 + 4 + 13 + 4 && b.p[0] == 0xef && b.p[4] == 0xef && b.p[11] == 0x01, "little-endian bytes");
	c = (struct rec_cursor){ .p = b.p, .left = b.len };
	CHECK(rec_get_u32(&c) == 0xdeadbeef && rec_get_u64(&c) == 0x0123456789abcdefull, "integers read back");
	s = rec_get_str(&c, &len);
	CHECK(s && len == 13 && !memcmp(s, "/usr/bin/prog", 13), "a string read back");
	s = rec_get_str(&c, &len);
	CHECK(s && len == 0 && !c.bad && !c.left, "an empty string, then nothing left");
	CHECK(rec_get_u32(&c) == 0 && c.bad, "past the end: 0 and bad");
	b.len = 0;
	rec_buf__u32(&b, 1000);
	rec_buf__bytes(&b, "abc", 3);
	c = (struct rec_cursor){ .p = b.p, .left = b.len };
	CHECK(!rec_get_str(&c, &len) && len == 0 && c.bad, "a string longer than its payload");
	rec_buf__free(&b);
}

/* CGROUP round trip and refusals; RUN_END read with and without its optional growth window */
static void test_oom_payloads(void)
{
	struct cg_sample s = { .ts = 123456789, .flags = CG_SAMPLE_OWN, .version = 1,
			       .c = { 1 << 20, 2 << 20, CG_NO_LIMIT, 7, 0, 1 } }, r;
	struct rt_run_end re = { .exit_code = 137, .duration_s = 1.5 }, rr;
	struct rec_buf b = {};

	rt_cgroup__encode(&b, &s);
	CHECK(!rt_cgroup__decode(b.p, b.len, &r) && !memcmp(&r, &s, sizeof(s)), "a cgroup sample read back");
	CHECK(rt_cgroup__decode(b.p, b.len - 1, &r) == -EINVAL, "a short cgroup sample refused");
	b.p[12] = 3; /* version */
	CHECK(rt_cgroup__decode(b.p, b.len, &r) == -EINVAL, "a cgroup version that is neither 1 nor 2 refused");
	b.len = 0;
	snprintf(re.exit_desc, sizeof(re.exit_desc), "killed by the OOM killer (signal 9)");
	rt_run_end__encode(&b, &re);
	CHECK(!rt_run_end__decode(b.p, b.len, &rr) && rr.growth_window_ns == 0 && rr.exit_code == 137,
	      "a run end without a growth window (as older recordings)");
	b.len = 0;
	re.growth_window_ns = 3000000000ull;
	rt_run_end__encode(&b, &re);
	CHECK(!rt_run_end__decode(b.p, b.len, &rr) && rr.growth_window_ns == 3000000000ull, "a run end's growth window");
	CHECK(rt_run_end__decode(b.p, b.len - 4, &rr) == -EINVAL, "a run end with half a growth window refused");
	/* a recording made before the last kernel counters were appended: they read as 0; more
	 * counters than this build knows are refused */
	for (uint32_t n = TM_NR_COUNTERS - 2; n <= TM_NR_COUNTERS + 1; n += 3) {
		b.len = 0;
		rec_buf__u32(&b, 0);
		rec_buf__str(&b, "exited with 0");
		rec_buf__u64(&b, 0);
		rec_buf__u64(&b, 0);
		rec_buf__u32(&b, n);
		for (uint32_t i = 0; i < n; i++)
			rec_buf__u64(&b, 7);
		rec_buf__str(&b, "root");
		if (n < TM_NR_COUNTERS)
			CHECK(!rt_run_end__decode(b.p, b.len, &rr) && rr.counters[n - 1] == 7 && rr.counters[n] == 0 &&
			      rr.counters[TM_NR_COUNTERS - 1] == 0, "a run end with fewer kernel counters: the rest 0");
		else
			CHECK(rt_run_end__decode(b.p, b.len, &rr) == -EINVAL, "a run end with more kernel counters refused");
	}
	rec_buf__free(&b);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--bounded-read"))
		return bounded_read_child(argv[2]);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_round_trip();
	test_truncated_and_flipped();
	test_other_files();
	test_bad_streams();
	test_bad_blocks();
	test_blocks_moved();
	test_write_error();
	test_payloads();
	test_oom_payloads();
	rmdir(dir);
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
