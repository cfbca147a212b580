#!/usr/bin/python3
"""bench/run.py's reruns when a benchmark process dies, against stand-ins of the two binaries
(small Python scripts written here, no GPU and no build needed): bench_train_gpu's nets
(rerun_failed_nets: the net a run died in, the nets after it, a run that died before its first
net, error rows, partial rows, the legacy search once it worked, the reruns' profiles) and a Google Benchmark binary (gbench: each benchmark in a process
of its own after a crash). Each case checks the rows kept and the processes started."""
import contextlib
import io
import json
import os
import stat
import subprocess
import sys
import tempfile

BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench")
sys.path.insert(0, BENCH)
import run  # noqa: E402

# bench_train_gpu's stand-in: FAKE_PLAN is {net: what}, what one of "ok", "crash" (the process
# ends before the net's first row), "crash_unless_legacy", "error_unless_legacy" (an error row,
# the process goes on), "partial_then_crash" (a partial row, then the process ends). Each start
# is logged to FAKE_LOG as its argument list.
FAKE_TRAIN = r'''#!/usr/bin/python3
import json, os, sys
a = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(json.dumps(a) + "\n")
plan = json.loads(os.environ["FAKE_PLAN"])
nets = ["lenet", "cifar", "alexnet", "resnet18", "resnet50"]
if "--net" in a:
    nets = [x for x in a[a.index("--net") + 1:] if not x.startswith("--")]
legacy = "--conv-search" in a and a[a.index("--conv-search") + 1] == "legacy"
prof = a[a.index("--profile") + 1] if "--profile" in a else None
if plan.get("_all") == "crash" and "--net" not in a:  # a run of every net ends before its first
    os._exit(134)
failed = False
for n in nets:
    what = plan.get(n, "ok")
    print(json.dumps({"net": n, "partial": True}), flush=True)  # as bench_train_gpu marks a start
    row = {"net": n, "img_per_s": 100.0, "peak_mib": 10}
    if legacy:
        row["conv_search"] = "legacy"
    if what == "crash" or what == "crash_unless_legacy" and not legacy:  # in the default run's search
        sys.stdout.flush()
        os._exit(134)
    if prof:  # the default run's profile, before the variants
        for ext in ("md", "jsonl"):
            with open(os.path.join(prof, "profile-gpu." + ext), "a") as f:
                f.write(json.dumps({"net": n}) + "\n")
    if what == "error_unless_legacy" and not legacy:
        print(json.dumps({"net": n, "error": "cuDNN said no"}), flush=True)
        failed = True
        continue
    print(json.dumps(dict(row, partial=True)), flush=True)
    if what == "partial_then_crash":
        os._exit(139)
    print(json.dumps(dict(row, graph_img_per_s=120.0)), flush=True)
sys.exit(1 if failed else 0)
'''

# A Google Benchmark binary's stand-in: three benchmarks; BM_Crash ends the process.
FAKE_GBENCH = r'''#!/usr/bin/python3
import json, os, re, sys
a = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(json.dumps(a) + "\n")
names = ["BM_A/1", "BM_Crash", "BM_B/x"]
filt = next((x.split("=", 1)[1] for x in a if x.startswith("--benchmark_filter=")), ".")
names = [n for n in names if re.search(filt, n)]
if "--benchmark_list_tests" in a:
    print("\n".join(names))
    sys.exit(0)
if "BM_Crash" in names:
    os._exit(134)
print(json.dumps({"benchmarks": [{"run_name": n + "/manual_time", "aggregate_name": "median",
                                  "bytes_per_second": 1.0} for n in names]}))
'''


def script(d, name, text):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


def starts(log):
    with open(log) as f:
        return [json.loads(line) for line in f]


def train(d, plan, flags=(), nets=None):
    """rows and started processes of run.train_gpu over the stand-in."""
    log = os.path.join(d, f"log{len(os.listdir(d))}")
    os.environ.update(FAKE_LOG=log, FAKE_PLAN=json.dumps(plan))
    bdir = os.path.join(d, "build")
    os.makedirs(os.path.join(bdir), exist_ok=True)
    script(bdir, "bench_train_gpu", FAKE_TRAIN)
    del run.FAILURES[:]
    rows = run.train_gpu(bdir, 1, list(flags), 2, nets) or {}
    return rows, starts(log)


def complete(rows, n, legacy):
    r = rows.get(n)
    assert r is not None and run.complete(r), (n, rows)
    assert (r.get("conv_search") == "legacy") == legacy, (n, r)


