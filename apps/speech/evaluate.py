"""Score a folder of recordings against reference transcripts: WER and CER.

    python -m apps.speech.evaluate FOLDER [--model whisper-tiny.en] [--language en]
                                          [--task transcribe] [--json report.json]

References are sidecar ``.txt`` files, LibriSpeech ``*.trans.txt`` or a Sphinx
``transcription`` file (see ``apps.speech.references``). Error rates are pooled
over the folder (total edits / total reference words or characters) after the
normaliser in ``apps.speech.metrics`` (case, punctuation, numbers).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .metrics import character_error_rate, word_error_rate
from .references import find_pairs


@dataclass(frozen=True)
class FileScore:
    """One recording: its transcript, reference and error rates."""

    name: str
    duration: float
    language: str | None
    reference: str
    hypothesis: str
    wer: float
    cer: float


@dataclass(frozen=True)
class FolderScore:
    """A folder's pooled error rates, timing and per-file scores."""

    model: str
    files: list[FileScore]
    wer: float
    cer: float
    audio_seconds: float
    elapsed_seconds: float

    @property
    def real_time_factor(self) -> float:
        """Processing time over audio time (below 1 is faster than real time)."""
        return self.elapsed_seconds / self.audio_seconds if self.audio_seconds else 0.0


def evaluate_folder(folder: str | Path, transcriber, language: str | None = None,
                    task: str = "transcribe") -> FolderScore:  # fmt: skip
    """Transcribe every referenced recording in ``folder`` (in one batch) and score it."""
    pairs = find_pairs(folder)
    if not pairs:
        raise FileNotFoundError(
            f"No audio file in {folder} has a reference transcript (sidecar .txt, "
            "*.trans.txt or a Sphinx 'transcription' file)."
        )
    start = time.perf_counter()
    transcripts = transcriber.transcribe_batch([p for p, _ in pairs], language=language, task=task)
    elapsed = time.perf_counter() - start
    files = []
    for (path, ref), t in zip(pairs, transcripts, strict=True):
        lang = language or t.language
        files.append(
            FileScore(path.name, t.duration, t.language, ref, t.text,
                      word_error_rate([ref], [t.text], lang) if ref.strip() else float("nan"),
                      character_error_rate([ref], [t.text], lang) if ref.strip() else float("nan"))
        )  # fmt: skip
    refs, hyps = [f.reference for f in files], [f.hypothesis for f in files]
    lang = language or next((f.language for f in files if f.language), None)
    return FolderScore(
        model=transcriber.model,
        files=files,
        wer=word_error_rate(refs, hyps, lang),
        cer=character_error_rate(refs, hyps, lang),
        audio_seconds=sum(f.duration for f in files),
        elapsed_seconds=elapsed,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m apps.speech.evaluate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("folder", type=Path)
    parser.add_argument("--model", default=None, help="model name or role (default: settings)")
    parser.add_argument("--language", default=None, help="language code; default: detect")
    parser.add_argument("--task", default="transcribe", choices=["transcribe", "translate"])
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from core.errors import SpringboardError

    from .api import Transcriber

    try:
        score = evaluate_folder(args.folder, Transcriber(args.model), args.language, args.task)
    except (FileNotFoundError, SpringboardError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    width = max(len(f.name) for f in score.files)
    for f in score.files:
        print(f"{f.name:<{width}}  {f.duration:6.1f} s  {f.language or '-':>3}  "
              f"WER {f.wer:6.1%}  CER {f.cer:6.1%}  {f.hypothesis}")  # fmt: skip
    print(
        f"\n{len(score.files)} files, {score.audio_seconds:.1f} s of audio, model {score.model}: "
        f"WER {score.wer:.2%}  CER {score.cer:.2%}  real-time factor {score.real_time_factor:.2f}"
    )
    if args.json:
        report = asdict(score) | {"real_time_factor": score.real_time_factor}
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
