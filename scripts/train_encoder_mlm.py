"""Train a BERT masked-language-model head (and the top encoder layers) on the MiniLM weights.

all-MiniLM-L6-v2 ships without an MLM head. This script builds a transformers
BertForMaskedLM from the package's config, loads the package's BertModel
weights into `bert.*`, ties the MLM decoder to the (frozen) word embeddings and
trains only:
  - the top `--layers` encoder layers (the lower layers keep the package's
    original weights, so their attention is the pretrained attention), and
  - the MLM head: transform.dense, GELU, transform.LayerNorm, and the output bias.

Masking follows BERT: 15% of the non-special tokens are chosen; of those 80%
become [MASK], 10% a random token, 10% stay unchanged; the loss is the cross
entropy on the chosen positions only, and the vocabulary logits are computed
only there (the largest saving on a CPU).

`--masking word` (the default) changes what is chosen, not the 80-10-10 split:
whole words are chosen (a word and its ## pieces together, 15% of the words),
and every other occurrence of a chosen word in the same row is chosen with it
(unless the word occurs more than REPEAT_CAP times there: those are "and", "the"
and commas, which are guessed from frequency, not copied, and masking all of
them would blank out half a row).
With token masking, a hidden word that also appears unmasked elsewhere in the
packed row (WordNet's "capital: ... "Paris is the capital of France"") is
answered best by copying it, and the model learned to copy: "Paris is the
capital of [MASK]." -> "paris". `--masking token` is BERT's original rule.

`--copy-penalty W` adds W times an unlikelihood term (Welleck et al. 2019) at each
masked position: -log(1 - p(c)) summed over the words c visible elsewhere in the
row, except the `--copy-exempt` most frequent tokens of the corpus ("the", ",",
"of") and the answer itself. Whole-word masking already keeps the answer out of
sight, yet the model still ranks a visible content word first ("The Earth goes
around the [MASK]." -> "earth"): MiniLM's sentence embeddings place a word's
neighbours close to it, and the tied output layer turns that closeness into
probability. The term pushes exactly that failure down; it may change on --resume.

`--gloss-weight` and `--ding-weight` change how often a line is drawn: WordNet's
definitions ("ball: round object that is hit or thrown ...") are 55% of the lines
but not the register of everyday sentences; Ding's examples are. They may change
on --resume (history.txt records each invocation).

Head initialisation (`--head-init identity`): the transform's dense layer
starts as the identity and its LayerNorm as (1, 0), so at step 0 the logits
are the dot products of the last hidden state with the word embeddings; the
output bias starts as the log unigram frequency of the training tokens.

`--init shipped` starts a new run from the shipped files (the package plus
model_core/bundled/encoder/mlm_head.safetensors, fp16 widened to fp32) instead
of the package with a fresh head, with a fresh optimizer and warmup: the way a
later session continues the shipped encoder (it needs `--layers 6`, as shipped).

Training examples pack corpus lines as `[CLS] a [SEP] b [SEP] ...` up to
`--seq-len` tokens. Everything is seeded; the random state is checkpointed,
so a resumed run continues the same stream. Logs: runs/encoder/<name>/log.csv.

Usage:
  .venv/bin/python scripts/train_encoder_mlm.py --name l4 --layers 4 --minutes 60
  .venv/bin/python scripts/train_encoder_mlm.py --name l4 --resume --minutes 30
  .venv/bin/python scripts/train_encoder_mlm.py --name more --init shipped --layers 6 --seed 1 --minutes 100
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bundled_common import (BUNDLED_DIR, CLS_ID, FIRST_REAL_ID, MASK_ID, PAD_ID, SEP_ID, CsvLog, Timer,  # noqa: E402
                            add_run_options, add_weight_options, corpus_lines, line_weights, load_package_bert_state,
                            load_tokenizer, note_invocation, open_run, package_model_dir, pick_lines, save_checkpoint,
                            token_counts, tokenized_corpus, training_loop)

NUM_LAYERS = 6
REPEAT_CAP = 3  # word masking: a word seen more often than this in a row is masked alone


def build_model(finetuned_layers: int, head_init: str, unigram_log_prob: torch.Tensor | None):
    """BertForMaskedLM with the package weights in bert.*, everything but the top layers and head frozen."""
    from transformers import BertConfig, BertForMaskedLM

    config = BertConfig.from_json_file(str(package_model_dir() / "config.json"))
    config.hidden_dropout_prob = 0.0  # short fine-tune, far from overfitting: dropout only slows it
    config.attention_probs_dropout_prob = 0.0
    config.tie_word_embeddings = True
    model = BertForMaskedLM(config)
    package = load_package_bert_state()
    state = {f"bert.{k}": v for k, v in package.items()}
    result = model.load_state_dict(state, strict=False)
    missing = sorted(result.missing_keys)
    unexpected = sorted(result.unexpected_keys)
    model.tie_weights()
    decoder = model.cls.predictions.decoder
    assert decoder.weight.data_ptr() == model.bert.embeddings.word_embeddings.weight.data_ptr(), "decoder not tied"
    if head_init == "identity":
        transform = model.cls.predictions.transform
        with torch.no_grad():
            transform.dense.weight.copy_(torch.eye(config.hidden_size))
            transform.dense.bias.zero_()
            transform.LayerNorm.weight.fill_(1.0)
            transform.LayerNorm.bias.zero_()
    if unigram_log_prob is not None:
        with torch.no_grad():
            model.cls.predictions.bias.copy_(unigram_log_prob)

    first_trained = NUM_LAYERS - finetuned_layers
    for name, param in model.named_parameters():
        trained = name.startswith("cls.") and "decoder.weight" not in name
        for i in range(first_trained, NUM_LAYERS):
            trained |= name.startswith(f"bert.encoder.layer.{i}.")
        param.requires_grad = trained
    return model, missing, unexpected


def load_shipped(model) -> None:
    """Copy the shipped delta (fine-tuned layers and MLM head, fp16) over the package weights in `model`."""
    from safetensors.torch import load_file

    state = {k: v.float() for k, v in load_file(str(BUNDLED_DIR / "encoder" / "mlm_head.safetensors")).items()}
    result = model.load_state_dict(state, strict=False)
    assert not result.unexpected_keys, result.unexpected_keys
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trained <= set(state) | {"cls.predictions.decoder.bias"}, sorted(trained - set(state))
    model.tie_weights()


def unigram_log_prob(train: list[np.ndarray], vocab_size: int) -> torch.Tensor:
    counts = token_counts(train, vocab_size).astype(np.float64) + 0.1
    return torch.tensor(np.log(counts / counts.sum()), dtype=torch.float32)


def draw_line(rng: np.random.Generator, n_lines: int, cumulative: np.ndarray | None) -> int:
    if cumulative is None:
        return int(rng.integers(n_lines))
    return int(pick_lines(cumulative, rng.random()))


def pack_batch(rng: np.random.Generator, lines: list[np.ndarray], batch_size: int, seq_len: int,
               cumulative: np.ndarray | None = None):
    """`batch_size` rows of `[CLS] a [SEP] b [SEP] ...`, padded to seq_len. Returns (ids, attention_mask).

    Lines are drawn uniformly, or by `cumulative` (line_weights) when given."""
    ids = np.full((batch_size, seq_len), PAD_ID, dtype=np.int64)
    for row in range(batch_size):
        pieces = [CLS_ID]
        while len(pieces) < seq_len - 2:
            line = lines[draw_line(rng, len(lines), cumulative)]
            room = seq_len - 1 - len(pieces)
            if len(line) > room:
                if len(pieces) > 1:
                    break
                start = rng.integers(len(line) - room + 1)
                line = line[start:start + room]
            pieces.extend(line.tolist())
            pieces.append(SEP_ID)
        ids[row, :len(pieces)] = pieces
    return torch.from_numpy(ids), torch.from_numpy((ids != PAD_ID).astype(np.int64))


def bert_masking(ids: torch.Tensor, generator: torch.Generator, vocab_size: int, rate: float = 0.15):
    """BERT's 15% / 80-10-10 masking. Returns (masked input ids, chosen [batch, pos] bool, labels)."""
    maskable = ids >= FIRST_REAL_ID  # never [PAD], [CLS], [SEP], [UNK] or [unused*]
    chosen = (torch.rand(ids.shape, generator=generator) < rate) & maskable
    if not chosen.any():
        chosen = maskable & (torch.cumsum(maskable.long(), dim=1) == 1)
    roll = torch.rand(ids.shape, generator=generator)
    inputs = ids.clone()
    inputs[chosen & (roll < 0.8)] = MASK_ID
    random_tokens = torch.randint(FIRST_REAL_ID, vocab_size, ids.shape, generator=generator)
    use_random = chosen & (roll >= 0.8) & (roll < 0.9)
    inputs[use_random] = random_tokens[use_random]
    return inputs, chosen, ids[chosen]


