"""The bundled translator: a warm translation with the full trace the Translation page draws, and our greedy
decoding against transformers' generate on the same weights.

    .venv/bin/python -m bench.translation [--reps 15] [--threads 1]

Both decoders translate the same 20-token sentence, greedily, to the same output (checked); repetitions are
interleaved (A, B, C, A, B, C, ...) so background load hits all alike; medians and their ratios are printed.
"ours, page" is what the Translation page computes on a cache miss: analysis.translation_run (decoding, then
one traced pass over the output with every pattern, top-k per step) and analysis.teacher_forcing (one pass
plus the step-by-step check). Run it on an idle machine (never beside a training).
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import transformers

import analysis
import model_core

FOLDER = Path(__file__).resolve().parents[1] / "model_core" / "bundled" / "translator"
SENTENCE = "Authentication is required to set the system time of this computer and its hardware clock."
REFERENCE = "Authentification requise pour définir l’heure du système de cet ordinateur et son horloge matérielle."


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the server uses 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    ours = model_core.load_bundled("translator")
    load_s = time.perf_counter() - start
    hf = transformers.AutoModelForSeq2SeqLM.from_pretrained(str(FOLDER), attn_implementation="eager",
                                                            dtype=torch.float32, local_files_only=True).eval()
    tok = transformers.AutoTokenizer.from_pretrained(str(FOLDER), local_files_only=True)
    inputs = tok(SENTENCE, return_tensors="pt")
    n_tokens = inputs["input_ids"].shape[1]

    def hf_greedy():
        with torch.no_grad():
            return hf.generate(**inputs, max_new_tokens=64)

    runs = {
        "transformers generate (greedy, KV cache)": hf_greedy,
        "ours, translate (greedy)": lambda: model_core.translate(ours, SENTENCE),
        "ours, page (translation + trace + teacher forcing)": lambda: (
            analysis.translation_run(ours, SENTENCE, top_k=15), analysis.teacher_forcing(ours, SENTENCE, REFERENCE)),
    }
    assert model_core.translate(ours, SENTENCE) == tok.decode(hf_greedy()[0], skip_special_tokens=True).strip()
    times: dict[str, list[float]] = {k: [] for k in runs}
    for fn in runs.values():                       # warm-up
        fn()
    for _ in range(args.reps):
        for label, fn in runs.items():
            times[label].append(timed(fn))
    medians = {k: statistics.median(v) for k, v in times.items()}
    ref = medians["transformers generate (greedy, KV cache)"]
    print(f"bundled translator, source of {n_tokens} tokens, {args.reps} interleaved repetitions, "
          f"{torch.get_num_threads()} thread(s); first load {load_s:.2f} s")
    print(f"translation: {model_core.translate(ours, SENTENCE)}")
    for label, t in medians.items():
        print(f"  {label:52s} {t * 1000:8.1f} ms   ratio {t / ref:5.2f}x")


if __name__ == "__main__":
    main()
