// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Recordings: header, then the record stream cut into blocks, each an independent raw deflate
 * stream with a CRC32 of its header and of its compressed bytes (docs/recording.md). Blocks of
 * our own, not gzip: a corrupt block is found when it is reached, with its byte offset, instead
 * of by one CRC after the whole file has been inflated and handed out; and the reader's memory
 * is two block buffers plus the record being assembled, whatever the file says. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "outfile.h"
#include "recording.h"
#include "util.h"

#define HEAD_FIXED 20      /* magic, version, flags, tool version length */
#define BLOCK_HEAD 16      /* compressed length, length, CRC of the data, CRC of this head */
#define END_LEN 16         /* REC_END: records, payload bytes */
/* level 1: the writer keeps up with the events; 6 took 3.5x the time for 15% less (docs/recording.md) */
#define DEFLATE_LEVEL 1

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* A block head's CRC also covers the block's number, so that blocks swapped, repeated or left
 * out are corruption too. */
static uint32_t head_crc(uint32_t seq, const uint8_t *head)
{
	uint8_t s[4];

	put32(s, seq);
	return crc32(crc32(0, s, 4), head, 12);
}

/* The largest compressed block a reader accepts: what deflate can make of REC_BLOCK_MAX bytes */
static size_t cblock_max(void)
{
	return compressBound(REC_BLOCK_MAX);
}

/* ---- writer ---- */

struct rec_writer {
	struct outfile o;
	char *path;
	z_stream z;
	uint8_t *blk, *cbuf; /* the block being filled; its compressed form */
	size_t blk_len, cbuf_cap;
	uint32_t seq;
	uint64_t records, bytes;
	int err; /* the first write error, kept */
};

static int write_out(struct rec_writer *w, const void *p, size_t n)
{
	if (w->err)
		return w->err;
	if (fwrite(p, 1, n, w->o.f) != n) {
		w->err = -(errno ? errno : EIO);
		p_err("cannot write %s: %s", w->path, strerror(-w->err));
	}
	return w->err;
}

static int flush_block(struct rec_writer *w)
{
	uint8_t head[BLOCK_HEAD];
	size_t clen;

	if (!w->blk_len || w->err)
		return w->err;
	deflateReset(&w->z);
	w->z.next_in = w->blk;
	w->z.avail_in = w->blk_len;
	w->z.next_out = w->cbuf;
	w->z.avail_out = w->cbuf_cap;
	/* cbuf holds deflateBound() of a full block: one call finishes */
	if (deflate(&w->z, Z_FINISH) != Z_STREAM_END) {
		w->err = -EIO;
		p_err("cannot write %s: zlib failed", w->path);
		return w->err;
	}
	clen = w->cbuf_cap - w->z.avail_out;
	put32(head, clen);
	put32(head + 4, w->blk_len);
	put32(head + 8, crc32(0, w->cbuf, clen));
	put32(head + 12, head_crc(w->seq, head));
	w->seq++;
	w->blk_len = 0;
	if (write_out(w, head, sizeof(head)))
		return w->err;
	return write_out(w, w->cbuf, clen);
}

/* Append to the record stream, cutting it into blocks wherever they fill */
static int put(struct rec_writer *w, const void *data, size_t n)
{
	const uint8_t *p = data;

	while (n && !w->err) {
		size_t k = REC_BLOCK_MAX - w->blk_len;

		if (k > n)
			k = n;
		memcpy(w->blk + w->blk_len, p, k);
		w->blk_len += k;
		p += k;
		n -= k;
		if (w->blk_len == REC_BLOCK_MAX)
			flush_block(w);
	}
	return w->err;
}

static void writer_free(struct rec_writer *w)
{
	deflateEnd(&w->z);
	free(w->blk);
	free(w->cbuf);
	free(w->path);
	free(w);
}

