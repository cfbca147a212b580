#!/usr/bin/env python3
"""Runs umbra's benchmarks beside their peers in one go and prints each pair with the ratio.

  bench/run.py [--build build] [--reps 7] [--gpu] [--cpu] [--train] [--gpu-train] [--gpu-own-kernels]
               [--gpu-bf16] [--gpu-nhwc] [--gpu-readout] [--torch-compile] [--profile DIR] [--gpu-steps 20]
               [--gpu-nets NET ...]
               [--save-umbra FILE] [--compile-from FILE] [--setup]

CPU: fused `y = a*b + c*d - e` over 64M floats (umbra, plain memcpy of the same bytes, PyTorch
eager with the same thread count), and dot() on LeNet/MLP shapes against dnnl_sgemm and OpenBLAS
called directly. GPU (with --gpu, needs a device): the fused statement against a device-to-device
copy and PyTorch eager, dtype=bf16's conversions against the copy (and PyTorch's cast), dot()
against cublasSgemm, batch norm + relu (umbra's own kernels, cuDNN's, PyTorch eager) at
ResNet-50's shapes, and max pooling (the same three) at ResNet's stem and AlexNet's first
pool. --torch-compile adds, to --gpu-train,
PyTorch's torch.compile figures (PyTorch 2; LeNet in mode reduce-overhead, the others in the
default mode, as the issue measured them); --compile-from makes that table alone against the
rows an earlier --gpu-train run saved with --save-umbra (gpu-check's compile stage, so that the
device's time is not spent measuring umbra's nets twice); --gpu-bf16 trains with dtype=bf16
beside PyTorch's bf16 autocast and channels-last; --gpu-nhwc trains channels-last (NetSpec::channels_last)
beside the plain layout, plain and CUDA-graph steps (batch norms on umbra's kernels, relus
fused, the default channels-last);
--gpu-readout trains reading the loss each step against reading it once per 20 steps (what a
training run's wait per step costs). Each timed GPU training run is --gpu-steps steps (20) on
both sides; tests/cli/gpu_host_paths.sh takes 2 for its dry run.
--setup times building each net before training (config parsed, weights allocated and
initialised; bench_train --setup) beside PyTorch constructing the same model, in ms.
Medians of --reps repetitions throughout.
The PyTorch peer runs in this process with torch.set_num_threads(OMP_NUM_THREADS or 2); no
environment variable of umbra's processes is changed.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

import profile_side

N = 64 << 20
FAILURES = []  # what failed on the way (a net, a binary): the exit status says so at the end


def umbra_env():
    """The environment for umbra's binaries: scripts/gpu-check finds their libraries with a
    longer LD_LIBRARY_PATH (UMBRA_LD_LIBRARY_PATH) than PyTorch's process should see."""
    ldp = os.environ.get("UMBRA_LD_LIBRARY_PATH")
    return dict(os.environ, LD_LIBRARY_PATH=ldp) if ldp is not None else None


def json_rows(cmd, env=None):
    """run_json's rows alone."""
    return run_json(cmd, env)[0]


def run_json(cmd, env=None):
    """Runs cmd (stderr goes on to ours, into the log) and returns its JSON lines as {net: row}
    and its exit status. Other output lines are skipped; a run that fails keeps the rows it
    printed and says how it ended; a row with "error" (a net that failed) is reported and kept
    for what it has; of a net's rows the last counts (bench_train_gpu prints a net's row again,
    marked "partial", after each variant it measures). Each row is also echoed as it comes, as
    a markdown comment (`<!-- name: {...} -->`): a stage killed by its time limit before its
    table keeps the nets it had measured (an H200 run lost two whole stages that way)."""
    name = os.path.basename(cmd[1] if cmd[0] == sys.executable else cmd[0])
    rows = {}
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env) as p:
        for line in p.stdout:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "net" in d:
                print(f"<!-- {name}: {line} -->", flush=True)
                rows[d["net"]] = d
                if "error" in d:
                    print(f"{d['net']}: failed: {d['error']}\n")
                    FAILURES.append(d["net"])
    if p.returncode != 0:
        print(f"{name} exited with status {p.returncode}; the rows it printed are kept\n")
        FAILURES.append(name)
    return rows, p.returncode


def row_notes(ours):
    """Under a training table: the rows a rerun measured with the legacy search (a "legacy conv
    search" column then measures what the default column does) and partial rows."""
    for n, o in ours.items():
        if o.get("conv_search"):
            print(f"\n{n}: every run with cudnn_search = {o['conv_search']} (a rerun where the default search's "
                  f"run failed: bench/run.py's rerun_failed_nets)")
        if o.get("partial"):
            print(f"\n{n}: a partial row (its process ended before the rest of its runs)")


def table_row(name, fmt, data=None):
    """Prints fmt() as a table row; a row missing a figure (a net failed on one side) says which,
    with the figures it has (data: umbra's row), instead."""
    try:
        print(fmt())
    except (KeyError, TypeError, ZeroDivisionError) as e:
        have = f"; umbra's figures: {json.dumps(data)}" if data else ""
        print(f"| {name} | incomplete: {type(e).__name__} {e}{have} |")


def gbench(binary, reps, filt=None, min_time=None):
    """Runs a Google Benchmark binary; returns {name: median result dict}. min_time: seconds a
    repetition runs at least (Google Benchmark's default is 0.5). Where the process dies (a
    crash mid-run leaves no whole document), each benchmark runs again in a process of its own,
    so that one that kills its process costs its own figures alone."""
    res = gbench_once(binary, reps, filt, min_time)
    if res is not None:
        return res
    listed = subprocess.run([binary, "--benchmark_list_tests", *([f"--benchmark_filter={filt}"] if filt else [])],
                            stdout=subprocess.PIPE, text=True, env=umbra_env())
    names = listed.stdout.split() if listed.returncode == 0 else []
    print(f"{os.path.basename(binary)} {filt or ''}: each of {len(names)} benchmarks again in a process of its own\n")
    res = {}
    for n in names:  # each result echoed as it comes: a stage killed by its limit keeps them
        one = gbench_once(binary, reps, "^" + re.sub(r"([][.^$*+?(){}|\\])", r"\\\1", n) + "$", min_time) or {}
        for k, v in one.items():
            print(f"<!-- {os.path.basename(binary)}: {k}: {json.dumps(v)} -->", flush=True)
        res.update(one)
    return res


