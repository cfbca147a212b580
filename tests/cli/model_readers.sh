#!/usr/bin/env bash
# The model file readers, the numpy one (python/umbra/model_file.py) beside the C++ one (task =
# pred), on files a faulty writer or damage could make: the same headers refused by both, each
# with one error naming the file; the numpy reader's safetensors export, read back by a reader
# written from that format's description, and writing only where it should. On a model of
# tests/cli/small_mlp.conf trained here (2 rounds; tasks.sh trains the same).
# Usage: model_readers.sh UMBRA SOURCE_DIR. Exit 77 (skip) without Debian's Fashion-MNIST.
source "$(dirname "${BASH_SOURCE[0]}")/cli_common.sh" "$@"

"$UMBRA" "$CONF" num_round=2 model_dir=m > train.txt 2> train.err || { cat train.err; fail "training"; }

# The numpy reader checks a header that passes the checksum as the C++ reader does (files a faulty
# writer could make): each is a ValueError naming the file, none reads garbage.
UMBRA="$UMBRA" CONF="$CONF" PYTHONPATH="$SRC/python" $PY - <<'PY' || fail "python reader on crafted headers"
import json, os, struct, subprocess, zlib
from umbra.model_file import read_model
b = open('m/0002.model', 'rb').read()
hlen = struct.unpack_from('<Q', b, 16)[0]
head = json.loads(b[24:24 + hlen])
def craft(edit, lead=b''):  # lead: bytes before the header's JSON
    h = json.loads(json.dumps(head))
    edit(h)
    j = lead + json.dumps(h, separators=(',', ':')).encode()
    if len(j) > hlen and isinstance(h.get('net'), str):  # room for a longer edit: the net text is informational
        h['net'] = h['net'][:-(len(j) - hlen) - 8]
        j = lead + json.dumps(h, separators=(',', ':')).encode()
    assert len(j) <= hlen, 'an edit must not lengthen the header'
    body = b[:24] + j + b' ' * (hlen - len(j)) + b[24 + hlen:len(b) - 8]
    open('crafted.model', 'wb').write(body + struct.pack('<I', zlib.crc32(body)) + b'UEND')
def both_refuse(py_want, cpp_want):  # crafted.model: an error naming it from each reader
    try:
        read_model('crafted.model')
        raise SystemExit(f'python: no error for: {py_want}')
    except ValueError as e:
        assert 'crafted.model' in str(e) and py_want in str(e), str(e)
    r = subprocess.run([os.environ['UMBRA'], os.environ['CONF'], 'task=get_weight', 'weight_layer=fc2',
                        'model_in=crafted.model', 'weight_filename=crafted.txt'], capture_output=True, text=True)
    assert r.returncode != 0 and 'crafted.model' in r.stderr and cpp_want in r.stderr, r.stderr
cases = [(lambda h: h.update(data_offset=10), 'corrupt (data offset 10)'),
         (lambda h: h['tensors'][1].update(name=h['tensors'][0]['name']), 'appears twice'),
         (lambda h: h['tensors'][0].update(dtype='f16'), "has dtype 'f16'"),
         (lambda h: h['tensors'][0].update(offset=2), 'has offset 2, not a multiple of 64'),
         (lambda h: h.pop('net'), 'malformed header (KeyError')]
for edit, want in cases:
    craft(edit)
    try:
        read_model('crafted.model')
        raise SystemExit(f'no error for: {want}')
    except ValueError as e:
        assert 'crafted.model' in str(e) and want in str(e), str(e)
# Both readers on headers a faulty writer could make: a fraction where a whole number belongs
# (32.7 was read as 32), two tensors on the same bytes, no tensor list, a name that is no string.
def half(h):
    h['tensors'][0]['shape'][0] += 0.5
def overlap(h):
    h['tensors'][1]['offset'] = h['tensors'][0]['offset']
for edit, py_want, cpp_want in [
        (half, 'not a whole number', 'that is no whole number'),
        (overlap, 'two tensors share the bytes', 'two tensors share the bytes'),
        (lambda h: h.update(tensors=None), 'tensors list', 'tensors is no list'),
        (lambda h: h['tensors'][0].update(name=7), 'not a string', 'malformed header'),
        # The fields the layout fixes, as both readers read them: data_offset whole (the C++
        # reader truncated 1152.7), tensor offsets aligned, the header's version the file's, and
        # each dimension within the file whatever the others (only [2**40, 0] was refused).
        (lambda h: h.update(data_offset=h['data_offset'] + 0.5), 'not a whole number', 'that is no whole number'),
        (lambda h: h['tensors'][0].update(offset=h['tensors'][0]['offset'] + 4), 'not a multiple of 64',
         'not a multiple of 64'),
        (lambda h: h.update(version=2), 'header version 2', 'header version 2'),
        (lambda h: h['tensors'][0].update(shape=[0, 2**40], nbytes=0), 'has a bad shape', 'has a bad shape'),
        (lambda h: None, None, None)]:
    craft(edit)
    if py_want is None:  # the header unchanged, a NaN in the first tensor's data
        t0 = head['tensors'][0]
        at = head['data_offset'] + t0['offset']
        data = bytearray(open('crafted.model', 'rb').read())
        data[at:at + 4] = struct.pack('<f', float('nan'))
        body = bytes(data[:len(data) - 8])
        open('crafted.model', 'wb').write(body + struct.pack('<I', zlib.crc32(body)) + b'UEND')
        py_want = cpp_want = f"tensor '{t0['name']}' holds nan at element 0"
    both_refuse(py_want, cpp_want)
