"""The text generation app's Python API: templates, streaming, batches, chat, perplexity.

    from apps.textgen import TextGenerator
    gen = TextGenerator()                       # the "generation" role (Qwen2.5-Coder-0.5B)
    gen.generate("Write a tagline for a bike shop", max_new_tokens=60, temperature=0.7, seed=1)
    for piece in gen.stream([{"role": "user", "content": "Hi!"}], max_new_tokens=200):
        print(piece, end="")
    gen.generate_batch(["Name a colour", "Name a fruit"], max_new_tokens=20)
    gen.perplexity("The cat sat on the mat.")
    messages = gen.render_template("product_description", product="a foldable e-bike")
    report = gen.fine_tune("examples.jsonl", name="house-json")   # a LoRA adapter, compared to the base
    gen.generate("Product: ...", adapter="house-json", temperature=0)
    out = gen.generate("A tagline for a bakery", logprobs=True)   # a str, with .tokens:
    [(t.text, round(t.probability, 2)) for t in out.tokens]       # how sure it was of each

Models load only through the shared core; requests from every user and every app
are batched together there. Over-long prompts are fitted to the context (see
``context``) and the cut is reported: as ``TextStream.notices`` and, for the
plain-string methods, as a ``PromptTruncatedWarning``.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

from core import ModelManager, get_manager
from core.errors import InvalidInputError, UnknownModelError
from core.storage import Database
from shared_models.types.generation import (
    CHAT_SAMPLING,
    ROLE,
    GenerationRequest,
    GenerationResult,
    ModelInfoRequest,
    PerplexityRequest,
)
from shared_models.types.generation_training import (
    TRAINER_MODEL,
    LoraSettings,
    LoraTrainingRequest,
)

from .adapters import AdapterInfo, AdapterStore
from .confidence import ScoredText
from .context import MAX_INPUT_CHARS, ContextWindow, Fitted, check_text
from .fine_tune_run import AdapterEvaluation, Comparison, FineTuneReport, FineTuneRun
from .fine_tuning import TrainingData, is_structured, load_training_data, score_json
from .options import GenerationOptions, check_adapter
from .streaming import TextStream
from .template_store import TemplateStore
from .templates import Template, with_system_prompt

Messages = list[dict[str, str]]
_ROLES = ("system", "user", "assistant")


class PromptTruncatedWarning(UserWarning):
    """A prompt was longer than the model's context and part of it was left out."""


class StopSequenceNotFoundWarning(UserWarning):
    """Stop sequences were given but none appeared, so the text ended another way."""


