"""Whisper in CTranslate2 format (``model.bin``) turned into a transformers model.

The bundled Whisper weights ship as CTranslate2 (faster-whisper) folders, and
we run them with transformers so the same model works on CPU and CUDA without
the CTranslate2 runtime. This module has three parts:

* ``read_ct2_model``: a reader for the ``model.bin`` binary format, which can
  read a file split in several parts as one stream;
* ``convert_ct2_whisper``: maps the variables onto
  ``WhisperForConditionalGeneration`` and writes a complete transformers folder
  (safetensors, tokenizer, feature extractor, generation config);
* ``ensure_converted``: does that once into a cache folder, atomically, keyed
  by the sha256 of the source files, so later loads skip the conversion.

The format (little-endian), as written by CTranslate2's ``model_spec.py``:
u32 binary version; (version >= 2) a string spec name and u32 spec revision;
u32 variable count; per variable a string name, u8 rank, rank x u32 dims, then
(version >= 4) u8 dtype code and u32 byte count, or (older) u8 item size and
u32 element count, then the raw data; (version >= 3) u32 alias count and pairs
of strings (alias, target). A string is a u16 length that counts a trailing NUL.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import torch

from .converted_cache import ensure_converted_folder

MAX_BINARY_VERSION = 6
"""The newest CTranslate2 binary version this reader understands."""

CONVERTER_VERSION = 1
"""Bumped whenever the conversion changes, so stale cache folders are rebuilt."""


# CTranslate2's DataType enum. int8/int16 weights come with a "<name>_scale".
_DTYPES: dict[int, torch.dtype] = {
    0: torch.float32,
    1: torch.int8,
    2: torch.int16,
    3: torch.int32,
    4: torch.float16,
    5: torch.bfloat16,
}
# Binary versions < 4 stored an item size instead of a dtype code.
_DTYPE_BY_ITEM_SIZE: dict[int, torch.dtype] = {4: torch.float32, 2: torch.int16, 1: torch.int8}
# CTranslate2's ActivationType enum -> transformers activation names.
_ACTIVATIONS = {0: "relu", 1: "gelu_new", 2: "silu", 3: "gelu"}


class CT2FormatError(ValueError):
    """The file is not a CTranslate2 model this reader (or converter) understands."""


@dataclass
class CT2Model:
    """The contents of a CTranslate2 ``model.bin``: named tensors plus aliases."""

    binary_version: int
    spec: str
    revision: int
    variables: dict[str, torch.Tensor]
    aliases: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> torch.Tensor:
        """A variable by name, following aliases (``decoder/projection/weight`` ...)."""
        target = self.aliases.get(name, name)
        try:
            return self.variables[target]
        except KeyError:
            raise CT2FormatError(f"The CTranslate2 model has no variable '{name}'.") from None

    def has(self, name: str) -> bool:
        return self.aliases.get(name, name) in self.variables

    def scalar(self, name: str) -> int:
        """A rank-0 attribute such as ``encoder/num_heads``, as an int."""
        return int(self.get(name).item())

    def float_tensor(self, name: str) -> torch.Tensor:
        """A weight as a float tensor; int8/int16 weights are dequantized with their scale.

        CTranslate2 quantizes as ``q = round(w * scale)`` (scale = 127 / max|row|
        for int8, one scale per output row), so the float weight is ``q / scale``.
        """
        value = self.get(name)
        if value.is_floating_point():
            return value
        scale_name = name + "_scale"
        if not self.has(scale_name):
            raise CT2FormatError(f"The quantized variable '{name}' has no '{scale_name}'.")
        scale = self.get(scale_name).to(torch.float32)
        if scale.dim() == 1:  # one scale per output row: broadcast over the other dims
            scale = scale.reshape(-1, *([1] * (value.dim() - 1)))
        return value.to(torch.float32) / scale


class _PartsReader:
    """Reads several files back to back as one stream (a model.bin split in parts)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = list(paths)
        self._index = 0
        self._fh: IO[bytes] | None = None
        self.offset = 0

    def __enter__(self) -> _PartsReader:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def read(self, size: int) -> bytearray:
        """Exactly ``size`` bytes (into a writable buffer torch can wrap), or an error."""
        out = bytearray(size)
        view = memoryview(out)
        filled = 0
        while filled < size:
            if self._fh is None:
                if self._index >= len(self._paths):
                    raise CT2FormatError(
                        f"model.bin is truncated: needed {size} bytes at offset "
                        f"{self.offset}, got {filled}."
                    )
                self._fh = self._paths[self._index].open("rb")
            got = self._fh.readinto(view[filled:])
            if not got:
                self._fh.close()
                self._fh = None
                self._index += 1
                continue
            filled += got
        self.offset += size
        return out

    def at_end(self) -> bool:
        """Whether every byte of every part has been read."""
        if self._fh is not None:
            if self._fh.read(1):
                return False
            rest = self._paths[self._index + 1 :]
        else:
            rest = self._paths[self._index :]
        return all(p.stat().st_size == 0 for p in rest)

    def u8(self) -> int:
        return self.read(1)[0]

    def u16(self) -> int:
        return struct.unpack("<H", self.read(2))[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.read(4))[0]

    def string(self) -> str:
        raw = self.read(self.u16())
        return bytes(raw).rstrip(b"\0").decode("utf-8")


