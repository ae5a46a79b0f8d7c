// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer harness: user/recording.c's reader (`report` reads recordings from anywhere) and its
 * writer. The first byte picks what the rest is (mod 4):
 *   0: a recording file, as is (mostly stopped by the checksums: header and block parsing);
 *   1: a record stream, wrapped by recording_raw.h into valid blocks of 1 + data[1] bytes, so
 *      that the record parser behind the checksums sees every byte;
 *   2: records to write (type byte, 2-byte length, bytes), written by rec_writer with the
 *      header's flags from the input, read back and compared (round trip);
 *   3: a block's claimed length (4 bytes) and its "compressed" bytes, taken as they are in a
 *      block whose checksums hold: the block checks and inflate behind the checksums.
 * Every record read is touched whole and its payload walked with rec_cursor; every error has a
 * one-line message. Files go to a private directory in /dev/shm (the writer fsyncs). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "recording.h"
#include "recording_raw.h"

static char dir[64], in_path[96], out_path[96];

static void cleanup(void)
{
	unlink(in_path);
	unlink(out_path);
	rmdir(dir);
}

static void setup(void)
{
	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "%s/fuzz-recording.XXXXXX", access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm");
	if (!mkdtemp(dir))
		abort();
	snprintf(in_path, sizeof(in_path), "%s/in.tmt", dir);
	snprintf(out_path, sizeof(out_path), "%s/out.tmt", dir);
	atexit(cleanup);
}

static void check_error(const struct rec_error *e)
{
	size_t n = strnlen(e->msg, sizeof(e->msg));

	if (e->code == REC_OK || n == sizeof(e->msg) || !n || memchr(e->msg, '\n', n))
		__builtin_trap(); /* a refusal says what, in one line */
}

/* Read path through; the number of records, or -1 when refused */
static long read_all(const char *path)
{
	struct rec_reader *r;
	struct rec_error err;
	uint32_t type, len;
	const void *data;
	long n = 0;
	int ret;

	if (rec_reader__open(&r, path, &err)) {
		check_error(&err);
		return -1;
	}
	for (const char *s = rec_reader__header(r)->tool_version; *s; s++)
		if (*s < 0x20 || *s >= 0x7f)
			__builtin_trap();
	while ((ret = rec_reader__next(r, &type, &data, &len)) > 0) {
		struct rec_cursor c = { .p = data, .left = len };
		volatile uint8_t sum = 0;
		uint32_t slen;

		if (type == REC_NONE || type == REC_END || len > REC_MAX_LEN)
			__builtin_trap();
		for (uint32_t i = 0; i < len; i++)
			sum += ((const uint8_t *)data)[i];
		(void)sum;
		/* a payload read as strings and integers, as the replay will */
		while (!c.bad && c.left) {
			rec_get_str(&c, &slen);
			rec_get_u64(&c);
		}
		n++;
	}
	if (ret < 0) {
		check_error(rec_reader__error(r));
		n = -1;
	}
	if (rec_reader__next(r, &type, &data, &len) != ret)
		__builtin_trap(); /* the end and errors stay */
	rec_reader__close(r);
	return n;
}

static void write_in(const uint8_t *data, size_t size)
{
	FILE *f = fopen(in_path, "w");

	if (!f || fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
}

static void round_trip(const uint8_t *data, size_t size)
{
	struct rec_writer *w;
	struct rec_reader *r;
	uint32_t type, len, flags = size >= 4 ? data[0] | data[1] << 8 | data[2] << 16 | (uint32_t)data[3] << 24 : 0;
	const void *got;
	const uint8_t *p = data + (size >= 4 ? 4 : size), *end = data + size;
	long n = 0, m = 0;

	if (rec_writer__open(&w, out_path, flags, "taskmem-trace fuzz"))
		abort();
	for (const uint8_t *q = p; end - q >= 3; n++) {
		size_t l = q[1] | q[2] << 8;

		if (l > (size_t)(end - q - 3))
			l = end - q - 3;
		if (rec_writer__add(w, q[0] + 2u, q + 3, l))
			abort();
		q += 3 + l;
	}
	if (rec_writer__close(w))
		abort();
	if (rec_reader__open(&r, out_path, NULL) || rec_reader__header(r)->flags != flags)
		__builtin_trap();
	while (rec_reader__next(r, &type, &got, &len) > 0) {
		size_t l = p[1] | p[2] << 8;

		if (l > (size_t)(end - p - 3))
			l = end - p - 3;
		if (type != p[0] + 2u || len != l || (l && memcmp(got, p + 3, l)))
			__builtin_trap(); /* read back as written */
		p += 3 + l;
		m++;
	}
	if (rec_reader__error(r)->code || m != n)
		__builtin_trap();
	rec_reader__close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f;

	if (!size)
		return 0;
	setup();
	switch (data[0] % 4) {
	case 0:
		write_in(data + 1, size - 1);
		read_all(in_path);
		break;
	case 1:
		if (size < 2)
			return 0;
		f = fopen(in_path, "w");
		if (!f || raw_recording(f, REC_FORMAT_VERSION, data + 2, size - 2, 1 + data[1]))
			abort();
		fclose(f);
		read_all(in_path);
		break;
	case 2:
		round_trip(data + 1, size - 1);
		break;
	default:
		if (size < 5)
			return 0;
		f = fopen(in_path, "w");
		if (!f || raw_header(f, REC_FORMAT_VERSION))
			abort();
		raw_block(f, 0, data + 5, size - 5, data[1] | data[2] << 8 | data[3] << 16 | (uint32_t)data[4] << 24);
		if (fclose(f))
			abort();
		read_all(in_path);
	}
	return 0;
}
