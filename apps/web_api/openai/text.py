"""``POST /v1/chat/completions`` and ``POST /v1/completions`` on the generation handles.

``n`` choices are ``n`` requests submitted together, so they share forward passes (with
a ``seed``, choice ``i`` uses ``seed + i``, so the choices differ yet repeat run after
run). Streams are server-sent events: a role chunk per choice, content chunks, a finish
chunk per choice, the usage chunk when ``stream_options.include_usage`` is set, then
``data: [DONE]``. An error after the stream began is sent as a ``data: {"error": ...}``
chunk, which the official client raises.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from core import ModelHandle, ModelManager
from shared_models.types.events import new_request_id
from shared_models.types.generation import (
    GenerationRequest,
    GenerationResult,
    ModelInfoRequest,
    TextPiece,
    TokenizeRequest,
    TokenLogprob,
)

from ..errors import ApiError, sse_error
from ..usage import UsageMeter
from .models import resolve_generation
from .schemas import ChatBody, CompletionBody, _Sampling

MAX_STOPS = 4  # as OpenAI
FINISH = {"eos": "stop", "stop": "stop", "length": "length", "cancelled": "stop"}
_END = object()


def add_text_routes(router: APIRouter, manager: ModelManager, usage: UsageMeter) -> None:
    @router.post("/chat/completions", response_model=None)
    async def chat_completions(body: ChatBody, request: Request):
        """A chat answered by a generation model (``model`` picks which)."""
        messages = _messages(body.messages)
        if body.top_logprobs and not body.logprobs:
            raise ApiError(400, "top_logprobs needs logprobs: true.", param="top_logprobs")
        base = GenerationRequest(
            messages=messages,
            logprobs=body.logprobs,
            top_logprobs=body.top_logprobs or 0,
        )
        max_tokens = body.max_completion_tokens or body.max_tokens
        run = await _Run.start(manager, body, base, max_tokens, prompts=1)
        return await run.respond(request, usage, chat=True)

    @router.post("/completions", response_model=None)
    async def completions(body: CompletionBody, request: Request):
        """Plain prompts continued by a generation model (no chat template)."""
        prompts = [body.prompt] if isinstance(body.prompt, str) else list(body.prompt)
        if not prompts or not all(isinstance(p, str) and p for p in prompts):
            raise ApiError(
                400, "prompt must be a non-empty string or list of strings.", param="prompt"
            )
        if body.best_of is not None and body.best_of != body.n:
            raise ApiError(
                400, "best_of is not supported (other than equal to n).", param="best_of"
            )
        top = body.logprobs
        bases = [
            GenerationRequest(prompt=p, logprobs=top is not None, top_logprobs=top or 0)
            for p in prompts
        ]
        run = await _Run.start(manager, body, bases, body.max_tokens, prompts=len(prompts))
        return await run.respond(request, usage, chat=False)


async def _check_context(
    handle: ModelHandle, bases: list[GenerationRequest], max_tokens: int, context: int
) -> None:
    """Refuse a prompt that does not fit with ``max_tokens`` (the core would drop its start)."""
    counts = await handle.acall(
        [TokenizeRequest(messages=b.messages) if b.messages is not None else TokenizeRequest(text=b.prompt)
         for b in bases]
    )  # fmt: skip
    longest = max(len(ids) for ids in counts)
    if longest + max_tokens > context:
        raise ApiError(
            400, f"This model's context is {context} tokens; the prompt is {longest} tokens and "
            f"{max_tokens} were asked for. Shorten the prompt or lower max_tokens.",
            param="messages" if bases[0].messages is not None else "prompt",
            code="context_length_exceeded",
        )  # fmt: skip


def _messages(raw: list[dict[str, Any]]) -> list[dict[str, str]]:
    """OpenAI chat messages as the model's ``{"role", "content"}`` text messages."""
    out = []
    for i, message in enumerate(raw):
        role = message.get("role")
        if role == "developer":  # OpenAI's newer name for the system message
            role = "system"
        if role not in ("system", "user", "assistant"):
            raise ApiError(400, f"messages[{i}].role must be system, developer, user or "
                           f"assistant, got {role!r}.", param=f"messages.{i}.role")  # fmt: skip
        content = message.get("content")
        if isinstance(content, list):
            parts = []
            for part in content:
                if not isinstance(part, dict) or part.get("type") != "text":
                    kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                    raise ApiError(400, f"messages[{i}] has a {kind!r} part; this server's "
                                   "models read text only.", param=f"messages.{i}.content")  # fmt: skip
                parts.append(str(part.get("text", "")))
            content = "".join(parts)
        if content is None and role == "assistant":
            content = ""
        if not isinstance(content, str):
            raise ApiError(400, f"messages[{i}].content must be a string or a list of text parts.",
                           param=f"messages.{i}.content")  # fmt: skip
        out.append({"role": role, "content": content})
    return out


