"""Prompt templates: named fields, a system prompt, and safe rendering to chat messages.

A template's ``prompt`` is text with ``{field}`` placeholders (``{{`` and ``}}`` for
literal braces). Rendering never evaluates anything: placeholders must be plain
names, so a user template cannot reach attributes (``{x.__class__}``) or indexes.
A line whose placeholders are all optional and left empty is dropped, so
"Tone: {tone}" disappears when no tone is given instead of leaving "Tone: ".
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field, replace
from typing import Literal

from core.errors import InvalidInputError

FieldKind = Literal["text", "long", "choice"]

# A template has at most this many fields: the page shows a fixed set of inputs,
# and a prompt with more blanks than that is a form, not a template.
MAX_FIELDS = 6
# Lengths for what users type into a saved template (not the values they fill in).
MAX_TITLE_CHARS = 80
MAX_DESCRIPTION_CHARS = 300
MAX_TEMPLATE_CHARS = 4000  # system prompt and prompt, each
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
_PLACEHOLDER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")


@dataclass(frozen=True)
class TemplateField:
    """One blank of a template. ``choice`` fields take one of ``choices``."""

    name: str
    label: str
    kind: FieldKind = "text"
    required: bool = True
    default: str = ""
    choices: tuple[str, ...] = ()
    example: str = ""


@dataclass(frozen=True)
class Template:
    """A reusable prompt: a system prompt plus a user prompt with named fields."""

    name: str
    title: str
    description: str
    system_prompt: str
    prompt: str
    fields: tuple[TemplateField, ...] = field(default_factory=tuple)
    builtin: bool = True

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def values(self, given: dict[str, object]) -> dict[str, str]:
        """Check filled-in values against the fields; return every field's final value."""
        unknown = sorted(set(given) - set(self.field_names()))
        if unknown:
            raise InvalidInputError(
                f"Template '{self.name}' has no field(s) {', '.join(unknown)}; "
                f"its fields are: {', '.join(self.field_names())}."
            )
        out: dict[str, str] = {}
        for f in self.fields:
            value = given.get(f.name)
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise InvalidInputError(
                    f"The field '{f.label}' must be text, got {type(value).__name__}."
                )
            value = value.strip() or f.default
            if f.required and not value:
                raise InvalidInputError(f"Fill in '{f.label}' (template '{self.title}').")
            if f.kind == "choice" and value and value not in f.choices:
                raise InvalidInputError(
                    f"'{f.label}' must be one of: {', '.join(f.choices)}; got {value!r}."
                )
            out[f.name] = value
        return out

    def render(self, **given: object) -> list[dict[str, str]]:
        """The chat messages (system, then user) for these field values."""
        values = self.values(given)
        optional = {f.name for f in self.fields if not f.required}
        user = _substitute(self.prompt, values, optional)
        if not user.strip():
            raise InvalidInputError(f"Template '{self.title}' rendered to an empty prompt.")
        messages = []
        if self.system_prompt.strip():
            messages.append({"role": "system", "content": self.system_prompt.strip()})
        messages.append({"role": "user", "content": user})
        return messages

    def example_values(self) -> dict[str, str]:
        return {f.name: f.example or f.default for f in self.fields}


def placeholders(prompt: str) -> list[str]:
    """Field names used in ``prompt``, in order of first use (raises on bad syntax)."""
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(prompt))
    except ValueError as exc:
        raise InvalidInputError(
            f"The prompt has unbalanced braces ({exc}). Write fields as {{name}} and a literal "
            "brace as {{ or }}."
        ) from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not _PLACEHOLDER.match(name) or spec or conversion:
            shown = (
                "{"
                + name
                + ("!" + conversion if conversion else "")
                + (":" + spec if spec else "")
                + "}"
            )
            raise InvalidInputError(
                f"{shown} is not a valid field: use a plain name of letters, digits and _ "
                "(like {product})."
            )
        if name not in names:
            names.append(name)
    return names


def _substitute(prompt: str, values: dict[str, str], optional: set[str]) -> str:
    lines = []
    for line in prompt.split("\n"):
        pieces: list[str] = []
        used: list[str] = []
        for literal, name, _spec, _conv in string.Formatter().parse(line):
            pieces.append(literal)
            if name is not None:
                used.append(name)
                pieces.append(values[name])
        if used and all(n in optional and not values[n] for n in used):
            continue  # e.g. "Tone: {tone}" with no tone given
        lines.append("".join(pieces))
    return "\n".join(lines).strip()


