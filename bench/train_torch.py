#!/usr/bin/env python3
"""PyTorch peer of bench_train (cpu) and bench_train_gpu (--device cuda): the same nets, batches
and SGD-momentum step on synthetic data, images/s as the median of --reps timed runs of --steps
steps after one warm-up run. Prints one JSON line per net. Thread count:
torch.set_num_threads(--threads). On cuda: PyTorch's default numerics (cudnn.benchmark on, TF32
allowed in convolutions, full FP32 in matmul), the device synchronised around each timed run, and
torch.cuda.max_memory_allocated over the timed runs as peak_mib. alexnet, resnet18 and
resnet50 are torchvision's layouts written out here (torchvision is not needed).
--compile MODE runs the model through torch.compile (PyTorch 2; the warm-up run absorbs the
compile, which is not timed); the issue's LeNet figure used mode reduce-overhead (CUDA graphs),
the others the default mode. --bf16: autocast to bfloat16 and channels-last memory format (the
issue's bf16 reference), fp32 weights and SGD as before. --profile FILE: then 5 steps more under
torch.profiler, each net's time by umbra's layer types and per convolution (with the kernels
cuDNN ran) appended to FILE as a JSON line (bench/run.py sets them beside umbra's profile)."""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn


def lenet():
    return nn.Sequential(nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Conv2d(32, 64, 5),
                         nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(), nn.Linear(1024, 100), nn.ReLU(),
                         nn.Linear(100, 10)), (100, 1, 28, 28)


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                         nn.Linear(512, 10)), (100, 1, 1, 784)


def cifar():
    return nn.Sequential(nn.Conv2d(3, 32, 5, padding=2), nn.MaxPool2d(3, 2, ceil_mode=True), nn.ReLU(),
                         nn.Conv2d(32, 32, 5, padding=2), nn.ReLU(), nn.AvgPool2d(3, 2, ceil_mode=True),
                         nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.AvgPool2d(3, 2, ceil_mode=True),
                         nn.Flatten(), nn.Linear(64 * 4 * 4, 64), nn.Linear(64, 10)), (128, 3, 32, 32)


def alexnet():
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Flatten(), nn.Dropout(), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
        nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Linear(4096, 1000)), (128, 3, 224, 224)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return torch.relu(y + (x if self.down is None else self.down(x)))


def resnet18():
    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000)]
    return nn.Sequential(*layers), (128, 3, 224, 224)


class Bottleneck(nn.Module):
    """torchvision's v1.5 bottleneck: the stride is on the 3x3 convolution."""

    def __init__(self, cin, width, stride):
        super().__init__()
        cout = 4 * width
        self.body = nn.Sequential(
            nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return torch.relu(self.body(x) + (x if self.down is None else self.down(x)))


def resnet50():
    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for j in range(blocks):
            layers.append(Bottleneck(cin, width, stride if j == 0 else 1))
            cin = 4 * width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000)]
    return nn.Sequential(*layers), (128, 3, 224, 224)


NETS = {"lenet": lenet, "mlp": mlp, "cifar": cifar, "alexnet": alexnet, "resnet18": resnet18, "resnet50": resnet50}


def run(name, steps, reps, device, compile_mode=None, bf16=False, profile_to=None, profile_steps_n=5):
    model, shape = NETS[name]()
    model = model.to(device)
    fmt = torch.channels_last if bf16 and len(shape) == 4 else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    if compile_mode:
        # Each net compiled afresh and for its static shapes: nets share nn.Sequential's forward,
        # and after one shape dynamo would recompile the next net with symbolic sizes.
        torch._dynamo.reset()
        step_model = torch.compile(model, mode=compile_mode, dynamic=False)
    else:
        step_model = model
    x = torch.rand(shape, device=device).contiguous(memory_format=fmt)
    classes = 1000 if name in ("alexnet", "resnet18", "resnet50") else 10
    y = torch.arange(shape[0], device=device) % classes
    cuda = device == "cuda"
    rates = []

    def step():
        opt.zero_grad()
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(step_model(x), y)
        loss.backward()
        opt.step()

    for r in range(reps + 1):
        if cuda:
            torch.cuda.synchronize()
            if r == 1:
                torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        if cuda:
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        if r:
            rates.append(steps * shape[0] / dt)
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else 0
    if profile_to:  # after the figures: the profiler's own cost is not in them
        try:
            row = {**profile_steps(name, step, profile_steps_n, cuda), "torch": torch.__version__}
        except Exception as e:  # the net's figures stand without it
            row = {"net": name, "error": f"profile: {type(e).__name__}: {e}"[:2000]}
        with open(profile_to, "a") as f:
            f.write(json.dumps(row) + "\n")
    return statistics.median(rates), peak


