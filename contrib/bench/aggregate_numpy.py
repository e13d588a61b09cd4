#!/usr/bin/python3
"""The Python baseline for contrib/bench/aggregate.sh: sum the "delta" of
every dml.result in an NDJSON file with json, base64 and numpy, the way a
straightforward Python node would (no signature check, no validation).
Prints the number of results and the sum of the summed vector.

With --check AGGFILE (not timed) it also compares the sum with the "sum"
of the dml.aggregate in AGGFILE, bit for bit."""
import base64
import json
import sys

import numpy as np


def main(path, check=None):
    total = None
    count = 0
    with open(path, "rb") as f:
        for line in f:
            rec = json.loads(line)
            t = rec["values"]["delta"]
            a = np.frombuffer(base64.b64decode(t["data"]), dtype="<f4")
            if total is None:
                total = np.zeros(a.size, dtype=np.float64)
            total += a
            count += 1
    if check is None:
        print(count, float(total.sum()) if total is not None else 0.0)
        return
    with open(check) as f:
        agg = [json.loads(l) for l in f][-1]
    got = np.frombuffer(base64.b64decode(agg["sum"]["delta"]["data"]), "<f8")
    same = got.shape == total.shape and got.tobytes() == total.tobytes()
    print("dml-aggregate's sum is bit-identical to numpy's:",
          "yes" if same else "NO")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[2] == "--check":
        main(sys.argv[1], sys.argv[3])
    else:
        main(sys.argv[1])
