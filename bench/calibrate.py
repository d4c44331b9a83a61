"""This machine's speed today, in one figure that other days' runs can be compared by.

    .venv/bin/python -m bench.calibrate [--reps 40]

The VMs these benchmarks run on differ from day to day by 2.6x or more for the same work (bench/README.md), so
a latency or CPU figure means little without the speed of the machine it came from. This times what the
server spends most of its CPU on under a class (the models' forward passes): the bundled encoder on a
12-word sentence, one torch thread as the server runs (``services.models.one_thread_per_op``), the median
of ``--reps`` passes after five to warm up. ``bench/classroom.py`` runs it in a child process before it
starts the server, on the machine that is about to serve, and prints it beside the results.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

SENTENCE = "The animal didn't cross the street because it was too tired."


def forward_ms(reps: int = 40) -> float:
    """Median milliseconds of one forward pass of the bundled encoder (one thread, every layer's attention
    pattern recorded, as the Attention page asks for)."""
    import torch

    import model_core

    torch.set_num_threads(1)
    model = model_core.load_bundled("encoder")
    enc = model_core.encode(model, [SENTENCE])
    times = []
    with torch.no_grad():
        for i in range(reps + 5):
            t0 = time.perf_counter()
            model(enc.input_ids, attention_mask=enc.attention_mask, token_type_ids=enc.token_type_ids,
                  record=("blocks.*.attn.pattern",), logits_at=())
            if i >= 5:
                times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=40)
    args = parser.parse_args()
    print(json.dumps({"encoder_forward_ms": round(forward_ms(args.reps), 2)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
