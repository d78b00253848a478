"""The CTranslate2 model.bin reader and the Whisper converter.

The unit tests write small model.bin files with an independent writer that
follows the published layout, then read them back. The last tests check the
real converted Whisper models against their source files, bit for bit.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

import shared_models.speech_recognition as speech  # registers the speech models
from shared_models.converted_cache import MARKER_FILE
from shared_models.whisper_ct2 import (
    CT2FormatError,
    ct2_whisper_state_dict,
    read_ct2_model,
)

# CTranslate2 dtype codes and the numpy types of their raw data.
F32, I8, I16, F16 = 0, 1, 2, 4
_NP = {F32: np.float32, I8: np.int8, I16: np.int16, F16: np.float16}


def _string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def write_ct2(
    variables: dict[str, tuple[int, np.ndarray]],
    aliases: dict[str, str] | None = None,
    spec: str = "WhisperSpec",
    version: int = 6,
) -> bytes:
    """A model.bin as CTranslate2's model_spec.py writes it (version >= 4 layout)."""
    out = [struct.pack("<I", version), _string(spec), struct.pack("<I", 3)]
    out.append(struct.pack("<I", len(variables)))
    for name, (code, value) in variables.items():
        data = np.array(value, dtype=_NP[code], order="C")  # keeps rank 0, unlike ascontiguousarray
        out += [_string(name), struct.pack("<B", data.ndim)]
        out.append(struct.pack(f"<{data.ndim}I", *data.shape))
        out += [struct.pack("<B", code), struct.pack("<I", data.nbytes), data.tobytes()]
    aliases = aliases or {}
    out.append(struct.pack("<I", len(aliases)))
    for alias, target in aliases.items():
        out += [_string(alias), _string(target)]
    return b"".join(out)


@pytest.fixture
def small_model() -> dict[str, tuple[int, np.ndarray]]:
    rng = np.random.default_rng(0)
    q = rng.integers(-127, 128, size=(3, 4), dtype=np.int8)
    return {
        "decoder/embeddings/weight": (F16, rng.standard_normal((5, 4)).astype(np.float16)),
        "encoder/conv1/bias": (F32, np.array([1.5, -2.0, 3.25], np.float32)),
        "encoder/layer_0/ffn/linear_0/weight": (I8, q),
        "encoder/layer_0/ffn/linear_0/weight_scale": (
            F32,
            np.array([127.0, 63.5, 2.0], np.float32),
        ),
        "decoder/num_heads": (I16, np.array(8, np.int16)),
        "encoder/conv1/weight": (I8, rng.integers(-127, 128, size=(2, 3, 3), dtype=np.int8)),
        "encoder/conv1/weight_scale": (F32, np.array([10.0, 0.5], np.float32)),
    }


def test_reads_names_shapes_values_and_aliases(tmp_path: Path, small_model) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(
        write_ct2(small_model, {"decoder/projection/weight": "decoder/embeddings/weight"})
    )

    ct2 = read_ct2_model(path)

    assert (ct2.binary_version, ct2.spec, ct2.revision) == (6, "WhisperSpec", 3)
    assert set(ct2.variables) == set(small_model)
    for name, (_code, value) in small_model.items():
        got = ct2.variables[name]
        assert tuple(got.shape) == value.shape
        assert np.array_equal(got.numpy(), value), name
    assert ct2.variables["decoder/embeddings/weight"].dtype == torch.float16
    assert ct2.scalar("decoder/num_heads") == 8
    # The alias resolves to the very same tensor (tied output projection).
    assert ct2.get("decoder/projection/weight") is ct2.get("decoder/embeddings/weight")


def test_int8_weights_are_dequantized_with_their_row_scale(tmp_path: Path, small_model) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(write_ct2(small_model))
    ct2 = read_ct2_model(path)

    weight = ct2.float_tensor("encoder/layer_0/ffn/linear_0/weight")

    q = small_model["encoder/layer_0/ffn/linear_0/weight"][1].astype(np.float32)
    scale = small_model["encoder/layer_0/ffn/linear_0/weight_scale"][1]
    assert weight.dtype == torch.float32
    np.testing.assert_allclose(weight.numpy(), q / scale[:, None], rtol=1e-6)
    # A 3-D (conv) weight gets its per-output-channel scale broadcast over the rest.
    conv = ct2.float_tensor("encoder/conv1/weight").numpy()
    q3 = small_model["encoder/conv1/weight"][1].astype(np.float32)
    np.testing.assert_allclose(conv, q3 / np.array([10.0, 0.5])[:, None, None], rtol=1e-6)