def user_template(
    name: str, title: str, system_prompt: str, prompt: str, description: str = ""
) -> Template:
    """Build and check a user-defined template; its fields come from the placeholders."""
    for label, value in (
        ("name", name),
        ("title", title),
        ("system prompt", system_prompt),
        ("prompt", prompt),
        ("description", description),
    ):
        if not isinstance(value, str):
            raise InvalidInputError(
                f"The template's {label} must be text, got {type(value).__name__}."
            )
    name, title, description = name.strip(), title.strip(), description.strip()
    if not NAME_PATTERN.match(name):
        raise InvalidInputError(
            "A template name is 2-40 characters: lower-case letters, digits and _, "
            f"starting with a letter (like launch_tweet); got {name!r}."
        )
    if name in BUILTIN_TEMPLATES:
        raise InvalidInputError(f"'{name}' is a built-in template; choose another name.")
    if not title:
        title = name.replace("_", " ").capitalize()
    if len(title) > MAX_TITLE_CHARS:
        raise InvalidInputError(
            f"The title is {len(title)} characters; the limit is {MAX_TITLE_CHARS}."
        )
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise InvalidInputError(
            f"The description is {len(description)} characters; the limit is {MAX_DESCRIPTION_CHARS}."
        )
    for label, value in (("system prompt", system_prompt), ("prompt", prompt)):
        if len(value) > MAX_TEMPLATE_CHARS:
            raise InvalidInputError(
                f"The {label} is {len(value)} characters; the limit is {MAX_TEMPLATE_CHARS}."
            )
    if not prompt.strip():
        raise InvalidInputError("The prompt is empty. Write the request with {fields} to fill in.")
    names = placeholders(prompt)
    if not names:
        raise InvalidInputError(
            "The prompt has no fields. Add at least one, like {topic}, for users to fill in."
        )
    if len(names) > MAX_FIELDS:
        raise InvalidInputError(f"The prompt has {len(names)} fields; the limit is {MAX_FIELDS}.")
    fields = tuple(TemplateField(n, n.replace("_", " ").capitalize(), kind="long") for n in names)
    return Template(
        name=name,
        title=title,
        description=description,
        system_prompt=system_prompt.strip(),
        prompt=prompt.strip(),
        fields=fields,
        builtin=False,
    )


# --------------------------------------------------------------------------- built-ins
_COPYWRITER = (
    "You are an experienced copywriter for a young startup. You write clear, concrete, "
    "persuasive copy in plain language. Never invent prices, specifications, awards or "
    "customer names that you were not given."
)