def gbench_once(binary, reps, filt, min_time):
    """gbench's one process: its medians, or None (said, and counted a failure) where it died."""
    cmd = [binary, "--benchmark_format=json", f"--benchmark_repetitions={reps}",
           "--benchmark_report_aggregates_only=true",
           "--benchmark_enable_random_interleaving=true"]  # peers alternate: drift hits both
    if filt:
        cmd.append(f"--benchmark_filter={filt}")
    if min_time:
        cmd.append(f"--benchmark_min_time={min_time}")
    r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=umbra_env())
    try:
        benchmarks = json.loads(r.stdout)["benchmarks"]
    except (json.JSONDecodeError, KeyError):  # a crash mid-run leaves no whole document
        print(f"{os.path.basename(binary)} {filt or ''}: no results (exit status {r.returncode})\n")
        FAILURES.append(os.path.basename(binary))
        return None
    res = {}
    for b in benchmarks:  # medians; with one repetition Google Benchmark prints no aggregates
        if b.get("aggregate_name", "median" if reps == 1 else None) == "median" and not b.get("error_occurred"):
            res[b["run_name"].split("/real_time")[0].split("/manual_time")[0]] = b
    return res


def torch_fused(device, reps, threads):
    import torch
    torch.set_num_threads(threads)
    a, b, c, d, e = (torch.full((N,), float(i + 1), device=device) for i in range(5))
    times = []
    for i in range(reps + 1):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        y = a * b + c * d - e
        if device == "cuda":
            torch.cuda.synchronize()
        if i:  # the first run warms up the allocator
            times.append(time.perf_counter() - t0)
        del y
    return 6 * N * 4 / statistics.median(times), torch.__version__


def torch_cast(reps):
    """PyTorch's float -> bfloat16 conversion of 64M floats on the GPU, timed with CUDA events
    as bench_gpu times umbra's (host timing would add the launch and the wait to a ~0.1 ms
    kernel); bytes a second counted alike (6 an element)."""
    import torch
    x = torch.full((N,), 1.5, device="cuda")
    y = x.to(torch.bfloat16)  # the allocator's block, reused below
    t0, t1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(10 * reps):
        del y
        t0.record()
        y = x.to(torch.bfloat16)
        t1.record()
        t1.synchronize()
        times.append(t0.elapsed_time(t1) / 1e3)
    return 6 * N / statistics.median(times), torch.__version__


def torch_event_ms(step, reps):
    """Median ms of step() on the GPU, each run timed alone with CUDA events (as bench_gpu times
    umbra's), 10 * reps runs after 3 warm-ups."""
    import torch
    for _ in range(3):
        step()
    t0, t1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(10 * reps):
        t0.record()
        step()
        t1.record()
        t1.synchronize()
        times.append(t0.elapsed_time(t1))
    return statistics.median(times)


def torch_bn_relu(shape, nhwc, reps, bf16=False):
    """PyTorch eager's BatchNorm2d + relu(inplace=True) (torchvision's ResNet), one training pass
    (forward, then the input, weight and bias gradients), each pass timed alone with CUDA events
    as bench_gpu times umbra's; median ms. bf16: bfloat16 activations and gradients with fp32
    weights and statistics, as under autocast (which leaves batch norm's types as they come)."""
    import torch
    torch.backends.cudnn.benchmark = True
    n, c, h, w = shape
    x = torch.rand(n, c, h, w, device="cuda") * 2 - 1
    if bf16:
        x = x.to(torch.bfloat16)
    if nhwc:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    bn = torch.nn.BatchNorm2d(c).cuda()
    gy = torch.rand_like(x) * 2 - 1
    params = [x, bn.weight, bn.bias]

    def step():
        y = torch.nn.functional.relu(bn(x), inplace=True)
        torch.autograd.grad(y, params, gy)
    return torch_event_ms(step, reps)


BN_SHAPES = {"r50_stem": (128, 64, 112, 112), "r50_s2": (128, 256, 56, 56), "r50_s5": (128, 2048, 7, 7)}


def own_cudnn_table(res, prefix, shapes, layouts, peer_ms, passes, header):
    """bench_gpu's `prefix/own|cudnn/LAYOUT/SHAPE` rows: umbra's own kernels and cuDNN's (where it
    ran: "-" otherwise) beside PyTorch eager (peer_ms(shape, layout), in ms) and the copy-speed
    floor of `passes` passes over the tensor. header: the first columns' titles."""
    copy_bps = res.get("BM_DeviceCopyGPU", {}).get("bytes_per_second", float("nan"))  # read + write bytes a second
    print(f"| {header} | PyTorch eager | PyTorch / own | cuDNN / own | {passes:g} passes at copy speed | floor / own |")
    print("|---|---|---|---|---|---|---|---|---|")
    torch_ok = True
    for name, shape in shapes.items():
        for layout in layouts:
            own, cud = res.get(f"{prefix}/own/{layout}/{name}"), res.get(f"{prefix}/cudnn/{layout}/{name}")
            if not own:
                continue
            peer = float("nan")
            if torch_ok:
                try:
                    peer = peer_ms(shape, layout)
                except Exception as e:  # PyTorch without CUDA: say so once, keep the rest
                    torch_ok = False
                    print(f"| PyTorch on GPU unavailable: {e} | | | | | | | | |")
            o = own["real_time"]
            c = cud["real_time"] if cud else float("nan")
            floor = passes * own["tensor_bytes"] / copy_bps * 1e3
            cs = f"{c:.3f} ms" if cud else "-"
            print(f"| {name} {shape} | {layout} | {o:.3f} ms | {cs} | {peer:.3f} ms | {peer / o:.2f} "
                  f"| {c / o:.2f} | {floor:.3f} ms | {floor / o:.2f} |")
    print()


