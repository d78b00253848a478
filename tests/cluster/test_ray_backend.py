"""The suite on the Ray Serve backend: the apps' own Python APIs, unchanged, on a local cluster.

Every model here runs in a Serve replica, loaded by the same registry spec and loader as
the local backend; the apps get the Ray manager passed in exactly as they get the local
one. One real call per app, batching across concurrent callers, a user-trained model
multiplexed onto its role's deployment, streaming with cancel, the status report, and a
replica killed mid-request.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from apps.customer_service import CustomerServiceBot
from apps.recommendation import Recommender
from apps.recommendation.data import load_movielens_100k
from apps.speech import Transcriber
from apps.speech.audio import to_mono_16k
from apps.speech.metrics import word_error_rate
from apps.status import full_report
from apps.textgen import TextGenerator
from apps.vision import ImageRecognizer
from apps.vision.examples import example_photos
from core.errors import InvalidInputError, ModelUnavailableError
from core.storage import Database
from shared_models.embedding_head import save_head
from shared_models.types.embedding_training import LinearHead
from shared_models.types.generation import GenerationRequest, GenerationResult
from shared_models.types.speech import FAST_MODEL
from tests.support.debian import require_debian_package

pytestmark = pytest.mark.slow  # a Ray cluster and real models in replicas

TINY = "smollm2-135m"
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


def _deployment(manager, application: str) -> dict:
    rows = [d for d in full_report(manager)["cluster"]["deployments"] if d["application"] == application]
    assert rows, f"no Ray deployment {application!r}"
    return rows[0]


def test_concurrent_embedding_callers_share_batches(ray_manager, manager):
    handle = ray_manager.handle("embedding")
    assert type(handle).__name__ == "RayHandle" and handle.name == "minilm-l6"
    texts = [f"customer question number {i} about card payments" for i in range(32)]
    with ThreadPoolExecutor(32) as pool:
        vectors = list(pool.map(lambda t: handle.call([t])[0], texts))
    # The same model and loader as the local backend: the same vectors.
    local = manager.handle("embedding").call(texts)
    np.testing.assert_allclose(np.stack(vectors), np.stack(local), atol=1e-4)
    row = _deployment(ray_manager, "minilm-l6")
    assert row["status"] == "HEALTHY" and row["replicas"] == {"RUNNING": 1}
    # @serve.batch gathers concurrent callers. On a loaded 2-core box one burst can reach the
    # replica one call at a time, so a few bursts are allowed to show it.
    for _ in range(3):
        if row["max_batch"] > 1:
            break
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(lambda t: handle.call([t])[0], texts))
        row = _deployment(ray_manager, "minilm-l6")
    assert row["max_batch"] > 1, row


def test_bad_input_gets_its_own_error(ray_manager):
    handle = ray_manager.handle("embedding")
    with pytest.raises(InvalidInputError, match="non-empty"):
        handle.call(["fine", ""])
    good, bad = handle.call(["fine", ""], return_exceptions=True)
    assert good.shape == (384,) and isinstance(bad, InvalidInputError)
    with pytest.raises(InvalidInputError, match="list"):
        handle.call("not a list")


def test_user_trained_head_is_multiplexed_on_its_role(ray_manager, tmp_path):
    rng = np.random.default_rng(3)
    heads = []
    for n in range(2):
        weight = rng.normal(size=(4, 384)).astype(np.float32)
        bias = rng.normal(size=4).astype(np.float32)
        folder = save_head(tmp_path / f"head{n}", LinearHead(weight, bias))
        heads.append((weight, bias, ray_manager.handle(f"local:{folder}", role="embedding_head")))
    x = rng.normal(size=384).astype(np.float32)
    for weight, bias, handle in heads:
        (probabilities,) = handle.call([x])
        logits = weight @ x + bias
        expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        np.testing.assert_allclose(probabilities, expected, rtol=1e-4, atol=1e-6)
        with pytest.raises(InvalidInputError, match="384"):
            handle.call([np.zeros(5, dtype=np.float32)])
    # Both heads live on one deployment of the role, not one deployment each.
    row = _deployment(ray_manager, "embedding_head-models")
    assert row["replicas"] == {"RUNNING": 1}
    info = heads[0][2].replica_info()
    loaded = {m["model"] for m in info["models"] if m["loaded"]}
    assert {h.name for *_, h in heads} <= loaded


def test_customer_service_answers(ray_manager, tmp_path):
    bot = CustomerServiceBot.demo(data_dir=tmp_path / "cs", manager=ray_manager)
    reply = bot.ask("my card never showed up", session_id="ray")
    assert not reply.escalated and reply.source_id == "card-not-arrived"
    assert reply.answer == bot.kb.get("card-not-arrived").answer


def test_recommendation_from_text_and_ratings(ray_manager):
    inter, items = load_movielens_100k()
    users = sorted(inter["user_id"].unique(), key=int)[:150]
    part = inter[inter["user_id"].isin(users)]
    counts = part["item_id"].value_counts()
    part = part[part["item_id"].isin(counts.index[counts >= 10])].reset_index(drop=True)
    items = items[items["item_id"].isin(part["item_id"])].reset_index(drop=True)
    rec = Recommender("hybrid", manager=ray_manager, device="cpu", epochs=3).fit(part, items)
    user = users[0]
    picks = rec.recommend(user, k=5)
    seen = set(part.loc[part["user_id"] == user, "item_id"])
    assert len(picks) == 5 and not seen & {p.item_id for p in picks}
    assert all(p.title for p in picks)


def test_vision_classifies_a_photo(ray_manager, tmp_path):
    photos = {Path(k).stem: v for k, v in example_photos(tmp_path / "photos").items()}
    recognizer = ImageRecognizer(ray_manager, data_dir=tmp_path / "vision")
    top = recognizer.classify(photos["coffee"], top_k=1)
    assert top[0].label == "espresso" and top[0].score > 0.5


def test_speech_transcribes_librivox(ray_manager):
    listing = LIBRIVOX / "transcription"
    require_debian_package("pocketsphinx-testdata", listing.is_file(), "LibriVox read speech")
    text, _, clip_id = listing.read_text().splitlines()[0].rpartition("(")
    reference = text.replace("<s>", "").replace("</s>", "").strip()
    samples, rate = sf.read(LIBRIVOX / f"{clip_id.strip(' )')}.wav", dtype="float32")
    transcript = Transcriber(FAST_MODEL, manager=ray_manager).transcribe((to_mono_16k(samples, rate), 16_000))
    assert word_error_rate([reference], [transcript.text]) <= 0.2, transcript.text


def test_streamed_generation_with_cancel(ray_manager, tmp_path):
    gen = TextGenerator(TINY, manager=ray_manager, db=Database(tmp_path / "textgen.db"))
    keep = gen.stream("Count from one to five.", max_new_tokens=12, temperature=0)
    stories = [gen.stream(f"Tell me a long story about dragon {i}.", max_new_tokens=200, seed=i) for i in range(2)]
    for story in stories:
        assert next(story)  # really generating, on the replica
    stories[0].cancel()
    with stories[1]:  # leaving the block cancels too
        pass
    for story in stories:
        story.consume()
        assert story.result.finish_reason == "cancelled" and 0 < story.result.new_tokens < 200
    full = keep.consume()
    assert full and keep.result.finish_reason in ("eos", "length")
    # Greedy decoding gives the same text as a plain call through the same deployment.
    assert gen.generate("Count from one to five.", max_new_tokens=12, temperature=0) == full
    with pytest.raises(InvalidInputError):
        ray_manager.handle("embedding").stream(GenerationRequest(prompt="x"))


def test_status_report_shows_deployments(ray_manager):
    # Loading by hand (the status page's button) loads in the replica, not in this process.
    ray_manager.load("yolov3-tiny")
    assert not ray_manager.is_loaded("yolov3-tiny")
    info = ray_manager.handle("detection").replica_info()
    assert any(m["model"] == "yolov3-tiny" and m["loaded"] for m in info["models"])
    report = full_report(ray_manager)
    ray_report = report["cluster"]
    assert ray_report["backend"] == "ray" and ray_report["connected"]
    apps = {d["application"] for d in ray_report["deployments"]}
    assert {"minilm-l6", TINY, FAST_MODEL, "efficientnet-lite0", "yolov3-tiny", "embedding_head-models"} <= apps
    assert all(d["status"] == "HEALTHY" for d in ray_report["deployments"])
    by_model = {m["model"]: m for m in report["metrics"]}
    assert by_model["minilm-l6"]["requests"] >= 32 and by_model[TINY]["errors"] == 0
    assert any(b["model"] == "minilm-l6" and b["max_batch"] > 1 for b in ray_report["replica_batches"])
    # Streams batch in the replica's own micro-batcher; those batches are reported too.
    assert _deployment(ray_manager, TINY)["batches"] >= 1


def test_a_killed_replica_is_replaced_and_calls_retry(ray_manager):
    handle = ray_manager.handle(TINY)
    old_pid = handle.replica_info()["pid"]
    story = handle.stream(GenerationRequest(prompt="Once upon a time", max_new_tokens=400, seed=1))
    call: dict = {}
    caller = threading.Thread(
        target=lambda: call.update(result=handle.call([GenerationRequest(prompt="Hello", max_new_tokens=300, seed=2)]))
    )
    caller.start()
    next(story)  # the replica is generating now
    os.kill(old_pid, signal.SIGKILL)
    # The stream cannot be replayed: it ends with a clear error.
    with pytest.raises(ModelUnavailableError, match="lost mid-request"):
        story.result()
    # The plain call is retried on the replica Serve starts in its place.
    caller.join(timeout=300)
    (result,) = call["result"]
    assert isinstance(result, GenerationResult) and result.new_tokens > 0
    assert handle.replica_info()["pid"] != old_pid
    deadline = time.monotonic() + 60
    while _deployment(ray_manager, TINY)["replicas"] != {"RUNNING": 1} and time.monotonic() < deadline:
        time.sleep(1)
    assert _deployment(ray_manager, TINY)["replicas"] == {"RUNNING": 1}
