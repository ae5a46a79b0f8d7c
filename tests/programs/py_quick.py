"""A Python process that is gone as soon as it has allocated (test_python_exited): N MiB
(argv[1], default 4) of bytearray in grab <- outer, then os._exit, before the tool can read the
process's memory."""
import os
import sys


def grab(n):
    return bytearray(n << 20)


def outer(n):
    return grab(n)


x = outer(int(sys.argv[1]) if len(sys.argv) > 1 else 4)
os._exit(0)
