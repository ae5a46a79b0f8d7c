"""A Python thread that fills 64 MiB without the GIL (test_python_threads): reader <- worker
reads /dev/zero into a new bytes object (the kernel's copy faults the pages while the read has
released the GIL), while another thread spins in Python, holding the GIL most of the time."""
import threading
import time


def reader():
    with open("/dev/zero", "rb", buffering=0) as f:
        return f.read(64 << 20)  # LINE read


def worker(out):
    out.append(reader())  # LINE worker


def spin(stop):
    while not stop:
        pass


out, stop = [], []
s = threading.Thread(target=spin, args=(stop,))
s.start()
t = threading.Thread(target=worker, args=(out,))
t.start()
t.join()
stop.append(1)
s.join()
time.sleep(0.2)
