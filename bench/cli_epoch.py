#!/usr/bin/env python3
"""A training epoch on the real data, the way a user runs it: the umbra CLI on the example config
(mnist iterator, shuffling, progress, per-round eval) beside the same net trained by the C++ API
loop (examples/fashion-mnist/train.cc: what the CLI adds costs the difference) and by PyTorch
eager on tensors already in memory (bench/accuracy_torch.py, same net, batch 100, SGD momentum).
Each program trains 2 epochs and the second (warm) epoch's images/s is taken; medians of --reps.
PyTorch runs twice: as a Debian user gets it, and at its best (OpenMP OpenBLAS with
OPENBLAS_CORETYPE=SkylakeX, set for the PyTorch process only). All use --threads threads.

  /usr/bin/python3 bench/cli_epoch.py [--build build] [--reps 3] [--threads 2]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def umbra_cli(build, net, env):
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "log.jsonl")
        subprocess.run([os.path.join(build, "umbra"), os.path.join(ROOT, f"examples/fashion-mnist/{net}.conf"),
                        "num_round=2", "save_model=0", "eval_train=0", "silent=1", f"log={log}"],
                       check=True, env=env, stdout=subprocess.DEVNULL, cwd=d)
        return json.loads(open(log).read().splitlines()[-1])["img_per_s"]


def last_rate(out):
    return float(re.findall(r"([\d.]+) img/s", out)[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    best = dict(env, LD_LIBRARY_PATH="/usr/lib/x86_64-linux-gnu/openblas-openmp", OPENBLAS_CORETYPE="SkylakeX")
    torch_cmd = [sys.executable, os.path.join(ROOT, "bench/accuracy_torch.py"), "--epochs", "2",
                 "--threads", str(a.threads), "--net"]
    print(f"| net | umbra CLI img/s | umbra C++ API img/s | CLI / API | PyTorch img/s (as user / at best) "
          f"| CLI / PyTorch (user / best) |\n|---|---|---|---|---|---|")
    for net in ("lenet", "mlp"):
        cli, api, tu, tb = [], [], [], []
        for _ in range(a.reps):  # interleaved, so that machine noise hits all alike
            cli.append(umbra_cli(a.build, net, env))
            api.append(last_rate(subprocess.run(
                [os.path.join(a.build, "examples/train_fashion_mnist"), "--net", net, "--epochs", "2"],
                check=True, env=env, capture_output=True, text=True).stdout))
            tu.append(last_rate(subprocess.run(torch_cmd + [net], check=True, env=env, capture_output=True,
                                               text=True).stdout))
            tb.append(last_rate(subprocess.run(torch_cmd + [net], check=True, env=best, capture_output=True,
                                               text=True).stdout))
        c, p, u, b = (statistics.median(x) for x in (cli, api, tu, tb))
        print(f"| {net} | {c:,.0f} | {p:,.0f} | {c / p:.2f} | {u:,.0f} / {b:,.0f} | {c / u:.2f} / {c / b:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
