"""Quality figures of the shipped bundled models, computed from the shipped files.

Everything goes through the project's public API (`model_core.load_bundled`,
`fill_mask`, `greedy_continue`, the models' forward), so the figures are those
of the fp16 files in model_core/bundled/, as the app loads them.

Figures:
  cloze top-1 / top-5   tests/data/cloze.tsv: a sentence counts for top-k when
                        one of its accepted answers is among fill_mask's k best
                        tokens.
  cloze copied          the share of cloze sentences whose top-1 is wrong and is a
                        token of the sentence itself ("Paris is the capital of
                        [MASK]." -> "paris").
  textbook heads        on the cloze sentences (blank filled with the first answer),
                        each relation's best head and its mean weight
                        (analysis.relation_weights): previous token, next token,
                        [CLS] (first) and [SEP] (last), for the shipped encoder and
                        for the package's original weights.
  held-out MLM accuracy the first --valid-lines lines of data/corpus/valid.txt, each as
                        [CLS] line [SEP] (at most 64 tokens); 15% of the real
                        tokens (ids >= 999), drawn with torch seed 1234 per
                        batch of 64 lines, replaced by [MASK]; top-1 accuracy
                        at those positions.
  bits per character    bundled_common.stream_bpc on the same validation lines
                        and on tests/data/everyday_paragraphs.txt.
  repetition            greedy continuations of 30 tokens of the ten prompts: the
                        share of their 3-grams that repeat an earlier 3-gram
                        (analysis.repeated_share), without and with the default
                        decoding's rules.
  continuations         the ten prompts continued under model_core.DEFAULT_DECODING
                        (the Predictions page's default), 20 tokens each.

Usage: .venv/bin/python scripts/evaluate_bundled.py [--no-corpus] [--json out.json]
(--no-corpus skips the figures that need data/corpus, as in CI).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # model_core
from bundled_common import (CLS_ID, FIRST_REAL_ID, MASK_ID, PAD_ID, ROOT, SEP_ID, corpus_lines,  # noqa: E402
                            stream_bpc, text_chars)

CLOZE_FILE = ROOT / "tests" / "data" / "cloze.tsv"
PARAGRAPHS_FILE = ROOT / "tests" / "data" / "everyday_paragraphs.txt"
PROMPTS = [
    "once upon a time",
    "the weather today is",
    "my favourite food is",
    "she opened the door and",
    "the children went to the",
    "i would like a cup of",
    "in the morning he",
    "the best way to learn is",
    "a dog is an animal that",
    "after dinner we",
]


def read_cloze(path: Path = CLOZE_FILE) -> list[tuple[str, set[str]]]:
    """[(sentence with one [MASK], accepted answers), ...] from the TSV (lines starting with # skipped)."""
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        sentence, answers = line.split("\t")
        items.append((sentence, set(answers.split("|"))))
    return items


def read_paragraphs(path: Path = PARAGRAPHS_FILE) -> list[str]:
    return [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]


def cloze_scores(encoder, items: list[tuple[str, set[str]]]) -> dict:
    """Fraction of sentences whose best (top-1) or five best (top-5) tokens include an accepted answer,
    and whose wrong top-1 is copied from the sentence."""
    import model_core

    top1 = top5 = copied = 0
    for sentence, answers in items:
        predicted = [token for token, _ in model_core.fill_mask(encoder, sentence, top_k=5)[0]]
        top1 += predicted[0] in answers
        top5 += any(token in answers for token in predicted)
        copied += predicted[0] not in answers and predicted[0] in encoder.tokenizer.tokenize(sentence)
    n = len(items)
    return {"cloze_top1": top1 / n, "cloze_top5": top5 / n, "cloze_copied": copied / n, "cloze_items": n}


def textbook_heads(encoder, items: list[tuple[str, set[str]]]) -> dict:
    """{relation: (layer, head, mean weight)} of the best head per relation over the filled cloze sentences."""
    import analysis

    totals = None
    for sentence, answers in items:
        filled = sentence.replace("[MASK]", sorted(answers)[0])
        scores = analysis.relation_weights(analysis.attention_run(encoder, filled).pattern)
        totals = scores if totals is None else {k: totals[k] + v for k, v in scores.items()}
    best = {}
    for relation, total in totals.items():
        mean = total / len(items)
        layer, head = divmod(int(mean.argmax()), mean.shape[1])
        best[relation] = (layer, head, round(float(mean[layer, head]), 3))
    return best


def package_encoder():
    """The encoder with the package's original weights everywhere (no fine-tuned layers, no head)."""
    from model_core.convert import build_encoder
    from model_core.loading import _load_minilm_encoder, load_tokenizer, minilm_dir

    cfg, state = _load_minilm_encoder()
    model = build_encoder(state, cfg, with_head=False)
    model.tokenizer = load_tokenizer(minilm_dir())
    return model


def repetition(decoder, prompts: list[str] = PROMPTS, n_tokens: int = 30, decoding=None) -> float:
    """Share of repeated 3-grams over the prompts' continuations (see the module docstring)."""
    import analysis
    import model_core

    decoding = decoding or model_core.Decoding()
    repeats = total = 0
    for prompt in prompts:
        made = model_core.generate_steps(decoder, prompt, n_tokens, decoding)
        new = len(made.ids) - max(len(made.prompt_ids), 2)
        share = analysis.repeated_share(made.ids, len(made.prompt_ids))
        if new > 0 and share == share:
            repeats += share * new
            total += new
    return repeats / total if total else 0.0


@torch.no_grad()
def heldout_mlm_accuracy(encoder, lines: list[str], seq_len: int = 64, batch_size: int = 64) -> dict:
    """Top-1 accuracy and mean loss at a fixed 15% of [MASK]ed positions (see the module docstring)."""
    tok = encoder.tokenizer
    generator = torch.Generator().manual_seed(1234)
    correct, count, total_nats = 0, 0, 0.0
    for start in range(0, len(lines), batch_size):
        rows = [tok(line, add_special_tokens=False)["input_ids"][:seq_len - 2] for line in lines[start:start + batch_size]]
        rows = [[CLS_ID] + r + [SEP_ID] for r in rows]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), PAD_ID, dtype=torch.long)     # [batch, pos]
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r)
        chosen = (torch.rand(ids.shape, generator=generator) < 0.15) & (ids >= FIRST_REAL_ID)
        inputs = ids.masked_fill(chosen, MASK_ID)
        out = encoder(inputs, (ids != PAD_ID).long(), torch.zeros_like(ids))
        logits = out.logits[chosen]                                        # [n_chosen, vocab]
        labels = ids[chosen]
        correct += int((logits.argmax(-1) == labels).sum())
        total_nats += float(torch.nn.functional.cross_entropy(logits, labels, reduction="sum"))
        count += labels.numel()
    return {"heldout_mlm_acc": correct / count, "heldout_mlm_loss": total_nats / count, "heldout_mlm_tokens": count}