# PyTorch's ops and autograd nodes by umbra's layer types (bench/profile_report.h), so that the
# two profiles line up type by type. Forward: the top-level op each module call records;
# backward: the autograd node each evaluate_function event names (a gradient summed for a
# tensor used twice is added in its producer's event, where umbra has a split layer).
FWD_TYPES = {"aten::conv2d": "conv", "aten::batch_norm": "batch_norm", "aten::relu": "relu", "aten::relu_": "relu",
             "aten::max_pool2d": "max_pooling", "aten::avg_pool2d": "avg_pooling",
             "aten::adaptive_avg_pool2d": "global_avg_pooling", "aten::linear": "fullc", "aten::flatten": "flatten",
             "aten::dropout": "dropout", "aten::add": "eltwise_sum", "aten::add_": "eltwise_sum",
             "aten::cross_entropy_loss": "softmax"}
BWD_TYPES = {"ConvolutionBackward0": "conv", "CudnnBatchNormBackward0": "batch_norm",
             "NativeBatchNormBackward0": "batch_norm", "ReluBackward0": "relu", "ThresholdBackward0": "relu",
             "MaxPool2DWithIndicesBackward0": "max_pooling", "AvgPool2DBackward0": "avg_pooling",
             "AdaptiveAvgPool2DBackward0": "global_avg_pooling", "MeanBackward1": "global_avg_pooling",
             "AddmmBackward0": "fullc", "MmBackward0": "fullc", "TBackward0": "fullc", "ViewBackward0": "flatten",
             "ReshapeAliasBackward0": "flatten", "UnsafeViewBackward0": "flatten", "NativeDropoutBackward0": "dropout",
             "MulBackward0": "dropout", "NllLossBackward0": "softmax", "LogSoftmaxBackward0": "softmax",
             "AddBackward0": "eltwise_sum", "torch::autograd::AccumulateGrad": "update"}
BWD_PREFIX = "autograd::engine::evaluate_function: "


def event_ms(e, cuda):
    """An event's time with its children's, in ms: the device's kernels on cuda (the attribute
    is device_time_total from PyTorch 2.x, cuda_time_total before), the host's on cpu."""
    if not cuda:
        return e.cpu_time_total / 1e3
    t = getattr(e, "device_time_total", None)
    return (t if t is not None else e.cuda_time_total) / 1e3


def kernels_of(e):
    """(name, us) of every kernel an event and its children launched."""
    out = [(k.name, k.duration) for k in getattr(e, "kernels", [])]
    for c in e.cpu_children:
        out += kernels_of(c)
    return out


def top_kernels(e, steps):
    """The 3 costliest kernels of an event and its children: [name, ms a step]."""
    top = sorted(kernels_of(e), key=lambda k: -k[1])[:3]
    return [[k[0][:120], round(k[1] / 1e3 / steps, 4)] for k in top]


def find_child(e, name):
    if e.name == name:
        return e
    for c in e.cpu_children:
        f = find_child(c, name)
        if f is not None:
            return f
    return None


