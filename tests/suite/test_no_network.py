"""No data leaves the machine: the main flows run with outbound network refused, and none tries.

A child process (``tests.support.offline_flows``) installs a socket guard before any
import, then runs customer service, recommendation, vision, speech, text generation and
embeddings on the real bundled models and builds the server app. ``HF_HUB_OFFLINE`` and
``TRANSFORMERS_OFFLINE`` are removed from its environment, so nothing is held back by
them: if a library wanted to reach a hub, a telemetry endpoint or an update check, the
attempt would be on record. The child also proves the guard bites (a loopback connection
goes through, a public one is refused and recorded as the canary).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from core.settings import PROJECT_ROOT

WAIT_S = 1500  # six real models on two shared cores; a limit on waiting, not an assert


def test_the_main_flows_never_try_to_connect_out(settings, tmp_path):
    attempts_file = tmp_path / "attempts.jsonl"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "GRADIO_ANALYTICS_ENABLED")
        and not k.startswith("SPRINGBOARD_")
    }
    env.update(
        PYTHONPATH=str(PROJECT_ROOT),
        SPRINGBOARD_DATA_DIR=str(tmp_path / "data"),
        SPRINGBOARD_CACHE_DIR=str(settings.model_cache_dir),
        SPRINGBOARD_MODELS__GENERATION="smollm2-135m",
        SPRINGBOARD_MODELS__SPEECH="whisper-tiny.en",
    )
    child = subprocess.run(
        [sys.executable, "-m", "tests.support.offline_flows", str(attempts_file)],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=WAIT_S,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr[-4000:]
    line = next(x for x in child.stdout.splitlines() if x.startswith("FLOWS "))
    flows = json.loads(line.removeprefix("FLOWS "))
    print(line)

    # Each flow really ran on its model.
    assert flows["customer_service"][0] == "card-not-arrived"
    assert len(flows["recommendation"]) == 3
    assert any("cat" in label.lower() for label in flows["vision"])
    assert len(flows["speech"].split()) >= 3
    assert flows["textgen"].strip()
    assert flows["embedding"] == [2, 384]
    assert flows["server_routes"] > 0

    attempts = [json.loads(x) for x in attempts_file.read_text().splitlines()] if attempts_file.exists() else []
    canary = [a for a in attempts if a["tag"] == "canary"]
    tried = [a for a in attempts if a["tag"] != "canary"]
    # The guard works: loopback went through, the deliberate outbound calls were caught.
    assert flows["guard"] == {"loopback": "ok", "outbound_refused": True}
    assert {a["host"] for a in canary} == {"93.184.215.14", "pypi.org"}
    # And nothing else tried to leave the machine.
    assert tried == [], "\n\n".join(f"{a['call']} {a['host']}:{a['port']}\n{''.join(a['stack'])}" for a in tried)