def decoder_bpc(decoder, lines: list[str]) -> tuple[float, float, int]:
    """stream_bpc of the bundled decoder on the lines (tokenised by its own tokenizer)."""
    token_lines = [decoder.tokenizer(line, add_special_tokens=False)["input_ids"] for line in lines]
    return stream_bpc(lambda ids: decoder(ids).logits, token_lines, text_chars(lines))


def continuations(decoder, prompts: list[str] = PROMPTS, n_tokens: int = 20) -> list[tuple[str, str]]:
    import model_core

    return [(p, model_core.generate_steps(decoder, p, n_tokens, model_core.DEFAULT_DECODING).text) for p in prompts]


def evaluate(with_corpus: bool = True, threads: int | None = None, valid_lines: int | None = 1000) -> dict:
    import model_core

    if threads:
        torch.set_num_threads(threads)
    results: dict = {}
    t0 = time.perf_counter()
    encoder = model_core.load_bundled("encoder")
    decoder = model_core.load_bundled("decoder")
    results["load_seconds"] = round(time.perf_counter() - t0, 2)
    cloze = read_cloze()
    results.update(cloze_scores(encoder, cloze))
    results["heads_shipped"] = textbook_heads(encoder, cloze)
    results["heads_package"] = textbook_heads(package_encoder(), cloze)
    results["repeat_3gram_greedy"] = repetition(decoder)
    results["repeat_3gram_default"] = repetition(decoder, decoding=model_core.DEFAULT_DECODING)
    paragraphs = read_paragraphs()
    bpc, nats, n = decoder_bpc(decoder, paragraphs)
    results.update({"paragraphs_bpc": bpc, "paragraphs_tokens": n, "paragraphs_chars": text_chars(paragraphs)})
    if with_corpus:
        valid = corpus_lines("valid")[:valid_lines]
        results.update(heldout_mlm_accuracy(encoder, valid))
        bpc, nats, n = decoder_bpc(decoder, valid)
        results.update({"valid_lines": len(valid), "valid_bpc": bpc, "valid_token_loss": nats, "valid_tokens": n, "valid_chars": text_chars(valid)})
    results["continuations"] = continuations(decoder)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-corpus", action="store_true", help="skip the figures that need data/corpus")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--valid-lines", type=int, default=1000, help="the first N validation lines (4000 in all)")
    args = parser.parse_args()
    results = evaluate(with_corpus=not args.no_corpus, threads=args.threads, valid_lines=args.valid_lines)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