def bn_table(res, reps):
    """Batch norm + relu: umbra's own (relu fused) and cuDNN's + cuDNN's relu; the own path makes
    8 passes over the tensor. *_scalar: umbra's own with the statistics read a value at a time
    (bench_gpu's rows without the packed reads), beside the same PyTorch figure (timed once: device
    time is scarce)."""
    peer = {}

    def peer_ms(shape, layout):
        key = (shape, layout.startswith("nhwc"), "bf16" in layout)
        if key not in peer:
            peer[key] = torch_bn_relu(shape, key[1], reps, bf16=key[2])
        return peer[key]
    layouts = ("nchw", "nchw_scalar", "nhwc", "nhwc_scalar", "nhwc_bf16", "nhwc_bf16_scalar")
    own_cudnn_table(res, "bn_relu", BN_SHAPES, layouts, peer_ms, 8,
                    "shape (ResNet-50, batch 128) | layout | umbra own, relu fused | cuDNN + relu")


POOL_SHAPES = {"resnet_stem": (128, 64, 112, 112), "alexnet_pool1": (128, 64, 55, 55)}


def torch_max_pool(shape, nhwc, reps):
    """PyTorch eager's max_pool2d (3x3, stride 2, ceil_mode=True: the windows of umbra's layer),
    one training pass (forward, then the input gradient) on relu'd uniform values, timed with
    CUDA events as bench_gpu times umbra's; median ms."""
    import torch
    x = torch.relu(torch.rand(*shape, device="cuda") * 2 - 1)
    if nhwc:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    pool = lambda: torch.nn.functional.max_pool2d(x, 3, 2, ceil_mode=True)
    gy = torch.rand_like(pool().detach()) * 2 - 1

    def step():
        torch.autograd.grad(pool(), [x], gy)
    return torch_event_ms(step, reps)


def pool_table(res, reps):
    """Max pooling: umbra's own kernels (layouts nchw, nhwc; nhwc_scalar: channels-last one channel
    a thread, as before the packed kernels), the pool/unpool expressions they replaced (nchw_expr,
    nhwc_expr) and, where cuDNN pools the window, cuDNN's; the floor is the
    kernels' pass (2.63 tensors of the input's size read and written) on every row, the
    expressions' included: one yardstick for the work, whichever way it is done."""
    peer = {}

    def peer_ms(shape, layout):  # one PyTorch figure per shape and layout (device time is scarce)
        key = (shape, layout.startswith("nhwc"))
        if key not in peer:
            peer[key] = torch_max_pool(shape, key[1], reps)
        return peer[key]
    own_cudnn_table(res, "max_pool", POOL_SHAPES, ("nchw", "nhwc", "nhwc_scalar", "nchw_expr", "nhwc_expr"), peer_ms,
                    2.63, "shape (batch 128, 3x3 stride 2) | layout | umbra own | cuDNN")


def row(name, ours, peer, unit, scale):
    print(f"| {name} | {ours / scale:,.1f} {unit} | {peer / scale:,.1f} {unit} | {ours / peer:.2f} |")


def gpu_train_table(ours, peer):
    """umbra's bench_train_gpu lines beside train_torch.py's, one row per net. "graph": the same
    steps replayed from CUDA graphs (Trainer::set_cuda_graph) where the trainer accepts them;
    its reason otherwise, under the table."""
    print("| net | umbra img/s | umbra graph img/s | PyTorch img/s | umbra / PyTorch | graph / PyTorch "
          "| umbra peak MiB | PyTorch peak MiB |")
    print("|---|---|---|---|---|---|---|---|")
    notes = []
    for n, o in ours.items():
        g = o.get("graph_img_per_s")
        if g is None:
            notes.append(f"{n}: {o.get('graph_note', 'no graph figure')}")

        def line(n=n, o=o, g=g):
            p = peer[n]
            gs, gr = (f"{g:,.0f}", f"{g / p['img_per_s']:.2f}") if g else ("-", "-")
            return (f"| {n} | {o['img_per_s']:,.0f} | {gs} | {p['img_per_s']:,.0f} | {o['img_per_s'] / p['img_per_s']:.2f} "
                    f"| {gr} | {o['peak_mib']:,.0f} | {p['peak_mib']:,.0f} |")
        table_row(n, line, o)
    for line in notes:
        print(f"\n{line}")
    row_notes(ours)
    print()
    peak_breakdown(ours, peer)


