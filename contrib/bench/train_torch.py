#!/usr/bin/python3
"""PyTorch reference for contrib/bench/train.sh.

One epoch of minibatch SGD (lr 0.05, batch 32) on the 60,000 Fashion-MNIST
training images, on the CPU, with the thread count given (default 1), of
  mlp: the 784-200-200-10 ReLU MLP, no momentum;
  cnn: the arch "cnn" model of lib/ml/model.h (conv 1->6 5x5, relu, max-pool
       2, conv 6->16 5x5, relu, max-pool 2, 256-120-84-10 with relu), with
       momentum 0.9 and weight decay 5e-4.
The data is decoded and held in memory as float32 tensors before the clock
starts, as the C side does. Prints one TSV line: tool, seconds per epoch,
accuracy on t10k.
"""
import argparse
import gzip
import os
import struct
import time

import numpy as np
import torch


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    ndim = magic & 0xff
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(data, part, shape):
    x = read_idx(os.path.join(data, part + "-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(data, part + "-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(x.reshape((len(x),) + shape).astype(np.float32)
                         / 255.0)
    return x, torch.from_numpy(y.astype(np.int64))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=["mlp", "cnn"])
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=None,
                    help="default 0 for mlp, 0.9 for cnn")
    ap.add_argument("--wd", type=float, default=None,
                    help="default 0 for mlp, 5e-4 for cnn")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    cnn = a.model == "cnn"
    shape = (1, 28, 28) if cnn else (784,)
    xtr, ytr = load(a.data, "train", shape)
    xte, yte = load(a.data, "t10k", shape)
    nn = torch.nn
    if cnn:
        model = nn.Sequential(
            nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(256, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, 10))
    else:
        model = nn.Sequential(
            nn.Linear(784, 200), nn.ReLU(),
            nn.Linear(200, 200), nn.ReLU(),
            nn.Linear(200, 10))
    mom = a.momentum if a.momentum is not None else (0.9 if cnn else 0.0)
    wd = a.wd if a.wd is not None else (5e-4 if cnn else 0.0)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=mom,
                          weight_decay=wd)
    lossf = torch.nn.CrossEntropyLoss()
    n = len(xtr)

    t0 = time.perf_counter()
    for _ in range(a.epochs):
        perm = torch.randperm(n)
        for i in range(0, n, a.batch):
            idx = perm[i:i + a.batch]
            opt.zero_grad(set_to_none=True)
            loss = lossf(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
    secs = (time.perf_counter() - t0) / a.epochs

    with torch.no_grad():
        acc = (model(xte).argmax(1) == yte).float().mean().item()
    print("pytorch\t%.3f\t%.4f" % (secs, acc))


if __name__ == "__main__":
    main()