# Headers the writer never makes, on which the readers differed: a byte-order mark (nlohmann
# skipped it, Python refused it) and a lone surrogate escape (Python took it, nlohmann refused it).
craft(lambda h: None, lead=b'\xef\xbb\xbf')
both_refuse('malformed header', 'begins with a byte-order mark')
craft(lambda h: h['meta'].update(note='\ud800'))
assert b'"\\ud800"' in open('crafted.model', 'rb').read()
both_refuse('malformed header (UnicodeEncodeError', 'has a malformed header')
# The prefix's reserved word set (a later format, or damage: both loaded it) and bytes after the
# end marker (both said truncated).
reserved = bytearray(b[:len(b) - 8])
reserved[12:16] = struct.pack('<I', 7)
for data, want in [(bytes(reserved) + struct.pack('<I', zlib.crc32(bytes(reserved))) + b'UEND', 'reserved word 7'),
                   (b + b'xx', 'bytes past its end')]:
    open('crafted.model', 'wb').write(data)
    both_refuse(want, want)
craft(lambda h: None)
assert read_model('crafted.model')['tensors'].keys() == read_model('m/0002.model')['tensors'].keys()
# More dimensions than numpy holds raised numpy's error naming no file, and the C++ reader
# loaded them: both refuse them now. A FIFO blocked the numpy reader forever.
def many(h):
    h['tensors'][0].update(shape=[1] * 33, nbytes=4)
craft(many)
r = subprocess.run([os.environ['UMBRA'], os.environ['CONF'], 'task=get_weight', 'weight_layer=fc2',
                    'model_in=crafted.model', 'weight_filename=crafted.txt'], capture_output=True, text=True)
assert r.returncode != 0 and "has a bad shape (33 dimensions, more than 32)" in r.stderr, r.stderr
for path, want in [('crafted.model', f"tensor '{head['tensors'][0]['name']}' has a bad shape"),
                   ('fifo.model', 'not a regular file')]:
    if path == 'fifo.model':
        os.mkfifo(path)
    try:
        read_model(path)
        raise SystemExit(f'python: no error for: {want}')
    except ValueError as e:
        assert path in str(e) and want in str(e), str(e)
# Headers json.dumps cannot make, refused by both readers: JSON, a NUL and junk (nlohmann ended
# its input at the NUL), a key twice in one object (both kept the last), a whole number past 64
# bits (Python's int() raised its own error, naming no file, past 4300 digits), a number past a double's range
# (Python took 1e400 as inf), a shape that is no list (Python iterated a string or an object).
def craft_text(edit, tail=b''):  # edit: the header's JSON text -> new text; tail: raw bytes after it
    h = json.loads(json.dumps(head))
    while True:
        j = edit(json.dumps(h, separators=(',', ':'))).encode() + tail
        if len(j) <= hlen:
            break
        assert h['net'], 'an edit longer than the net text'
        h['net'] = h['net'][:-(len(j) - hlen) - 8]
    body = b[:24] + j + b' ' * (hlen - len(j)) + b[24 + hlen:len(b) - 8]
    open('crafted.model', 'wb').write(body + struct.pack('<I', zlib.crc32(body)) + b'UEND')
