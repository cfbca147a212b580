#!/usr/bin/env python3
"""PyTorch peer of bench_train: the same nets, batches and SGD-momentum step on synthetic data,
images/s as the median of --reps timed runs of --steps steps after one warm-up run.
Prints one JSON line per net. Thread count: torch.set_num_threads(--threads)."""
import argparse
import json
import statistics
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


def run(name, steps, reps):
    model, shape = {"lenet": lenet, "mlp": mlp, "cifar": cifar}[name]()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(shape)
    y = torch.arange(shape[0]) % 10
    rates = []
    for r in range(reps + 1):
        t0 = time.perf_counter()
        for _ in range(steps):
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
        dt = time.perf_counter() - t0
        if r:
            rates.append(steps * shape[0] / dt)
    return statistics.median(rates)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", nargs="+", default=["lenet", "mlp", "cifar"])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for n in a.net:
        print(json.dumps({"net": n, "img_per_s": round(run(n, a.steps, a.reps), 1),
                          "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