def read_ct2_model(paths: Path | Sequence[Path]) -> CT2Model:
    """Read a CTranslate2 ``model.bin`` (or its parts, in order) into tensors.

    Tensors are returned in their stored dtype; ``CT2Model.float_tensor``
    dequantizes int8/int16 weights.
    """
    parts = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    with _PartsReader(parts) as reader:
        version = reader.u32()
        if not 2 <= version <= MAX_BINARY_VERSION:
            raise CT2FormatError(
                f"Unsupported CTranslate2 binary version {version} (supported: 2 to "
                f"{MAX_BINARY_VERSION}); is this a CTranslate2 model.bin?"
            )
        spec = reader.string()
        revision = reader.u32()
        variables: dict[str, torch.Tensor] = {}
        for _ in range(reader.u32()):
            name = reader.string()
            rank = reader.u8()
            shape = struct.unpack(f"<{rank}I", reader.read(4 * rank)) if rank else ()
            if version >= 4:
                code = reader.u8()
                if code not in _DTYPES:
                    raise CT2FormatError(f"Variable '{name}' has unknown dtype code {code}.")
                dtype, num_bytes = _DTYPES[code], reader.u32()
            else:
                item_size = reader.u8()
                dtype = _DTYPE_BY_ITEM_SIZE[item_size]
                num_bytes = reader.u32() * item_size
            expected = _numel(shape) * torch.empty((), dtype=dtype).element_size()
            if num_bytes != expected:
                raise CT2FormatError(
                    f"Variable '{name}' of shape {shape} and dtype {dtype} should hold "
                    f"{expected} bytes but declares {num_bytes}."
                )
            data = reader.read(num_bytes)
            tensor = (
                torch.frombuffer(data, dtype=dtype) if num_bytes else torch.empty(0, dtype=dtype)
            )
            variables[name] = tensor.reshape(shape)
        aliases: dict[str, str] = {}
        if version >= 3:
            for _ in range(reader.u32()):
                alias = reader.string()
                aliases[alias] = reader.string()
        if not reader.at_end():
            raise CT2FormatError("model.bin has trailing bytes after its aliases; wrong parts?")
    return CT2Model(version, spec, revision, variables, aliases)


