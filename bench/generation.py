"""The bundled decoder writing: our generate (keys and values kept) against transformers' generate on the same
weights, and against reading the whole text again at every step.

    .venv/bin/python -m bench.generation [--reps 9] [--threads 1] [--new 20]

Each prompt (a short one, and the first everyday paragraph of tests/data, about 90 tokens: the classroom
benchmark's pasted text) is continued greedily for ``--new`` tokens by all three, to the same tokens (checked);
repetitions are interleaved so background load hits all alike; medians and their ratios to transformers are
printed. "ours, page" is what the Predictions page computes on a cache miss: analysis.write (the continuation,
then one traced pass for every attention row). Run it on an idle machine (never beside a training).
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

import analysis
import model_core
from model_core.generation import banned_special_ids, stop_ids

PARAGRAPHS = Path(__file__).resolve().parents[1] / "tests" / "data" / "everyday_paragraphs.txt"
SHORT = "once upon a time there was a little"


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def whole_text_greedy(model, prompt: str, new: int) -> list[int]:
    """The baseline: every step runs the decoder over the whole text so far (what generate did before)."""
    ids = model_core.encode(model, prompt).input_ids[0].tolist()
    banned, stops, out = banned_special_ids(model), stop_ids(model), []
    for _ in range(new):
        logits = model(torch.tensor([ids]), logits_at=[-1]).logits[0, 0].clone()
        logits[banned] = -float("inf")
        token = int(logits.argmax())
        if token in stops:
            break
        out.append(token)
        ids.append(token)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the server uses 1)")
    parser.add_argument("--new", type=int, default=20, help="new tokens per continuation")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ours = model_core.load_bundled("decoder")
    hf = analysis.reference.transformers_twin(ours)
    paragraph = PARAGRAPHS.read_text().split("\n\n")[0].strip()
    print(f"bundled decoder, {args.new} new tokens greedy, {args.reps} interleaved repetitions, "
          f"{torch.get_num_threads()} thread(s)")
    for name, prompt in (("short prompt", SHORT), ("pasted paragraph", paragraph)):
        ids = model_core.encode(ours, prompt).input_ids

        def hf_greedy():
            with torch.no_grad():
                out = hf.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=args.new,
                                  do_sample=False, eos_token_id=sorted(stop_ids(ours)), pad_token_id=0,
                                  suppress_tokens=banned_special_ids(ours))
            new = out[0, ids.shape[1]:].tolist()
            return [t for t in new[:next((i for i, t in enumerate(new) if t in stop_ids(ours)), len(new))]]

        def our_greedy():
            made = model_core.generate_steps(ours, prompt, args.new)
            return [s.token_id for s in made.steps]

        runs = {
            "transformers generate (KV cache)": hf_greedy,
            "ours, generate (keys and values kept)": our_greedy,
            "ours, whole text read at every step": lambda: whole_text_greedy(ours, prompt, args.new),
            "ours, page (analysis.write: generate + traced pass)": lambda: analysis.write(
                ours, prompt, args.new, model_core.Decoding()),
        }
        expected = hf_greedy()
        assert our_greedy() == expected and whole_text_greedy(ours, prompt, args.new) == expected, name
        times: dict[str, list[float]] = {k: [] for k in runs}
        for _ in range(args.reps):
            for label, fn in runs.items():
                times[label].append(timed(fn))
        medians = {k: statistics.median(v) for k, v in times.items()}
        ref = medians["transformers generate (KV cache)"]
        print(f"{name}: {ids.shape[1]} prompt tokens, {len(expected)} written")
        for label, t in medians.items():
            print(f"  {label:56s} {t * 1000:8.1f} ms   ratio {t / ref:5.2f}x")


if __name__ == "__main__":
    main()
