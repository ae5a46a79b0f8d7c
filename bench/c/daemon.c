// c_daemon MIB SECS: daemonizes as a server does (fork, setsid, fork again, the parents exit 0
// at once), then the daemon fills MIB MiB in daemon_fill(), holds it SECS seconds and exits 3.
// Known make-up for the run that must outlast the command: MIB MiB of heap under daemon_fill.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

__attribute__((noinline)) static char *daemon_fill(size_t bytes)
{
	char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		exit(1);
	memset(p, 1, bytes);
	return p;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 32;
	double secs = argc > 2 ? atof(argv[2]) : 1.0;
	volatile char *keep;

	if (fork())
		return 0;
	setsid();
	if (fork())
		_exit(0);
	keep = daemon_fill(mib << 20);
	usleep((useconds_t)(secs * 1e6));
	(void)keep;
	return 3;
}
