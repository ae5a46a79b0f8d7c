// A C++ program of known make-up for the demangler test: ns::Pool<int>::grow touches 64 MiB of
// heap (operator new -> mmap), then the program holds it while the test reads the peak.
#include <unistd.h>
#include <vector>

namespace ns {
template <typename T> struct Pool {
	std::vector<char *> blocks;
	__attribute__((noinline)) void grow(size_t mib)
	{
		for (size_t i = 0; i < mib; i++) {
			char *b = new char[1 << 20];
			/* touched here, not by memset: a frameless leaf would hide this frame's name */
			for (size_t k = 0; k < (1 << 20); k += 4096)
				((volatile char *)b)[k] = 1;
			blocks.push_back(b);
		}
	}
};
} // namespace ns

int main()
{
	ns::Pool<int> p;
	p.grow(64);
	usleep(200000);
	return p.blocks.size() == 64 ? 0 : 1;
}
