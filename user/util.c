// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "escape.h"
#include "util.h"

bool verbose;

/* Messages often name what the traced program controls (its paths, its comm): escaped, so that
 * no control sequence reaches the terminal through them. */
static void vmsg(const char *what, const char *fmt, va_list ap)
{
	char buf[2048];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	fprintf(stderr, "taskmem-trace: %s", what);
	esc_term(stderr, buf);
	fputc('\n', stderr);
}

void p_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}

void p_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

static void oom(void)
{
	fprintf(stderr, "taskmem-trace: out of memory\n");
	abort();
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

/* Also what libiberty's demangler allocates with: defined here, its own xmalloc.o (which
 * would clash with xcalloc above) is not linked in. */
void *xmalloc(size_t size)
{
	return xrealloc(NULL, size);
}

void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d)
		oom();
	return d;
}

void grow(void **arr, size_t *cap, size_t need, size_t esz)
{
	size_t ncap;

	if (need <= *cap)
		return;
	ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	*arr = xrealloc(*arr, ncap * esz);
	memset((char *)*arr + *cap * esz, 0, (ncap - *cap) * esz);
	*cap = ncap;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

const char *basename_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

uint32_t kernel_dev(dev_t dev)
{
	return major(dev) << 20 | minor(dev);
}

bool sudo_user(uid_t *uid, gid_t *gid)
{
	const char *u = getenv("SUDO_UID"), *g = getenv("SUDO_GID");
	char *end;
	long v;

	if (geteuid() || !u || !g)
		return false;
	v = strtol(u, &end, 10);
	if (*end || end == u || v <= 0 || v > INT32_MAX)
		return false;
	*uid = (uid_t)v;
	v = strtol(g, &end, 10);
	if (*end || end == g || v < 0 || v > INT32_MAX)
		return false;
	*gid = (gid_t)v;
	return true;
}

uint64_t status_value(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

bool pid_gone(pid_t pid)
{
	char path[32], buf[512], *rp;
	ssize_t n;
	int fd;

	if (kill(pid, 0) && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	rp = strrchr(buf, ')'); /* the state follows the comm, which may hold anything */
	return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

int read_whole(const char *path, size_t max, char **out, size_t *outlen)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, len = 0, r;
	int err;

	*out = NULL;
	*outlen = 0;
	if (!f)
		return -errno;
	do {
		GROW(buf, cap, len + 65536);
		r = fread(buf + len, 1, (cap - len - 1 < max - len ? cap - len - 1 : max - len), f);
		len += r;
	} while (r && len < max);
	err = ferror(f) ? -EIO : 0;
	fclose(f);
	if (err) {
		free(buf);
		return err;
	}
	buf[len] = 0;
	*out = buf;
	*outlen = len;
	return 0;
}

uint32_t poisson_chance32(uint64_t mean, uint64_t len)
{
	double p;

	if (!mean)
		return 0;
	p = -expm1(-(double)len / (double)mean) * 4294967296.0;
	return p >= 4294967295.0 ? UINT32_MAX : p < 1 ? 1 : (uint32_t)llround(p);
}