def continuation_table(vocab_size: int) -> torch.Tensor:
    """[vocab] bool: True for the WordPiece pieces that continue a word (`##...`)."""
    vocab = load_tokenizer().get_vocab()
    table = torch.zeros(vocab_size, dtype=torch.bool)
    for token, index in vocab.items():
        table[index] = token.startswith("##")
    return table


def word_masking(ids: torch.Tensor, generator: torch.Generator, vocab_size: int, continuation: torch.Tensor,
                 rate: float = 0.15):
    """Whole-word masking of every occurrence (see the module docstring), BERT's 80-10-10 per word.

    Returns (masked input ids, chosen [batch, pos] bool, labels), like bert_masking."""
    maskable = ids >= FIRST_REAL_ID
    previous = torch.zeros_like(maskable)
    previous[:, 1:] = maskable[:, :-1]
    starts = maskable & ~(continuation[ids] & previous)          # [batch, pos]: first piece of a word
    picked = (torch.rand(ids.shape, generator=generator) < rate) & starts
    if not picked.any():                                          # at least one word, with its other occurrences
        picked = starts & (torch.cumsum(starts.flatten().long(), 0) == 1).view(starts.shape)
    roll = torch.rand(ids.shape, generator=generator)            # read at each word's first piece
    random_tokens = torch.randint(FIRST_REAL_ID, vocab_size, ids.shape, generator=generator)
    chosen = torch.zeros_like(maskable)
    action = torch.zeros(ids.shape)                               # the roll of the word each piece belongs to
    for row in range(ids.shape[0]):
        row_ids = ids[row].tolist()
        first = starts[row].nonzero().flatten().tolist()
        spans = []
        for i, start in enumerate(first):
            end = start + 1
            while end < len(row_ids) and maskable[row, end] and not starts[row, end]:
                end += 1
            spans.append((start, end))
        words = [tuple(row_ids[a:b]) for a, b in spans]
        counts = {w: words.count(w) for w in set(words)}
        keys = {w: roll[row, a] for w, (a, b) in zip(words, spans) if picked[row, a] and counts[w] <= REPEAT_CAP}
        for word, (a, b) in zip(words, spans):
            if picked[row, a] or word in keys:
                chosen[row, a:b] = True
                action[row, a:b] = keys.get(word, roll[row, a])
    inputs = ids.clone()
    inputs[chosen & (action < 0.8)] = MASK_ID
    use_random = chosen & (action >= 0.8) & (action < 0.9)
    inputs[use_random] = random_tokens[use_random]
    return inputs, chosen, ids[chosen]


