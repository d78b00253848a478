"""Text generation templates over REST: list, read, save, delete, render and run (streaming too).

Runs call ``TextGenerator.start_template``, what the page's Write tab calls, on the
page's generator for the chosen model (``apps.ui_kit.text_generator``). Plain chat
and completions are the OpenAI-compatible API's job (/v1).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from apps.textgen import GenerationOptions, Template, TextGenerator, TextStream
from apps.ui_kit import text_generator
from core.errors import UnknownModelError
from shared_models.types.generation import CHAT_SAMPLING

from .common import SSE_RESPONSE, LimitedBodyRoute, error_responses, not_found, sse_response

router = APIRouter(prefix="/textgen", tags=["text generation"], route_class=LimitedBodyRoute)


def generator(model: str | None = None) -> TextGenerator:
    """The page's generator for ``model`` (None: the configured generation model)."""
    if model:
        known = text_generator().available_models()
        if model not in known and ":" not in model:
            raise UnknownModelError(
                f"No text generation model {model!r}. Models: {', '.join(known)}."
            )
    return text_generator(model or None)


# --------------------------------------------------------------------------- models
class FieldOut(BaseModel):
    name: str
    label: str
    kind: Literal["text", "long", "choice"]
    required: bool
    default: str
    choices: list[str]
    example: str


class TemplateOut(BaseModel):
    name: str = Field(examples=["product_description"])
    title: str
    description: str
    system_prompt: str
    prompt: str = Field(description="The user prompt with `{field}` placeholders.")
    fields: list[FieldOut]
    builtin: bool


class TemplateIn(BaseModel):
    title: str = Field(examples=["Shop tagline"])
    system_prompt: str = Field("", examples=["You write short, friendly marketing copy."])
    prompt: str = Field(examples=["Write a tagline for {shop}. Tone: {tone}"])
    description: str = ""
    overwrite: bool = Field(False, description="Replace a saved template of the same name.")


class FieldsIn(BaseModel):
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="Field name to value.",
        examples=[{"product": "a foldable e-bike", "audience": "commuters"}],
    )


