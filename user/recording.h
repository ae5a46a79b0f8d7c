/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* A recording (`record -o run.tmt`): a file of typed records, written as a run goes and read
 * back later, here or on another machine, by `report`. This module knows the container only:
 * a header, then records of (type id, length, payload) compressed in checksummed blocks, then an
 * end record without which the file is truncated. Payloads are the callers' little-endian byte
 * blobs (rec_buf / rec_cursor below help to build and read them). The format is described in
 * docs/recording.md. The reader trusts no length it reads: a file is data from anywhere. */
#ifndef TM_RECORDING_H
#define TM_RECORDING_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "\x89TMT\r\n\x1a\n": not text (bit 7), and a transfer that rewrites line ends breaks it */
#define REC_MAGIC "\x89TMT\r\n\x1a\n"
#define REC_MAGIC_LEN 8
/* The format this code writes, and the oldest it reads. Magic and version are the first 12
 * bytes of every version; the rest of the header may change with the version. */
#define REC_FORMAT_VERSION 1
#define REC_FORMAT_MIN 1
#define REC_TOOL_VERSION_MAX 64     /* bytes of the writer's version string in the header */
#define REC_BLOCK_MAX (256u << 10)  /* uncompressed bytes of one block */
#define REC_MAX_LEN (16u << 20)     /* payload bytes of one record: a longer one is refused */

/* Record types: the one table of ids. The ids are the format: an id is never reused for
 * another payload, and a change of a payload's layout is a new format version. This module
 * writes and checks REC_END only; the payloads of the others are user/rectypes.c's (layouts in
 * docs/recording.md). Types 4 to 18 but 10 and 11, 20 and 21 are world answers (world.c): the question
 * asked, then the answer. */
enum rec_type {
	REC_NONE = 0,      /* never written: a zeroed record header is corruption */
	REC_END = 1,       /* last record, written by rec_writer__close: u64 records before it,
			    * u64 their payload bytes */
	REC_RUN_INFO = 2,  /* first: the layouts, argv, start, options (interval, top), root pid */
	REC_EVENT = 3,     /* one ring-buffer record as it came: struct tm_event or tm_exec_event */
	REC_MAPS = 4,      /* /proc/PID/maps read: pid | 0 or -errno, text */
	REC_EXE = 5,       /* /proc/PID/exe: pid | length or -errno, path */
	REC_SYMBOL = 6,    /* ELF symbol lookup: file offset, file | found, offset in it, name */
	REC_PERFMAP = 7,   /* perf-map lookup: pid, ip, uid | found, name */
	REC_STACK = 8,     /* stack-map read: stack id | frames or -errno, frames x u64 ip */
	REC_EXIT = 9,      /* exits-map read: tgid | 0 or -errno, maxrss, exit code */
	REC_REFRESH = 10,  /* the core refreshed its view of the processes' maps here */
	REC_FINISH = 11,   /* the run ended: u64 end_ts (account__finish follows) */
	REC_PROC_FILE = 12, /* another /proc file (-p: status, smaps, stat): pid, name | found, text */
	REC_OWNER = 13,    /* owner of /proc/PID: pid | 0 or -errno, uid */
	REC_EXEC_FILE = 14, /* is the path execve got the file that ran: inode, dev, path | yes, real */
	REC_IS_GO = 15,    /* is this ELF file a Go program: file | yes */
	REC_TEXT_OFFSET = 16, /* the file offset of its first executable segment: file | found, off */
	REC_UNWIND_SET = 17, /* unwind ranges given to the kernel: pid | 0 or -errno */
	REC_UNWIND_STATS = 18, /* the unwind tables' totals at the end: | tables, skipped, rows */
	REC_RUN_END = 19,  /* last before REC_END: exit code and text, duration, BPF counters */
	REC_BUILD_ID = 20, /* an ELF file's GNU build id: file | found, hex */
	REC_CGROUP = 21,   /* the memory cgroup's counters, read between event batches (oom.h) */
	REC_PY_CODE = 22,  /* a CPython code object read: pid, address | 0 or -errno, first line,
			    * name and file name lengths, name + file name + location table */
	REC_NR_TYPES
};