int rec_writer__open(struct rec_writer **out, const char *path, uint32_t flags, const char *tool_version)
{
	struct rec_writer *w = xcalloc(1, sizeof(*w));
	uint8_t head[HEAD_FIXED + REC_TOOL_VERSION_MAX + 4];
	size_t tlen = strnlen(tool_version, REC_TOOL_VERSION_MAX);
	int err;

	*out = NULL;
	if (deflateInit2(&w->z, DEFLATE_LEVEL, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(w);
		p_err("cannot write %s: zlib failed", path);
		return -ENOMEM;
	}
	w->path = xstrdup(path);
	w->blk = xmalloc(REC_BLOCK_MAX);
	w->cbuf_cap = deflateBound(&w->z, REC_BLOCK_MAX);
	w->cbuf = xmalloc(w->cbuf_cap);
	err = outfile__open(&w->o, w->path);
	if (err) {
		writer_free(w);
		return err;
	}
	memcpy(head, REC_MAGIC, REC_MAGIC_LEN);
	put32(head + 8, REC_FORMAT_VERSION);
	put32(head + 12, flags);
	put32(head + 16, tlen);
	memcpy(head + HEAD_FIXED, tool_version, tlen);
	put32(head + HEAD_FIXED + tlen, crc32(0, head, HEAD_FIXED + tlen));
	if (write_out(w, head, HEAD_FIXED + tlen + 4)) {
		err = w->err;
		rec_writer__discard(w);
		return err;
	}
	*out = w;
	return 0;
}

int rec_writer__add(struct rec_writer *w, uint32_t type, const void *data, size_t len)
{
	uint8_t h[8];

	if (w->err)
		return w->err;
	if (type == REC_NONE || type == REC_END || len > REC_MAX_LEN)
		return len > REC_MAX_LEN ? -E2BIG : -EINVAL;
	put32(h, type);
	put32(h + 4, len);
	if (put(w, h, sizeof(h)) || put(w, data, len))
		return w->err;
	w->records++;
	w->bytes += len;
	return 0;
}

void rec_writer__discard(struct rec_writer *w)
{
	if (!w)
		return;
	outfile__discard(&w->o);
	writer_free(w);
}

int rec_writer__close(struct rec_writer *w)
{
	uint8_t end[8 + END_LEN];
	int err;

	put32(end, REC_END);
	put32(end + 4, END_LEN);
	put64(end + 8, w->records);
	put64(end + 16, w->bytes);
	if (put(w, end, sizeof(end)) || flush_block(w)) {
		err = w->err;
		rec_writer__discard(w);
		return err;
	}
	err = outfile__close(&w->o);
	writer_free(w);
	return err;
}

/* ---- reader ---- */

struct rec_reader {
	FILE *f;
	char *path;
	uint64_t off;        /* file offset of the next byte fread gives */
	uint64_t blk_off;    /* where the current block starts */
	struct rec_header h;
	z_stream z;
	uint8_t *cbuf, *blk; /* the current block, compressed and inflated */
	size_t cbuf_cap, blk_cap; /* grown to the blocks read (small files, small buffers) */
	uint32_t blk_len, blk_pos;
	uint8_t *rec;        /* a record that spans blocks, assembled */
	size_t rec_cap;
	uint32_t seq;
	uint64_t records, bytes;
	bool done;
	struct rec_error err;
};

static int errno_of(enum rec_errc code, int sys)
{
	switch (code) {
	case REC_OK:
		return 0;
	case REC_ERR_IO:
		return -(sys ? sys : EIO);
	case REC_ERR_NOT_RECORDING:
		return -EPROTO;
	case REC_ERR_TOO_NEW:
	case REC_ERR_TOO_OLD:
		return -ENOTSUP;
	case REC_ERR_TRUNCATED:
		return -ENODATA;
	case REC_ERR_TOO_LARGE:
		return -EFBIG;
	case REC_ERR_CORRUPT:
		break;
	}
	return -EBADMSG;
}

__attribute__((format(printf, 4, 5)))
static int fail(struct rec_reader *r, enum rec_errc code, uint64_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	r->err.code = code;
	r->err.offset = off;
	n = snprintf(r->err.msg, sizeof(r->err.msg), "%s: ", r->path);
	if (n < 0 || (size_t)n >= sizeof(r->err.msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(r->err.msg + n, sizeof(r->err.msg) - n, fmt, ap);
	va_end(ap);
	return errno_of(code, r->err.sys_errno);
}

static int fail_io(struct rec_reader *r)
{
	r->err.sys_errno = errno ? errno : EIO;
	return fail(r, REC_ERR_IO, r->off, "cannot read: %s", strerror(r->err.sys_errno));
}

static int truncated(struct rec_reader *r, const char *where)
{
	return fail(r, REC_ERR_TRUNCATED, r->off, "truncated at byte %llu (%s): the run that wrote it did not finish",
		    (unsigned long long)r->off, where);
}

/* n bytes at the file's current offset; a short read is the caller's (truncated), an error is I/O */
static int read_in(struct rec_reader *r, void *p, size_t n, size_t *got)
{
	errno = 0;
	*got = fread(p, 1, n, r->f);
	r->off += *got;
	return *got < n && ferror(r->f) ? fail_io(r) : 0;
}

static int read_header(struct rec_reader *r)
{
	uint8_t h[HEAD_FIXED + REC_TOOL_VERSION_MAX + 4];
	uint32_t tlen, crc;
	size_t got;
	int err;

	if ((err = read_in(r, h, REC_MAGIC_LEN, &got)))
		return err;
	if (memcmp(h, REC_MAGIC, got))
		return fail(r, REC_ERR_NOT_RECORDING, 0, "not a taskmem-trace recording");
	if (got < REC_MAGIC_LEN)
		return truncated(r, got ? "in the header" : "empty file");
	if ((err = read_in(r, h + 8, 4, &got)))
		return err;
	if (got < 4)
		return truncated(r, "in the header");
	r->h.version = get32(h + 8);
	if (r->h.version > REC_FORMAT_VERSION)
		return fail(r, REC_ERR_TOO_NEW, 8,
			    "recording format version %u is newer than this taskmem-trace reads (%u to %u): "
			    "report it with the version that recorded it", r->h.version, REC_FORMAT_MIN, REC_FORMAT_VERSION);
	if (r->h.version < REC_FORMAT_MIN)
		return fail(r, REC_ERR_TOO_OLD, 8,
			    "recording format version %u is older than this taskmem-trace reads (%u to %u): "
			    "report it with the version that recorded it", r->h.version, REC_FORMAT_MIN, REC_FORMAT_VERSION);
	if ((err = read_in(r, h + 12, 8, &got)))
		return err;
	if (got < 8)
		return truncated(r, "in the header");
	r->h.flags = get32(h + 12);
	tlen = get32(h + 16);
	if (tlen > REC_TOOL_VERSION_MAX)
		return fail(r, REC_ERR_CORRUPT, 16, "corrupt header (a version string of %u bytes)", tlen);
	if ((err = read_in(r, h + HEAD_FIXED, tlen + 4, &got)))
		return err;
	if (got < tlen + 4)
		return truncated(r, "in the header");
	crc = get32(h + HEAD_FIXED + tlen);
	if (crc != crc32(0, h, HEAD_FIXED + tlen))
		return fail(r, REC_ERR_CORRUPT, 0, "corrupt header (checksum mismatch)");
	/* printed to a terminal: nothing but printable ASCII */
	for (uint32_t i = 0; i < tlen; i++) {
		uint8_t c = h[HEAD_FIXED + i];

		r->h.tool_version[i] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	r->h.tool_version[tlen] = 0;
	return 0;
}

static int load_block(struct rec_reader *r)
{
	uint8_t head[BLOCK_HEAD];
	uint32_t clen, ulen;
	size_t got;
	int err, zr;

	r->blk_off = r->off;
	if ((err = read_in(r, head, sizeof(head), &got)))
		return err;
	if (got < sizeof(head))
		return truncated(r, got ? "in a block header" : "no end record");
	clen = get32(head);
	ulen = get32(head + 4);
	if (get32(head + 12) != head_crc(r->seq, head))
		return fail(r, REC_ERR_CORRUPT, r->blk_off, "corrupt at byte %llu (block %u: header checksum mismatch)",
			    (unsigned long long)r->blk_off, r->seq);
	if (!ulen || ulen > REC_BLOCK_MAX || !clen || clen > cblock_max())
		return fail(r, REC_ERR_CORRUPT, r->blk_off, "corrupt at byte %llu (block %u: lengths %u, %u)",
			    (unsigned long long)r->blk_off, r->seq, clen, ulen);
	if (clen > r->cbuf_cap) {
		r->cbuf = xrealloc(r->cbuf, clen);
		r->cbuf_cap = clen;
	}
	if (ulen > r->blk_cap) {
		r->blk = xrealloc(r->blk, ulen);
		r->blk_cap = ulen;
	}
	if ((err = read_in(r, r->cbuf, clen, &got)))
		return err;
	if (got < clen)
		return truncated(r, "in a block");
	if (get32(head + 8) != crc32(0, r->cbuf, clen))
		return fail(r, REC_ERR_CORRUPT, r->blk_off, "corrupt at byte %llu (block %u: checksum mismatch)",
			    (unsigned long long)r->blk_off, r->seq);
	inflateReset(&r->z);
	r->z.next_in = r->cbuf;
	r->z.avail_in = clen;
	r->z.next_out = r->blk;
	r->z.avail_out = ulen;
	zr = inflate(&r->z, Z_FINISH);
	if (zr != Z_STREAM_END || r->z.avail_in || r->z.avail_out)
		return fail(r, REC_ERR_CORRUPT, r->blk_off, "corrupt at byte %llu (block %u does not inflate to its length)",
			    (unsigned long long)r->blk_off, r->seq);
	r->seq++;
	r->blk_len = ulen;
	r->blk_pos = 0;
	return 0;
}

/* n bytes of the record stream, across blocks */
static int take(struct rec_reader *r, uint8_t *dst, size_t n)
{
	while (n) {
		size_t k;
		int err;

		if (r->blk_pos == r->blk_len && (err = load_block(r)))
			return err;
		k = r->blk_len - r->blk_pos;
		if (k > n)
			k = n;
		memcpy(dst, r->blk + r->blk_pos, k);
		r->blk_pos += k;
		dst += k;
		n -= k;
	}
	return 0;
}

/* A record longer than what is left of its block, copied together; the buffer grows with the
 * bytes that actually arrive, never to a length only claimed. */
static int assemble(struct rec_reader *r, uint32_t len)
{
	size_t have = 0;

	while (have < len) {
		size_t k;
		int err;

		if (r->blk_pos == r->blk_len && (err = load_block(r)))
			return err;
		k = r->blk_len - r->blk_pos;
		if (k > len - have)
			k = len - have;
		if (have + k > r->rec_cap) {
			size_t cap = r->rec_cap ? r->rec_cap : REC_BLOCK_MAX;

			while (cap < have + k)
				cap *= 2;
			if (cap > len)
				cap = len;
			r->rec = xrealloc(r->rec, cap);
			r->rec_cap = cap;
		}
		memcpy(r->rec + have, r->blk + r->blk_pos, k);
		r->blk_pos += k;
		have += k;
	}
	return 0;
}

static int check_end(struct rec_reader *r, uint32_t len)
{
	uint8_t end[END_LEN];
	int err;

	if (len != END_LEN)
		return fail(r, REC_ERR_CORRUPT, r->blk_off, "corrupt at byte %llu (end record of %u bytes)",
			    (unsigned long long)r->blk_off, len);
	if ((err = take(r, end, sizeof(end))))
		return err;
	if (get64(end) != r->records || get64(end + 8) != r->bytes)
		return fail(r, REC_ERR_CORRUPT, r->blk_off,
			    "corrupt (%llu records of %llu bytes read, the end record says %llu of %llu)",
			    (unsigned long long)r->records, (unsigned long long)r->bytes,
			    (unsigned long long)get64(end), (unsigned long long)get64(end + 8));
	if (r->blk_pos != r->blk_len)
		return fail(r, REC_ERR_CORRUPT, r->blk_off, "corrupt at byte %llu (data after the end record)",
			    (unsigned long long)r->blk_off);
	errno = 0;
	if (fgetc(r->f) != EOF)
		return fail(r, REC_ERR_CORRUPT, r->off, "corrupt at byte %llu (data after the end)",
			    (unsigned long long)r->off);
	if (ferror(r->f))
		return fail_io(r);
	r->done = true;
	return 0;
}

int rec_reader__next(struct rec_reader *r, uint32_t *type, const void **data, uint32_t *len)
{
	uint8_t h[8];
	int err;

	if (r->err.code)
		return errno_of(r->err.code, r->err.sys_errno);
	if (r->done)
		return 0;
	if ((err = take(r, h, sizeof(h))))
		return err;
	*type = get32(h);
	*len = get32(h + 4);
	if (*type == REC_NONE)
		return fail(r, REC_ERR_CORRUPT, r->blk_off, "corrupt at byte %llu (record of type 0)",
			    (unsigned long long)r->blk_off);
	if (*len > REC_MAX_LEN)
		return fail(r, REC_ERR_TOO_LARGE, r->blk_off,
			    "corrupt at byte %llu (a record of %u bytes, more than the %u MiB a record may hold)",
			    (unsigned long long)r->blk_off, *len, REC_MAX_LEN >> 20);
	if (*type == REC_END)
		return check_end(r, *len);
	if (r->blk_len - r->blk_pos >= *len) {
		*data = r->blk + r->blk_pos; /* the usual case: no copy */
		r->blk_pos += *len;
	} else {
		if ((err = assemble(r, *len)))
			return err;
		*data = r->rec;
	}
	r->records++;
	r->bytes += *len;
	return 1;
}

int rec_reader__open(struct rec_reader **out, const char *path, struct rec_error *err)
{
	struct rec_reader *r = xcalloc(1, sizeof(*r));
	int ret;

	*out = NULL;
	r->path = xstrdup(path);
	if (inflateInit2(&r->z, -15) != Z_OK) {
		ret = fail(r, REC_ERR_IO, 0, "cannot read: zlib failed");
		goto fail;
	}
	r->f = fopen(path, "re");
	if (!r->f) {
		ret = fail_io(r);
		goto fail;
	}
	ret = read_header(r);
	if (ret)
		goto fail;
	*out = r;
	if (err)
		*err = r->err;
	return 0;
fail:
	if (err)
		*err = r->err;
	rec_reader__close(r);
	return ret;
}

const struct rec_header *rec_reader__header(const struct rec_reader *r)
{
	return &r->h;
}

const struct rec_error *rec_reader__error(const struct rec_reader *r)
{
	return &r->err;
}

void rec_reader__close(struct rec_reader *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	inflateEnd(&r->z);
	free(r->cbuf);
	free(r->blk);
	free(r->rec);
	free(r->path);
	free(r);
}

/* ---- payloads ---- */

static uint8_t *buf_room(struct rec_buf *b, size_t n)
{
	GROW(b->p, b->cap, b->len + n);
	b->len += n;
	return b->p + b->len - n;
}

void rec_buf__u32(struct rec_buf *b, uint32_t v)
{
	put32(buf_room(b, 4), v);
}

void rec_buf__u64(struct rec_buf *b, uint64_t v)
{
	put64(buf_room(b, 8), v);
}

void rec_buf__bytes(struct rec_buf *b, const void *p, size_t n)
{
	if (n)
		memcpy(buf_room(b, n), p, n);
}

void rec_buf__str(struct rec_buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	rec_buf__u32(b, n);
	rec_buf__bytes(b, s, n);
}

void rec_buf__free(struct rec_buf *b)
{
	free(b->p);
	*b = (struct rec_buf){};
}

const void *rec_get_bytes(struct rec_cursor *c, size_t n)
{
	const uint8_t *p = c->p;

	if (c->bad || n > c->left) {
		c->bad = true;
		return NULL;
	}
	c->p += n;
	c->left -= n;
	return p;
}

uint32_t rec_get_u32(struct rec_cursor *c)
{
	const uint8_t *p = rec_get_bytes(c, 4);

	return p ? get32(p) : 0;
}

uint64_t rec_get_u64(struct rec_cursor *c)
{
	const uint8_t *p = rec_get_bytes(c, 8);

	return p ? get64(p) : 0;
}

const char *rec_get_str(struct rec_cursor *c, uint32_t *len)
{
	uint32_t n = rec_get_u32(c);
	const char *s = rec_get_bytes(c, n);

	*len = s ? n : 0;
	return s;
}
