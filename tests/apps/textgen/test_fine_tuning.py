"""Fine-tuning through the app: data checks, a real short LoRA run, using and managing adapters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apps.textgen import FineTuneReport, TextGenerator, load_training_data
from apps.textgen.fine_tuning import score_json
from core.errors import InvalidInputError
from core.manager import ModelManager
from shared_models.text_generation import TINY

EXAMPLE = Path(__file__).resolve().parents[3] / "apps" / "textgen" / "examples" / "fine_tuning"
NAME = "app-test-json"


def _rows(name: str, n: int) -> list[dict]:
    return [json.loads(line) for line in (EXAMPLE / name).read_text().splitlines()[:n]]


PROGRESS: list[tuple[float, str]] = []


@pytest.fixture(scope="module")
def report(gen: TextGenerator) -> FineTuneReport:
    """A real LoRA run on the tiny model: 8 steps on the worked example's listings."""
    return gen.fine_tune(
        _rows("train.jsonl", 32), heldout=_rows("heldout.jsonl", 6), name=NAME,
        epochs=1, batch_size=4, learning_rate=5e-3, max_tokens=160, seed=3,
        progress=lambda f, m: PROGRESS.append((f, m)), evaluate=6,
    )  # fmt: skip


# ---------------------------------------------------------------------- data
def test_the_worked_example_parses_and_splits() -> None:
    data = load_training_data(EXAMPLE / "train.jsonl")
    assert data.kind == "chat" and len(data) == 120
    train, held = data.split(0.1, seed=1)
    assert len(held) == 12 and len(train) == 108
    assert {json.dumps(c) for c in train}.isdisjoint(json.dumps(c) for c in held)
    assert data.split(0.1, seed=1) == (train, held)


def test_csv_and_text_formats(tmp_path) -> None:
    csv_file = tmp_path / "pairs.csv"
    csv_file.write_text("Prompt,Response\n" + "".join(f"q{i},a{i}\n" for i in range(5)))
    data = load_training_data(csv_file)
    assert data.kind == "chat" and data.examples[2][-1] == {"role": "assistant", "content": "a2"}
    txt = tmp_path / "style.txt"
    txt.write_text("\n\n".join(f"Paragraph {i} in our house style." for i in range(6)))
    docs = load_training_data(txt)
    assert docs.kind == "documents" and len(docs) == 6


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.jsonl", "  \n", "is empty"),
        ("bad.jsonl", '{"messages": []}\n{not json\n', "line 2: not valid JSON"),
        ("cols.csv", "question,answer\nq,a\n", "needs the columns prompt,response"),
        ("few.jsonl", '{"prompt": "a", "response": "b"}\n' * 2, "at least 4"),
        ("noreply.jsonl", json.dumps({"messages": [{"role": "user", "content": "hi"},
                                                    {"role": "user", "content": "again"}]}) + "\n",
         "last message must be the assistant"),  # fmt: skip
        ("long.jsonl", json.dumps({"prompt": "x" * 9000, "response": "y"}) + "\n", "9000 characters"),
        ("blank.csv", "prompt,response\nq,\n", "Row 1: the response is empty"),
        ("data.xlsx", "whatever", "use a .jsonl, .csv or .txt"),
    ],
)
def test_bad_data_gets_a_clear_error(tmp_path, name, content, message) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InvalidInputError, match=message):
        load_training_data(path)


def test_bad_settings_and_names_are_refused(gen: TextGenerator) -> None:
    rows = _rows("train.jsonl", 8)
    with pytest.raises(InvalidInputError, match="Unknown fine-tuning setting"):
        gen.start_fine_tune(rows, name="x", rnk=4)
    with pytest.raises(InvalidInputError, match="adapter name"):
        gen.start_fine_tune(rows, name="../escape")
    with pytest.raises(InvalidInputError, match="base must be a text generation model"):
        gen.start_fine_tune(rows, name="x", base="minilm-l6")


def test_json_scoring() -> None:
    refs = ['{"a": 1, "b": "x"}', '{"a": 2, "b": "y"}']
    score = score_json(['{"a": 1, "b": "z"}', "```json\n{}\n```"], refs)
    assert score.valid == 0.5 and score.field_accuracy == 0.25


# ---------------------------------------------------------------------- training and use
def test_fine_tune_reports_before_and_after(report: FineTuneReport) -> None:
    t = report.training
    assert t.steps == 8 and not t.cancelled
    assert t.heldout_perplexity_after < t.heldout_perplexity_before
    assert PROGRESS and PROGRESS[-1][0] == 1.0
    ev = report.evaluation
    assert ev is not None and ev.examples == 6 and len(ev.comparisons) == 3
    assert ev.json_before is not None and ev.json_after is not None
    assert ev.json_after.valid > ev.json_before.valid
    assert all(c.base != c.adapter for c in ev.comparisons)
    assert "Held-out perplexity" in report.summary()