def peak_breakdown(ours, peer):
    """Where umbra's peak goes (the default runs): what is known before a step (the node arena
    includes the passes' scratch the first step planned into it), and the rest
    (cuDNN's workspaces that did not fit their pass's gap in the arena, layers' scratch, the
    allocator's rounding), the smallest and median gap the convolutions' passes had for their
    workspaces, beside PyTorch's peak
    ("-" where PyTorch gave none: umbra's columns stand on their own)."""
    print("| net | umbra peak MiB | node arena, planned scratch | weights, gradients, momentum | input batch "
          "| rest: workspaces, scratch, rounding | conv gaps min / median | PyTorch peak MiB "
          "| PyTorch peak - umbra's known |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, o in ours.items():
        def line(n=n, o=o):
            known = o["node_mib"] + o["weight_mib"] + o["input_mib"]
            p = (peer or {}).get(n, {}).get("peak_mib")
            torch = f"{p:,.0f} | {p - known:,.0f}" if p is not None else "- | -"
            gaps = f"{o['conv_gap_min_mib']:,.1f} / {o['conv_gap_median_mib']:,.1f}"
            return (f"| {n} | {o['peak_mib']:,.0f} | {o['node_mib']:,.0f} | {o['weight_mib']:,.0f} "
                    f"| {o['input_mib']:,.0f} | {o['peak_mib'] - known:,.0f} | {gaps} | {torch} |")
        table_row(n, line, o)
    print()


GPU_NETS = ["lenet", "cifar", "alexnet", "resnet18", "resnet50"]  # bench_train_gpu's default --net


def train_gpu(bdir, reps, flags, steps, nets=None):
    """bench_train_gpu's lines ({net: result}) for `nets` (None: its default, GPU_NETS), `steps`
    steps a run; None (said why) when it was not built or there is no device. Nets its process
    did not finish run again (rerun_failed_nets)."""
    binary = os.path.join(bdir, "bench_train_gpu")
    if not os.path.exists(binary):
        print("bench_train_gpu was not built (needs CUDA and CLI11)")
        return None
    configs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "configs")
    base = [binary, "--steps", str(steps), "--reps", str(reps), "--configs", configs]
    ours, rc = run_json([*base, *flags, *(["--net", *nets] if nets else [])], umbra_env())
    if rc != 0:
        ours = rerun_failed_nets(base, flags, nets or GPU_NETS, ours, rc)
    if not ours:
        print("no rows: no CUDA device, or bench_train_gpu failed before its first net (above)")
    return ours or None


def complete(r):
    return r is not None and "error" not in r and not r.get("partial")


def rerun_failed_nets(base, flags, nets, ours, rc):
    """bench_train_gpu runs the nets one after another in one process, so a crash (a library
    call that kills the process, a kernel whose fault leaves the context unusable) also costs
    every net after it, on a device lent by the quarter hour. Each net without a complete row
    runs again in a process of its own: as before where it never ran (it came after the
    crash), then, where it failed, with its convolutions' searches left to cuDNN's legacy
    algorithms and umbra's GEMMs (--conv-search legacy: the graph API's engine configurations
    are the least tried part of a search; such rows say "conv_search"). Once a net completes
    only that way, the nets after it run that way too. So at most two more processes a net;
    each is said, with why, above the table. A failed run is still a failure of the stage."""
    # The net the process died in: the first with a partial row (bench_train_gpu prints one as
    # each net starts); a net without a row never ran (a process that died before its first
    # net blames none); error rows are the process's own reports: it went on after them.
    crashed = next((n for n in nets if n in ours and ours[n].get("partial")), None)
    figures = lambda row: len([k for k in row if k not in ("conv_search", "partial")])
    legacy = False
    for n in nets:
        if complete(ours.get(n)):
            continue
        never_ran = n not in ours
        why = (ours[n]["error"] if n in ours and "error" in ours[n] else
               f"never ran: the run ended in {crashed or 'no net'}" if never_ran else
               f"the run ended here, status {rc}")
        for leg in dict.fromkeys([legacy, True] if never_ran else [True]):
            print(f"{n}: measured again in a process of its own{' with --conv-search legacy' if leg else ''} "
                  f"({why})\n")
            r = run_single(base, flags, n, leg).get(n)
            if r is not None and (complete(r) or n not in ours or figures(r) > figures(ours[n])):
                ours[n] = r  # else the first run's row, which has as many figures
            if complete(r):
                legacy = legacy or leg
                break
            why = r["error"] if r is not None and "error" in r else "that run ended too"
        else:
            print(f"{n}: no complete row ({why})\n")
    return {n: ours[n] for n in [*nets, *ours] if n in ours}


def run_single(base, flags, net, legacy):
    """bench_train_gpu for one net; a profile goes into DIR/rerun-NET and is appended to DIR's."""
    flags = list(flags)
    prof = None
    if "--profile" in flags:
        i = flags.index("--profile")
        prof = flags[i + 1]
        flags[i + 1] = os.path.join(prof, f"rerun-{net}")
        os.makedirs(flags[i + 1], exist_ok=True)
        for ext in ("md", "jsonl"):  # an earlier run's, into the same folder, is not this one's
            stale = os.path.join(flags[i + 1], f"profile-gpu.{ext}")
            if os.path.exists(stale):
                os.remove(stale)
    rows, _ = run_json([*base, *flags, *(["--conv-search", "legacy"] if legacy else []), "--net", net], umbra_env())
    if prof:
        for ext in ("md", "jsonl"):
            part = os.path.join(prof, f"rerun-{net}", f"profile-gpu.{ext}")
            if os.path.exists(part):
                with open(part) as src, open(os.path.join(prof, f"profile-gpu.{ext}"), "a") as dst:
                    dst.write(src.read())
    return rows


def peer_lines(args):
    """train_torch.py's JSON lines as {net: result}."""
    return json_rows([sys.executable, os.path.join(os.path.dirname(__file__), "train_torch.py"), *args])


def compile_table(ours, cuda_args, tv):
    """PyTorch's torch.compile figures for umbra's nets (LeNet in mode reduce-overhead, the others
    in the default mode, as the issue measured them), and the table against umbra's best."""
    compiled = {}
    for mode, nets in (("reduce-overhead", [n for n in ours if n == "lenet"]),
                       ("default", [n for n in ours if n != "lenet"])):
        if nets:
            compiled.update(peer_lines([*cuda_args, "--compile", mode, "--net", *nets]))
    tv = tv or next((p.get("torch") for p in compiled.values() if "torch" in p), "?")
    print(f"PyTorch {tv} torch.compile (compile time not timed)\n")
    compiled_table(ours, compiled)


def compiled_table(ours, compiled):
    """umbra's best (plain or graph) beside torch.compile, the issue's second bar."""
    print("| net | umbra best img/s | PyTorch compiled img/s | mode | umbra / compiled |")
    print("|---|---|---|---|---|")
    for n, o in ours.items():
        def fmt(n=n, o=o):
            c = compiled[n]
            best = max(o["img_per_s"], o.get("graph_img_per_s") or 0)
            return f"| {n} | {best:,.0f} | {c['img_per_s']:,.0f} | {c['compile']} | {best / c['img_per_s']:.2f} |"
        table_row(n, fmt, o)
    row_notes(ours)
    print()


