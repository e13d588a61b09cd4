#!/bin/sh
# train-cnn.sh: the CNN training benchmark, dml against PyTorch
# (see train.sh).
exec "$(dirname "$0")/train.sh" cnn
