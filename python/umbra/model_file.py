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
    head = json.loads(b[24 : 24 + hlen].decode("utf-8"))
    base = head["data_offset"]
    tensors = {}
    for t in head["tensors"]:
        assert t["dtype"] == "float32"
        start = base + t["offset"]
        arr = np.frombuffer(b, dtype="<f4", count=t["nbytes"] // 4, offset=start)
        tensors[t["name"]] = arr.reshape(t["shape"])
    return {"net": head["net"], "meta": head["meta"], "tensors": tensors}


if __name__ == "__main__":
    m = read_model(sys.argv[1])
    print("meta:", m["meta"])
    for name, a in m["tensors"].items():
        print(f"{name}\t{a.shape}\t{a.dtype}")
