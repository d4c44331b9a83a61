"""What both families share: the config fields, the output, input checks and errors."""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence

import torch
from torch import nn

from .trace import Recorder, Trace


class InputError(ValueError):
    """The user's input cannot be run; the message is a sentence a page can show as is."""


class ModelUnavailable(RuntimeError):
    """A model could not be loaded (offline, unknown id, unsupported); the message says what to do next."""


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int          # rows of the token embedding
    n_positions: int         # longest input the position table covers
    d_model: int             # width of the residual stream
    n_layers: int            # number of blocks
    n_heads: int             # attention heads per block
    d_mlp: int               # hidden width of the feed-forward network
    ln_eps: float            # LayerNorm epsilon, read from the checkpoint (BERT 1e-12, GPT-2 1e-5)
    act: str                 # feed-forward activation: "gelu" (exact erf), "gelu_tanh", "relu" or "silu" (swish)
    pos_kind: str = "learned"  # "learned" embeddings, the fixed "sinusoidal" table, or Marian's "sinusoidal_halves"
    pad_token_id: int = 0    # id the tokenizer pads with

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    def __post_init__(self):
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if self.act not in ("gelu", "gelu_tanh", "relu", "silu"):
            raise ValueError(f"unknown activation {self.act!r}")
        if self.pos_kind not in ("learned", "sinusoidal", "sinusoidal_halves"):
            raise ValueError(f"unknown position kind {self.pos_kind!r}")


@dataclass
class ModelOutput:
    logits: Optional[torch.Tensor]   # [batch, pos, vocab] (pos = len(logits_at) if given), None without a head
    last_hidden: torch.Tensor        # [batch, pos, d_model]: the final residual stream (after ln_final for GPT-2)
    trace: Trace                     # only the names asked for in `record`


class TransformerModel(nn.Module, abc.ABC):
    """Common entry point: checks the inputs, runs the family's `_forward` with a fresh recorder.

    Every family has the same module tree: `embed` (`embed.tok`, `embed.pos`, ...), `blocks.{i}`
    (`attn`, `mlp`, `ln_1`, `ln_2`), then the family's own top (`ln_final`, `head`). The core is
    for inference only: `forward` runs without gradients. Training happens in `transformers`
    (scripts/ train there and export), and the weights are converted (convert.py).
    """

    family = ""
    source: str | None = None   # where the weights came from (loading.py sets it; None: built in memory)

    def __init__(self, config: ModelConfig, embed: nn.Module, block: Callable[[ModelConfig, int], nn.Module]):
        """The shared part of the tree: ``embed`` (built by the family) and ``blocks.{i}`` = ``block(config, i)``."""
        super().__init__()
        self.config = config
        self.tokenizer = None        # the Hugging Face tokenizer that goes with the weights
        self.name = f"{self.family} (random weights)"
        self.has_lm_head = False
        self.embed = embed
        self.blocks = nn.ModuleList(block(config, i) for i in range(config.n_layers))

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        token_type_ids: Optional[torch.Tensor] = None,
        record: Iterable[str] = (),
        head_mask: Optional[torch.Tensor] = None,
        logits_at: Optional[Sequence[int]] = None,
    ) -> ModelOutput:
        """``logits_at``: positions whose vocabulary logits are wanted ([-1] for the next token, () for
        none); None means all. The projection onto the vocabulary is a small model's costliest product."""
        input_ids, attention_mask, head_mask = self._check(input_ids, attention_mask, head_mask)
        rec = Recorder(record)
        at = None if logits_at is None else torch.as_tensor(logits_at, dtype=torch.long).flatten()
        with torch.no_grad():                # the core's one no_grad: callers need none of their own
            logits, last_hidden = self._forward(input_ids, attention_mask, token_type_ids, rec, head_mask, at)
        return ModelOutput(logits=logits, last_hidden=last_hidden, trace=rec.trace)

    @abc.abstractmethod
    def _forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: Optional[torch.Tensor],
        rec: Recorder,
        head_mask: Optional[torch.Tensor],
        logits_at: Optional[torch.Tensor],
    ) -> tuple[Optional[torch.Tensor], torch.Tensor]:
        """The family's forward on checked inputs -> (logits [batch, pos, vocab] or None, last hidden [batch, pos, d_model])."""

    def _check(self, input_ids, attention_mask, head_mask):
        return check_inputs(self.config, input_ids, attention_mask, head_mask)


def check_inputs(config: ModelConfig, input_ids, attention_mask, head_mask, side: str = "input"):
    """Shapes and lengths a forward pass accepts -> (input_ids, attention_mask, head_mask), batched.

    ``side`` names the sequence in the messages ("input", or "target" for a decoder's own inputs).
    """
    if input_ids.dim() == 1:
        input_ids = input_ids[None]
    if input_ids.dim() != 2:
        raise InputError(f"The {side} ids must be [batch, pos], got shape {tuple(input_ids.shape)}.")
    batch, n_pos = input_ids.shape
    if n_pos == 0:
        raise InputError(f"There is nothing to run: the {side} has no tokens. Type a sentence first.")
    if n_pos > config.n_positions:
        raise InputError(
            f"The {side} has {n_pos} tokens, but this model has only {config.n_positions} positions. "
            f"The app keeps the first {config.n_positions} tokens; shorten the text to see all of it."
        )
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    elif attention_mask.dim() == 1:
        attention_mask = attention_mask[None]
    if attention_mask.dim() == 3:
        # An explicit who-sees-whom matrix [batch, query_pos, key_pos] (a what-if: it replaces the
        # family's own padding and causal masks).
        if tuple(attention_mask.shape) != (batch, n_pos, n_pos):
            raise InputError(f"An allowed matrix must have shape {(batch, n_pos, n_pos)}, got {tuple(attention_mask.shape)}.")
        if not attention_mask.bool().any(dim=-1).all():
            raise InputError("Every query position must be allowed to see at least one key position.")
    elif tuple(attention_mask.shape) != (batch, n_pos):
        raise InputError(
            f"The attention mask has shape {tuple(attention_mask.shape)}, while the {side} ids have "
            f"shape {(batch, n_pos)}; they must match."
        )
    if head_mask is not None and tuple(head_mask.shape) != (config.n_layers, config.n_heads):
        raise InputError(
            f"The head mask has shape {tuple(head_mask.shape)}, while this model has "
            f"{config.n_layers} layers x {config.n_heads} heads."
        )
    return input_ids, attention_mask, head_mask