def test_a_file_split_anywhere_reads_as_one_stream(tmp_path: Path, small_model) -> None:
    blob = write_ct2(small_model, {"decoder/projection/weight": "decoder/embeddings/weight"})
    cuts = [0, 7, 60, len(blob) - 3, len(blob)]  # inside the header, inside data, near the end
    parts = []
    for i, (a, b) in enumerate(zip(cuts, cuts[1:], strict=False)):
        part = tmp_path / f"model.bin.part{i}"
        part.write_bytes(blob[a:b])
        parts.append(part)
    whole = tmp_path / "model.bin"
    whole.write_bytes(blob)

    joined, single = read_ct2_model(parts), read_ct2_model(whole)

    assert joined.aliases == single.aliases
    for name, value in single.variables.items():
        assert torch.equal(joined.variables[name], value)


def test_truncated_or_foreign_files_are_refused(tmp_path: Path, small_model) -> None:
    blob = write_ct2(small_model)
    (tmp_path / "short.bin").write_bytes(blob[:-10])
    (tmp_path / "long.bin").write_bytes(blob + b"extra")
    (tmp_path / "other.bin").write_bytes(b"GGUF" + blob[4:])

    with pytest.raises(CT2FormatError, match="truncated"):
        read_ct2_model(tmp_path / "short.bin")
    with pytest.raises(CT2FormatError, match="trailing"):
        read_ct2_model(tmp_path / "long.bin")
    with pytest.raises(CT2FormatError, match="binary version"):
        read_ct2_model(tmp_path / "other.bin")


def _tiny_whisper_as_ct2(model) -> dict[str, tuple[int, np.ndarray]]:
    """Write a transformers Whisper's weights in CTranslate2's layout (fused q,k,v)."""
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    cfg = model.config
    out: dict[str, tuple[int, np.ndarray]] = {}

    def put(name: str, value: np.ndarray) -> None:
        out[name] = (F32, value)

    def attention(src: str, dst: str, cross: bool) -> None:
        q, k, v, o = (f"{src}.{p}_proj" for p in ("q", "k", "v", "out"))
        zeros = np.zeros_like(sd[f"{q}.bias"])  # Whisper's k projection has no bias
        if cross:
            put(f"{dst}/linear_0/weight", sd[f"{q}.weight"])
            put(f"{dst}/linear_0/bias", sd[f"{q}.bias"])
            put(f"{dst}/linear_1/weight", np.concatenate([sd[f"{k}.weight"], sd[f"{v}.weight"]]))
            put(f"{dst}/linear_1/bias", np.concatenate([zeros, sd[f"{v}.bias"]]))
            put(f"{dst}/linear_2/weight", sd[f"{o}.weight"])
            put(f"{dst}/linear_2/bias", sd[f"{o}.bias"])
        else:
            fused = [sd[f"{q}.weight"], sd[f"{k}.weight"], sd[f"{v}.weight"]]
            put(f"{dst}/linear_0/weight", np.concatenate(fused))
            put(f"{dst}/linear_0/bias", np.concatenate([sd[f"{q}.bias"], zeros, sd[f"{v}.bias"]]))
            put(f"{dst}/linear_1/weight", sd[f"{o}.weight"])
            put(f"{dst}/linear_1/bias", sd[f"{o}.bias"])

    def norm(src: str, dst: str) -> None:
        put(f"{dst}/gamma", sd[f"{src}.weight"])
        put(f"{dst}/beta", sd[f"{src}.bias"])

    def linear(src: str, dst: str) -> None:
        put(f"{dst}/weight", sd[f"{src}.weight"])
        put(f"{dst}/bias", sd[f"{src}.bias"])

    for side, n in (("encoder", cfg.encoder_layers), ("decoder", cfg.decoder_layers)):
        for i in range(n):
            src, dst = f"model.{side}.layers.{i}", f"{side}/layer_{i}"
            attention(f"{src}.self_attn", f"{dst}/self_attention", cross=False)
            norm(f"{src}.self_attn_layer_norm", f"{dst}/self_attention/layer_norm")
            if side == "decoder":
                attention(f"{src}.encoder_attn", f"{dst}/attention", cross=True)
                norm(f"{src}.encoder_attn_layer_norm", f"{dst}/attention/layer_norm")
            linear(f"{src}.fc1", f"{dst}/ffn/linear_0")
            linear(f"{src}.fc2", f"{dst}/ffn/linear_1")
            norm(f"{src}.final_layer_norm", f"{dst}/ffn/layer_norm")
        norm(f"model.{side}.layer_norm", f"{side}/layer_norm")
        put(f"{side}/position_encodings/encodings", sd[f"model.{side}.embed_positions.weight"])
    linear("model.encoder.conv1", "encoder/conv1")
    linear("model.encoder.conv2", "encoder/conv2")
    put("decoder/embeddings/weight", sd["model.decoder.embed_tokens.weight"])
    out["decoder/num_heads"] = (I16, np.array(cfg.decoder_attention_heads, np.int16))
    out["encoder/num_heads"] = (I16, np.array(cfg.encoder_attention_heads, np.int16))
    out["decoder/pre_norm"] = (I8, np.array(1, np.int8))
    out["decoder/activation"] = (I8, np.array(3, np.int8))
    return out