def copy_candidates(ids: torch.Tensor, chosen: torch.Tensor, labels: torch.Tensor,
                    penalised: torch.Tensor) -> torch.Tensor:
    """[n_chosen, vocab] bool: at each chosen position, the tokens visible elsewhere in its row.

    Visible = at an unchosen position of the same row (what the model reads there is the token itself);
    only tokens with `penalised[token]` count (real tokens outside the most frequent), never the label."""
    visible = ~chosen & (ids >= FIRST_REAL_ID)
    bag = torch.zeros(ids.shape[0], penalised.numel(), dtype=torch.bool)
    bag.scatter_(1, ids.masked_fill(~visible, 0), visible)   # [batch, vocab]; position 0 only ever gets False
    bag &= penalised
    candidates = bag[chosen.nonzero()[:, 0]]                 # [n_chosen, vocab]: the row of each chosen position
    candidates[torch.arange(labels.numel()), labels] = False
    return candidates


def copy_unlikelihood(logits: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """Mean over chosen positions of -sum_c log(1 - p(c)) over the candidates c (copy_candidates)."""
    probs = logits.softmax(-1)                                # [n_chosen, vocab]
    penalty = -torch.log1p(-probs.clamp(max=1 - 1e-6)) * candidates
    return penalty.sum(-1).mean()


def frequent_exempt(train: list[np.ndarray], vocab_size: int, n_exempt: int) -> torch.Tensor:
    """[vocab] bool: True for real tokens outside the n_exempt most frequent training tokens."""
    counts = token_counts(train, vocab_size)
    penalised = torch.ones(vocab_size, dtype=torch.bool)
    penalised[torch.from_numpy(np.argsort(-counts)[:n_exempt].copy())] = False
    penalised[:FIRST_REAL_ID] = False
    return penalised


@torch.no_grad()
def cloze_monitor(model, tokenizer, items) -> dict:
    """Top-1, top-5 and copied-and-wrong shares on the cloze set (logged to watch, never used to choose)."""
    model.eval()
    top1 = top5 = copied = 0
    for sentence, answers in items:
        ids = tokenizer.encode(sentence).ids
        position = ids.index(MASK_ID)
        hidden = model.bert(input_ids=torch.tensor([ids])).last_hidden_state[0, position]
        best = [tokenizer.id_to_token(i) for i in model.cls(hidden).topk(5).indices.tolist()]
        top1 += best[0] in answers
        top5 += any(token in answers for token in best)
        copied += best[0] not in answers and ids.count(tokenizer.token_to_id(best[0])) > 0
    model.train()
    n = len(items)
    return {"cloze_top1": round(top1 / n, 4), "cloze_top5": round(top5 / n, 4), "cloze_copied": round(copied / n, 4)}


def masked_lm_logits(model, input_ids, attention_mask, chosen):
    """Vocabulary logits at the chosen positions only: [n_chosen, vocab]."""
    hidden = model.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # [batch, pos, d_model]
    return model.cls(hidden[chosen])  # [n_chosen, vocab]


@torch.no_grad()
def evaluate(model, valid: list[np.ndarray], seq_len: int, n_lines: int = 1500, batch_size: int = 64):
    """Held-out MLM: each line as [CLS] line [SEP]; a fixed 15% of its tokens replaced by [MASK].

    Returns (mean loss, top-1 accuracy) over the masked positions."""
    model.eval()
    generator = torch.Generator().manual_seed(1234)
    total_loss, correct, count = 0.0, 0, 0
    for start in range(0, min(n_lines, len(valid)), batch_size):
        rows = [[CLS_ID] + v[:seq_len - 2].tolist() + [SEP_ID] for v in valid[start:start + batch_size]]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r)
        maskable = ids >= FIRST_REAL_ID
        chosen = (torch.rand(ids.shape, generator=generator) < 0.15) & maskable
        inputs = ids.masked_fill(chosen, MASK_ID)
        logits = masked_lm_logits(model, inputs, (ids != PAD_ID).long(), chosen)
        labels = ids[chosen]
        total_loss += F.cross_entropy(logits, labels, reduction="sum").item()
        correct += (logits.argmax(-1) == labels).sum().item()
        count += labels.numel()
    model.train()
    return total_loss / count, correct / count


