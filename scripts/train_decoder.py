"""Train the bundled GPT-2-layout decoder on the corpus, with the MiniLM tokenizer.

The decoder is a transformers GPT2LMHeadModel (learned positions, pre-LN
blocks, final LayerNorm, LM head tied to the token embeddings) whose vocabulary
is the MiniLM WordPiece vocabulary (30522 ids), so its tokens line up one for
one with the bundled encoder's. [SEP] (id 102) separates documents and is the
beginning-of-text token; prompts are encoded without [CLS]/[SEP].

Two designs (`--design`):
  scratch  d_model 256, 6 layers x 8 heads, d_ff 1024, random init (GPT-2 init).
  minilm   d_model 384, 6 layers x 12 heads, d_ff 1536, initialised from the
           all-MiniLM-L6-v2 weights: token embeddings; positions = position
           embeddings + token-type-0 embedding; every block's attention (q, k, v
           concatenated into c_attn, transposed for GPT-2's Conv1D) and FFN. BERT
           is post-LN, GPT-2 pre-LN, so each BERT LayerNorm moves to the input of
           the sublayer it fed: embeddings.LayerNorm -> h.0.ln_1, layer i's
           attention LayerNorm -> h.i.ln_2, layer i's output LayerNorm ->
           h.(i+1).ln_1 (layer 5's -> ln_f). The causal mask is GPT-2's.
Both use exact GELU, no dropout and n_positions 512.

Training: the shuffled corpus lines are joined into one token stream,
`[SEP] line [SEP] line ...`; each step takes `--batch-size` random windows of
`--seq-len` + 1 tokens. Loss: mean next-token cross entropy. Seeds fixed; the
random state is checkpointed (runs/decoder/<name>/ckpt.pt) and `--resume`
continues the same stream.

Bits per character: see bundled_common.stream_bpc.

`--gloss-weight` and `--ding-weight` (as in train_encoder_mlm.py) redraw the
stream: as many lines as the corpus holds, drawn with replacement by those
weights (seeded by --seed, so a resume with the same weights rebuilds the same
stream); with both at 1 the stream is the corpus itself, as before the options.

`--seq-len` should be at least the 256-token windows of stream_bpc: positions
the training never reaches are scored badly (a 128-token run measured 1.87 bpc
with 256-token windows and 1.75 with 128-token ones, same weights).

`--init shipped` starts a new run from the weights in model_core/bundled/decoder
(fp16, widened to fp32) instead of the design's initialisation, with a fresh
optimizer and warmup: the way a later session continues the shipped model.

Usage:
  .venv/bin/python scripts/train_decoder.py --name minilm --design minilm --minutes 60
  .venv/bin/python scripts/train_decoder.py --name more --init shipped --lr 5e-4 --minutes 100
  .venv/bin/python scripts/train_decoder.py --name minilm --resume --minutes 30
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bundled_common import (BUNDLED_DIR, PAD_ID, SEP_ID, CsvLog, Timer, add_run_options,  # noqa: E402
                            add_weight_options, corpus_lines, line_weights, load_package_bert_state, load_tokenizer,
                            note_invocation, open_run, pick_lines, save_checkpoint, stream_bpc, text_chars,
                            tokenized_corpus, training_loop)

VOCAB_SIZE = 30522


def make_config(design: str):
    from transformers import GPT2Config

    common = dict(vocab_size=VOCAB_SIZE, n_positions=512, activation_function="gelu", resid_pdrop=0.0,
                  embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=SEP_ID, eos_token_id=SEP_ID,
                  pad_token_id=PAD_ID, tie_word_embeddings=True)
    if design == "scratch":
        return GPT2Config(n_embd=256, n_layer=6, n_head=8, n_inner=1024, layer_norm_epsilon=1e-5, **common)
    if design == "minilm":
        return GPT2Config(n_embd=384, n_layer=6, n_head=12, n_inner=1536, layer_norm_epsilon=1e-12, **common)
    raise ValueError(f"unknown design {design!r}: use 'scratch' or 'minilm'")


def minilm_to_gpt2_state(bert: dict, n_layer: int = 6) -> dict:
    """GPT2LMHeadModel state dict from the BertModel one (see the module docstring for the mapping)."""
    state = {
        "transformer.wte.weight": bert["embeddings.word_embeddings.weight"],
        # GPT-2 has no token types: fold type 0 into every position.
        "transformer.wpe.weight": bert["embeddings.position_embeddings.weight"]
        + bert["embeddings.token_type_embeddings.weight"][0],
        "transformer.h.0.ln_1.weight": bert["embeddings.LayerNorm.weight"],
        "transformer.h.0.ln_1.bias": bert["embeddings.LayerNorm.bias"],
    }
    for i in range(n_layer):
        b, g = f"encoder.layer.{i}.", f"transformer.h.{i}."
        qkv_w = [bert[f"{b}attention.self.{n}.weight"] for n in ("query", "key", "value")]
        qkv_b = [bert[f"{b}attention.self.{n}.bias"] for n in ("query", "key", "value")]
        # nn.Linear stores [out, in]; GPT-2's Conv1D stores [in, out], hence the transposes.
        state[g + "attn.c_attn.weight"] = torch.cat(qkv_w, dim=0).t().contiguous()
        state[g + "attn.c_attn.bias"] = torch.cat(qkv_b, dim=0)
        state[g + "attn.c_proj.weight"] = bert[f"{b}attention.output.dense.weight"].t().contiguous()
        state[g + "attn.c_proj.bias"] = bert[f"{b}attention.output.dense.bias"]
        state[g + "ln_2.weight"] = bert[f"{b}attention.output.LayerNorm.weight"]
        state[g + "ln_2.bias"] = bert[f"{b}attention.output.LayerNorm.bias"]
        state[g + "mlp.c_fc.weight"] = bert[f"{b}intermediate.dense.weight"].t().contiguous()
        state[g + "mlp.c_fc.bias"] = bert[f"{b}intermediate.dense.bias"]
        state[g + "mlp.c_proj.weight"] = bert[f"{b}output.dense.weight"].t().contiguous()
        state[g + "mlp.c_proj.bias"] = bert[f"{b}output.dense.bias"]
        nxt = f"transformer.h.{i + 1}.ln_1." if i + 1 < n_layer else "transformer.ln_f."
        state[nxt + "weight"] = bert[f"{b}output.LayerNorm.weight"]
        state[nxt + "bias"] = bert[f"{b}output.LayerNorm.bias"]
    return state


def load_shipped(model) -> None:
    """Copy the bundled decoder's weights (GPT2LMHeadModel key names, fp16) into `model`."""
    from safetensors.torch import load_file

    state = {k: v.float() for k, v in load_file(str(BUNDLED_DIR / "decoder" / "model.safetensors")).items()}
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if k != "lm_head.weight" and not k.endswith("attn.bias")]
    assert not missing and not result.unexpected_keys, (missing, result.unexpected_keys)
    model.tie_weights()