def test_weight_mapping_inverts_ctranslate2_fusion(tmp_path: Path) -> None:
    """A random tiny Whisper written in CT2 layout maps back onto its own state dict."""
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    torch.manual_seed(0)
    config = WhisperConfig(
        vocab_size=64, num_mel_bins=8, d_model=16, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
        decoder_ffn_dim=32, max_source_positions=10, max_target_positions=12,
        pad_token_id=60, bos_token_id=60, eos_token_id=60, decoder_start_token_id=61,
    )  # fmt: skip
    model = WhisperForConditionalGeneration(config).eval()
    path = tmp_path / "model.bin"
    path.write_bytes(
        write_ct2(
            _tiny_whisper_as_ct2(model), {"decoder/projection/weight": "decoder/embeddings/weight"}
        )
    )

    mapped = ct2_whisper_state_dict(read_ct2_model(path))

    expected = {k: v for k, v in model.state_dict().items() if k != "proj_out.weight"}
    assert set(mapped) == set(expected)
    for name, value in expected.items():
        assert torch.equal(mapped[name], value), name


# ------------------------------------------------------------------ real bundled models
@pytest.mark.slow
@pytest.mark.parametrize(
    ("model_name", "parameters", "multilingual", "start", "no_timestamps"),
    [
        ("whisper-base", 72_593_920, True, 50258, 50363),
        ("whisper-tiny.en", 37_760_256, False, 50257, 50362),
    ],
)
def test_converted_model_matches_its_ctranslate2_source(
    manager,
    settings,
    model_name: str,
    parameters: int,
    multilingual: bool,
    start: int,
    no_timestamps: int,
) -> None:
    """Every converted tensor equals its fp16 source exactly; sizes and token ids are right."""
    from safetensors.torch import load_file

    bundled = {"whisper-base": speech.WHISPER_BASE, "whisper-tiny.en": speech.WHISPER_TINY_EN}
    with manager.use(model_name) as runner:
        gen = runner.model.generation_config
    folder = settings.model_cache_dir / model_name
    source = bundled[model_name].source(settings.model_cache_dir)
    ct2 = read_ct2_model(source.model_parts)

    facts = json.loads((folder / MARKER_FILE).read_text())
    assert facts["sha256"] == list(source.sha256)
    assert facts["source_dtypes"] == ["float16"] and facts["saved_dtype"] == "float16"

    saved = load_file(folder / "model.safetensors")
    # Counted on the saved tensors: on CPU the loaded model's linears are int8 and
    # no longer nn.Parameters. The output projection is tied to the embedding.
    saved_parameters = sum(v.numel() for k, v in saved.items() if k != "proj_out.weight")
    assert saved_parameters == parameters  # MODELS.md: 72.59M for base
    mapped = ct2_whisper_state_dict(ct2)
    assert set(mapped) <= set(saved)
    for name, value in mapped.items():
        assert torch.equal(saved[name], value), name

    assert gen.is_multilingual is multilingual
    assert gen.no_timestamps_token_id == no_timestamps
    assert gen.decoder_start_token_id == start
    assert gen.alignment_heads and gen.suppress_tokens and gen.begin_suppress_tokens
    if multilingual:
        assert len(gen.lang_to_id) == 99
        assert gen.lang_to_id["<|en|>"] == 50259 and gen.lang_to_id["<|zh|>"] == 50260
        assert gen.task_to_id == {"transcribe": 50359, "translate": 50358}