class TextGenerator:
    """Generate text with a causal language model served by the shared core.

    ``model`` is a registered generation model (``"qwen2.5-coder-0.5b"``, the default
    through settings, or ``"smollm2-135m"``), an external source (``hub:<id>``,
    ``local:<folder>``) or None for the suite's configured generation model.
    Templates are stored in ``db`` (default: ``springboard.db`` in ``data_dir``, which
    defaults to the manager's settings' data folder).
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        manager: ModelManager | None = None,
        db: Database | None = None,
        data_dir: Path | str | None = None,
    ) -> None:
        self.manager = manager or get_manager()
        if model is not None and not isinstance(model, str):
            raise InvalidInputError(f"model must be a model name, got {type(model).__name__}.")
        try:
            spec = self.manager.spec((model or ROLE).strip() or ROLE)
        except UnknownModelError as exc:
            known = ", ".join(self.manager.model_names(ROLE))
            raise InvalidInputError(
                f"{exc}. Text generation models: {known}. Any transformers causal LM can be "
                "set as the generation model in settings: "
                "SPRINGBOARD_MODELS__GENERATION=hub:<id> or local:<folder>."
            ) from exc
        if spec.role != ROLE:
            raise InvalidInputError(
                f"'{spec.name}' is a {spec.role} model, not a text generation model."
            )
        self.handle = self.manager.handle(spec.name)
        self.model = self.handle.name
        if db is None:
            folder = Path(data_dir) if data_dir else self.manager.settings.data_dir
            db = Database(folder / "springboard.db")
        self.templates = TemplateStore(db)
        # Adapters live where the generation role looks for them: the core's data folder.
        self.adapters = AdapterStore(self.manager.settings.data_dir)
        self._window: ContextWindow | None = None

    # ------------------------------------------------------------------ model facts
    @property
    def window(self) -> ContextWindow:
        """The model's tokenizer and context size (loads the model on first use)."""
        if self._window is None:
            info = self.handle.call([ModelInfoRequest()])[0]
            self._window = ContextWindow(self.handle, info)
        return self._window

    @property
    def context_tokens(self) -> int:
        return self.window.context_tokens

    @property
    def max_new_tokens_limit(self) -> int:
        """The most new tokens one request may ask for (loads the model on first use)."""
        return min(self.window.max_new_tokens, self.configured_max_new_tokens)

    @property
    def configured_max_new_tokens(self) -> int:
        """The suite's cap on new tokens (``SPRINGBOARD_LIMITS__MAX_NEW_TOKENS``), known without loading."""
        return self.manager.settings.limits.max_new_tokens

    def available_models(self) -> list[str]:
        """Names of the registered text generation models."""
        return self.manager.model_names(ROLE)

    def count_tokens(self, prompt: str | Messages) -> int:
        """Prompt tokens for raw text, or for a chat rendered with the model's template."""
        if isinstance(prompt, str):
            return self.window.count(prompt=prompt)
        return self.window.count(messages=self._check_messages(prompt))

    # ------------------------------------------------------------------ generation
    def generate(
        self,
        prompt: str | Messages,
        max_new_tokens: int = CHAT_SAMPLING.max_new_tokens,
        temperature: float = CHAT_SAMPLING.temperature,
        seed: int | None = None,
        *,
        top_p: float = CHAT_SAMPLING.top_p,
        top_k: int = CHAT_SAMPLING.top_k,
        repetition_penalty: float = CHAT_SAMPLING.repetition_penalty,
        stop: tuple[str, ...] | list[str] | str = (),
        system: str | None = None,
        raw: bool = False,
        adapter: str | None = None,
        logprobs: bool = False,
    ) -> str:
        """Generate a reply to ``prompt`` and return its text.

        A string is one user message, answered with the model's chat template (and
        ``system`` as the system prompt, if given); with ``raw=True`` the model
        continues the string as plain text instead. A list is a whole chat.
        ``adapter`` names a LoRA adapter trained with ``fine_tune`` (None: the base model).
        With ``logprobs=True`` the text comes back as a ``ScoredText``: still a ``str``,
        with ``.tokens``, each token's text and ``probability`` (``apps.textgen.confidence``).
        """
        options = GenerationOptions(
            max_new_tokens, temperature, top_p, top_k, repetition_penalty, seed, _stops(stop), adapter,
            logprobs,
        )  # fmt: skip
        stream = self.start(prompt, options, system=system, raw=raw)
        _warn(stream.notices)
        text = stream.consume()
        if stream.request.stop and stream.result.finish_reason != "stop":
            _warn(
                [n for n in stream.notices if n.startswith("None of the stop")],
                StopSequenceNotFoundWarning,
            )
        return ScoredText(text, stream.tokens) if logprobs else text

    def stream(
        self,
        messages: str | Messages,
        max_new_tokens: int = CHAT_SAMPLING.max_new_tokens,
        temperature: float = CHAT_SAMPLING.temperature,
        seed: int | None = None,
        *,
        top_p: float = CHAT_SAMPLING.top_p,
        top_k: int = CHAT_SAMPLING.top_k,
        repetition_penalty: float = CHAT_SAMPLING.repetition_penalty,
        stop: tuple[str, ...] | list[str] | str = (),
        system: str | None = None,
        raw: bool = False,
        adapter: str | None = None,
        logprobs: bool = False,
    ) -> TextStream:
        """Start generating and return a ``TextStream``: iterate it for text pieces.

        The stream also has ``cancel()``, ``result`` (finish reason, token counts) and
        ``notices`` (a prompt that was cut, stop sequences that never appeared); with
        ``logprobs=True``, ``tokens``: each token so far with its probability.
        """
        options = GenerationOptions(
            max_new_tokens, temperature, top_p, top_k, repetition_penalty, seed, _stops(stop), adapter,
            logprobs,
        )  # fmt: skip
        stream = self.start(messages, options, system=system, raw=raw)
        _warn(stream.notices)
        return stream

    def generate_batch(
        self,
        prompts: list[str | Messages],
        max_new_tokens: int = CHAT_SAMPLING.max_new_tokens,
        temperature: float = CHAT_SAMPLING.temperature,
        seed: int | None = None,
        *,
        top_p: float = CHAT_SAMPLING.top_p,
        top_k: int = CHAT_SAMPLING.top_k,
        repetition_penalty: float = CHAT_SAMPLING.repetition_penalty,
        stop: tuple[str, ...] | list[str] | str = (),
        system: str | None = None,
        raw: bool = False,
        adapter: str | None = None,
    ) -> list[str]:
        """Generate for several prompts at once (one batched decode); texts in order.

        With a ``seed``, prompt ``i`` uses ``seed + i`` so the rows differ yet repeat.
        """
        results = self.generate_batch_results(
            prompts,
            GenerationOptions(
                max_new_tokens, temperature, top_p, top_k, repetition_penalty, seed, _stops(stop),
                adapter,
            ),  # fmt: skip
            system=system,
            raw=raw,
        )
        return [r.text for r in results]

    def generate_batch_results(
        self,
        prompts: list[str | Messages],
        options: GenerationOptions | None = None,
        *,
        system: str | None = None,
        raw: bool = False,
    ) -> list[GenerationResult]:
        """Like ``generate_batch`` but returning each ``GenerationResult``."""
        if not isinstance(prompts, list):
            raise InvalidInputError(f"prompts must be a list, got {type(prompts).__name__}.")
        if not prompts:
            raise InvalidInputError("prompts is empty: give at least one prompt.")
        limit = self.manager.settings.limits.max_batch_items
        if len(prompts) > limit:
            raise InvalidInputError(f"{len(prompts)} prompts given; the limit is {limit} per call.")
        options = self._checked(options)
        requests, notices = [], []
        for i, prompt in enumerate(prompts):
            fitted = self._fit(prompt, options, system, raw)
            notices += [f"Prompt {i + 1}: {n}" for n in fitted.notices]
            seed = None if options.seed is None else options.seed + i
            requests.append(self._request(fitted, options, seed))
        _warn(notices)
        return self.handle.call(requests)

    def start(
        self,
        prompt: str | Messages,
        options: GenerationOptions | None = None,
        *,
        system: str | None = None,
        raw: bool = False,
    ) -> TextStream:
        """Check, fit and start one generation; notices about cuts are on the stream."""
        request, notices = self.prepare(prompt, options, system=system, raw=raw)
        return TextStream(self.handle, request, notices)

    def prepare(
        self,
        prompt: str | Messages,
        options: GenerationOptions | None = None,
        *,
        system: str | None = None,
        raw: bool = False,
    ) -> tuple[GenerationRequest, list[str]]:
        """Check and fit a prompt: the role's ``GenerationRequest`` and notices about cuts.

        ``TextStream(gen.handle, request)`` starts it; useful to start many at once.
        """
        options = self._checked(options)
        fitted = self._fit(prompt, options, system, raw)
        return self._request(fitted, options, options.seed), fitted.notices

    # ------------------------------------------------------------------ chat
    def chat(
        self,
        history: Messages,
        message: str,
        options: GenerationOptions | None = None,
        *,
        system: str | None = None,
    ) -> TextStream:
        """Answer ``message`` after the earlier turns in ``history`` (user/assistant dicts).

        The oldest turns are left out (with a notice) when the whole chat would not
        fit in the context.
        """
        check_text("The message", message)
        history = self._check_messages(history or [], allow_empty=True)
        turns = [m for m in history if m["role"] != "system"]
        if system is None:
            system = next((m["content"] for m in history if m["role"] == "system"), None)
        messages = turns + [{"role": "user", "content": message}]
        return self.start(messages, options, system=system)

    # ------------------------------------------------------------------ templates
    def list_templates(self) -> list[Template]:
        """Built-in templates, then the saved user templates."""
        return self.templates.all()

    def template(self, name: str) -> Template:
        return self.templates.get(name)

    def render_template(self, name: str, **fields: Any) -> Messages:
        """The chat messages (system prompt, then the filled-in request) of a template."""
        return self.templates.get(name).render(**fields)

    def start_template(
        self,
        name: str,
        fields: dict[str, Any],
        options: GenerationOptions | None = None,
        *,
        system: str | None = None,
    ) -> TextStream:
        """Fill in a template and start generating; an over-long field is cut, with a notice."""
        if not isinstance(fields, dict):
            raise InvalidInputError(
                f"fields must be a dict of field name to text, got {type(fields).__name__}."
            )
        template = with_system_prompt(self.templates.get(name), system)
        values = template.values(fields)
        for f in template.fields:
            if values[f.name]:
                check_text(f"'{f.label}'", values[f.name])
        options = self._checked(options)
        fitted = self.window.fit_template(template, values, options.max_new_tokens)
        return TextStream(self.handle, self._request(fitted, options, options.seed), fitted.notices)

    def generate_from_template(
        self,
        name: str,
        /,
        max_new_tokens: int = CHAT_SAMPLING.max_new_tokens,
        temperature: float = CHAT_SAMPLING.temperature,
        seed: int | None = None,
        adapter: str | None = None,
        **fields: Any,
    ) -> str:
        """Fill in a template and return the generated text (with ``adapter``, if given)."""
        stream = self.start_template(
            name, fields, GenerationOptions(max_new_tokens, temperature, seed=seed, adapter=adapter)
        )
        _warn(stream.notices)
        return stream.consume()

    def save_template(
        self,
        name: str,
        title: str,
        system_prompt: str,
        prompt: str,
        description: str = "",
        overwrite: bool = False,
    ) -> Template:
        """Save a user template; ``prompt`` names its fields as ``{placeholders}``."""
        return self.templates.save(name, title, system_prompt, prompt, description, overwrite)

    def delete_template(self, name: str) -> bool:
        """Delete a saved user template; returns whether it existed."""
        return self.templates.delete(name)

    # ------------------------------------------------------------------ evaluation
    def perplexity(self, text: str, adapter: str | None = None) -> float:
        """Perplexity of ``text`` under the model: exp of the mean negative log-likelihood.

        Lower means more predictable (fluent, familiar) text. Long texts are scored
        with a sliding window by the role. ``adapter``: under that LoRA adapter.
        """
        check_text("The text", text)
        adapter = self._check_adapter(adapter)
        return float(self.handle.call([PerplexityRequest(text, adapter)])[0])

    # ------------------------------------------------------------------ fine-tuning
    def load_training_data(self, source: Any, filename: str | None = None) -> TrainingData:
        """Parse and check examples (JSONL ``messages`` or prompt/response, CSV, plain text)."""
        return load_training_data(source, filename)

    def start_fine_tune(
        self,
        data: Any,
        *,
        name: str,
        base: str | None = None,
        heldout: Any = None,
        heldout_fraction: float = 0.1,
        settings: LoraSettings | None = None,
        overwrite: bool = False,
        **lora: Any,
    ) -> FineTuneRun:
        """Start training a LoRA adapter called ``name`` on ``data``; returns the running job.

        ``data``: a file path (.jsonl, .csv, .txt), raw rows, or ``TrainingData``.
        ``heldout``: examples to measure on (same forms); by default a seeded
        ``heldout_fraction`` of ``data`` is held out. ``base``: the generation model
        to adapt (default: this generator's). LoRA settings go in ``settings`` or as
        keywords (``rank=8, alpha=16, learning_rate=2e-3, epochs=3, batch_size=4,
        max_tokens=256, max_seconds=None, seed=0, target_modules=(...)``).
        """
        name = self.adapters.check_name(name)
        parsed = data if isinstance(data, TrainingData) else load_training_data(data)
        settings = self._lora_settings(settings, lora)
        if heldout is None:
            train, held = parsed.split(heldout_fraction, settings.seed)
        else:
            held_data = heldout if isinstance(heldout, TrainingData) else load_training_data(heldout)
            if held_data.kind != parsed.kind:
                raise InvalidInputError("The held-out examples are not of the same kind as the training data.")
            train, held = parsed.examples, held_data.examples
        if self.adapters.path(name).exists():
            if not overwrite:
                raise InvalidInputError(
                    f"An adapter named {name!r} already exists; pick another name or pass overwrite=True."
                )
            self.adapters.delete(name)
        base_model = self._base_name(base)
        request = LoraTrainingRequest(
            train=train,
            heldout=held,
            base_model=base_model,
            output_folder=str(self.adapters.path(name)),
            kind=parsed.kind,  # type: ignore[arg-type]
            settings=settings,
        )
        stream = self.manager.handle(TRAINER_MODEL).stream(request)
        generator = self if base_model == self.model else self._sibling(base_model)
        return FineTuneRun(generator, stream, name, held, request.request_id)

    def fine_tune(
        self,
        data: Any,
        *,
        name: str,
        base: str | None = None,
        heldout: Any = None,
        heldout_fraction: float = 0.1,
        progress: Any = None,
        compare: int = 3,
        evaluate: int = 20,
        overwrite: bool = False,
        **lora: Any,
    ) -> FineTuneReport:
        """Train a LoRA adapter, then compare it with the base model on held-out prompts.

        The same arguments as ``start_fine_tune``; ``progress(fraction, message)`` is
        called as training goes. ``compare`` held-out prompts are answered by both
        side by side; ``evaluate`` of them are scored (JSON validity and exact fields
        when the replies are JSON objects). Use the adapter with ``adapter=name``.
        """
        run = self.start_fine_tune(
            data, name=name, base=base, heldout=heldout, heldout_fraction=heldout_fraction,
            overwrite=overwrite, **lora,
        )  # fmt: skip
        run.follow(progress)
        return run.finish(compare=compare, evaluate=evaluate)

    def cancel_fine_tune(self, request_id: str) -> bool:
        """Stop a training run by its request id (``FineTuneRun.request_id``)."""
        return self.manager.handle(TRAINER_MODEL).cancel(request_id)

    def evaluate_adapter(
        self, adapter: str, examples: Any, *, max_examples: int = 20, compare: int = 3
    ) -> AdapterEvaluation:
        """Answer held-out prompts greedily with the base and with ``adapter``, and score both.

        Chat examples: the prompt is the chat without its last reply, which is the
        reference. Documents: the first third of the text is continued. JSON scores
        are given when every reference is a JSON object.
        """
        adapter = self._check_adapter(adapter)
        assert adapter is not None
        data = examples if isinstance(examples, TrainingData) else None
        rows = data.examples if data else examples
        if not isinstance(rows, list) or not rows:
            raise InvalidInputError("Give held-out examples to evaluate on.")
        rows = rows[: max(1, int(max_examples))]
        prompts, references = [], []
        for chat in rows:
            if chat[-1]["role"] == "assistant":
                prompts.append(chat[:-1])
                references.append(chat[-1]["content"])
            else:  # a document: continue its first third
                text = chat[0]["content"]
                cut = max(1, len(text) // 3)
                prompts.append(text[:cut])
                references.append(text[cut:])
        longest = max(self.count_tokens(r) if r.strip() else 1 for r in references)
        new_tokens = max(8, min(self.max_new_tokens_limit, longest + 16))
        requests = []
        for which in (None, adapter):
            options = self._checked(GenerationOptions(new_tokens, 0.0, repetition_penalty=1.0, adapter=which))
            for prompt in prompts:
                raw = isinstance(prompt, str)
                requests.append(self._request(self._fit(prompt, options, None, raw), options, None))
        # One call: base and adapter rows decode together in one mixed batch.
        results = self.handle.call(requests)
        base, tuned = [r.text for r in results[: len(prompts)]], [r.text for r in results[len(prompts) :]]
        structured = is_structured(references)
        comparisons = [
            Comparison(_prompt_text(p), ref, b, t)
            for p, ref, b, t in list(zip(prompts, references, base, tuned, strict=True))[:compare]
        ]
        return AdapterEvaluation(
            examples=len(prompts),
            comparisons=comparisons,
            json_before=score_json(base, references) if structured else None,
            json_after=score_json(tuned, references) if structured else None,
        )

    def list_adapters(self) -> list[AdapterInfo]:
        """Saved adapters (all bases), newest first."""
        return self.adapters.list()

    def adapter_names(self) -> list[str]:
        """Names of the saved adapters trained on this generator's model."""
        return [a.name for a in self.adapters.list() if a.base_model == self.model]

    def rename_adapter(self, old: str, new: str) -> AdapterInfo:
        return self.adapters.rename(old, new)

    def delete_adapter(self, name: str) -> bool:
        """Delete a saved adapter; returns whether it existed."""
        return self.adapters.delete(name)

    # ------------------------------------------------------------------ internals
    def _checked(self, options: GenerationOptions | None) -> GenerationOptions:
        options = (options or GenerationOptions()).checked(self.max_new_tokens_limit)
        self._check_adapter(options.adapter)
        return options

    def _check_adapter(self, adapter: Any) -> str | None:
        """None, or the name of a saved adapter (the role checks it fits the model)."""
        adapter = check_adapter(adapter)
        return None if adapter is None else self.adapters.require(adapter)

    def _base_name(self, base: str | None) -> str:
        if base is None:
            return self.model
        if not isinstance(base, str) or base not in self.available_models() and not base.startswith("local:"):
            raise InvalidInputError(
                f"base must be a text generation model ({', '.join(self.available_models())}) "
                f"or local:<folder>, got {base!r}."
            )
        return base

    def _sibling(self, model: str) -> TextGenerator:
        return TextGenerator(model, manager=self.manager, db=self.templates.db)

    @staticmethod
    def _lora_settings(settings: LoraSettings | None, lora: dict[str, Any]) -> LoraSettings:
        base = settings or LoraSettings()
        known = set(LoraSettings.__dataclass_fields__)
        unknown = sorted(set(lora) - known)
        if unknown:
            raise InvalidInputError(
                f"Unknown fine-tuning setting(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
            )
        if "target_modules" in lora:
            modules = lora["target_modules"]
            if isinstance(modules, str):
                modules = [m.strip() for m in modules.split(",") if m.strip()]
            lora["target_modules"] = tuple(modules)
        try:
            return dataclasses.replace(base, **lora)
        except TypeError as exc:
            raise InvalidInputError(str(exc)) from exc

    def _fit(
        self, prompt: str | Messages, options: GenerationOptions, system: str | None, raw: bool
    ) -> Fitted:
        if system is not None:
            if not isinstance(system, str):
                raise InvalidInputError(f"system must be text, got {type(system).__name__}.")
            if raw:
                raise InvalidInputError(
                    "A raw prompt has no system prompt; leave out system or raw."
                )
        if isinstance(prompt, str):
            check_text("The prompt", prompt)
            if raw:
                return self.window.fit_prompt(prompt, options.max_new_tokens)
            messages = [{"role": "user", "content": prompt}]
        elif raw:
            raise InvalidInputError("raw=True takes a string prompt, not a chat.")
        else:
            messages = self._check_messages(prompt)
        if system is not None and system.strip():
            messages = [{"role": "system", "content": system}] + [
                m for m in messages if m["role"] != "system"
            ]
        return self.window.fit_chat(messages, options.max_new_tokens)

    @staticmethod
    def _check_messages(messages: Any, allow_empty: bool = False) -> Messages:
        if not isinstance(messages, list):
            raise InvalidInputError(
                f"A chat is a list of {{'role', 'content'}} dicts, got {type(messages).__name__}."
            )
        if not messages and not allow_empty:
            raise InvalidInputError("The chat is empty: give at least one user message.")
        out = []
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in _ROLES:
                raise InvalidInputError(
                    f"Message {i + 1} must be a dict with a role of {', '.join(_ROLES)}, got {m!r:.80}."
                )
            content = m.get("content")
            if not isinstance(content, str):
                raise InvalidInputError(
                    f"Message {i + 1}'s content must be text, got {type(content).__name__}."
                )
            if len(content) > MAX_INPUT_CHARS:
                check_text(f"Message {i + 1}", content)
            out.append({"role": m["role"], "content": content})
        if out and not any(m["content"].strip() for m in out if m["role"] == "user"):
            raise InvalidInputError("The chat has no user message with text in it.")
        return out

    @staticmethod
    def _request(fitted: Fitted, options: GenerationOptions, seed: int | None) -> GenerationRequest:
        return GenerationRequest(
            messages=fitted.messages,
            prompt=fitted.prompt,
            max_new_tokens=options.max_new_tokens,
            temperature=options.temperature,
            top_p=options.top_p,
            top_k=options.top_k,
            repetition_penalty=options.repetition_penalty,
            seed=seed,
            stop=options.stop,
            adapter=options.adapter,
            logprobs=options.logprobs,
        )


def _prompt_text(prompt: Any) -> str:
    if isinstance(prompt, str):
        return prompt
    return "\n".join(m["content"] for m in prompt if m["role"] == "user")


def _stops(stop: Any) -> Any:
    # Checked (with a clear message) in GenerationOptions.checked; lists become tuples.
    return tuple(stop) if isinstance(stop, list) else stop


def _warn(notices: list[str], category: type[UserWarning] = PromptTruncatedWarning) -> None:
    for notice in notices:
        warnings.warn(notice, category, stacklevel=3)