class MessageOut(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class RenderOut(BaseModel):
    messages: list[MessageOut]


class GenerateRequest(FieldsIn):
    model: str | None = Field(
        None,
        description="A text generation model; default: the configured one.",
        examples=["smollm2-135m"],
    )
    system: str | None = Field(None, description="Replace the template's system prompt.")
    max_new_tokens: int = Field(
        CHAT_SAMPLING.max_new_tokens, description="At most limits.max_new_tokens."
    )
    temperature: float = CHAT_SAMPLING.temperature
    top_p: float = CHAT_SAMPLING.top_p
    top_k: int = CHAT_SAMPLING.top_k
    repetition_penalty: float = CHAT_SAMPLING.repetition_penalty
    seed: int | None = Field(None, description="Same seed, same text.")
    stop: list[str] = Field(default_factory=list, description="Strings that end the text.")
    stream: bool = Field(
        False, description="Send the text as server-sent events while it is written."
    )
    logprobs: bool = Field(
        False,
        description="Also return each generated token with its probability (`tokens`), "
        "as `TextGenerator.generate(..., logprobs=True)` does.",
    )


class TokenOut(BaseModel):
    text: str = Field(description="The token as text (may be part of a character).")
    probability: float = Field(ge=0, le=1, description="How likely the model found it (exp(logprob)).")
    logprob: float


class GenerateOut(BaseModel):
    text: str
    model: str
    finish_reason: Literal["eos", "stop", "length", "cancelled"]
    prompt_tokens: int
    new_tokens: int
    notices: list[str] = Field(
        description="What to know: a prompt that was cut, a stop sequence that never came."
    )
    tokens: list[TokenOut] | None = Field(
        None, description="With `logprobs: true`: each generated token and its probability."
    )


def _template(t: Template) -> TemplateOut:
    return TemplateOut(
        name=t.name,
        title=t.title,
        description=t.description,
        system_prompt=t.system_prompt,
        prompt=t.prompt,
        builtin=t.builtin,
        fields=[
            FieldOut(
                name=f.name,
                label=f.label,
                kind=f.kind,
                required=f.required,
                default=f.default,
                choices=list(f.choices),
                example=f.example,
            )
            for f in t.fields
        ],
    )


def _existing(gen: TextGenerator, name: str) -> Template:
    templates = {t.name: t for t in gen.list_templates()}
    if name not in templates:
        raise not_found(f"No template named {name!r}. Templates: {', '.join(templates)}.")
    return templates[name]


def _tokens(stream: TextStream, start: int = 0) -> list[TokenOut]:
    return [TokenOut(text=t.text, probability=t.probability, logprob=t.logprob)
            for t in stream.tokens[start:]]  # fmt: skip


def _outcome(stream: TextStream) -> GenerateOut:
    result = stream.result
    return GenerateOut(
        text=result.text,
        model=stream.model,
        finish_reason=result.finish_reason,
        prompt_tokens=result.prompt_tokens,
        new_tokens=result.new_tokens,
        notices=stream.notices,
        tokens=_tokens(stream) if stream.request.logprobs else None,
    )


# --------------------------------------------------------------------------- routes
@router.get("/templates", summary="List templates", response_model=list[TemplateOut])
def list_templates():
    """The built-in templates, then the ones users saved."""
    return [_template(t) for t in generator().list_templates()]


@router.get(
    "/templates/{name}",
    summary="One template",
    response_model=TemplateOut,
    responses=error_responses(404),
)
def get_template(name: str):
    return _template(_existing(generator(), name))


@router.put(
    "/templates/{name}",
    summary="Save a user template",
    response_model=TemplateOut,
    responses=error_responses(400, 413),
)
def save_template(name: str, body: TemplateIn):
    """Saves a template whose prompt names its fields as `{placeholders}`. An existing
    name is refused unless `overwrite` is true; built-ins cannot be replaced."""
    template = generator().save_template(
        name, body.title, body.system_prompt, body.prompt, body.description, body.overwrite
    )
    return _template(template)


@router.delete(
    "/templates/{name}",
    summary="Delete a user template",
    status_code=204,
    responses=error_responses(400, 404),
)
def delete_template(name: str):
    if not generator().delete_template(name):
        raise not_found(f"No saved template named {name!r}.")
    return Response(status_code=204)


@router.post(
    "/templates/{name}/render",
    summary="Fill in a template",
    response_model=RenderOut,
    responses=error_responses(400, 404, 413),
)
def render_template(name: str, body: FieldsIn):
    """The chat messages (system prompt, then the filled-in request) the model would get."""
    gen = generator()
    _existing(gen, name)
    return RenderOut(messages=gen.render_template(name, **body.fields))


@router.post(
    "/templates/{name}/generate",
    summary="Run a template",
    response_model=GenerateOut,
    responses={
        **error_responses(400, 404, 413, 429),
        200: {
            "content": SSE_RESPONSE["content"],
            "description": "The text; with `stream: true`, server-sent events "
            '`{"text": piece}` (with `logprobs: true`, also `"tokens"`: the tokens of that '
            "piece and their probabilities), then the outcome (`done: true`, finish reason, "
            "token counts), then `data: [DONE]`.",
        },
    },
)
def generate(name: str, body: GenerateRequest):
    """Fills in the template and generates (what the page's Write tab does)."""
    gen = generator(body.model)
    _existing(gen, name)
    options = GenerationOptions(
        max_new_tokens=body.max_new_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        top_k=body.top_k,
        repetition_penalty=body.repetition_penalty,
        seed=body.seed,
        stop=tuple(body.stop),
        logprobs=body.logprobs,
    )
    stream = gen.start_template(name, body.fields, options, system=body.system)
    if not body.stream:
        with stream:
            stream.consume()
            return _outcome(stream)

    def events():
        sent = 0
        for piece in stream:
            if not body.logprobs:
                yield {"text": piece}
                continue
            tokens = [t.model_dump() for t in _tokens(stream, sent)]
            sent += len(tokens)
            yield {"text": piece, "tokens": tokens}
        yield {"done": True, **_outcome(stream).model_dump(exclude_none=True)}

    rest = events()
    try:
        first = next(rest)  # an error before any text is a plain error response
    except BaseException:
        stream.close()
        raise
    return sse_response(first, rest, lambda e: e, close=stream.close)
