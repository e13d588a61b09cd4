#!/bin/sh
# train-mlp.sh: the MLP training benchmark, dml against PyTorch
# (see train.sh).
exec "$(dirname "$0")/train.sh" mlp
