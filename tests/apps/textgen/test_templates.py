"""Templates: built-ins render with their fields; user templates are checked, saved and kept."""

from __future__ import annotations

import pytest

from apps.textgen import BUILTIN_TEMPLATES, TextGenerator
from apps.textgen.templates import MAX_FIELDS, placeholders
from core.errors import InvalidInputError
from core.storage import Database
from shared_models.text_generation import TINY


def test_builtins_cover_the_issue_and_each_has_fields_and_a_system_prompt():
    assert set(BUILTIN_TEMPLATES) == {
        "product_description",
        "marketing_email",
        "social_post",
        "summary",
        "translation",
        "free_chat",
    }
    for t in BUILTIN_TEMPLATES.values():
        assert t.fields and t.system_prompt.strip()
        # Every field is used by the prompt and every placeholder is a field.
        assert set(placeholders(t.prompt)) == set(t.field_names())
        # The examples fill every required field, so each template works out of the box.
        messages = t.render(**t.example_values())
        assert [m["role"] for m in messages] == ["system", "user"]
        assert "{" not in messages[1]["content"].replace("{{", "")


def test_render_fills_fields_and_drops_lines_of_empty_optional_fields(gen):
    messages = gen.render_template(
        "product_description", product="a foldable e-bike", audience="commuters"
    )
    user = messages[1]["content"]
    assert "a foldable e-bike" in user and "Audience: commuters" in user
    assert "Key features" not in user  # optional and empty: the line goes
    assert "Tone: friendly and confident" in user  # optional with a default
    assert messages[0]["content"] == BUILTIN_TEMPLATES["product_description"].system_prompt


def test_translation_directions():
    t = BUILTIN_TEMPLATES["translation"]
    assert (
        "into Simplified Chinese"
        in t.render(text="Hello", target_language="Simplified Chinese")[1]["content"]
    )
    assert "into English" in t.render(text="你好")[1]["content"]  # the default direction
    with pytest.raises(InvalidInputError, match="must be one of"):
        t.render(text="Hello", target_language="Klingon")


@pytest.mark.parametrize(
    "fields, message",
    [
        ({}, "Fill in 'Product'"),
        ({"product": "   "}, "Fill in 'Product'"),
        ({"product": "bike", "colour": "red"}, "no field"),
        ({"product": 42}, "must be text"),
    ],
)
def test_bad_field_values_are_named(gen, fields, message):
    with pytest.raises(InvalidInputError, match=message):
        gen.render_template("product_description", **fields)


def test_unknown_template_lists_the_known_ones(gen):
    with pytest.raises(InvalidInputError, match="product_description"):
        gen.render_template("no_such_template", x="y")


def test_a_saved_template_survives_a_new_generator_on_the_same_database(manager, tmp_path):
    db_path = tmp_path / "springboard.db"
    first = TextGenerator(TINY, manager=manager, db=Database(db_path))
    saved = first.save_template(
        "launch_tweet",
        "Launch tweet",
        "You write upbeat tweets.",
        "Announce {product}, launching on {date}. Braces stay: {{like this}}.",
        description="One tweet",
    )
    assert saved.field_names() == ["product", "date"] and not saved.builtin

    again = TextGenerator(TINY, manager=manager, db=Database(db_path))  # as after a restart
    names = [t.name for t in again.list_templates()]
    assert names[: len(BUILTIN_TEMPLATES)] == list(BUILTIN_TEMPLATES)
    assert "launch_tweet" in names
    loaded = again.template("launch_tweet")
    assert loaded == saved
    messages = again.render_template("launch_tweet", product="Ledgerly", date="1 May")
    assert messages == [
        {"role": "system", "content": "You write upbeat tweets."},
        {
            "role": "user",
            "content": "Announce Ledgerly, launching on 1 May. Braces stay: {like this}.",
        },
    ]

    with pytest.raises(InvalidInputError, match="already exists"):
        again.save_template("launch_tweet", "Other", "", "Say {x}")
    assert again.template("launch_tweet").prompt == saved.prompt  # nothing stored was lost
    again.save_template(
        "launch_tweet", "Launch tweet v2", "", "Announce {product}!", overwrite=True
    )
    assert (
        TextGenerator(TINY, manager=manager, db=Database(db_path)).template("launch_tweet").title
        == "Launch tweet v2"
    )

    assert again.delete_template("launch_tweet") is True
    assert again.delete_template("launch_tweet") is False
    with pytest.raises(InvalidInputError, match="No template named"):
        again.template("launch_tweet")
    with pytest.raises(InvalidInputError, match="built-in"):
        again.delete_template("summary")


@pytest.mark.parametrize(
    "name, prompt, message",
    [
        ("Bad Name", "Say {x}", "template name"),
        ("../../etc/passwd", "Say {x}", "template name"),
        ("summary", "Say {x}", "built-in"),
        ("ok_name", "No fields here", "no fields"),
        ("ok_name", "   ", "empty"),
        ("ok_name", "Leak {x.__class__}", "not a valid field"),
        ("ok_name", "Index {x[0]}", "not a valid field"),
        ("ok_name", "Spec {x:>10}", "not a valid field"),
        ("ok_name", "Unbalanced {x", "unbalanced"),
        ("ok_name", "Unbalanced } brace {x}", "unbalanced"),
        ("ok_name", " ".join(f"{{f{i}}}" for i in range(MAX_FIELDS + 1)), "limit"),
        ("ok_name", "{x}" + "y" * 5000, "limit"),
    ],
)
def test_bad_user_templates_are_refused_with_a_reason(gen, name, prompt, message):
    before = [t.name for t in gen.list_templates()]
    with pytest.raises(InvalidInputError, match=message):
        gen.save_template(name, "Title", "System", prompt)
    assert [t.name for t in gen.list_templates()] == before
