"""Train the bundled English-to-French translator: a small original-layout Transformer.

The model is a transformers MarianMTModel (the original Transformer as Marian
writes it: token embeddings scaled by sqrt(d_model), fixed sinusoidal positions,
post-LN encoder and decoder blocks, cross-attention, a projection tied to the
shared embeddings) with ReLU feed-forward layers as in Vaswani et al. (2017).
Its tokenizer is a Unigram model over both languages (one shared vocabulary, so
placeholders like `%s` are one id on both sides), trained here with `tokenizers`
on the training split only; it appends `</s>` to every sequence.

Sizes (`--design`), compared by measured speed on this 2-core machine:
  small  d_model 256, 3 + 3 layers x 4 heads, d_ff 1024 (about 7 M parameters)
  base6  d_model 256, 6 + 6 layers x 4 heads, d_ff 1024 (about 11 M)
  tiny   d_model 128, 2 + 2 layers x 4 heads, d_ff 512  (for tests of this script)

Training: teacher forcing with label-smoothed cross entropy (0.1, as in the
paper), AdamW (0.9, 0.98), linear warmup then cosine decay, batches of about
`--batch-tokens` target tokens grouped by length, dropout 0.1. Every
`--eval-every` steps: validation loss and greedy chrF / BLEU (sacrebleu) on the
first `--eval-pairs` validation pairs; the best chrF so far is saved as a
transformers folder in runs/translator/<name>/best/. Seeded; the checkpoint
(ckpt.pt: weights, optimiser, data order, random states) makes `--resume` carry on.

Usage:
  .venv/bin/python scripts/build_translation_corpus.py
  nice .venv/bin/python scripts/train_translator.py --name small --design small --threads 2 --minutes 80
  nice .venv/bin/python scripts/train_translator.py --name small --resume --minutes 30
  .venv/bin/python scripts/train_translator.py --name gpu --design small --device cuda --minutes 9
"""

import argparse
import json
import random
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bundled_common import CsvLog, Timer, add_run_options, note_invocation, open_run, save_checkpoint, training_loop  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "data" / "translation"
VOCAB_SIZE = 8000
PAD, EOS, UNK = "<pad>", "</s>", "<unk>"
PAD_ID, EOS_ID, UNK_ID = 0, 1, 2
DESIGNS = {
    "small": dict(d_model=256, layers=3, heads=4, d_ff=1024),
    "base6": dict(d_model=256, layers=6, heads=4, d_ff=1024),
    "tiny": dict(d_model=128, layers=2, heads=4, d_ff=512),
}


def read_pairs(split: str) -> list[tuple[str, str]]:
    path = CORPUS / f"{split}.tsv"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run scripts/build_translation_corpus.py first.")
    return [tuple(line.split("\t", 1)) for line in path.read_text(encoding="utf-8").splitlines()]