def build_model(design: str):
    from transformers import GPT2LMHeadModel

    torch.manual_seed(0)
    config = make_config(design)
    model = GPT2LMHeadModel(config)
    if design == "minilm":
        state = minilm_to_gpt2_state(load_package_bert_state(), config.n_layer)
        result = model.load_state_dict(state, strict=False)
        missing = [k for k in result.missing_keys if k != "lm_head.weight" and not k.endswith("attn.bias")]
        assert not missing and not result.unexpected_keys, (missing, result.unexpected_keys)
    model.tie_weights()
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr(), "LM head not tied"
    return model


def token_stream(lines: list[np.ndarray]) -> np.ndarray:
    """[SEP] l1 [SEP] l2 ... as one int32 array."""
    parts = []
    for line in lines:
        parts.append(np.array([SEP_ID], dtype=np.int32))
        parts.append(line.astype(np.int32))
    return np.concatenate(parts)


def weighted_lines(lines: list[np.ndarray], cumulative: np.ndarray | None, seed: int) -> list[np.ndarray]:
    """The lines themselves (cumulative None), or len(lines) lines drawn with replacement by line_weights."""
    if cumulative is None:
        return lines
    draws = np.random.default_rng([seed, 7]).random(len(lines))
    return [lines[i] for i in pick_lines(cumulative, draws)]