def bf16_table(ours, peer):
    """umbra with dtype=bf16 (fp32 activations; and bf16 ones, NetSpec::bf16_nodes; and those
    channels-last, where batch norms run on umbra's kernels with relus fused) beside PyTorch's
    bf16 autocast and channels-last. (cuDNN's channels-last batch norm is not trained: 12-13x
    slower than umbra's kernels a layer on bf16 nodes, bench/RESULTS.md, 2026-12-04.)"""
    print("| net | umbra bf16 img/s | with bf16 activations img/s | and channels-last img/s "
          "| PyTorch bf16 autocast img/s | best / PyTorch | umbra peak MiB "
          "| bf16 activations peak MiB | and channels-last peak MiB | PyTorch peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    fmt = lambda v: f"{v:,.0f}" if v else "-"
    keys = ("bf16_nodes", "bf16_nodes_nhwc")
    for n, o in ours.items():
        def row(n=n, o=o):
            best = max([o["bf16_img_per_s"]] + [o.get(f"{k}_img_per_s") or 0 for k in keys])
            rates = " | ".join(fmt(o.get(f"{k}_img_per_s")) for k in keys)
            peaks = " | ".join(fmt(o.get(f"{k}_peak_mib")) for k in keys)
            return (f"| {n} | {o['bf16_img_per_s']:,.0f} | {rates} | {peer[n]['img_per_s']:,.0f} "
                    f"| {best / peer[n]['img_per_s']:.2f} | {o['bf16_peak_mib']:,.0f} | {peaks} "
                    f"| {peer[n]['peak_mib']:,.0f} |")
        table_row(n, row, o)
    row_notes(ours)
    print()


def nhwc_table(ours, peer):
    """umbra channels-last (cuDNN's NHWC convolutions and pooling) beside its plain layout and
    PyTorch eager (fp32, PyTorch's default layout); batch norms channels-last on umbra's kernels
    (algo=auto's choice there: statistics kernels, relu fused). cuDNN's channels-last batch norm
    is not trained here: 12-15x slower than umbra's kernels a layer on the H200 (bench/RESULTS.md,
    2026-12-04), its runs took device time the stage did not have."""
    print("| net | umbra NCHW img/s | umbra NHWC img/s | NHWC / NCHW | NHWC graph img/s "
          "| PyTorch img/s | best / PyTorch | NCHW peak MiB | NHWC peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    fmt = lambda v: f"{v:,.0f}" if v else "-"
    for n, o in ours.items():
        def line(n=n, o=o):
            g = o.get("nhwc_graph_img_per_s")
            best = max(o["nhwc_img_per_s"], g or 0)
            return (f"| {n} | {o['img_per_s']:,.0f} | {o['nhwc_img_per_s']:,.0f} | {o['nhwc_img_per_s'] / o['img_per_s']:.2f} "
                    f"| {fmt(g)} | {peer[n]['img_per_s']:,.0f} | {best / peer[n]['img_per_s']:.2f} "
                    f"| {o['peak_mib']:,.0f} | {o['nhwc_peak_mib']:,.0f} |")
        table_row(n, line, o)
    row_notes(ours)
    print()


def own_kernels_table(ours):
    """bench_train_gpu --own-kernels --unfused lines: each net with its defaults (cuDNN's avg
    pooling, activations and softmax; umbra's max pooling and batch norms) against umbra's
    expression kernels for those layers (algo=expr wherever a
    layer takes it, max pooling's kernels kept; convolutions on cuDNN either way), each with its
    relus fused into the layer before them (the default: sums on both, batch norms on umbra's
    kernels only; there the residual sums go into the batch norms too) and run as written
    (fuse_relu=0, fuse_add=0): what the fusion gains; for nets with batch norms also umbra's
    kernels with only the sums as written (fuse_add=0, --unfused-add): what the sums' fusion
    alone gains, and every batch norm on cuDNN (algo=cudnn): the default before 2026-12-04 (from 129
    channels until 2026-12-05); and
    every net with its convolutions' cuDNN searches capped at 8 GiB of workspace instead of 1
    (--big-workspace): whether algorithms past the default cap would be faster, at what peak; and
    with the searches as before the graph API's engine configurations joined them
    (--legacy-search): what the engines gain."""
    print("| net | default img/s | default, unfused | fusion gain | umbra's kernels img/s "
          "| umbra's, unfused | fusion gain | umbra's, sums unfused | sum fusion gain | own / default "
          "| all batch norms cuDNN's | default / that | default peak MiB | own kernels peak MiB "
          "| 8 GiB conv workspace img/s | that / default | its peak MiB "
          "| legacy conv search img/s | default / that | its peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n, o in ours.items():
        def line(n=n, o=o):
            ua = o.get("own_unfused_add_img_per_s")
            ua_s, ua_gain = (f"{ua:,.0f}", f"{o['own_img_per_s'] / ua:.2f}") if ua else ("-", "-")
            cb = o.get("cudnn_bn_img_per_s")
            cb_s, cb_gain = (f"{cb:,.0f}", f"{o['img_per_s'] / cb:.2f}") if cb else ("-", "-")
            return (f"| {n} | {o['img_per_s']:,.0f} | {o['unfused_img_per_s']:,.0f} "
                    f"| {o['img_per_s'] / o['unfused_img_per_s']:.2f} | {o['own_img_per_s']:,.0f} "
                    f"| {o['own_unfused_img_per_s']:,.0f} | {o['own_img_per_s'] / o['own_unfused_img_per_s']:.2f} "
                    f"| {ua_s} | {ua_gain} | {o['own_img_per_s'] / o['img_per_s']:.2f} | {cb_s} | {cb_gain} "
                    f"| {o['peak_mib']:,.0f} | {o['own_peak_mib']:,.0f} | {o['ws8g_img_per_s']:,.0f} "
                    f"| {o['ws8g_img_per_s'] / o['img_per_s']:.2f} | {o['ws8g_peak_mib']:,.0f} "
                    f"| {o['legacy_search_img_per_s']:,.0f} | {o['img_per_s'] / o['legacy_search_img_per_s']:.2f} "
                    f"| {o['legacy_search_peak_mib']:,.0f} |")
        table_row(n, line, o)
    row_notes(ours)
    print()


def readout_table(ours, steps):
    """bench_train_gpu --read-loss lines: no loss read (the default figure), the loss read every
    step (the host waits for the device each step), and read once per run of `steps` steps
    (Net::LossTo)."""
    print(f"| net | no loss read img/s | read each step | read per {steps} steps | per {steps} / each step |")
    print("|---|---|---|---|---|")
    for n, o in ours.items():
        table_row(n, lambda n=n, o=o: (
            f"| {n} | {o['img_per_s']:,.0f} | {o['read_each_img_per_s']:,.0f} | {o['read_window_img_per_s']:,.0f} "
            f"| {o['read_window_img_per_s'] / o['read_each_img_per_s']:.2f} |"), o)
    row_notes(ours)
    print()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--gpu", action="store_true", help="run the GPU benchmarks")
    ap.add_argument("--cpu", action="store_true", help="run the CPU benchmarks (default unless --gpu)")
    ap.add_argument("--train", action="store_true", help="CPU training throughput against PyTorch")
    ap.add_argument("--gpu-train", action="store_true",
                    help="GPU training throughput and peak memory against PyTorch on the same GPU")
    ap.add_argument("--gpu-own-kernels", action="store_true",
                    help="GPU training, the defaults against umbra's kernels (pooling/BN/activations/softmax), "
                         "every batch norm on cuDNN, and an 8 GiB convolution workspace cap")
    ap.add_argument("--torch-compile", action="store_true",
                    help="with --gpu-train: also PyTorch's torch.compile figures (PyTorch 2)")
    ap.add_argument("--gpu-bf16", action="store_true",
                    help="GPU training with dtype=bf16 against PyTorch's bf16 autocast + channels-last")
    ap.add_argument("--gpu-nhwc", action="store_true",
                    help="GPU training channels-last against the plain layout and PyTorch eager")
    ap.add_argument("--gpu-readout", action="store_true",
                    help="GPU training reading the loss each step against once per 20 steps (lenet, cifar, resnet18)")
    ap.add_argument("--save-umbra", metavar="FILE",
                    help="with --gpu-train: also write umbra's training rows to FILE (JSON) for --compile-from")
    ap.add_argument("--compile-from", metavar="FILE",
                    help="the torch.compile table alone, against umbra's rows in FILE (--save-umbra of an "
                         "earlier --gpu-train run): umbra's nets are not measured twice")
    ap.add_argument("--gpu-nets", nargs="+", choices=GPU_NETS, metavar="NET",
                    help=f"the GPU training tables' nets (default all: {' '.join(GPU_NETS)})")
    ap.add_argument("--gpu-steps", type=int, default=20,
                    help="steps per timed run of the GPU training tables, both sides (fewer: a dry run)")
    ap.add_argument("--setup", action="store_true",
                    help="time building each net (weights initialised) beside PyTorch constructing it")
    ap.add_argument("--profile", metavar="DIR",
                    help="with --train/--gpu-train: also time every layer, into DIR/profile-{cpu,gpu}.{md,jsonl}; "
                         "with --gpu-train PyTorch's steps too (DIR/profile-torch.jsonl), set beside umbra's "
                         "(DIR/profile-side.md and the output)")
    args = ap.parse_args()
    prof = ["--profile", args.profile] if args.profile else []
    run_cpu = args.cpu or not (args.gpu or args.train or args.setup or args.gpu_train or args.gpu_own_kernels
                                 or args.gpu_bf16 or args.gpu_nhwc or args.gpu_readout or args.compile_from)
    threads = int(os.environ.get("OMP_NUM_THREADS", "2"))
    bdir = os.path.join(args.build, "bench")
    cuda_args = ["--device", "cuda", "--steps", str(args.gpu_steps), "--reps", str(args.reps)]  # train_torch.py on the GPU

    if run_cpu:
        print(f"## CPU ({threads} threads), medians of {args.reps}\n")
        fused = gbench(os.path.join(bdir, "bench_fused_elementwise"), args.reps)
        umbra_bw = fused["BM_UmbraFused"]["bytes_per_second"]
        copy_bw = fused["BM_PlainCopy"]["bytes_per_second"]
        torch_bw, tv = torch_fused("cpu", args.reps, threads)
        print("| work | umbra | peer | umbra / peer |\n|---|---|---|---|")
        row("a*b+c*d-e, 64M floats vs plain copy", umbra_bw, copy_bw, "GB/s", 1e9)
        row(f"a*b+c*d-e, 64M floats vs PyTorch {tv} eager", umbra_bw, torch_bw, "GB/s", 1e9)
        dots = gbench(os.path.join(bdir, "bench_dot"), args.reps)
        for name in sorted({k.split("/", 1)[1] for k in dots}):
            ours = dots[f"umbra/{name}"]["FLOPS"]
            if f"dnnl/{name}" in dots:
                row(f"dot {name} vs dnnl_sgemm direct", ours, dots[f"dnnl/{name}"]["FLOPS"], "GFLOP/s", 1e9)
            row(f"dot {name} vs OpenBLAS cblas_sgemm direct", ours,
                dots[f"openblas/{name}"]["FLOPS"], "GFLOP/s", 1e9)
        print()

    if args.train:
        print(f"## CPU training throughput ({threads} threads), medians of {args.reps}\n")
        steps = "10"
        ours = subprocess.run([os.path.join(bdir, "bench_train"), "--steps", steps, "--reps", str(args.reps), *prof],
                              check=True, capture_output=True, text=True).stdout
        peer = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "train_torch.py"),
                               "--steps", steps, "--reps", str(args.reps), "--threads", str(threads)],
                              check=True, capture_output=True, text=True).stdout
        ours = {json.loads(l)["net"]: json.loads(l) for l in ours.splitlines() if l.strip()}
        peer = {json.loads(l)["net"]: json.loads(l) for l in peer.splitlines() if l.strip()}
        # PyTorch "at its best": the OpenMP build of OpenBLAS and its AVX-512 kernels, set for the
        # PyTorch process only (umbra's processes never see these variables).
        best_env = dict(os.environ, LD_LIBRARY_PATH="/usr/lib/x86_64-linux-gnu/openblas-openmp",
                        OPENBLAS_CORETYPE="SkylakeX")
        best = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "train_torch.py"),
                               "--steps", steps, "--reps", str(args.reps), "--threads", str(threads)],
                              check=True, capture_output=True, text=True, env=best_env).stdout
        best = {json.loads(l)["net"]: json.loads(l) for l in best.splitlines() if l.strip()}
        print("| net | umbra | peer | umbra / peer |\n|---|---|---|---|")
        for n in ours:
            tv = peer[n].get("torch", "?")
            row(f"{n} training vs PyTorch {tv} (as a user runs it)", ours[n]["img_per_s"],
                peer[n]["img_per_s"], "img/s", 1)
            row(f"{n} training vs PyTorch {tv} (at its best: OpenMP OpenBLAS, SkylakeX kernels)",
                ours[n]["img_per_s"], best[n]["img_per_s"], "img/s", 1)
        print()

    if args.setup:
        print(f"## Building a net (weights initialised), one thread, medians of {args.reps}\n")
        nets = ["lenet", "mlp", "cifar", "alexnet", "resnet18", "resnet50"]
        ours = json_rows([os.path.join(bdir, "bench_train"), "--setup", "--reps", str(args.reps), "--net", *nets],
                         env=umbra_env())
        peer = json_rows([sys.executable, os.path.join(os.path.dirname(__file__), "train_torch.py"), "--setup",
                          "--reps", str(args.reps), "--threads", "1", "--net", *nets])
        # Times, so the ratio is the peer's time over umbra's: above 1, umbra builds faster.
        print("| net | umbra ms | PyTorch ms | umbra / peer (speed) |\n|---|---|---|---|")
        for n in nets:
            table_row(n, lambda n=n: f"| {n} built vs PyTorch {peer[n]['torch']} constructing it | "
                                     f"{1e3 * ours[n]['setup_s']:,.1f} | {1e3 * peer[n]['setup_s']:,.1f} | "
                                     f"{peer[n]['setup_s'] / ours[n]['setup_s']:.2f} |", ours.get(n))
        print()

    if args.gpu:
        print(f"## GPU, medians of {args.reps}\n")
        # 0.1 s a repetition: hundreds of event-timed iterations of each (device time is scarce).
        # Three runs of bench_gpu, so that a failure in one set of rows keeps the others.
        res = gbench(os.path.join(bdir, "bench_gpu"), args.reps, filt="^(BM_|umbra_gpu/|cublas/)", min_time=0.1)
        if not res:
            print("no rows: no CUDA device, or bench_gpu failed (above)")
            return 1
        print("| work | umbra | peer | umbra / peer |\n|---|---|---|---|")
        ub = res.get("BM_UmbraFusedGPU", {}).get("bytes_per_second", float("nan"))
        row("a*b+c*d-e, 64M floats vs device copy", ub,
            res.get("BM_DeviceCopyGPU", {}).get("bytes_per_second", float("nan")), "GB/s", 1e9)
        try:
            tb, tv = torch_fused("cuda", args.reps, threads)
            row(f"a*b+c*d-e, 64M floats vs PyTorch {tv} eager", ub, tb, "GB/s", 1e9)
        except Exception as e:  # PyTorch without CUDA: say so, keep the rest
            print(f"| PyTorch on GPU unavailable: {e} | | | |")
        # dtype=bf16's conversions, 6 bytes an element like the copy's read + write of 4.
        copy_bps = res.get("BM_DeviceCopyGPU", {}).get("bytes_per_second", float("nan"))
        to_bps = res.get("BM_Bf16To", {}).get("bytes_per_second", float("nan"))
        row("bf16 cast, 64M floats to bfloat16 vs device copy", to_bps, copy_bps, "GB/s", 1e9)
        row("bfloat16 to float + bias + relu, 64M vs device copy",
            res.get("BM_Bf16FromBiasRelu", {}).get("bytes_per_second", float("nan")), copy_bps, "GB/s", 1e9)
        try:
            cb, tv = torch_cast(args.reps)
            row(f"bf16 cast, 64M floats to bfloat16 vs PyTorch {tv} .to(bfloat16)", to_bps, cb, "GB/s", 1e9)
        except Exception as e:  # PyTorch without CUDA: say so, keep the rest
            print(f"| PyTorch on GPU unavailable: {e} | | | |")
        # A batch norm's apply pass (scale, shift, relu a channel) on the flat paths, against the
        # copy and against the 2-D path such passes took before 2026-12-05.
        for layout in ("nchw", "nhwc"):
            fb = res.get(f"BM_Broadcast/{layout}/flat", {}).get("bytes_per_second", float("nan"))
            row(f"x * scale[c] + shift[c], relu, (128,64,112,112) {layout} vs device copy", fb, copy_bps, "GB/s", 1e9)
            row(f"the same ({layout}), flat paths vs the 2-D path", fb,
                res.get(f"BM_Broadcast/{layout}/2d", {}).get("bytes_per_second", float("nan")), "GB/s", 1e9)
        # Launch shapes of the elementwise kernels (cuda::GridBlocksPerSM; 16 is the default, 0 a
        # block per 256 work items with no grid stride).
        for stmt, what in (("relu", "relu over (128,64,112,112)"), ("fused", "a*b+c*d-e, 64M floats")):
            for per_sm in (8, 16, 32, 0):
                shape = f"{per_sm} blocks an SM" if per_sm else "a block per 256 items"
                row(f"{what}, {shape} vs device copy",
                    res.get(f"BM_Grid/{stmt}/{per_sm}", {}).get("bytes_per_second", float("nan")), copy_bps, "GB/s",
                    1e9)
        # The fused statement on bench_gpu's own kernels (bench/gpu.cu): the plans unrolled, and by
        # hand with plain or streaming loads, a block per 256 packs.
        for key, what in (("BM_PackUnroll/2", "two packs a thread a step"),
                          ("BM_PackUnroll/4", "four packs a thread a step"),
                          ("BM_HandFused/plain", "by hand, float4"),
                          ("BM_HandFused/streaming", "by hand, float4, streaming loads and stores")):
            r = res.get(key, {})
            row(f"a*b+c*d-e, 64M floats, {what} vs device copy", r.get("bytes_per_second", float("nan")), copy_bps,
                "GB/s", 1e9)
            if r.get("wrong", 0):
                print(f"| (the row above left {r['wrong']:,.0f} elements wrong: not a figure) | | | |")
        for name in sorted({k.split("/", 1)[1] for k in res if k.startswith("umbra_gpu/")}):
            row(f"dot {name} vs cublasSgemm direct", res[f"umbra_gpu/{name}"].get("FLOPS", float("nan")),
                res.get(f"cublas/{name}", {}).get("FLOPS", float("nan")), "GFLOP/s", 1e9)
        print()
        print(f"### Batch norm + relu, one training pass, medians of {args.reps}\n")
        bn = gbench(os.path.join(bdir, "bench_gpu"), args.reps, filt="^bn_relu/", min_time=0.1)
        bn_table({**res, **bn}, args.reps)
        print(f"### Max pooling, one training pass, medians of {args.reps}\n")
        pool = gbench(os.path.join(bdir, "bench_gpu"), args.reps, filt="^max_pool/", min_time=0.1)
        pool_table({**res, **pool}, args.reps)

    if args.gpu_train:
        # Same nets, batches and SGD-momentum step on synthetic data already on the device;
        # PyTorch with its default numerics (cudnn.benchmark on, TF32 in convolutions only).
        print(f"## GPU training throughput, medians of {args.reps}\n")
        ours = train_gpu(bdir, args.reps, ["--graph", *prof], args.gpu_steps, args.gpu_nets)
        if not ours:
            return 1
        torch_prof = []
        if args.profile:  # PyTorch's steps by layer type too, set beside umbra's below
            torch_prof = ["--profile", os.path.join(args.profile, "profile-torch.jsonl")]
            if os.path.exists(torch_prof[1]):
                os.remove(torch_prof[1])
        peer = peer_lines([*cuda_args, *torch_prof, "--net", *ours])
        first = next((p for p in peer.values() if "error" not in p), {})
        gpu, tv = first.get("gpu", "?"), first.get("torch", "?")
        print(f"GPU: {gpu}; PyTorch {tv} eager; cuDNN TF32 {first.get('cudnn_tf32', '?')}, "
              f"fp32 matmul precision {first.get('matmul_precision', '?')}\n")
        gpu_train_table(ours, peer)
        if args.profile:
            side = profile_side.side_by_side(os.path.join(args.profile, "profile-gpu.jsonl"), torch_prof[1])
            with open(os.path.join(args.profile, "profile-side.md"), "w") as f:
                f.write(side + "\n")
            print(f"## Where the steps go, umbra beside PyTorch (one profiled run each)\n\n{side}\n")
        if args.save_umbra:
            with open(args.save_umbra, "w") as f:
                json.dump(ours, f)
        if args.torch_compile:
            compile_table(ours, cuda_args, tv)

    if args.compile_from:
        with open(args.compile_from) as f:
            ours = json.load(f)
        print(f"## GPU training against torch.compile (umbra's rows from {args.compile_from})\n")
        compile_table(ours, cuda_args, "")

    if args.gpu_own_kernels:
        print(f"## GPU training, the defaults against umbra's own kernels, relus fused and not, medians of {args.reps}\n")
        ours = train_gpu(bdir, args.reps, ["--own-kernels", "--unfused", "--unfused-add", "--big-workspace",
                                                "--legacy-search"],
                         args.gpu_steps, args.gpu_nets)
        if not ours:
            return 1
        own_kernels_table(ours)

    if args.gpu_bf16:
        print(f"## GPU training in bf16, medians of {args.reps}\n")
        ours = train_gpu(bdir, args.reps, ["--bf16"], args.gpu_steps, args.gpu_nets)
        if not ours:
            return 1
        peer = peer_lines([*cuda_args, "--bf16", "--net", *ours])
        bf16_table(ours, peer)

    if args.gpu_nhwc:
        print(f"## GPU training channels-last, medians of {args.reps}\n")
        ours = train_gpu(bdir, args.reps, ["--nhwc", "--graph"], args.gpu_steps, args.gpu_nets)
        if not ours:
            return 1
        peer = peer_lines([*cuda_args, "--net", *ours])
        nhwc_table(ours, peer)

    readout_nets = [n for n in ("lenet", "cifar", "resnet18") if not args.gpu_nets or n in args.gpu_nets]
    if args.gpu_readout and readout_nets:
        print(f"## GPU training, the loss read each step or once per {args.gpu_steps} steps, medians of {args.reps}\n")
        ours = train_gpu(bdir, args.reps, ["--read-loss"], args.gpu_steps, readout_nets)
        if not ours:
            return 1
        readout_table(ours, args.gpu_steps)


if __name__ == "__main__":
    rc = main()
    if FAILURES:
        print(f"failed on the way: {', '.join(FAILURES)}")
    sys.exit(rc or (1 if FAILURES else 0))
