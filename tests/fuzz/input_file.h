/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* For harnesses of parsers that take a path: the input written to one file in a private
 * temporary directory (where a .gnu_debuglink finds nothing), rewritten for every input and
 * removed at exit. */
#ifndef TM_FUZZ_INPUT_FILE_H
#define TM_FUZZ_INPUT_FILE_H
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char input_dir[] = "/tmp/fuzz-input.XXXXXX", input_path[64];

static void input_cleanup(void)
{
	unlink(input_path);
	rmdir(input_dir);
}

/* The path of a file holding data, or NULL when it could not be written. */
static const char *input_file(const uint8_t *data, size_t size)
{
	static int fd = -1;

	if (fd < 0) {
		if (!mkdtemp(input_dir))
			abort();
		snprintf(input_path, sizeof(input_path), "%s/input", input_dir);
		fd = open(input_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			abort();
		atexit(input_cleanup);
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		return NULL;
	return input_path;
}
#endif
