#!/usr/bin/env python3
"""Seeds for fuzz_replay from recordings: each .tmt given becomes corpus/replay/NAME, its records
in the harness's form (byte 1, then type byte, 2-byte length, payload; records over 64 KiB are
left out, and the stream is cut at 64 KiB). Decodes the container of docs/recording.md.
usage: tests/fuzz/mkseeds_replay.py RECORDING.tmt..."""
import os
import struct
import sys
import zlib

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "replay")


def records(path):
    data = open(path, "rb").read()
    tool_len = struct.unpack_from("<I", data, 16)[0]
    pos, stream = 20 + tool_len + 4, b""
    while pos < len(data):
        clen, ulen = struct.unpack_from("<II", data, pos)
        stream += zlib.decompress(data[pos + 16:pos + 16 + clen], -15)
        pos += 16 + clen
    pos = 0
    while pos < len(stream):
        t, n = struct.unpack_from("<II", stream, pos)
        yield t, stream[pos + 8:pos + 8 + n]
        pos += 8 + n


os.makedirs(out, exist_ok=True)
for path in sys.argv[1:]:
    seed = bytearray(b"\x01")
    for t, p in records(path):
        if t == 1 or len(p) > 0xffff:
            continue
        if len(seed) + 3 + len(p) > 64 << 10:
            break
        seed += struct.pack("<BH", t, len(p)) + p
    name = os.path.splitext(os.path.basename(path))[0]
    with open(os.path.join(out, name), "wb") as f:
        f.write(seed)
    print(f"{name}: {len(seed)} bytes")