with tempfile.TemporaryDirectory() as d:
    # All well: one process, no rerun.
    rows, st = train(d, {})
    assert len(st) == 1 and list(rows) == run.GPU_NETS, (st, rows)
    assert not run.FAILURES

    # The run dies in lenet's search; lenet completes with the legacy search, and so do the
    # nets after it (which never ran), each in a process of its own: 1 + 5 processes.
    rows, st = train(d, {"lenet": "crash_unless_legacy", "cifar": "crash_unless_legacy"})
    assert list(rows) == run.GPU_NETS, rows
    for n in run.GPU_NETS:
        complete(rows, n, True)
    assert len(st) == 6 and all(s[s.index("--net") + 1:] == [n] for s, n in zip(st[1:], run.GPU_NETS)), st
    assert "bench_train_gpu" in run.FAILURES  # the stage still fails

    # lenet dies however it is run: its row is the start's mark alone; the nets after it run
    # as before, in one process each (the legacy search never worked, so it is not taken).
    rows, st = train(d, {"lenet": "crash"})
    assert rows["lenet"] == {"net": "lenet", "partial": True} and list(rows) == run.GPU_NETS, rows
    for n in run.GPU_NETS[1:]:
        complete(rows, n, False)
    assert len(st) == 1 + 1 + 4, st

    # An error row (the process went on): that net alone again with the legacy search; the
    # nets after it keep their rows from the first run.
    rows, st = train(d, {"alexnet": "error_unless_legacy"})
    complete(rows, "alexnet", True)
    for n in ("lenet", "cifar", "resnet18", "resnet50"):
        complete(rows, n, False)
    assert len(st) == 2 and "--conv-search" in st[1], st
    assert list(rows) == run.GPU_NETS, rows  # the table's order

    # A net that dies after a partial row keeps that row where every rerun dies too (the first
    # run's: the rerun's has no more figures); the net after it, which never ran, runs as before.
    rows, st = train(d, {"cifar": "partial_then_crash", "alexnet": "ok"}, nets=["cifar", "alexnet"])
    assert rows["cifar"].get("partial") and rows["cifar"]["img_per_s"] == 100.0, rows
    assert "conv_search" not in rows["cifar"], rows
    complete(rows, "alexnet", False)
    assert len(st) == 3 and st[2][st[2].index("--net") + 1:] == ["alexnet"], st
    assert "--conv-search" not in st[2] and st[1][-2:] == ["--net", "cifar"], st
    assert st[0][-3:] == ["--net", "cifar", "alexnet"], st  # the first run: the nets asked for

    # A run that dies before its first net blames none: each net runs as before, one process each.
    rows, st = train(d, {"_all": "crash"})
    assert list(rows) == run.GPU_NETS and len(st) == 6, (rows, st)
    for n in run.GPU_NETS:
        complete(rows, n, False)

    # Reruns' profiles go to DIR/rerun-NET (an earlier run's file there dropped) and are appended
    # to DIR's, so every net has its profile rows.
    prof = os.path.join(d, "prof")
    os.makedirs(os.path.join(prof, "rerun-lenet"))
    with open(os.path.join(prof, "rerun-lenet", "profile-gpu.jsonl"), "w") as f:
        f.write('{"net": "stale"}\n')
    rows, st = train(d, {"lenet": "crash_unless_legacy"}, ["--profile", prof])
    with open(os.path.join(prof, "profile-gpu.jsonl")) as f:
        profiled = [json.loads(line)["net"] for line in f]
    assert profiled == run.GPU_NETS, profiled
    assert all(s[s.index("--profile") + 1] == os.path.join(prof, f"rerun-{s[-1]}") for s in st[1:]), st

    # A Google Benchmark binary that dies in one benchmark: the others' figures, one process each.
    gb = script(d, "bench_fake", FAKE_GBENCH)
    os.environ["FAKE_LOG"] = log = os.path.join(d, "gblog")
    del run.FAILURES[:]
    echo = io.StringIO()
    with contextlib.redirect_stdout(echo):
        res = run.gbench(gb, 1, filt="^BM_")
    assert sorted(res) == ["BM_A/1", "BM_B/x"], res
    assert "<!-- bench_fake: BM_A/1: {" in echo.getvalue(), echo.getvalue()  # kept if the stage is cut
    assert len(starts(log)) == 1 + 1 + 3, starts(log)  # the run, the list, each benchmark
    assert run.FAILURES.count("bench_fake") == 2, run.FAILURES  # the run and BM_Crash's own

print("run.py reruns: every case as expected")
