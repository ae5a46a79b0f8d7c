/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* A recording made from raw record-stream bytes, by an encoder of its own written from
 * docs/recording.md (not user/recording.c's writer): valid header and block checksums around
 * whatever stream the caller gives, so that tests and the fuzzer reach the record parser behind
 * the checksums. For tests/unit/test_recording.c and tests/fuzz/fuzz_recording.c. */
#ifndef TM_RECORDING_RAW_H
#define TM_RECORDING_RAW_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void raw_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static int raw_header(FILE *f, uint32_t version)
{
	uint8_t head[27];

	memcpy(head, "\x89TMT\r\n\x1a\n", 8);
	raw_le32(head + 8, version);
	raw_le32(head + 12, 0);
	raw_le32(head + 16, 3);
	memcpy(head + 20, "raw", 3);
	raw_le32(head + 23, crc32(0, head, 23));
	return fwrite(head, 1, sizeof(head), f) == sizeof(head) ? 0 : -1;
}

/* One block whose checksums hold whatever it holds: c[0..clen) as its compressed bytes (deflate
 * or not), ulen its claimed length. */
static void raw_block(FILE *f, uint32_t seq, const uint8_t *c, uint32_t clen, uint32_t ulen)
{
	uint8_t bh[16], seq4[4];

	raw_le32(bh, clen);
	raw_le32(bh + 4, ulen);
	raw_le32(bh + 8, crc32(0, c, clen));
	raw_le32(seq4, seq);
	raw_le32(bh + 12, crc32(crc32(0, seq4, 4), bh, 12));
	fwrite(bh, 1, 16, f);
	fwrite(c, 1, clen, f);
}

/* Write to f the header (format version, flags 0, tool version "raw") and stream[0..n) cut into
 * blocks of at most blk bytes (1..256 KiB). 0, or -1 when zlib or the write fails. */
static int raw_recording(FILE *f, uint32_t version, const uint8_t *stream, size_t n, size_t blk)
{
	size_t cap = compressBound(blk);
	uint8_t *c = malloc(cap);
	uint32_t seq = 0;
	z_stream z = {};
	int ret = c ? raw_header(f, version) : -1;

	if (!ret && deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		ret = -1;
	while (!ret && n) {
		size_t k = n < blk ? n : blk;

		deflateReset(&z);
		z.next_in = (uint8_t *)stream;
		z.avail_in = k;
		z.next_out = c;
		z.avail_out = cap;
		if (deflate(&z, Z_FINISH) != Z_STREAM_END)
			ret = -1;
		raw_block(f, seq++, c, cap - z.avail_out, k);
		stream += k;
		n -= k;
	}
	deflateEnd(&z);
	free(c);
	return fflush(f) || ferror(f) ? -1 : ret;
}

#endif
