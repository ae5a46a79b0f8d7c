/* A program whose names are hostile to a terminal and to strict JSON parsers: the test renames
 * evil_fill (objcopy --redefine-sym) to a name holding ESC, BEL and a byte that is not UTF-8, and
 * runs it from a file whose name (so its comm) holds a clear-screen sequence. */
#include <string.h>
#include <sys/mman.h>

__attribute__((noinline)) void evil_fill(void)
{
	char *p = mmap(0, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p != MAP_FAILED)
		memset(p, 1, 8 << 20);
}

int main(void)
{
	evil_fill();
	return 0;
}