class _Run:
    """One API request's generation requests (prompts x n), started on one handle."""

    def __init__(
        self,
        handle: ModelHandle,
        body: _Sampling,
        requests: list[GenerationRequest],
        n: int,
        model: str,
    ):
        self.handle = handle
        self.model = model  # the id answers carry: the base's name, or "base:adapter"
        self.body = body
        self.requests = requests
        self.n = n
        self.id = uuid.uuid4().hex[:24]
        self.created = int(time.time())

    @classmethod
    async def start(
        cls,
        manager: ModelManager,
        body: _Sampling,
        bases: GenerationRequest | list[GenerationRequest],
        max_tokens: int | None,
        prompts: int,
    ) -> _Run:
        if unsupported := body.unsupported():
            raise ApiError(400, f"This server does not support {', '.join(unsupported)}.")
        limit = manager.settings.limits.max_choices
        if body.n * prompts > limit:
            raise ApiError(400, f"n x prompts is {body.n * prompts}; at most {limit} completions "
                           "per request (SPRINGBOARD_LIMITS__MAX_CHOICES).", param="n")  # fmt: skip
        stops = body.stops()
        if len(stops) > MAX_STOPS:
            raise ApiError(400, f"At most {MAX_STOPS} stop sequences.", param="stop")
        if body.stream_options is not None and not body.stream:
            raise ApiError(400, "stream_options needs stream: true.", param="stream_options")
        spec, adapter = resolve_generation(manager, body.model)
        handle = manager.handle(spec.name)
        info = (await handle.acall([ModelInfoRequest()]))[0]
        if max_tokens is None:  # OpenAI's default: as long as the model may go
            max_tokens = min(info.max_new_tokens, manager.settings.limits.max_new_tokens)
        bases = bases if isinstance(bases, list) else [bases]
        await _check_context(handle, bases, max_tokens, info.context_tokens)
        requests = [
            replace(
                base,
                max_new_tokens=max_tokens,
                temperature=body.temperature,
                top_p=body.top_p,
                top_k=0,  # OpenAI has no top-k
                repetition_penalty=1.0,
                presence_penalty=body.presence_penalty,
                frequency_penalty=body.frequency_penalty,
                seed=None if body.seed is None else body.seed + i,
                stop=stops,
                adapter=adapter,
                request_id=new_request_id(),  # each choice is its own request (and stream)
            )
            for base in bases
            for i in range(body.n)
        ]
        return cls(handle, body, requests, body.n, f"{spec.name}:{adapter}" if adapter else spec.name)

    # ------------------------------------------------------------------ answers
    async def respond(self, request: Request, usage: UsageMeter, chat: bool):
        key = getattr(request.state, "api_key", "anonymous")
        if not self.body.stream:
            results = await self.handle.acall(self.requests)
            tally = self._usage(results)
            usage.add(
                key,
                prompt_tokens=tally["prompt_tokens"],
                completion_tokens=tally["completion_tokens"],
            )
            choices = [
                _chat_choice(i, r) if chat else _completion_choice(i, r)
                for i, r in enumerate(results)
            ]
            return {"id": self._id(chat), "object": "chat.completion" if chat else "text_completion",
                    "created": self.created, "model": self.model, "choices": choices,
                    "usage": tally, "system_fingerprint": None}  # fmt: skip
        events = _merged([self.handle.astream(r) for r in self.requests])
        try:  # the first event: a bad request fails here, before any byte is sent, with its status
            first = await events.__anext__()
        except BaseException:
            await events.aclose()
            raise
        return StreamingResponse(
            self._sse(first, events, usage, key, chat),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def _sse(
        self, first: tuple[int, Any], events: AsyncIterator[tuple[int, Any]], usage: UsageMeter,
        key: str, chat: bool,
    ) -> AsyncIterator[str]:  # fmt: skip
        include_usage = bool(self.body.stream_options and self.body.stream_options.include_usage)
        chunk = self._chunker(chat, include_usage)
        results: dict[int, GenerationResult] = {}
        sent_logprobs = [0] * len(self.requests)
        try:
            if chat:
                for i in range(len(self.requests)):
                    yield chunk(i, {"role": "assistant", "content": ""}, None, None)
            pending: tuple[int, Any] | None = first
            while True:
                if pending is None:
                    try:
                        pending = await events.__anext__()
                    except StopAsyncIteration:
                        break
                i, event = pending
                pending = None
                if isinstance(event, TextPiece):
                    sent_logprobs[i] += len(event.logprobs or ())
                    yield chunk(i, event.text, event.logprobs, None)
                elif isinstance(event, GenerationResult):
                    results[i] = event
                    rest = (event.token_logprobs or ())[sent_logprobs[i] :]
                    if rest:  # tokens held back and then cut (a stop string) still have logprobs
                        yield chunk(i, "", tuple(rest), None)
                    yield chunk(i, None, None, FINISH[event.finish_reason])
            ordered = [results[i] for i in sorted(results)]
            tally = self._usage(ordered)
            usage.add(
                key,
                prompt_tokens=tally["prompt_tokens"],
                completion_tokens=tally["completion_tokens"],
            )
            if include_usage:
                yield _data({"id": self._id(chat), "object": self._chunk_object(chat),
                             "created": self.created, "model": self.model, "choices": [],
                             "usage": tally, "system_fingerprint": None})  # fmt: skip
            yield "data: [DONE]\n\n"
        except Exception as exc:
            yield sse_error(exc, "a /v1 stream")
        finally:
            await events.aclose()

    def _chunker(self, chat: bool, include_usage: bool) -> Callable[..., str]:
        def chunk(
            i: int, content: Any, logprobs: tuple[TokenLogprob, ...] | None, finish: str | None
        ) -> str:
            if chat:
                delta = (
                    content
                    if isinstance(content, dict)
                    else ({} if content is None else {"content": content})
                )
                choice = {"index": i, "delta": delta, "finish_reason": finish,
                          "logprobs": _chat_logprobs(logprobs) if logprobs is not None else None}  # fmt: skip
            else:
                choice = {"index": i, "text": content or "", "finish_reason": finish,
                          "logprobs": _legacy_logprobs(logprobs, 0) if logprobs is not None else None}  # fmt: skip
            out = {"id": self._id(chat), "object": self._chunk_object(chat), "created": self.created,
                   "model": self.model, "choices": [choice], "system_fingerprint": None}  # fmt: skip
            if include_usage:
                out["usage"] = None
            return _data(out)

        return chunk

    def _usage(self, results: list[GenerationResult]) -> dict[str, int]:
        """Exact counts: each prompt once (its n choices share it), every choice's new tokens."""
        prompt = sum(r.prompt_tokens for r in results[:: self.n])
        completion = sum(r.new_tokens for r in results)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def _id(self, chat: bool) -> str:
        return ("chatcmpl-" if chat else "cmpl-") + self.id

    @staticmethod
    def _chunk_object(chat: bool) -> str:
        return "chat.completion.chunk" if chat else "text_completion"


def _data(payload: dict) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def _chat_choice(i: int, r: GenerationResult) -> dict:
    return {"index": i, "message": {"role": "assistant", "content": r.text, "refusal": None},
            "finish_reason": FINISH[r.finish_reason],
            "logprobs": _chat_logprobs(r.token_logprobs) if r.token_logprobs is not None else None}  # fmt: skip


def _completion_choice(i: int, r: GenerationResult) -> dict:
    return {"index": i, "text": r.text, "finish_reason": FINISH[r.finish_reason],
            "logprobs": _legacy_logprobs(r.token_logprobs, 0) if r.token_logprobs is not None else None}  # fmt: skip


def _chat_logprobs(lps: tuple[TokenLogprob, ...]) -> dict:
    return {
        "content": [
            {"token": lp.token, "bytes": list(lp.token.encode()), "logprob": lp.logprob,
             "top_logprobs": [{"token": t, "bytes": list(t.encode()), "logprob": v} for t, v in lp.top]}
            for lp in lps
        ],
        "refusal": None,
    }  # fmt: skip


def _legacy_logprobs(lps: tuple[TokenLogprob, ...], offset: int) -> dict:
    offsets, at = [], offset
    for lp in lps:
        offsets.append(at)
        at += len(lp.token)
    return {"tokens": [lp.token for lp in lps], "token_logprobs": [lp.logprob for lp in lps],
            "top_logprobs": [dict(lp.top) for lp in lps], "text_offset": offsets}  # fmt: skip


async def _merged(streams: list[AsyncIterator[Any]]) -> AsyncIterator[tuple[int, Any]]:
    """(stream index, event) from several async streams, as they come.

    Leaving early (a client that hangs up) cancels every stream, which cancels its request.
    """
    queue: asyncio.Queue = asyncio.Queue()

    async def pump(i: int, stream: AsyncIterator[Any]) -> None:
        try:
            async for event in stream:
                await queue.put((i, event, None))
        except Exception as exc:
            await queue.put((i, None, exc))
        finally:
            await queue.put((i, _END, None))

    tasks = [asyncio.create_task(pump(i, s)) for i, s in enumerate(streams)]
    try:
        open_streams = len(tasks)
        while open_streams:
            i, event, error = await queue.get()
            if error is not None:
                raise error
            if event is _END:
                open_streams -= 1
                continue
            yield i, event
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