def train_tokenizer(pairs: list[tuple[str, str]], out_dir: Path):
    """A shared English/French Unigram tokenizer, saved as a transformers fast-tokenizer folder."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(vocab_size=VOCAB_SIZE, special_tokens=[PAD, EOS, UNK], unk_token=UNK,
                                      shrinking_factor=0.75, max_piece_length=16)
    tok.train_from_iterator((text for pair in pairs for text in pair), trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(single=f"$A {EOS}", pair=f"$A $B {EOS}",
                                                       special_tokens=[(EOS, EOS_ID)])
    assert tok.token_to_id(PAD) == PAD_ID and tok.token_to_id(EOS) == EOS_ID and tok.token_to_id(UNK) == UNK_ID
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=EOS, unk_token=UNK,
                                   model_max_length=512)
    fast.save_pretrained(out_dir)
    return fast


def make_config(design: str, vocab_size: int):
    from transformers import MarianConfig

    d = DESIGNS[design]
    return MarianConfig(
        vocab_size=vocab_size, d_model=d["d_model"], encoder_layers=d["layers"], decoder_layers=d["layers"],
        encoder_attention_heads=d["heads"], decoder_attention_heads=d["heads"], encoder_ffn_dim=d["d_ff"],
        decoder_ffn_dim=d["d_ff"], activation_function="relu", max_position_embeddings=512,
        dropout=0.1, attention_dropout=0.0, activation_dropout=0.0, scale_embedding=True,
        pad_token_id=PAD_ID, eos_token_id=EOS_ID, decoder_start_token_id=PAD_ID, forced_eos_token_id=EOS_ID,
        bos_token_id=None, share_encoder_decoder_embeddings=True, tie_word_embeddings=True,
        max_length=128, num_beams=1)


def encode_pairs(tok, pairs):
    """[(source ids, target ids)], both ending in </s>, at most 96 tokens each."""
    sources = tok([en for en, _ in pairs], add_special_tokens=True)["input_ids"]
    targets = tok([fr for _, fr in pairs], add_special_tokens=True)["input_ids"]
    return [(s[:96], t[:96]) for s, t in zip(sources, targets)]


def make_batches(data, batch_tokens: int, rng: random.Random) -> list[list[int]]:
    """Indices grouped by length (shuffled within buckets), each batch about batch_tokens target tokens."""
    order = sorted(range(len(data)), key=lambda i: (len(data[i][1]), len(data[i][0]), rng.random()))
    batches, current, longest = [], [], 0
    for i in order:
        longest_next = max(longest, len(data[i][1]), len(data[i][0]))
        if current and longest_next * (len(current) + 1) > batch_tokens:
            batches.append(current)
            current, longest_next = [], max(len(data[i][1]), len(data[i][0]))
        current.append(i)
        longest = longest_next
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def collate(data, indices, device):
    """Padded source, its mask, decoder inputs (start token + target[:-1]) and labels (-100 on padding)."""
    src = [data[i][0] for i in indices]
    tgt = [data[i][1] for i in indices]
    n_src, n_tgt = max(map(len, src)), max(map(len, tgt))
    input_ids = torch.full((len(src), n_src), PAD_ID, dtype=torch.long)
    labels = torch.full((len(src), n_tgt), -100, dtype=torch.long)
    decoder_input_ids = torch.full((len(src), n_tgt), PAD_ID, dtype=torch.long)
    for row, (s, t) in enumerate(zip(src, tgt)):
        input_ids[row, :len(s)] = torch.tensor(s)
        labels[row, :len(t)] = torch.tensor(t)
        decoder_input_ids[row, 1:len(t)] = torch.tensor(t[:-1])     # position 0 is the start token (pad)
    attention_mask = (input_ids != PAD_ID).long()
    decoder_attention_mask = (labels != -100).long()
    return [x.to(device) for x in (input_ids, attention_mask, decoder_input_ids, decoder_attention_mask, labels)]


@torch.no_grad()
def greedy_scores(model, tok, pairs, device, batch_size: int = 64) -> dict:
    """Greedy translations of `pairs` -> chrF and BLEU (sacrebleu) against the references."""
    import sacrebleu

    model.eval()
    hypotheses = []
    for b in range(0, len(pairs), batch_size):
        chunk = [en for en, _ in pairs[b:b + batch_size]]
        enc = tok(chunk, return_tensors="pt", padding=True, truncation=True, max_length=128).to(device)
        out = model.generate(**enc, num_beams=1, do_sample=False, max_new_tokens=96)
        hypotheses.extend(tok.batch_decode(out, skip_special_tokens=True))
    refs = [[fr for _, fr in pairs]]
    model.train()
    return {"chrf": round(sacrebleu.corpus_chrf(hypotheses, refs).score, 2),
            "bleu": round(sacrebleu.corpus_bleu(hypotheses, refs).score, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--name", default="small")
    parser.add_argument("--design", choices=sorted(DESIGNS), default="small")
    parser.add_argument("--minutes", type=float, default=60.0, help="wall budget of this invocation")
    parser.add_argument("--plan-minutes", type=float, default=None, help="length of the LR schedule, in minutes")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=600)
    parser.add_argument("--batch-tokens", type=int, default=3000)
    parser.add_argument("--eval-pairs", type=int, default=400)
    parser.add_argument("--device", default="cpu")
    add_run_options(parser, eval_every=500)
    args = parser.parse_args()
    run_dir, ckpt_path, ckpt = open_run(args, "translator", ("design", "lr", "warmup", "batch_tokens", "seed"))
    note_invocation(run_dir, ckpt["progress"]["step"] if ckpt else 0)

    from transformers import MarianMTModel, PreTrainedTokenizerFast

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    train_pairs, valid_pairs = read_pairs("train"), read_pairs("valid")
    tok_dir = run_dir / "tokenizer"
    tok = (PreTrainedTokenizerFast.from_pretrained(tok_dir) if (tok_dir / "tokenizer.json").exists()
           else train_tokenizer(train_pairs, tok_dir))
    train, valid = encode_pairs(tok, train_pairs), encode_pairs(tok, valid_pairs)
    config = make_config(args.design, len(tok))
    model = MarianMTModel(config).to(args.device)
    model.train()
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"{args.design}: {n_params / 1e6:.2f} M trainable parameters, {len(train)} training pairs", flush=True)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.98), eps=1e-9, weight_decay=0.01)
    for group in optimizer.param_groups:
        group["peak"] = args.lr

    rng = random.Random(args.seed)
    progress = {"step": 0, "total_steps": None, "tokens_seen": 0, "timer": Timer(), "epoch": 0, "cursor": 0,
                "best_chrf": -1.0}
    batches = make_batches(train, args.batch_tokens, rng)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        saved = ckpt["progress"]
        progress.update({k: v for k, v in saved.items() if k != "seconds"}, timer=Timer(saved["seconds"]))
        if args.plan_minutes:
            progress["total_steps"] = None          # a new schedule length, measured from here
        rng.setstate(ckpt["rng"])
        batches = ckpt["batches"]
        torch.set_rng_state(ckpt["torch_rng"])

    def train_step():
        nonlocal batches
        if progress["cursor"] >= len(batches):
            progress["epoch"] += 1
            progress["cursor"] = 0
            batches = make_batches(train, args.batch_tokens, rng)
        indices = batches[progress["cursor"]]
        progress["cursor"] += 1
        input_ids, attention_mask, decoder_input_ids, decoder_attention_mask, labels = collate(
            train, indices, args.device)
        logits = model(input_ids=input_ids, attention_mask=attention_mask, decoder_input_ids=decoder_input_ids,
                       decoder_attention_mask=decoder_attention_mask).logits
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100,
                               label_smoothing=0.1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        return loss.item(), int((labels != -100).sum())

    @torch.no_grad()
    def evaluate():
        model.eval()
        nats, count = 0.0, 0
        valid_batches = make_batches(valid, 4000, random.Random(0))
        for indices in valid_batches:
            input_ids, attention_mask, decoder_input_ids, decoder_attention_mask, labels = collate(
                valid, indices, args.device)
            logits = model(input_ids=input_ids, attention_mask=attention_mask, decoder_input_ids=decoder_input_ids,
                           decoder_attention_mask=decoder_attention_mask).logits
            nats += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100,
                                    reduction="sum").item()
            count += int((labels != -100).sum())
        model.train()
        figures = {"valid_loss": round(nats / count, 4), "epoch": progress["epoch"]}
        figures.update(greedy_scores(model, tok, valid_pairs[:args.eval_pairs], args.device))
        if figures["chrf"] > progress["best_chrf"]:
            progress["best_chrf"] = figures["chrf"]
            model.save_pretrained(run_dir / "best")
            tok.save_pretrained(run_dir / "best")
            (run_dir / "best" / "training.json").write_text(json.dumps(
                {"step": progress["step"], "tokens_seen": progress["tokens_seen"],
                 "minutes": round(progress["timer"].seconds() / 60, 2), "threads": args.threads,
                 "device": args.device, "design": args.design, "parameters": n_params, **figures}, indent=2))
        return figures

    def save():
        state = {k: v for k, v in progress.items() if k != "timer"}
        state["seconds"] = progress["timer"].seconds()
        save_checkpoint(ckpt_path, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                    "progress": state, "args": vars(args), "rng": rng.getstate(),
                                    "batches": batches, "torch_rng": torch.get_rng_state()})

    log = CsvLog(run_dir / "log.csv", ["step", "minutes", "lr", "train_loss", "tokens_seen", "valid_loss",
                                       "chrf", "bleu", "epoch"])
    training_loop(args, progress, optimizer, train_step, evaluate, save, log)


if __name__ == "__main__":
    main()