_BUILTINS = (
    Template(
        name="product_description",
        title="Product description",
        description="A short description for a shop page or a landing page.",
        system_prompt=_COPYWRITER,
        prompt=(
            "Write a product description for: {product}\n"
            "Audience: {audience}\n"
            "Key features: {features}\n"
            "Tone: {tone}\n"
            "Write two short paragraphs, then three bullet points with the main benefits."
        ),
        fields=(
            TemplateField(
                "product", "Product", example="Trailhead, a foldable e-bike that weighs 14 kg"
            ),
            TemplateField(
                "audience", "Audience", required=False, example="city commuters with small flats"
            ),
            TemplateField(
                "features",
                "Key features",
                kind="long",
                required=False,
                example="folds in 10 seconds; 60 km range; charges from a normal socket in 3 hours",
            ),
            TemplateField("tone", "Tone", required=False, default="friendly and confident"),
        ),
    ),
    Template(
        name="marketing_email",
        title="Marketing email",
        description="An email with a subject line and one clear call to action.",
        system_prompt=_COPYWRITER,
        prompt=(
            "Write a marketing email about: {product}\n"
            "Audience: {audience}\n"
            "What we want readers to do: {goal}\n"
            "Points to mention: {key_points}\n"
            "Tone: {tone}\n"
            "Start with a line 'Subject: ...'. Keep the body under 150 words and end with "
            "one call to action."
        ),
        fields=(
            TemplateField(
                "product", "Product or news", example="Ledgerly, bookkeeping for freelancers"
            ),
            TemplateField("audience", "Audience", required=False, example="freelance designers"),
            TemplateField("goal", "Call to action", example="start a free 30-day trial"),
            TemplateField(
                "key_points",
                "Points to mention",
                kind="long",
                required=False,
                example="invoices in two clicks; automatic VAT; bank sync",
            ),
            TemplateField("tone", "Tone", required=False, default="warm and professional"),
        ),
    ),
    Template(
        name="social_post",
        title="Social media post",
        description="A post sized and styled for one platform.",
        system_prompt=(
            "You write social media posts for a startup. You match each platform's length and "
            "style, use at most three relevant hashtags, and never use clickbait."
        ),
        prompt=(
            "Write a {platform} post about: {topic}\n"
            "Audience: {audience}\n"
            "Include: {details}\n"
            "Reply with the post only."
        ),
        fields=(
            TemplateField(
                "platform",
                "Platform",
                kind="choice",
                choices=("LinkedIn", "X (Twitter)", "Instagram", "Facebook"),
                default="LinkedIn",
            ),
            TemplateField("topic", "Topic", example="we just opened our first office in Lisbon"),
            TemplateField(
                "audience", "Audience", required=False, example="engineers looking for a job"
            ),
            TemplateField(
                "details",
                "Details to include",
                kind="long",
                required=False,
                example="we are hiring 5 engineers",
            ),
        ),
    ),
    Template(
        name="summary",
        title="Summary",
        description="Summarise a document, an email thread or meeting notes.",
        system_prompt=(
            "You summarise texts faithfully and concisely. Keep names, numbers and decisions; "
            "add nothing that is not in the text."
        ),
        prompt='Summarise the text below as {length}.\n\nText:\n"""\n{text}\n"""',
        fields=(
            TemplateField(
                "length",
                "Summary length",
                kind="choice",
                choices=("one sentence", "three bullet points", "one short paragraph"),
                default="three bullet points",
            ),
            TemplateField(
                "text",
                "Text to summarise",
                kind="long",
                example=(
                    "Meeting notes, 12 March. Present: Ana, Ben, Chloe. Ben reported that sign-ups "
                    "grew 18% in February, mostly from the referral programme. Chloe said the "
                    "mobile app release slips to 2 April because of the payment provider review. "
                    "The team decided to pause paid ads until the release and to move the budget "
                    "to referrals. Ana will hire a second support agent by the end of March."
                ),
            ),
        ),
    ),
    Template(
        name="translation",
        title="Translation (Chinese ↔ English)",
        description="Translate between Chinese and English.",
        system_prompt=(
            "You are a professional translator between Simplified Chinese and English. "
            "Translate faithfully and naturally; keep names, numbers and formatting. "
            "Reply with the translation only."
        ),
        prompt="Translate the following text into {target_language}:\n\n{text}",
        fields=(
            TemplateField(
                "target_language",
                "Translate into",
                kind="choice",
                choices=("English", "Simplified Chinese"),
                default="English",
            ),
            TemplateField(
                "text",
                "Text",
                kind="long",
                example="我们的应用可以帮助小企业在几分钟内创建发票。",
            ),
        ),
    ),
    Template(
        name="free_chat",
        title="Free prompt",
        description="Ask for anything; the system prompt sets the assistant's role.",
        system_prompt="You are a helpful, concise assistant for a startup team.",
        prompt="{message}",
        fields=(
            TemplateField(
                "message",
                "Your request",
                kind="long",
                example="Give me five name ideas for a meal-planning app.",
            ),
        ),
    ),
)

BUILTIN_TEMPLATES: dict[str, Template] = {t.name: t for t in _BUILTINS}


def with_system_prompt(template: Template, system_prompt: str | None) -> Template:
    """The same template with its system prompt replaced (None keeps it)."""
    if system_prompt is None:
        return template
    if not isinstance(system_prompt, str):
        raise InvalidInputError("The system prompt must be text.")
    if len(system_prompt) > MAX_TEMPLATE_CHARS:
        raise InvalidInputError(
            f"The system prompt is {len(system_prompt)} characters; the limit is {MAX_TEMPLATE_CHARS}."
        )
    return replace(template, system_prompt=system_prompt)
