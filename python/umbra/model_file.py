"""Reads umbra model files with numpy alone (the layout is in include/umbra/nn/model_file.h).

    from umbra.model_file import read_model
    m = read_model("models/lenet/0010.model")
    m["tensors"]["conv1.wmat"]      # numpy float32 array, C order
    m["meta"]["round"], m["net"]    # counters and the network text

The checksum is verified, so a truncated or corrupt file raises ValueError naming the file.
The arrays are writable and share one buffer (the file's bytes).

Weights are 2-D, as umbra holds them: fullc "wmat" is (nhidden, inputs) and conv "wmat" is
(nchannel, channels / ngroup * kernel_height * kernel_width), PyTorch's Linear and Conv2d
weights once reshaped (.reshape(nchannel, channels // ngroup, kh, kw)); a "bias", batch_norm's
"gamma"/"beta"/"moving_mean"/"moving_var" and prelu's "slope" are (1, n). Names ending in
":momentum", ":second_moment" or ":grad" are the updater's state.

    python -m umbra.model_file M.model                       # lists the tensors
    python -m umbra.model_file M.model --safetensors M.safetensors
"""
import json
import math
import os
import stat
import struct
import sys
import zlib

import numpy as np

MAGIC = b"UMBRAMDL"


def read_model(path):
    # Only a regular file is read, as the C++ reader reads it: a FIFO blocked the open forever and
    # /dev/zero was read until memory ran out.
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        raise ValueError(f"{path}: cannot open model file ({e.strerror})") from None
    if not stat.S_ISREG(mode):
        raise ValueError(f"{path}: not a regular file")
    # The magic before the rest: a large file that is no model was read whole first (a bare
    # MemoryError where memory is short). The rest into a bytearray, so that the arrays are
    # writable (torch.from_numpy warns on a read-only one).
    try:
        with open(path, "rb") as f:
            magic = f.read(8)
            if len(magic) < 8:  # the C++ reader's words for a file cut before its magic's end
                raise ValueError(f"{path}: truncated ({len(magic)} bytes)")
            if magic != MAGIC:
                raise ValueError(f"{path}: not an umbra model file")
            size = os.fstat(f.fileno()).st_size
            try:
                b = bytearray(max(size, 8))
            except MemoryError:
                raise ValueError(f"{path}: a model file of {size} bytes does not fit in memory") from None
            b[:8] = MAGIC
            got = 8 + f.readinto(memoryview(b)[8:])
            del b[got:]  # cut while read: the checks below call it truncated
    except OSError as e:
        raise ValueError(f"{path}: cannot read model file ({e.strerror})") from None
    if len(b) < 32:
        raise ValueError(f"{path}: truncated ({len(b)} bytes)")
    # The version first, as the C++ reader checks it: a later format may end otherwise.
    version, reserved, hlen = struct.unpack_from("<IIQ", b, 8)
    if version != 1:
        raise ValueError(f"{path}: format version {version}, this reader knows 1")
    if reserved != 0:  # 0 in every file of version 1: another value is damage or a later format
        raise ValueError(f"{path}: corrupt (reserved word {reserved})")
    if b[-4:] != b"UEND":
        raise ValueError(f"{path}: truncated or has bytes past its end (no end marker in its last 4 bytes)")
    (crc,) = struct.unpack_from("<I", b, len(b) - 8)
    if zlib.crc32(memoryview(b)[: len(b) - 8]) != crc:  # a view: a slice copied the file
        raise ValueError(f"{path}: corrupt (checksum mismatch)")
    body = len(b) - 8
    if hlen > body - 24:
        raise ValueError(f"{path}: corrupt (header length {hlen})")
    # The header is checked as the C++ reader checks it (a file that passes the checksum may still
    # come from a faulty writer): every field of its type (int() took 32.7 as 32 and "x" with
    # another error), every tensor inside the data section and in bytes of its own.
    def malformed(what):
        return ValueError(f"{path}: malformed header ({what})")

    def whole(v, what):
        if type(v) is float and v.is_integer() and not -(2**63) <= v < 2**64:
            raise malformed(f"{what} is {v!r}, past a 64-bit integer's range")
        if type(v) is not int:
            raise malformed(f"{what} is {v!r}, not a whole number")
        return v

    def text(v, what):
        if type(v) is not str:
            raise malformed(f"{what} is {v!r}, not a string")
        return v

    def no_constant(c):
        raise malformed(f"{c} is no JSON number")

    # As the C++ reader (nlohmann): a number past a double's range is refused (1e400 loaded as
    # inf), and a whole number past 64 bits is a double (one of thousands of digits raised
    # int()'s own error, naming no file); a key given twice in an object is refused (json kept
    # the last: a doubled "tensors" read as its second).
    def finite(text):
        v = float(text)
        if not math.isfinite(v):
            raise malformed(f"the number {text[:40]}{'...' if len(text) > 40 else ''} is past a double's range")
        return v

    def integer(text):
        return int(text) if len(text) <= 21 and -(2**63) <= int(text) < 2**64 else finite(text)

    def no_twice(pairs):
        d = {}
        for k, v in pairs:
            if k in d:
                raise malformed(f'the key "{k}" appears twice in one object')
            d[k] = v
        return d

    if b"\0" in b[24 : 24 + hlen]:  # no raw NUL in JSON (the C++ reader's JSON ended at one)
        raise malformed("a NUL byte")
    try:
        head = json.loads(bytes(b[24 : 24 + hlen]).decode("utf-8"), parse_constant=no_constant, parse_float=finite,
                          parse_int=integer, object_pairs_hook=no_twice)
        # A lone surrogate escape ("\\ud800") loads here as a str no UTF-8 holds; the C++ reader
        # refuses it, so this one does too (encoding it raises UnicodeEncodeError).
        json.dumps(head, ensure_ascii=False).encode("utf-8")
        if type(head) is not dict or type(head.get("tensors")) is not list or type(head.get("meta")) is not dict:
            raise malformed("it needs an object with a tensors list and a meta object")
        if whole(head["version"], "version") != version:
            raise ValueError(f"{path}: corrupt (header version {head['version']}, file version {version})")
        base = whole(head["data_offset"], "data_offset")
        if not 24 + hlen <= base <= body or base % 64:  # 64-byte aligned, as the writer puts it
            raise ValueError(f"{path}: corrupt (data offset {base})")
        tensors, spans = {}, []
        for t in head["tensors"]:
            name = text(t["name"], "a tensor's name")
            if t["dtype"] != "float32":
                raise ValueError(f"{path}: tensor '{name}' has dtype {t['dtype']!r}; only float32 is read")
            if type(t["shape"]) is not list:  # a string or an object iterated as entries
                raise malformed(f"the shape of '{name}' is {t['shape']!r}, not a list")
            shape = [whole(d, f"a shape entry of '{name}'") for d in t["shape"]]
            off, nbytes = whole(t["offset"], f"the offset of '{name}'"), whole(t["nbytes"], f"the nbytes of '{name}'")
            # Beyond what numpy holds (32 dimensions) or the file (a dimension past its size, whatever
            # the others: [2**40, 0] as [0, 2**40]): the C++ reader's error, not numpy's.
            count = 1
            for d in shape:  # Python integers: no product wraps to a size that fits
                count *= d
            if len(shape) > 32 or any(d < 0 or d > body for d in shape) or count > body // 4:
                raise ValueError(f"{path}: tensor '{name}' has a bad shape")
            if off % 64:
                raise ValueError(f"{path}: tensor '{name}' has offset {off}, not a multiple of 64")
            if nbytes != 4 * count or off < 0 or base + off + nbytes > body:
                raise ValueError(f"{path}: tensor '{name}' does not fit the data section")
            if name in tensors:
                raise ValueError(f"{path}: tensor '{name}' appears twice")
            if nbytes:
                spans.append((off, off + nbytes))
            a = np.frombuffer(b, dtype="<f4", count=nbytes // 4, offset=base + off).reshape(shape)
            if not np.isfinite(a).all():  # as the C++ reader: a model's values are finite
                bad = int(np.flatnonzero(~np.isfinite(a))[0])
                raise ValueError(f"{path}: tensor '{name}' holds {a.flat[bad]} at element {bad}; a model's values are finite")
            tensors[name] = a
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:]):
            if start < end:
                raise ValueError(f"{path}: corrupt: two tensors share the bytes at data offset {start}")
        meta = {text(k, "a meta key"): text(v, f"meta '{k}'") for k, v in head["meta"].items()}
        return {"net": text(head["net"], "net"), "meta": meta, "tensors": tensors}
    except (KeyError, TypeError, UnicodeError, RecursionError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: malformed header ({type(e).__name__}: {e})") from None


def _write_safetensors(f, head, model):
    f.write(struct.pack("<Q", len(head)) + head)
    for a in model["tensors"].values():
        # The array's own bytes (read_model's are contiguous <f4): tobytes() copied each, so the
        # largest tensor was held twice.
        a = np.ascontiguousarray(a, dtype="<f4")
        if a.size:
            f.write(memoryview(a).cast("B"))


def write_safetensors(model, path):
    """Writes a model read by read_model as a safetensors file (its documented layout: a
    little-endian u64 header length, a JSON header naming each tensor's dtype, shape and
    data_offsets, then the data, contiguous), for safetensors.numpy / safetensors.torch and the
    tools that read that format. Tensors keep their umbra names ("conv1.wmat", and the updater's
    "conv1.wmat:momentum"); the meta and the network text go to __metadata__ (its "net" key).
    Written to a temporary file and renamed over `path` (a symbolic link is written through and
    kept, and a device or pipe written in place, as umbra's own outputs are); only a safetensors
    file or an empty one there is replaced: never an umbra model file (the command
    `M.model --safetensors M.model` replaced the model it read), nor any other (a training log)."""
    # safetensors keeps "__metadata__" for the string map that holds the meta and, as "net", the
    # network text: a tensor or a meta key of those names overwrote the one or the other.
    if "__metadata__" in model["tensors"]:
        raise ValueError(f"{path}: a tensor named '__metadata__' cannot be written to safetensors (the name is the format's)")
    if "net" in model["meta"]:
        raise ValueError(f"{path}: a meta key 'net' cannot be written to safetensors (__metadata__'s 'net' holds the network text)")
    entries, at = {}, 0
    for name, a in model["tensors"].items():
        entries[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [at, at + a.nbytes]}
        at += a.nbytes
    meta = dict(model["meta"])
    meta["net"] = model["net"]
    head = json.dumps({"__metadata__": meta, **entries}, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)  # the data 8-byte aligned, as the format's writer pads it
    if os.path.isdir(path):
        raise ValueError(f"{path}: cannot write safetensors (a folder)")
    if os.path.exists(path) and not os.path.isfile(path):
        # A device or pipe (/dev/stdout) is written in place, as umbra's own outputs are: a rename
        # would replace it (as root, /dev/null by a file), and reading its first bytes could block.
        try:
            with open(path, "wb") as f:
                _write_safetensors(f, head, model)
        except OSError as e:
            raise ValueError(f"{path}: cannot write safetensors ({e.strerror})") from None
        return
    # A link is written through, the link kept; a dangling one names the file to make; a loop
    # is an error (a non-strict realpath gave the loop's own path, and the link was replaced).
    try:
        target = os.path.realpath(path, strict=True)
    except FileNotFoundError:
        target = os.path.realpath(path)
    except OSError as e:
        raise ValueError(f"{path}: cannot write safetensors ({e.strerror})") from None
    try:
        with open(target, "rb") as f:
            first = f.read(9)
            if first[:8] == MAGIC:
                raise ValueError(f"{path}: is an umbra model file; not replaced (name another output)")
            # Only a safetensors file (a u64 header length that fits, then the header's '{') or
            # an empty one is replaced: a training log or a config given as the output was lost.
            size = os.fstat(f.fileno()).st_size
            if size and not (len(first) == 9 and first[8:] == b"{" and
                             int.from_bytes(first[:8], "little") <= size - 8):
                raise ValueError(f"{path}: exists and is no safetensors file; not replaced (remove it or name "
                                 f"another output)")
    except FileNotFoundError:
        pass  # nothing there to keep
    except OSError as e:  # one this user cannot read could be a model (it was replaced)
        raise ValueError(f"{path}: cannot read it to tell whether it is a model ({e.strerror}); not replaced") from None
    # The temporary's name cut to fit a file name's 255 bytes, as umbra's own; whatever is at it
    # (a dead run's leftover, or a link planted to have the write follow it onto another file)
    # is removed, and the file is made new (O_EXCL), never written through a link.
    folder, name = os.path.split(target)
    suffix = f".tmp.{os.getpid()}"
    tmp = os.path.join(folder, os.fsencode(name)[: 255 - len(suffix)].decode("utf-8", "ignore") + suffix)
    try:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
        with os.fdopen(fd, "wb") as f:
            _write_safetensors(f, head, model)
            f.flush()
            os.fsync(f.fileno())  # on the disk before the rename: never an empty file under the name
        os.replace(tmp, target)
        try:  # the folder too, so that the rename outlives a power cut (best effort)
            dfd = os.open(folder or ".", os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass
    except OSError as e:
        raise ValueError(f"{path}: cannot write safetensors ({e.strerror})") from None
    finally:
        if os.path.lexists(tmp):
            os.remove(tmp)


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(prog="python -m umbra.model_file",
                                 description="Lists an umbra model file's tensors, or converts it to safetensors.")
    ap.add_argument("model", help="an umbra model file (models/NAME/0010.model)")
    ap.add_argument("--safetensors", metavar="OUT", help="write the model's tensors to OUT as safetensors")
    args = ap.parse_args(argv)
    try:
        m = read_model(args.model)
        if args.safetensors:
            write_safetensors(m, args.safetensors)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.safetensors:
        print(f"wrote {len(m['tensors'])} tensors to {args.safetensors}", file=sys.stderr)
        return 0
    print("meta:", m["meta"])
    for name, a in m["tensors"].items():
        print(f"{name}\t{a.shape}\t{a.dtype}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
