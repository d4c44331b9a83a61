"""Time our forward pass against transformers' eager attention on the same random weights.

    .venv/bin/python bench/core_vs_hf.py [--reps 15] [--tokens 128]

For bert-base and gpt2 sizes, batch 1: transformers eager with
output_attentions=True, ours recording patterns only, ours recording the full
trace. Repetitions are interleaved (A, B, C, A, B, C, ...) so background load
hits all three alike; the medians' ratios are printed.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import transformers

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import model_core  # noqa: E402


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench(name: str, hf, tokens: int, reps: int) -> dict[str, float]:
    hf.eval()
    hf.config._attn_implementation = "eager"
    ours = model_core.from_hf(hf)
    ids = torch.randint(1000, 20000, (1, tokens))
    runs = {
        "transformers eager (attentions)": lambda: hf(input_ids=ids, output_attentions=True),
        "ours, patterns only": lambda: ours(ids, record=("blocks.*.attn.pattern",)),
        "ours, full trace": lambda: ours(ids, record=("*",)),
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    with torch.no_grad():
        for fn in runs.values():               # warm-up
            fn()
        for _ in range(reps):
            for label, fn in runs.items():
                times[label].append(timed(fn))
    medians = {k: statistics.median(v) for k, v in times.items()}
    ref = medians["transformers eager (attentions)"]
    print(f"\n{name}, {tokens} tokens, batch 1, {reps} interleaved repetitions, {torch.get_num_threads()} threads")
    for label, t in medians.items():
        print(f"  {label:34s} {t * 1000:8.1f} ms   ratio {t / ref:5.2f}x")
    return {k: v / ref for k, v in medians.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()
    torch.manual_seed(0)
    bert = transformers.BertModel(transformers.BertConfig(), add_pooling_layer=False)       # bert-base sizes
    bench("bert-base (BertModel)", bert, args.tokens, args.reps)
    gpt2 = transformers.GPT2LMHeadModel(transformers.GPT2Config())                          # gpt2 (124M) sizes
    bench("gpt2 (GPT2LMHeadModel)", gpt2, args.tokens, args.reps)


if __name__ == "__main__":
    main()
