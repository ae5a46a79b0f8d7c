// A C++ program whose big blocks come from a class named as protobuf's google::protobuf::Arena
// (whose AllocateBlock mallocs its blocks): glibc maps each one, under frames that hold
// "Arena::", as HotSpot's arenas' do. 64 blocks of 1 MiB, held while the test reads the peak:
// heap/malloc, never the JVM's runtime/java-vm.
#include <stdlib.h>
#include <unistd.h>

namespace google {
namespace protobuf {
class Arena {
public:
	__attribute__((noinline)) char *AllocateBlock(size_t n)
	{
		char *b = static_cast<char *>(malloc(n)); /* above malloc's mmap threshold: mmap */

		/* touched here, not by memset: a frameless leaf would hide this frame's name */
		for (size_t k = 0; b && k < n; k += 4096)
			((volatile char *)b)[k] = 1;
		return b;
	}
};
} // namespace protobuf
} // namespace google

int main()
{
	google::protobuf::Arena arena;
	char *blocks[64];
	int n = 0;

	for (int i = 0; i < 64; i++)
		n += (blocks[i] = arena.AllocateBlock(1 << 20)) != nullptr;
	usleep(200000);
	return n == 64 && blocks[0] ? 0 : 1;
}