/* Why a recording cannot be read (rec_error.code) */
enum rec_errc {
	REC_OK = 0,
	REC_ERR_IO,            /* open or read failed: sys_errno */
	REC_ERR_NOT_RECORDING, /* no magic: some other file */
	REC_ERR_TOO_NEW,       /* written by a newer format version than this reader's */
	REC_ERR_TOO_OLD,       /* a format version no longer read */
	REC_ERR_TRUNCATED,     /* ends before its end record (the run did not finish writing it) */
	REC_ERR_CORRUPT,       /* a checksum, length or count that does not hold */
	REC_ERR_TOO_LARGE,     /* a record longer than REC_MAX_LEN */
};

struct rec_error {
	enum rec_errc code;
	int sys_errno;   /* REC_ERR_IO */
	uint64_t offset; /* byte of the file where it went wrong */
	char msg[256];   /* one line, "PATH: what is wrong", for the user */
};

struct rec_header {
	uint32_t version;                         /* format version of the file */
	uint32_t flags;                           /* the writer's flags word, as given */
	char tool_version[REC_TOOL_VERSION_MAX + 1]; /* e.g. "taskmem-trace 0.1" */
};

struct rec_writer;
struct rec_reader;

/* Create path (under a temporary name until rec_writer__close) and write the header.
 * 0 or -errno (reported). */
int rec_writer__open(struct rec_writer **out, const char *path, uint32_t flags, const char *tool_version);
/* Append one record (type neither REC_NONE nor REC_END, len <= REC_MAX_LEN); buffered. The
 * first write error is kept and returned by every later call and by close. 0 or -errno. */
int rec_writer__add(struct rec_writer *w, uint32_t type, const void *data, size_t len);
/* Write the end record, flush, sync and rename into place; frees w. 0 or -errno (reported). */
int rec_writer__close(struct rec_writer *w);
/* Remove the unfinished file and free w (a run that failed). */
void rec_writer__discard(struct rec_writer *w);

/* Open a recording and check its header. 0, or -errno with err filled in. */
int rec_reader__open(struct rec_reader **out, const char *path, struct rec_error *err);
const struct rec_header *rec_reader__header(const struct rec_reader *r);
/* The next record: 1 and *type, *data, *len (valid until the next call); 0 at the end record,
 * once every block and count has been checked; -errno with the error (rec_reader__error)
 * otherwise. A corrupt block is only found when it is reached: a caller writes nothing it
 * derived from the records before 0. */
int rec_reader__next(struct rec_reader *r, uint32_t *type, const void **data, uint32_t *len);
const struct rec_error *rec_reader__error(const struct rec_reader *r);
void rec_reader__close(struct rec_reader *r);

/* Building a payload: little-endian integers and strings (u32 length, bytes) appended. */
struct rec_buf {
	uint8_t *p;
	size_t len, cap;
};
void rec_buf__u32(struct rec_buf *b, uint32_t v);
void rec_buf__u64(struct rec_buf *b, uint64_t v);
void rec_buf__bytes(struct rec_buf *b, const void *p, size_t n);
void rec_buf__str(struct rec_buf *b, const char *s);
void rec_buf__free(struct rec_buf *b);

/* Reading one: every get checks the bounds; past the end it returns 0 / NULL and sets bad. */
struct rec_cursor {
	const uint8_t *p;
	size_t left;
	bool bad;
};
uint32_t rec_get_u32(struct rec_cursor *c);
uint64_t rec_get_u64(struct rec_cursor *c);
const void *rec_get_bytes(struct rec_cursor *c, size_t n);
/* A string's bytes (not NUL-terminated) and *len; NULL and bad when it does not fit. */
const char *rec_get_str(struct rec_cursor *c, uint32_t *len);

#endif
