"""Reads umbra model files with numpy alone (the layout is in include/umbra/nn/model_file.h).

    from umbra.model_file import read_model
    m = read_model("models/lenet/0010.model")
    m["tensors"]["conv1.wmat"]      # numpy float32 array, C order
    m["meta"]["round"], m["net"]    # counters and the network text

The checksum is verified, so a truncated or corrupt file raises ValueError naming the file.
"""
import json
import struct
import sys
import zlib

import numpy as np

MAGIC = b"UMBRAMDL"


def read_model(path):
    with open(path, "rb") as f:
        b = f.read()
    if len(b) < 32 or b[:8] != MAGIC:
        raise ValueError(f"{path}: not an umbra model file")
    if b[-4:] != b"UEND":
        raise ValueError(f"{path}: truncated")
    (crc,) = struct.unpack_from("<I", b, len(b) - 8)
    if zlib.crc32(b[: len(b) - 8]) != crc:
        raise ValueError(f"{path}: corrupt (checksum mismatch)")
    version, _, hlen = struct.unpack_from("<IIQ", b, 8)
    if version != 1:
        raise ValueError(f"{path}: format version {version}, this reader knows 1")
    body = len(b) - 8
    if hlen > body - 24:
        raise ValueError(f"{path}: corrupt (header length {hlen})")
    # The header is checked as the C++ reader checks it (a file that passes the checksum may still
    # come from a faulty writer): every field there, every tensor inside the data section.
    try:
        head = json.loads(b[24 : 24 + hlen].decode("utf-8"))
        base = int(head["data_offset"])
        if not 24 + hlen <= base <= body:
            raise ValueError(f"{path}: corrupt (data offset {base})")
        tensors = {}
        for t in head["tensors"]:
            name = str(t["name"])
            if t["dtype"] != "float32":
                raise ValueError(f"{path}: tensor '{name}' has dtype {t['dtype']!r}; only float32 is read")
            shape = [int(d) for d in t["shape"]]
            off, nbytes = int(t["offset"]), int(t["nbytes"])
            if any(d < 0 for d in shape) or nbytes != 4 * int(np.prod(shape, dtype=np.int64)) or off < 0 or off % 4 \
                    or base + off + nbytes > body:
                raise ValueError(f"{path}: tensor '{name}' does not fit the data section")
            if name in tensors:
                raise ValueError(f"{path}: tensor '{name}' appears twice")
            tensors[name] = np.frombuffer(b, dtype="<f4", count=nbytes // 4, offset=base + off).reshape(shape)
        return {"net": str(head["net"]), "meta": dict(head["meta"]), "tensors": tensors}
    except (KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: malformed header ({type(e).__name__}: {e})") from None


if __name__ == "__main__":
    m = read_model(sys.argv[1])
    print("meta:", m["meta"])
    for name, a in m["tensors"].items():
        print(f"{name}\t{a.shape}\t{a.dtype}")