def hf_stream_bpc(model, lines: list[str], tokenizer) -> tuple[float, float, int]:
    """stream_bpc of a transformers GPT2LMHeadModel (eval mode during the measurement)."""
    model.eval()
    token_lines = [enc.ids for enc in tokenizer.encode_batch(lines, add_special_tokens=False)]
    result = stream_bpc(lambda ids: model(ids).logits, token_lines, text_chars(lines))
    model.train()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="Train the bundled GPT-2-layout decoder.")
    parser.add_argument("--name", default="main", help="run folder under runs/decoder/")
    parser.add_argument("--design", choices=["scratch", "minilm"], default="minilm")
    parser.add_argument("--minutes", type=float, default=60.0, help="wall budget of this invocation")
    parser.add_argument("--plan-minutes", type=float, default=None, help="LR schedule length in minutes")
    parser.add_argument("--steps", type=int, default=None, help="total steps of the LR schedule (overrides)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--lr", type=float, default=None, help="peak LR (default 1e-3 scratch, 3e-4 minilm)")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--init", choices=["design", "shipped"], default="design",
                        help="start from the design's initialisation or from the shipped bundled weights")
    parser.add_argument("--init-run", default=None,
                        help="start a new run from the weights of runs/decoder/<INIT_RUN>/ckpt.pt (fresh optimizer)")
    add_weight_options(parser)
    parser.add_argument("--eval-lines", type=int, default=600, help="valid lines used for the periodic bpc")
    add_run_options(parser, eval_every=250)
    args = parser.parse_args()

    run_dir, ckpt_path, ckpt = open_run(args, "decoder", ("design", "batch_size", "seq_len", "lr", "warmup", "seed"))
    if args.lr is None:
        args.lr = 1e-3 if args.design == "scratch" else 3e-4

    cumulative = line_weights(corpus_lines("train"), args.gloss_weight, args.ding_weight, args.phrase_weight)
    stream = token_stream(weighted_lines(tokenized_corpus("train"), cumulative, args.seed))
    valid_lines = corpus_lines("valid")[:args.eval_lines]
    tokenizer = load_tokenizer()
    model = build_model(args.design)
    if args.init == "shipped" and ckpt is None:
        load_shipped(model)
    if args.init_run and ckpt is None:
        model.load_state_dict(torch.load(run_dir.parent / args.init_run / "ckpt.pt", weights_only=False)["model"])
        model.tie_weights()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"design {args.design}: {n_params:,} parameters; train stream {len(stream):,} tokens")
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    for group in optimizer.param_groups:
        group["peak"] = args.lr
    rng = np.random.default_rng(args.seed)
    step, total_steps, tokens_seen, elapsed = 0, args.steps, 0, 0.0
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        model.tie_weights()
        optimizer.load_state_dict(ckpt["optimizer"])
        for group in optimizer.param_groups:
            group.setdefault("peak", args.lr)  # checkpoints written before the shared loop lack it
        rng.bit_generator.state = ckpt["np_rng"]
        step, tokens_seen, elapsed = ckpt["step"], ckpt["tokens_seen"], ckpt["elapsed"]
        # --plan-minutes on a resume: a new schedule measured from this invocation's speed
        total_steps = args.steps or (None if args.plan_minutes else ckpt["total_steps"])
        print(f"resumed at step {step}/{total_steps}, {elapsed / 60:.1f} min trained")
    else:
        bpc0, _, _ = hf_stream_bpc(model, valid_lines, tokenizer)
        print(f"step 0: valid bpc {bpc0:.3f}", flush=True)

    note_invocation(run_dir, step)
    log = CsvLog(run_dir / "log.csv", ["step", "minutes", "lr", "train_loss", "valid_loss", "valid_bpc", "tokens_seen"])
    progress = {"step": step, "total_steps": total_steps, "tokens_seen": tokens_seen, "timer": Timer(elapsed)}

    def train_step():
        starts = rng.integers(0, len(stream) - args.seq_len - 1, size=args.batch_size)
        batch = torch.from_numpy(np.stack([stream[s:s + args.seq_len + 1] for s in starts]).astype(np.int64))
        logits = model(batch[:, :-1]).logits  # [batch, pos, vocab]
        loss = F.cross_entropy(logits.reshape(-1, VOCAB_SIZE), batch[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss.item(), args.batch_size * args.seq_len

    def evaluate():
        bpc, nats, _ = hf_stream_bpc(model, valid_lines, tokenizer)
        return {"valid_bpc": round(bpc, 4), "valid_loss": round(nats, 4)}

    def save():
        save_checkpoint(ckpt_path, {
            "args": vars(args), "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "np_rng": rng.bit_generator.state, "step": progress["step"], "total_steps": progress["total_steps"],
            "tokens_seen": progress["tokens_seen"], "elapsed": progress["timer"].seconds(),
            "config": model.config.to_dict()})

    model.train()
    final = training_loop(args, progress, optimizer, train_step, evaluate, save, log)
    summary = {"step": progress["step"], "total_steps": progress["total_steps"], "tokens_seen": progress["tokens_seen"],
               "minutes": progress["timer"].seconds() / 60, "valid_bpc_first_lines": final["valid_bpc"],
               "valid_loss": final["valid_loss"], "eval_lines": len(valid_lines), "args": vars(args)}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")

if __name__ == "__main__":
    main()
