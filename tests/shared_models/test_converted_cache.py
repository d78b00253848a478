"""The converted-weights cache: built once, rebuilt when the source changes, never half-written."""

from __future__ import annotations

import json

import pytest

from shared_models.converted_cache import (
    MARKER_FILE,
    conversion_facts,
    ensure_converted_folder,
    marker_matches,
)


def _writer(calls: list[str], text: str):
    def convert(out_dir):
        calls.append(text)
        (out_dir / "weights.bin").write_text(text)
        return {"parameters": len(text)}

    return convert


def test_a_folder_is_converted_once_and_reused(tmp_path):
    calls: list[str] = []
    wanted = {"sha256": "aaa", "converter": 1}
    first = ensure_converted_folder(tmp_path, "m", wanted, _writer(calls, "v1"))
    again = ensure_converted_folder(tmp_path, "m", wanted, _writer(calls, "v1"))
    assert first == again == tmp_path / "m"
    assert calls == ["v1"]
    assert conversion_facts(first) == {"sha256": "aaa", "converter": 1, "parameters": 2}


def test_a_changed_source_or_converter_rebuilds_the_folder(tmp_path):
    calls: list[str] = []
    ensure_converted_folder(tmp_path, "m", {"sha256": "aaa", "converter": 1}, _writer(calls, "old"))
    folder = ensure_converted_folder(
        tmp_path, "m", {"sha256": "bbb", "converter": 1}, _writer(calls, "new")
    )
    assert calls == ["old", "new"]
    assert (folder / "weights.bin").read_text() == "new"
    assert not marker_matches(folder, {"sha256": "aaa"})


def test_a_failed_conversion_leaves_no_folder_and_no_temporary_files(tmp_path):
    def broken(out_dir):
        (out_dir / "weights.bin").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        ensure_converted_folder(tmp_path, "m", {"sha256": "aaa"}, broken)
    assert list(tmp_path.iterdir()) == []


def test_a_folder_without_a_readable_marker_is_not_trusted(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / MARKER_FILE).write_text("{not json")
    assert not marker_matches(tmp_path / "m", {"sha256": "aaa"})
    calls: list[str] = []
    ensure_converted_folder(tmp_path, "m", {"sha256": "aaa"}, _writer(calls, "v1"))
    assert calls == ["v1"]
    assert json.loads((tmp_path / "m" / MARKER_FILE).read_text())["sha256"] == "aaa"
