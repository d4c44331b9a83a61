"""Record, don't stash: a forward pass writes named intermediates into a Trace.

Names are dotted and read like the model (`embed.tok`, `blocks.3.attn.pattern`).
Recording is opt-in by fnmatch pattern, so a pass that only needs the patterns
keeps no Q/K/V of a long input.
"""
from __future__ import annotations

import fnmatch
from typing import Iterable

import numpy as np
import torch


class Trace(dict):
    """A flat mapping of dotted names to tensors recorded by one forward pass."""

    def stack(self, suffix: str, prefix: str = "") -> torch.Tensor:
        """Stack `<prefix>blocks.{i}.<suffix>` over layers: e.g. "attn.pattern" -> [layer, batch, head, query_pos, key_pos].

        ``prefix`` picks a stack of the encoder-decoder: "encoder." or "decoder."."""
        head = f"{prefix}blocks."
        layers = sorted(
            int(name[len(head):].split(".", 1)[0])
            for name in self
            if name.startswith(head) and name[len(head):].split(".", 1)[1] == suffix
        )
        if not layers:
            raise KeyError(f"No '{head}*.{suffix}' in this trace; record it with record=('{head}*.{suffix}',)")
        return torch.stack([self[f"{head}{i}.{suffix}"] for i in layers])

    def numpy(self) -> dict[str, np.ndarray]:
        """Every recorded tensor as a numpy array (bool masks stay bool, the rest float32)."""
        out = {}
        for name, tensor in self.items():
            array = tensor.detach().cpu()
            out[name] = array.numpy() if array.dtype == torch.bool else array.float().numpy()
        return out


class Recorder:
    """Decides which names to keep and keeps them; nothing survives on the model."""

    def __init__(self, patterns: Iterable[str] = ()):
        if isinstance(patterns, str):
            patterns = (patterns,)
        self.patterns = tuple(patterns)
        self.trace = Trace()
        self._wanted: dict[str, bool] = {}

    def wants(self, name: str) -> bool:
        """True when `name` matches one of the patterns (answers cached per name)."""
        wanted = self._wanted.get(name)
        if wanted is None:
            wanted = any(fnmatch.fnmatchcase(name, p) for p in self.patterns)
            self._wanted[name] = wanted
        return wanted

    def __call__(self, name: str, tensor: torch.Tensor) -> None:
        if self.patterns and self.wants(name):          # nothing asked for (decoding): no lookups at all
            self.trace[name] = tensor.detach()