def test_adapter_is_used_by_generate_chat_and_templates(report, gen: TextGenerator) -> None:
    system = _rows("heldout.jsonl", 1)[0]["messages"][0]["content"]
    listing = "Lumo Trek 45 backpack, 89 EUR. In stock."
    base = gen.generate(listing, system=system, temperature=0, max_new_tokens=40)
    tuned = gen.generate(listing, system=system, temperature=0, max_new_tokens=40, adapter=NAME)
    assert tuned != base and tuned.lstrip().startswith("{")
    from apps.textgen import GenerationOptions

    chat = gen.chat([], listing, GenerationOptions(40, 0.0, adapter=NAME), system=system).consume()
    assert chat == tuned
    templated = gen.generate_from_template("product_description", max_new_tokens=20, temperature=0,
                                           adapter=NAME, product="a tent")  # fmt: skip
    plain = gen.generate_from_template("product_description", max_new_tokens=20, temperature=0,
                                       product="a tent")  # fmt: skip
    assert templated != plain
    assert gen.perplexity(report.evaluation.comparisons[0].reference, adapter=NAME) < gen.perplexity(
        report.evaluation.comparisons[0].reference
    )
    with pytest.raises(InvalidInputError, match="No adapter named 'nope'"):
        gen.generate("hi", adapter="nope")


def test_adapter_reloads_after_a_restart(report, gen: TextGenerator, settings) -> None:
    system = _rows("heldout.jsonl", 1)[0]["messages"][0]["content"]
    listing = "Wildmoor Rain Parka jacket - 149.50 EUR - sold out."
    before = gen.generate(listing, system=system, temperature=0, max_new_tokens=40, adapter=NAME)
    fresh = ModelManager(settings)  # a new process's manager on the same data folder
    try:
        again = TextGenerator(TINY, manager=fresh, db=gen.templates.db)
        assert NAME in again.adapter_names()
        assert again.generate(listing, system=system, temperature=0, max_new_tokens=40, adapter=NAME) == before
    finally:
        fresh.close()


def test_list_rename_delete(report, gen: TextGenerator) -> None:
    info = gen.adapters.get(NAME)
    assert info.base_model == TINY and info.metrics["steps"] == 8 and info.size_bytes > 0
    renamed = gen.rename_adapter(NAME, "renamed-json")
    assert renamed.name == "renamed-json" and NAME not in gen.adapters.names()
    assert gen.generate("Kestrel Dome 2P tent, 99 EUR.", max_new_tokens=5, adapter="renamed-json")
    with pytest.raises(InvalidInputError, match="No adapter named"):
        gen.generate("hi", max_new_tokens=5, adapter=NAME)
    with pytest.raises(InvalidInputError, match="already exists"):
        gen.rename_adapter("renamed-json", "renamed-json")
    assert gen.delete_adapter("renamed-json") and not gen.delete_adapter("renamed-json")
    with pytest.raises(InvalidInputError, match="No adapter named"):
        gen.generate("hi", max_new_tokens=5, adapter="renamed-json")


def test_cancel_through_the_app(gen: TextGenerator) -> None:
    run = gen.start_fine_tune(_rows("train.jsonl", 60), name="to-cancel", epochs=4, batch_size=2,
                              max_tokens=160)  # fmt: skip
    for event in run.events():
        if event.step >= 1:
            assert gen.cancel_fine_tune(run.request_id)
    report = run.finish()
    assert report.training.cancelled and report.evaluation is None
    assert "to-cancel" not in gen.adapters.names()


# ---------------------------------------------------------------------- page
def test_train_tab_trains_shows_results_and_manages_adapters(manager, tmp_path) -> None:
    from apps.textgen import ui

    demo = ui.build_ui()
    names = {d.api_name for d in demo.fns.values() if d.api_visibility == "public"}
    assert {"textgen_train", "textgen_cancel_train", "textgen_rename_adapter",
            "textgen_delete_adapter"} <= names  # fmt: skip
    train_file = tmp_path / "train.jsonl"
    train_file.write_text("".join(json.dumps(r) + "\n" for r in _rows("train.jsonl", 16)))
    held = tmp_path / "held.jsonl"
    held.write_text("".join(json.dumps(r) + "\n" for r in _rows("heldout.jsonl", 4)))
    outputs = list(ui.train(TINY, str(train_file), str(held), "page-json", 8, 16, 5e-3, 1, 4, 160, 0, 1))
    assert len(outputs) >= 4  # the curve and status update while it trains
    figure, status, rows, table = outputs[-1]
    assert "Held-out perplexity" in status and "Valid JSON" in status
    assert len(rows) == 3 and all(len(r) == 4 for r in rows)
    assert any(r[0] == "page-json" and r[1] == TINY for r in table)
    picker, _table, _pick = ui.adapter_lists(TINY)
    assert "page-json" in picker["choices"]
    # The picked adapter reaches generation through the page's controls.
    controls = [24, 0.0, 0.8, 20, 1.0, -1, "", "page-json"]
    assert ui._options(*controls).adapter == "page-json"
    ui.rename_adapter(TINY, "page-json", "page-json-2")
    ui.delete_adapter(TINY, "page-json-2")
    assert "page-json-2" not in ui.adapter_lists(TINY)[0]["choices"]
    with pytest.raises(__import__("gradio").Error, match="Upload a training file"):
        list(ui.train(TINY, None, None, "x", 8, 16, 5e-3, 1, 4, 160, 0, 1))
