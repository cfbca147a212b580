#!/usr/bin/env python3
"""Accuracy peer: trains the MLP and the LeNet of examples/fashion-mnist/nets.h with PyTorch on
Debian's Fashion-MNIST with the settings of build/examples/train_fashion_mnist (SGD, lr 0.05,
momentum 0.9, weight decay 1e-4 on weights only, batch 100, shuffled each epoch), and prints the
test accuracy per epoch. Run both and compare:
  build/examples/train_fashion_mnist --net lenet --epochs 3
  /usr/bin/python3 bench/accuracy_torch.py --net lenet --epochs 3
"""
import argparse
import gzip
import time

import numpy as np
import torch
import torch.nn as nn

DIR = "/usr/share/datasets/fashion-mnist"


def load(prefix):
    with gzip.open(f"{DIR}/{prefix}-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
    with gzip.open(f"{DIR}/{prefix}-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def net(name):
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                             nn.Linear(512, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Conv2d(32, 64, 5), nn.ReLU(),
                         nn.MaxPool2d(2, 2), nn.Flatten(), nn.Linear(1024, 100), nn.ReLU(), nn.Linear(100, 10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", default="lenet", choices=["mlp", "lenet"])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = load("train")
    xte, yte = load("t10k")
    model = net(a.net)
    decay = [p for n, p in model.named_parameters() if n.endswith("weight")]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias")]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 1e-4}, {"params": no_decay, "weight_decay": 0}],
                          lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(1, a.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(len(xtr))
        total = 0.0
        for s in range(0, len(xtr) - 99, 100):
            idx = perm[s:s + 100]
            opt.zero_grad()
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            total += loss.item()
        secs = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            acc = (model(xte).argmax(1) == yte).float().mean().item()
        print(f"epoch {epoch}  train-loss {total / (len(xtr) // 100):.4f}  test-accuracy {acc:.4f}  "
              f"{secs:.1f} s  {len(xtr) / secs:.0f} img/s  (PyTorch {torch.__version__})", flush=True)


if __name__ == "__main__":
    main()