import re
name0 = head['tensors'][0]['name']
for edit, tail, py_want, cpp_want in [
        (lambda t: t, b'\0\xff junk', 'malformed header (a NUL byte)', 'has a malformed header: a NUL byte at offset'),
        (lambda t: t.replace('"tensors":', '"tensors":[],"tensors":', 1), b'',
         'the key "tensors" appears twice in one object', 'the key "tensors" appears twice in one object'),
        (lambda t: t.replace('"shape":', '"shape":[3],"shape":', 1), b'', 'the key "shape" appears twice',
         'the key "shape" appears twice'),
        (lambda t: t.replace('"offset":0', '"offset":' + '9' * 60, 1), b'', "past a 64-bit integer's range",
         "has an offset past a 64-bit integer's range"),
        (lambda t: t.replace('"meta":{', '"meta":{"x":1e400,', 1), b'', "the number 1e400 is past a double's range",
         'has a malformed header'),
        (lambda t: re.sub(r'"shape":(\[[^]]*\])', r'"shape":{"a":\1}', t, count=1), b'',
         f"the shape of '{name0}' is {{", f"tensor '{name0}' has a shape that is no list: a JSON object"),
        (lambda t: re.sub(r'"shape":(\[[^]]*\])', r'"shape":"\1"', t, count=1), b'',
         f"the shape of '{name0}' is '[", f"tensor '{name0}' has a shape that is no list: \"[")]:
    craft_text(edit, tail)
    both_refuse(py_want, cpp_want)
# A header of any length, sealed (the model's net text cannot make room for thousands of digits):
# a number past a double's range is refused by both; a whole number past 64 bits where no field
# is read is a double to both, and taken (Python refused any of over 40 digits).
def seal(extra):  # a header of no tensors with `extra` at its top level
    off = -1
    while True:  # data_offset counts the header, which holds it: until stable
        h = ('{"version":1,"net":"","meta":{},"tensors":[],"data_offset":%d%s}' % (max(off, 0), extra)).encode()
        if off == (24 + len(h) + 63) // 64 * 64:
            break
        off = (24 + len(h) + 63) // 64 * 64
    body = b[:16] + struct.pack('<Q', len(h)) + h + b'\0' * (off - 24 - len(h))
    open('crafted.model', 'wb').write(body + struct.pack('<I', zlib.crc32(body)) + b'UEND')
seal(',"x":' + '9' * 5000)
both_refuse("is past a double's range", 'has a malformed header: [json.exception.out_of_range.406] number overflow')
seal(',"x":' + '9' * 60)
assert read_model('crafted.model')['tensors'] == {}
r = subprocess.run([os.environ['UMBRA'], os.environ['CONF'], 'task=get_weight', 'weight_layer=fc2',
                    'model_in=crafted.model', 'weight_filename=crafted.txt'], capture_output=True, text=True)
assert r.returncode != 0 and "model file 'crafted.model' has no weight 'fc2.wmat'" in r.stderr, r.stderr
# A large file that is no model is refused at its magic, before it is read (a 3 GB one was read
# whole first, and was a bare MemoryError where memory was short).
import resource
with open('big.bin', 'wb') as f:
    f.truncate(1 << 33)  # 8 GiB, sparse
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
resource.setrlimit(resource.RLIMIT_AS, (1 << 31, hard))
try:
    read_model('big.bin')
    raise SystemExit('python: no error for a large non-model')
except ValueError as e:
    assert 'big.bin: not an umbra model file' in str(e), str(e)
finally:
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    os.remove('big.bin')
PY

# The numpy reader's arrays are writable (torch.from_numpy warned on read-only ones), and its
# safetensors export is read back, by a reader written from that format's description, as the
# same tensors, names, meta and network text.
PYTHONPATH="$SRC/python" $PY -W error - <<'PY' || fail "python reader: writable arrays and safetensors export"
import json, struct, subprocess, sys
from pathlib import Path
import numpy as np
from umbra.model_file import read_model
m = read_model('m/0002.model')
a = next(iter(m['tensors'].values()))
a[...] *= 1  # in place
import torch
torch.from_numpy(a)  # -W error: a warning (a read-only array) fails
r = subprocess.run([sys.executable, '-m', 'umbra.model_file', 'm/0002.model', '--safetensors', 'm.safetensors'],
                   capture_output=True, text=True)
assert r.returncode == 0 and 'wrote' in r.stderr, r.stderr
raw = Path('m.safetensors').read_bytes()
(n,) = struct.unpack_from('<Q', raw, 0)
assert n % 8 == 0 and raw[8 + n - 1:8 + n] in (b'}', b' ')
head = json.loads(raw[8:8 + n])
meta = head.pop('__metadata__')
assert meta['net'] == m['net'] and all(meta[k] == v for k, v in m['meta'].items())
data = raw[8 + n:]
spans = sorted(tuple(e['data_offsets']) for e in head.values())
assert spans[0][0] == 0 and spans[-1][1] == len(data) and all(p[1] == q[0] for p, q in zip(spans, spans[1:]))
assert head.keys() == m['tensors'].keys()
for name, e in head.items():
    assert e['dtype'] == 'F32'
    got = np.frombuffer(data[e['data_offsets'][0]:e['data_offsets'][1]], '<f4').reshape(e['shape'])
    assert np.array_equal(got, m['tensors'][name]), name
