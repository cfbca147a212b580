#!/usr/bin/python3
"""train_torch.py --profile and profile_side.py on the CPU: PyTorch's LeNet step summed by umbra's
layer types (each type LeNet has, forward and backward, the updates), its two convolutions with
their weight shapes and both passes, and the side-by-side tables against an umbra profile row
written here (its layer names and "how" column carried into the convolution rows).
Exit 77 (skipped) without PyTorch."""
import json
import os
import subprocess
import sys
import tempfile

BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench")
sys.path.insert(0, BENCH)

try:
    import torch  # noqa: F401
except ImportError:
    print("no PyTorch: skipped")
    sys.exit(77)
import profile_side  # noqa: E402

with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "profile-torch.jsonl")
    out = subprocess.run([sys.executable, os.path.join(BENCH, "train_torch.py"), "--net", "lenet", "--steps", "1",
                          "--reps", "1", "--threads", "1", "--profile", path],
                         check=True, capture_output=True, text=True).stdout
    assert json.loads(out.splitlines()[0])["img_per_s"] > 0, out
    rows = profile_side.read_rows(path)
    p = rows["lenet"]
    assert "error" not in p, p
    assert p["steps"] == 5 and p["device"] == "cpu", p
    for t in ("conv", "relu", "max_pooling", "fullc"):
        assert p["by_type"][t][0] > 0 and p["by_type"][t][1] > 0, (t, p["by_type"])
    assert p["by_type"]["softmax"][1] > 0 and p["by_type"]["update"][1] > 0, p["by_type"]
    assert abs(p["step_ms"] - sum(f + b for f, b in p["by_type"].values())) < 1e-2, p
    convs = p["convs"]
    assert [c["weight"] for c in convs] == [[32, 1, 5, 5], [64, 32, 5, 5]], convs
    assert all(c["fwd_ms"] > 0 and c["bwd_ms"] > 0 for c in convs), convs

    layers = [("conv1", "conv", "cuDNN fwd gemm tensor 0.050 ms 0.0 MiB, wgrad algo_1 tensor 0.080 ms 0.0 MiB"),
              ("pool1", "max_pooling", "umbra kernels, winners kept"),
              ("conv2", "conv", "cuDNN fwd gemm tensor 0.070 ms 1.0 MiB, dgrad algo_1 tensor 0.070 ms 0.0 MiB, "
                                "wgrad algo_0 tensor 0.090 ms 0.0 MiB"),
              ("fc1", "fullc", ""), ("loss", "softmax", "")]
    umbra = {"net": "lenet", "device_ms": 0.6, "update_ms": 0.01,
             "layers": [{"name": n, "type": t, "fwd_ms": 0.1, "bwd_ms": 0.2, "how": h} for n, t, h in layers]}
    upath = os.path.join(d, "profile-gpu.jsonl")
    with open(upath, "w") as f:
        f.write(json.dumps(umbra) + "\n" + json.dumps({**umbra, "net": "alexnet"}) + "\n")
    md = profile_side.side_by_side(upath, path).splitlines()
    assert md[0].startswith("### lenet: umbra 0.60 ms a step (events), PyTorch ") and "on the host" in md[0], md[0]
    conv = next(line for line in md if line.startswith("| conv | 0.200 | 0.400 | "))
    assert float(conv.split("|")[4]) > 0, conv
    assert "| relu | 0.000 | 0.000 | " in "\n".join(md), md
    c1 = next(line for line in md if line.startswith("| conv1 | 32x1x5x5 | 0.100 | "))
    assert "| cuDNN fwd gemm tensor 0.050 ms 0.0 MiB, wgrad algo_1" in c1, c1
    assert next(line for line in md if line.startswith("| conv2 | 64x32x5x5 | 0.100 | ")), md
    assert "### alexnet: no PyTorch profile (none written)" in md, md
print("profile_side: ok")