def profile_steps(name, step, steps, cuda):
    """Runs `steps` more steps under torch.profiler and sums each top-level event by umbra's layer
    types (FWD_TYPES, BWD_TYPES; unknown ones as "other"): {type: [fwd ms, bwd ms]}
    per step, the step's total, and every convolution in forward order with its weight shape,
    forward and backward ms and the costliest kernels of each (a backward matched to its
    forward by weight shape, last in first out: the reverse order backward runs them in)."""
    from torch.profiler import ProfilerActivity, profile
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=acts, record_shapes=True) as prof:
        for _ in range(steps):
            step()
        if cuda:
            torch.cuda.synchronize()
    by_type, convs, open_convs = {}, [], {}
    for e in prof.events():
        if e.cpu_parent is not None:
            continue
        ms = event_ms(e, cuda) / steps
        if e.name.startswith(BWD_PREFIX) or e.name in BWD_TYPES:
            node = e.name[len(BWD_PREFIX):] if e.name.startswith(BWD_PREFIX) else e.name
            t, col = BWD_TYPES.get(node, "other"), 1
        elif e.name.startswith("Optimizer."):
            t, col = "update", 1
        else:  # e.g. the loss gradient's seed, zero_grad's fills
            t, col = FWD_TYPES.get(e.name, "other"), 0
        by_type.setdefault(t, [0.0, 0.0])[col] += ms
        if e.name == "aten::conv2d":
            w = list(e.input_shapes[1]) if len(e.input_shapes) > 1 else []
            convs.append({"weight": w, "fwd_ms": ms, "bwd_ms": 0.0, "fwd_kernels": top_kernels(e, steps),
                          "bwd_kernels": []})
            open_convs.setdefault(str(w), []).append(len(convs) - 1)
        elif t == "conv" and col == 1:
            cb = find_child(e, "aten::convolution_backward")
            w = list(cb.input_shapes[2]) if cb is not None and len(cb.input_shapes) > 2 else []
            if open_convs.get(str(w)):
                c = convs[open_convs[str(w)].pop()]
                c["bwd_ms"] += ms
                c["bwd_kernels"] = top_kernels(e, steps)
    # Each step's convolutions were appended once a step: keep the first step's, with the
    # times of all (every step runs the same ones).
    per_step = len(convs) // steps if steps else 0
    merged = convs[:per_step]
    for i, c in enumerate(convs[per_step:]):
        m = merged[i % per_step]
        m["fwd_ms"] += c["fwd_ms"]
        m["bwd_ms"] += c["bwd_ms"]
    for c in merged:
        c["fwd_ms"], c["bwd_ms"] = round(c["fwd_ms"], 4), round(c["bwd_ms"], 4)
    total = sum(f + b for f, b in by_type.values())
    if cuda and total <= 0:
        raise RuntimeError("torch.profiler recorded no kernel time (CUPTI unavailable?)")
    return {"net": name, "steps": steps, "device": "cuda" if cuda else "cpu", "step_ms": round(total, 4),
            "by_type": {t: [round(f, 4), round(b, 4)] for t, (f, b) in by_type.items()}, "convs": merged}


def setup_seconds(name, reps):
    """Seconds to construct the model (layers made, weights allocated and initialised by
    PyTorch's default rules): what bench_train --setup times for umbra. Median of reps, after
    one to warm up."""
    secs = []
    for r in range(reps + 1):
        t0 = time.perf_counter()
        NETS[name]()
        if r:
            secs.append(time.perf_counter() - t0)
    return statistics.median(secs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", nargs="+", default=["lenet", "mlp", "cifar"], choices=sorted(NETS))
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--compile", metavar="MODE", choices=["default", "reduce-overhead", "max-autotune"],
                    help="time the model as torch.compile(model, mode=MODE) gives it")
    ap.add_argument("--bf16", action="store_true", help="bfloat16 autocast and channels-last")
    ap.add_argument("--setup", action="store_true", help="time constructing each model instead of training")
    ap.add_argument("--profile", metavar="FILE",
                    help="after each net's timed runs, 5 steps under torch.profiler: its time by umbra's layer "
                         "types and each convolution's, a JSON line a net appended to FILE")
    a = ap.parse_args()
    if a.compile and not hasattr(torch, "compile"):
        ap.error(f"--compile needs PyTorch 2 (this is {torch.__version__})")
    torch.set_num_threads(a.threads)
    if a.device == "cuda":
        torch.backends.cudnn.benchmark = True  # PyTorch's numerics otherwise left at their defaults
    if a.setup:
        for n in a.net:
            print(json.dumps({"net": n, "setup_s": round(setup_seconds(n, a.reps), 4), "torch": torch.__version__}),
                  flush=True)
        return 0
    failed = False
    for n in a.net:
        try:
            rate, peak = run(n, a.steps, a.reps, a.device, a.compile, a.bf16, a.profile)
        except Exception as e:  # one net failing loses its row only (run.py reports the error)
            print(json.dumps({"net": n, "error": f"{type(e).__name__}: {e}"[:2000]}), flush=True)
            if a.device == "cuda":
                torch.cuda.empty_cache()
            failed = True
            continue
        out = {"net": n, "img_per_s": round(rate, 1), "torch": torch.__version__}
        if a.compile:
            out["compile"] = a.compile
        if a.bf16:
            out["bf16"] = True
        if a.device == "cuda":
            out["peak_mib"] = round(peak)
            out["gpu"] = torch.cuda.get_device_name()
            # The numerics the figure was taken with (PyTorch's defaults: TF32 in cuDNN's
            # convolutions, full FP32 in matrix products), recorded rather than assumed.
            out["cudnn_tf32"] = torch.backends.cudnn.allow_tf32
            out["matmul_precision"] = torch.get_float32_matmul_precision()
        print(json.dumps(out), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