# A model that cannot be read is one error line, and no output file.
Path('bad.model').write_bytes(Path('m/0002.model').read_bytes()[:100])
r = subprocess.run([sys.executable, '-m', 'umbra.model_file', 'bad.model', '--safetensors', 'bad.safetensors'],
                   capture_output=True, text=True)
assert r.returncode == 1 and r.stderr.startswith('error: bad.model: ') and 'Traceback' not in r.stderr, r.stderr
import os
assert not os.path.exists('bad.safetensors')
# A model file is never the export's output (the model that was read was replaced), and an
# output that is a link is written through, the link kept.
import shutil
shutil.copy('m/0002.model', 'victim.model')
before = Path('victim.model').read_bytes()
for out in ('victim.model', 'm/0001.model'):
    r = subprocess.run([sys.executable, '-m', 'umbra.model_file', 'victim.model', '--safetensors', out],
                       capture_output=True, text=True)
    assert r.returncode == 1 and f'error: {out}: is an umbra model file; not replaced' in r.stderr, r.stderr
assert Path('victim.model').read_bytes() == before
# Nor any other file but a safetensors one (a training log given as the output was lost); the
# safetensors file written above is replaced.
shutil.copy('m/log.jsonl', 'victim.jsonl')
r = subprocess.run([sys.executable, '-m', 'umbra.model_file', 'victim.model', '--safetensors', 'victim.jsonl'],
                   capture_output=True, text=True)
assert r.returncode == 1 and 'error: victim.jsonl: exists and is no safetensors file; not replaced' in r.stderr, r.stderr
assert Path('victim.jsonl').read_bytes() == Path('m/log.jsonl').read_bytes()
r = subprocess.run([sys.executable, '-m', 'umbra.model_file', 'victim.model', '--safetensors', 'm.safetensors'],
                   capture_output=True, text=True)
assert r.returncode == 0, r.stderr
os.symlink('m.safetensors', 'link.safetensors')
r = subprocess.run([sys.executable, '-m', 'umbra.model_file', 'm/0002.model', '--safetensors', 'link.safetensors'],
                   capture_output=True, text=True)
assert r.returncode == 0 and os.path.islink('link.safetensors') and Path('m.safetensors').read_bytes() == raw, r.stderr
# A device is written in place (renamed over, /dev/null became a file when run as root).
import stat
r = subprocess.run([sys.executable, '-m', 'umbra.model_file', 'm/0002.model', '--safetensors', '/dev/null'],
                   capture_output=True, text=True)
assert r.returncode == 0 and stat.S_ISCHR(os.stat('/dev/null').st_mode), r.stderr
# A file cut inside its magic is 'truncated', as the C++ reader says; a checksum mismatch is named.
from umbra.model_file import read_model
with open('t5.model', 'wb') as f:
    f.write(before[:5])
for f, want in (('t5.model', 'truncated (5 bytes)'), ('bad.model', 'bad.model')):
    try:
        read_model(f)
        raise AssertionError(f)
    except ValueError as e:
        assert want in str(e), e
def refused(name, at, want):  # `before` with byte `at` changed, written as `name`: read_model says `want`
    b = bytearray(before)
    b[at] ^= 3
    with open(name, 'wb') as f:
        f.write(b)
    try:
        read_model(name)
        raise AssertionError(f'{name} read')
    except ValueError as e:
        assert name in str(e) and want in str(e), e
refused('flip.model', len(before) // 2, 'checksum')
# The version is named before the end marker and checksum, as the C++ reader names it.
refused('v2.model', 8, 'format version 2, this reader knows 1')
# The export's temporary is made new, never written through a link planted at its name (one to
# a model replaced it); a link loop as the output is an error, not replaced by a file.
from umbra.model_file import write_safetensors
shutil.copy('m/0002.model', 'planted.model')
os.symlink('planted.model', f'st.out.tmp.{os.getpid()}')
write_safetensors(m, 'st.out')
with open('planted.model', 'rb') as f:
    assert f.read() == before and not os.path.islink('st.out'), 'a planted link was followed'
assert not os.path.lexists(f'st.out.tmp.{os.getpid()}')
os.symlink('loopB', 'loopA'); os.symlink('loopA', 'loopB')
try:
    write_safetensors(m, 'loopA')
    raise AssertionError('a link loop was replaced')
except ValueError as e:
    assert 'loopA: cannot write safetensors' in str(e) and os.path.islink('loopA'), e
# safetensors keeps __metadata__ for its string map: a tensor of that name is refused.
odd = dict(m, tensors={'__metadata__': a})
try:
    write_safetensors(odd, 'odd.safetensors')
    raise AssertionError('a tensor named __metadata__ was written')
except ValueError as e:
    assert "a tensor named '__metadata__'" in str(e) and not os.path.exists('odd.safetensors'), e
PY
echo "all model reader checks passed"
