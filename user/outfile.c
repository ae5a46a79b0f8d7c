// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "outfile.h"
#include "util.h"

int outfile__check_writable(const char *path)
{
	char dir[4096];
	struct stat st;

	/* a device or a pipe is written in place (outfile__open): its directory need not be
	 * writable (/dev is read-only in many containers) */
	if (!stat(path, &st) && !S_ISREG(st.st_mode))
		return access(path, W_OK) ? -errno : 0;
	snprintf(dir, sizeof(dir), "%s", path);
	if (access(dirname(dir), W_OK))
		return -errno;
	if (!access(path, F_OK) && access(path, W_OK))
		return -errno;
	return 0;
}

/* Run with sudo, the reports belong to the user who asked for them, not to root. */
static void give_to_sudo_user(int fd)
{
	uid_t uid;
	gid_t gid;

	if (sudo_user(&uid, &gid) && fchown(fd, uid, gid) && verbose)
		p_warn("cannot give the report to uid %u: %s", (unsigned)uid, strerror(errno));
}

int outfile__open(struct outfile *o, const char *path)
{
	int fd;

	struct stat st;
	int err;

	o->path = path;
	/* a device or a pipe (--json /dev/stdout, /dev/null): renaming over it would replace the
	 * machine's /dev/null with a regular file */
	o->direct = !stat(path, &st) && !S_ISREG(st.st_mode);
	if (o->direct) {
		o->tmp[0] = 0;
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0 && (o->f = fdopen(fd, "w")))
			return 0;
		err = -errno;
		if (fd >= 0)
			close(fd);
		p_err("cannot write %s: %s", path, strerror(-err));
		return err;
	}
	snprintf(o->tmp, sizeof(o->tmp), "%s.tmp.XXXXXX", path);
	fd = mkstemp(o->tmp);
	if (fd < 0 || !(o->f = fdopen(fd, "w"))) {
		err = -errno;

		if (fd >= 0) {
			close(fd);
			unlink(o->tmp);
		}
		p_err("cannot write %s: %s", path, strerror(-err));
		return err;
	}
	fchmod(fd, 0644);
	give_to_sudo_user(fd);
	return 0;
}

int outfile__close(struct outfile *o)
{
	int err = 0;

	if (fflush(o->f) || ferror(o->f) || (!o->direct && fsync(fileno(o->f))))
		err = -(errno ? errno : EIO);
	if (fclose(o->f) && !err)
		err = -errno;
	if (!err && !o->direct && rename(o->tmp, o->path))
		err = -errno;
	if (err) {
		if (!o->direct)
			unlink(o->tmp);
		p_err("cannot write %s: %s", o->path, strerror(-err));
	}
	return err;
}

void outfile__discard(struct outfile *o)
{
	fclose(o->f);
	if (!o->direct)
		unlink(o->tmp);
}

/* taskmem-COMM-YYYYmmdd-HHMMSS.html in the current directory, or in /tmp when that is not
 * writable (sudo in a read-only place). */
const char *outfile__default_html(char *buf, size_t len, const char *cmd, pid_t attach_pid)
{
	const char *name = basename_of(cmd);
	char stamp[32], safe[64];
	time_t now = time(NULL);
	size_t i;

	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", localtime(&now));
	for (i = 0; name[i] && i < sizeof(safe) - 1; i++) /* a file name, whatever the command is */
		safe[i] = isalnum((unsigned char)name[i]) || name[i] == '-' || name[i] == '_' ? name[i] : '_';
	safe[i] = 0;
	if (attach_pid)
		snprintf(safe, sizeof(safe), "pid%d", attach_pid);
	snprintf(buf, len, "taskmem-%s-%s.html", safe, stamp);
	if (access(".", W_OK))
		snprintf(buf, len, "/tmp/taskmem-%s-%s.html", safe, stamp);
	return buf;
}