def trainable_state(model) -> dict:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def main() -> None:
    parser = argparse.ArgumentParser(description="Train the MiniLM MLM head + top layers.")
    parser.add_argument("--name", default="main", help="run folder under runs/encoder/")
    parser.add_argument("--layers", type=int, default=4, help="number of top encoder layers fine-tuned")
    parser.add_argument("--minutes", type=float, default=60.0, help="wall budget of this invocation")
    parser.add_argument("--plan-minutes", type=float, default=None,
                        help="length of the LR schedule in minutes (sets --steps from the measured step time)")
    parser.add_argument("--steps", type=int, default=None, help="total steps of the LR schedule (overrides)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-4, help="peak LR of the encoder layers")
    parser.add_argument("--head-lr", type=float, default=1e-3, help="peak LR of the MLM head")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--head-init", choices=["identity", "random"], default="identity")
    add_weight_options(parser)
    parser.add_argument("--masking", choices=["word", "token"], default="word",
                        help="whole words with every occurrence in the row (default), or BERT's per-token rule")
    parser.add_argument("--init", choices=["package", "shipped"], default="package",
                        help="start from the package with a fresh head, or from the shipped fine-tuned files")
    parser.add_argument("--copy-penalty", type=float, default=0.0,
                        help="weight of the unlikelihood of words visible in the row (module docstring); "
                             "may change on resume")
    parser.add_argument("--copy-exempt", type=int, default=200,
                        help="the most frequent training tokens, never penalised as copies")
    add_run_options(parser, eval_every=200)
    args = parser.parse_args()

    run_dir, ckpt_path, ckpt = open_run(
        args, "encoder", ("layers", "batch_size", "seq_len", "lr", "head_lr", "warmup", "head_init", "seed", "masking", "init"))

    torch.manual_seed(args.seed)
    train = tokenized_corpus("train")
    valid = tokenized_corpus("valid")
    cumulative = line_weights(corpus_lines("train"), args.gloss_weight, args.ding_weight, args.phrase_weight)
    vocab_size = 30522
    model, missing, unexpected = build_model(args.layers, args.head_init, unigram_log_prob(train, vocab_size))
    if args.init == "shipped" and ckpt is None:
        load_shipped(model)
    print(f"missing keys (trained here): {missing}")
    print(f"unexpected keys (ignored): {unexpected}")
    head_params = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("cls.")]
    layer_params = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("cls.")]
    no_decay = {id(p) for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n}
    groups = []
    for params, lr in ((layer_params, args.lr), (head_params, args.head_lr)):
        groups.append({"params": [p for p in params if id(p) not in no_decay], "weight_decay": 0.01, "peak": lr})
        groups.append({"params": [p for p in params if id(p) in no_decay], "weight_decay": 0.0, "peak": lr})
    optimizer = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.98), eps=1e-6)
    n_trained = sum(p.numel() for p in head_params + layer_params)
    print(f"trainable parameters: {n_trained:,} (top {args.layers} layers + head)")

    rng = np.random.default_rng(args.seed)
    generator = torch.Generator().manual_seed(args.seed + 1)
    step, total_steps, tokens_seen, elapsed = 0, args.steps, 0, 0.0
    if ckpt is not None:
        model.load_state_dict(ckpt["trainable"], strict=False)
        optimizer.load_state_dict(ckpt["optimizer"])
        rng.bit_generator.state = ckpt["np_rng"]
        generator.set_state(ckpt["torch_rng"])
        step, tokens_seen, elapsed = ckpt["step"], ckpt["tokens_seen"], ckpt["elapsed"]
        # --plan-minutes on a resume: a new schedule measured from this invocation's speed
        total_steps = args.steps or (None if args.plan_minutes else ckpt["total_steps"])
        print(f"resumed at step {step}/{total_steps}, {elapsed / 60:.1f} min trained")
    else:
        loss0, acc0 = evaluate(model, valid, args.seq_len)
        print(f"step 0: valid loss {loss0:.3f} acc {acc0:.3f}")

    note_invocation(run_dir, step)
    penalised = frequent_exempt(train, vocab_size, args.copy_exempt)
    log = CsvLog(run_dir / "log.csv", ["step", "minutes", "lr", "train_loss", "valid_loss", "valid_acc", "cloze_top1",
                                       "cloze_top5", "cloze_copied", "tokens_seen"])
    continuation = continuation_table(vocab_size)
    tokenizer = load_tokenizer()
    from evaluate_bundled import read_cloze
    cloze_items = read_cloze()
    progress = {"step": step, "total_steps": total_steps, "tokens_seen": tokens_seen, "timer": Timer(elapsed)}

    def train_step():
        ids, attention_mask = pack_batch(rng, train, args.batch_size, args.seq_len, cumulative)
        if args.masking == "word":
            inputs, chosen, labels = word_masking(ids, generator, vocab_size, continuation)
        else:
            inputs, chosen, labels = bert_masking(ids, generator, vocab_size)
        logits = masked_lm_logits(model, inputs, attention_mask, chosen)
        cross_entropy = F.cross_entropy(logits, labels)
        loss = cross_entropy
        if args.copy_penalty > 0:
            loss = loss + args.copy_penalty * copy_unlikelihood(logits, copy_candidates(ids, chosen, labels, penalised))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(head_params + layer_params, 1.0)
        optimizer.step()
        return cross_entropy.item(), int(attention_mask.sum())  # logged train_loss: the cross entropy alone

    def run_evaluation():
        valid_loss, valid_acc = evaluate(model, valid, args.seq_len)
        return {"valid_loss": round(valid_loss, 4), "valid_acc": round(valid_acc, 4),
                **cloze_monitor(model, tokenizer, cloze_items)}

    def save():
        save_checkpoint(ckpt_path, {
            "args": vars(args), "trainable": trainable_state(model), "optimizer": optimizer.state_dict(),
            "np_rng": rng.bit_generator.state, "torch_rng": generator.get_state(), "step": progress["step"],
            "total_steps": progress["total_steps"], "tokens_seen": progress["tokens_seen"],
            "elapsed": progress["timer"].seconds(), "missing_keys": missing, "unexpected_keys": unexpected})

    model.train()
    final = training_loop(args, progress, optimizer, train_step, run_evaluation, save, log)
    summary = {"step": progress["step"], "total_steps": progress["total_steps"], "tokens_seen": progress["tokens_seen"],
               "minutes": progress["timer"].seconds() / 60, **final, "args": vars(args)}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")

if __name__ == "__main__":
    main()