def _numel(shape: Sequence[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


# --------------------------------------------------------------------------- weights
def _layer_count(ct2: CT2Model, prefix: str) -> int:
    pattern = re.compile(rf"^{prefix}/layer_(\d+)/")
    found = {int(m.group(1)) for name in ct2.variables if (m := pattern.match(name))}
    if not found or found != set(range(max(found) + 1)):
        raise CT2FormatError(f"The {prefix} layers in model.bin are missing or not contiguous.")
    return len(found)


def _attention(
    ct2: CT2Model, src: str, dst: str, out: dict[str, torch.Tensor], fused_qkv: bool
) -> None:
    """Split CTranslate2's fused attention projections into q/k/v/out.

    Self-attention fuses q,k,v in ``linear_0``; cross-attention keeps q in
    ``linear_0`` and fuses k,v in ``linear_1``. Whisper's k projection has no
    bias, so CTranslate2 stored zeros there, which we drop.
    """
    if fused_qkv:
        q_w, k_w, v_w = ct2.float_tensor(f"{src}/linear_0/weight").chunk(3, dim=0)
        q_b, _k_b, v_b = ct2.get(f"{src}/linear_0/bias").chunk(3, dim=0)
        out_name = f"{src}/linear_1"
    else:
        q_w, q_b = ct2.float_tensor(f"{src}/linear_0/weight"), ct2.get(f"{src}/linear_0/bias")
        k_w, v_w = ct2.float_tensor(f"{src}/linear_1/weight").chunk(2, dim=0)
        _k_b, v_b = ct2.get(f"{src}/linear_1/bias").chunk(2, dim=0)
        out_name = f"{src}/linear_2"
    out[f"{dst}.q_proj.weight"], out[f"{dst}.q_proj.bias"] = q_w, q_b
    out[f"{dst}.k_proj.weight"] = k_w
    out[f"{dst}.v_proj.weight"], out[f"{dst}.v_proj.bias"] = v_w, v_b
    out[f"{dst}.out_proj.weight"] = ct2.float_tensor(f"{out_name}/weight")
    out[f"{dst}.out_proj.bias"] = ct2.get(f"{out_name}/bias")


def _linear(ct2: CT2Model, src: str, dst: str, out: dict[str, torch.Tensor]) -> None:
    out[f"{dst}.weight"] = ct2.float_tensor(f"{src}/weight")
    out[f"{dst}.bias"] = ct2.get(f"{src}/bias")


def _norm(ct2: CT2Model, src: str, dst: str, out: dict[str, torch.Tensor]) -> None:
    out[f"{dst}.weight"] = ct2.get(f"{src}/gamma")
    out[f"{dst}.bias"] = ct2.get(f"{src}/beta")


def ct2_whisper_state_dict(ct2: CT2Model) -> dict[str, torch.Tensor]:
    """The ``WhisperForConditionalGeneration`` state dict of a CTranslate2 WhisperSpec.

    ``proj_out.weight`` is left out: it is tied to the decoder token embeddings
    (CTranslate2 stores it as an alias of them).
    """
    if ct2.spec != "WhisperSpec":
        raise CT2FormatError(f"Expected a WhisperSpec model, got '{ct2.spec}'.")
    out: dict[str, torch.Tensor] = {}
    enc, dec = "model.encoder", "model.decoder"
    for i in (1, 2):
        _linear(ct2, f"encoder/conv{i}", f"{enc}.conv{i}", out)
    out[f"{enc}.embed_positions.weight"] = ct2.get("encoder/position_encodings/encodings")
    for i in range(_layer_count(ct2, "encoder")):
        src, dst = f"encoder/layer_{i}", f"{enc}.layers.{i}"
        _attention(ct2, f"{src}/self_attention", f"{dst}.self_attn", out, fused_qkv=True)
        _norm(ct2, f"{src}/self_attention/layer_norm", f"{dst}.self_attn_layer_norm", out)
        _linear(ct2, f"{src}/ffn/linear_0", f"{dst}.fc1", out)
        _linear(ct2, f"{src}/ffn/linear_1", f"{dst}.fc2", out)
        _norm(ct2, f"{src}/ffn/layer_norm", f"{dst}.final_layer_norm", out)
    _norm(ct2, "encoder/layer_norm", f"{enc}.layer_norm", out)

    out[f"{dec}.embed_tokens.weight"] = ct2.float_tensor("decoder/embeddings/weight")
    out[f"{dec}.embed_positions.weight"] = ct2.get("decoder/position_encodings/encodings")
    for i in range(_layer_count(ct2, "decoder")):
        src, dst = f"decoder/layer_{i}", f"{dec}.layers.{i}"
        _attention(ct2, f"{src}/self_attention", f"{dst}.self_attn", out, fused_qkv=True)
        _norm(ct2, f"{src}/self_attention/layer_norm", f"{dst}.self_attn_layer_norm", out)
        _attention(ct2, f"{src}/attention", f"{dst}.encoder_attn", out, fused_qkv=False)
        _norm(ct2, f"{src}/attention/layer_norm", f"{dst}.encoder_attn_layer_norm", out)
        _linear(ct2, f"{src}/ffn/linear_0", f"{dst}.fc1", out)
        _linear(ct2, f"{src}/ffn/linear_1", f"{dst}.fc2", out)
        _norm(ct2, f"{src}/ffn/layer_norm", f"{dst}.final_layer_norm", out)
    _norm(ct2, "decoder/layer_norm", f"{dec}.layer_norm", out)
    return out


# --------------------------------------------------------------------------- configs
@dataclass(frozen=True)
class WhisperTokens:
    """The special token ids a Whisper vocabulary defines (they differ for .en models)."""

    eot: int
    sot: int
    translate: int
    transcribe: int
    sot_prev: int
    no_speech: int
    no_timestamps: int
    lang_to_id: dict[str, int]  # "<|en|>" -> id; empty for English-only models

    @property
    def timestamp_begin(self) -> int:
        """Id of ``<|0.00|>``: timestamps follow ``<|notimestamps|>`` in every Whisper vocab."""
        return self.no_timestamps + 1


def _special_tokens(tokenizer_json: dict[str, Any]) -> dict[str, int]:
    return {t["content"]: t["id"] for t in tokenizer_json["added_tokens"] if t.get("special")}


def whisper_tokens(
    tokenizer_json: dict[str, Any], ct2_config: dict[str, Any], multilingual: bool
) -> WhisperTokens:
    """Token ids looked up by name in tokenizer.json, never hard-coded per model size."""
    special = _special_tokens(tokenizer_json)

    def need(*names: str) -> int:
        for name in names:
            if name in special:
                return special[name]
        raise CT2FormatError(f"tokenizer.json lacks the special token {names[0]}.")

    lang_to_id: dict[str, int] = {}
    if multilingual:
        by_id = {v: k for k, v in special.items()}
        lang_to_id = {by_id[i]: i for i in ct2_config.get("lang_ids", []) if i in by_id}
        if not lang_to_id:
            raise CT2FormatError("config.json lists no language tokens for a multilingual model.")
    return WhisperTokens(
        eot=need("<|endoftext|>"),
        sot=need("<|startoftranscript|>"),
        translate=need("<|translate|>"),
        transcribe=need("<|transcribe|>"),
        sot_prev=need("<|startofprev|>"),
        no_speech=need("<|nospeech|>", "<|nocaptions|>"),
        no_timestamps=need("<|notimestamps|>"),
        lang_to_id=lang_to_id,
    )


def build_whisper_config(ct2: CT2Model, ct2_config: dict[str, Any], tokens: WhisperTokens):
    """A ``WhisperConfig`` whose sizes are read from the weights themselves."""
    from transformers import WhisperConfig

    alibi = ct2.has("decoder/alibi") and ct2.scalar("decoder/alibi")
    if ct2.scalar("decoder/pre_norm") != 1 or alibi:
        raise CT2FormatError("This is not a standard Whisper model (pre-norm, no ALiBi).")
    activation = ct2.scalar("decoder/activation") if ct2.has("decoder/activation") else 3
    if activation not in _ACTIVATIONS:
        raise CT2FormatError(f"Unknown CTranslate2 activation code {activation}.")
    vocab_size, d_model = ct2.get("decoder/embeddings/weight").shape
    conv1 = ct2.get("encoder/conv1/weight")
    return WhisperConfig(
        vocab_size=int(vocab_size),
        num_mel_bins=int(conv1.shape[1]),
        d_model=int(d_model),
        encoder_layers=_layer_count(ct2, "encoder"),
        decoder_layers=_layer_count(ct2, "decoder"),
        encoder_attention_heads=ct2.scalar("encoder/num_heads"),
        decoder_attention_heads=ct2.scalar("decoder/num_heads"),
        encoder_ffn_dim=int(ct2.get("encoder/layer_0/ffn/linear_0/weight").shape[0]),
        decoder_ffn_dim=int(ct2.get("decoder/layer_0/ffn/linear_0/weight").shape[0]),
        max_source_positions=int(ct2.get("encoder/position_encodings/encodings").shape[0]),
        max_target_positions=int(ct2.get("decoder/position_encodings/encodings").shape[0]),
        activation_function=_ACTIVATIONS[activation],
        scale_embedding=bool(ct2.scalar("decoder/scale_embeddings"))
        if ct2.has("decoder/scale_embeddings")
        else False,
        pad_token_id=tokens.eot,
        bos_token_id=tokens.eot,
        eos_token_id=tokens.eot,
        decoder_start_token_id=tokens.sot,
        suppress_tokens=list(ct2_config.get("suppress_ids", [])),
        begin_suppress_tokens=list(ct2_config.get("suppress_ids_begin", [220, tokens.eot])),
        tie_word_embeddings=True,
    )


def build_generation_config(config: Any, ct2_config: dict[str, Any], tokens: WhisperTokens):
    """The ``GenerationConfig`` Whisper's ``generate`` needs for language, task and timestamps."""
    from transformers import GenerationConfig

    multilingual = bool(tokens.lang_to_id)
    gen = GenerationConfig(
        decoder_start_token_id=tokens.sot,
        bos_token_id=tokens.eot,
        eos_token_id=tokens.eot,
        pad_token_id=tokens.eot,
        max_length=config.max_target_positions,
        suppress_tokens=list(config.suppress_tokens or []),
        begin_suppress_tokens=list(config.begin_suppress_tokens or []),
        alignment_heads=[list(pair) for pair in ct2_config.get("alignment_heads", [])],
        no_timestamps_token_id=tokens.no_timestamps,
        prev_sot_token_id=tokens.sot_prev,
        # OpenAI's decoder allows the first timestamp up to 1.0 s (50 x 20 ms).
        max_initial_timestamp_index=50,
        is_multilingual=multilingual,
        return_timestamps=False,
    )
    if multilingual:
        gen.lang_to_id = dict(tokens.lang_to_id)
        gen.task_to_id = {"transcribe": tokens.transcribe, "translate": tokens.translate}
    return gen


def build_tokenizer(tokenizer_file: Path, vocab_size: int):
    """``WhisperTokenizerFast`` from tokenizer.json, completed with timestamp tokens.

    The special tokens are registered as such, in file order: the tokenizer
    finds the first timestamp id as "last special id + 1". The 1501 timestamp
    tokens ``<|0.00|>`` ... ``<|30.00|>`` are added so the vocabulary matches
    the model's output size, as in current Hugging Face Whisper tokenizers.
    """
    from tokenizers import AddedToken
    from transformers import WhisperTokenizerFast

    data = json.loads(Path(tokenizer_file).read_text(encoding="utf-8"))
    specials = [
        t["content"]
        for t in sorted(data["added_tokens"], key=lambda t: t["id"])
        if t.get("special")
    ]
    tokenizer = WhisperTokenizerFast(
        tokenizer_file=str(tokenizer_file),
        extra_special_tokens=specials,
        model_max_length=1024,
    )
    missing = vocab_size - len(tokenizer)
    if missing > 0:
        stamps = [
            AddedToken(
                f"<|{i * 0.02:.2f}|>", lstrip=False, rstrip=False, normalized=False, special=False
            )
            for i in range(missing)
        ]
        tokenizer.add_tokens(stamps)
    if len(tokenizer) != vocab_size:
        raise CT2FormatError(
            f"tokenizer.json gives {len(tokenizer)} tokens but the model has {vocab_size}."
        )
    return tokenizer


# --------------------------------------------------------------------------- convert
@dataclass(frozen=True)
class CT2WhisperSource:
    """The files of one CTranslate2 Whisper model, with their pinned sha256 values."""

    model_parts: tuple[Path, ...]  # model.bin, or its parts in order
    config_json: Path
    tokenizer_json: Path
    sha256: tuple[str, ...]  # of every file above; keys the cache

    def fingerprint(self) -> dict[str, Any]:
        return {"converter": CONVERTER_VERSION, "sha256": list(self.sha256)}


def convert_ct2_whisper(source: CT2WhisperSource, out_dir: Path) -> dict[str, Any]:
    """Convert a CTranslate2 Whisper model into a transformers folder at ``out_dir``.

    Writes the model (safetensors, in fp16 when the source is fp16, which is
    lossless), tokenizer, feature extractor and generation config. Returns facts
    about the conversion (parameter count, source dtypes) for the marker file.
    """
    from transformers import (
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
    )

    ct2 = read_ct2_model(source.model_parts)
    ct2_config = json.loads(source.config_json.read_text(encoding="utf-8"))
    tokenizer_json = json.loads(source.tokenizer_json.read_text(encoding="utf-8"))
    vocab_size = int(ct2.get("decoder/embeddings/weight").shape[0])
    # OpenAI's rule: multilingual vocabularies have 51865 tokens or more; .en have 51864.
    multilingual = vocab_size >= 51865
    tokens = whisper_tokens(tokenizer_json, ct2_config, multilingual)
    config = build_whisper_config(ct2, ct2_config, tokens)
    state = ct2_whisper_state_dict(ct2)
    stored = {str(v.dtype).removeprefix("torch.") for v in ct2.variables.values() if v.dim()}
    # Keep fp16/bf16 sources in their own precision; dequantized int8 needs fp32.
    save_dtype = {"float16": torch.float16, "bfloat16": torch.bfloat16}.get(
        next(iter(stored)) if len(stored) == 1 else "", torch.float32
    )

    model = WhisperForConditionalGeneration(config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {"proj_out.weight"}:
        raise CT2FormatError(
            f"Weight mapping mismatch: missing {missing}, unexpected {unexpected}."
        )
    model.tie_weights()
    model.generation_config = build_generation_config(config, ct2_config, tokens)
    model.to(save_dtype).save_pretrained(out_dir, safe_serialization=True)

    tokenizer = build_tokenizer(source.tokenizer_json, vocab_size)
    features = WhisperFeatureExtractor(feature_size=config.num_mel_bins)
    WhisperProcessor(feature_extractor=features, tokenizer=tokenizer).save_pretrained(out_dir)
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "source_dtypes": sorted(stored),
        "saved_dtype": str(save_dtype).removeprefix("torch."),
        "multilingual": multilingual,
    }


def ensure_converted(name: str, source: CT2WhisperSource, cache_dir: Path) -> Path:
    """The cached transformers folder for ``source``, converting it first if needed.

    The folder is built in a temporary sibling and renamed into place, so a
    crash never leaves a half-written model, and a marker file records which
    source files (by sha256) and converter version produced it.
    """
    return ensure_converted_folder(
        cache_dir, name, source.fingerprint(), lambda out_dir: convert_ct2_whisper(source, out_dir)
    )
