"""Where the page runs spend their time, from the probe's sampled stacks (``AEX_PROBE_STACKS=1``).

    .venv/bin/python -m bench.stacks /tmp/classroom_probe_<pid>.jsonl.stacks.json [--top 30] [--under NAME]

Prints, for the sampled page-run stacks, each function's share of the samples with it anywhere on the stack
(inclusive) and at the top (self), and the other threads' busiest stacks. ``--under`` keeps only the stacks
that pass through a function whose ``file:function`` contains NAME. A sample is a thread seen in a frame, so
threads waiting for the GIL count where they wait: read the shares as wall time of the page runs, not CPU.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path


def shares(stacks: dict[str, int], under: str | None = None) -> tuple[int, Counter, Counter]:
    """(samples, inclusive counts, self counts) of the page-run stacks."""
    total, inclusive, own = 0, Counter(), Counter()
    for stack, count in stacks.items():
        frames = stack.split(";")
        if not frames or frames[0] == "[other]" or (under and not any(under in f for f in frames)):
            continue
        total += count
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count
    return total, inclusive, own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--under", default=None)
    args = parser.parse_args()
    data = json.loads(args.path.read_text())
    total, inclusive, own = shares(data["stacks"], args.under)
    print(f"{data['samples']} sampler ticks; {total} page-run samples{' under ' + args.under if args.under else ''}")
    for title, counts in (("inclusive", inclusive), ("self", own)):
        print(f"\n{title}:")
        for name, count in counts.most_common(args.top):
            print(f"  {count / max(total, 1):6.1%}  {name}")
    other = Counter({s: c for s, c in data["stacks"].items() if s.startswith("[other]")})
    print("\nother threads, busiest stacks:")
    for stack, count in other.most_common(10):
        print(f"  {count:7d}  {stack}")


if __name__ == "__main__":
    main()
