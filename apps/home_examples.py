"""The home page's live examples: one small, real call into each app's Python API.

Each function takes what the home page's example widget holds and returns what it
shows. They use the same app objects as the app pages (``apps.ui_kit``'s lazy
singletons), so a model handle, database or index is never opened twice. Errors are
``SpringboardError`` with a message written for the person at the page.
"""

from __future__ import annotations

from collections.abc import Iterator

from core import get_manager
from core.errors import InvalidInputError

from .ui_kit import (
    image_recognizer,
    movielens_recommender,
    support_bot,
    text_generator,
    transcriber,
)

# (label shown, MovieLens item id)
MOVIES = (("Star Wars (1977)", "50"), ("Toy Story (1995)", "1"), ("Fargo (1996)", "100"))
SUPPORT_QUESTION = "My new card still hasn't arrived, what should I do?"
WRITING_PROMPT = "Write a one-sentence tagline for a bakery that delivers fresh bread at dawn."
WRITING_TOKENS = 40


def ask_support(question: str) -> str:
    """The demo support bot's answer, with where it came from (markdown)."""
    reply = support_bot().ask(question, session_id="home-page-example")
    if reply.escalated:
        return (
            f"{reply.answer}\n\n*Escalated to a human (confidence {reply.confidence:.0%}): "
            "the bot does not guess.*"
        )
    return (
        f"{reply.answer}\n\n*Source: FAQ entry `{reply.source_id}` "
        f"({reply.source_question}); confidence {reply.confidence:.0%}; "
        f"intent `{reply.intent}`.*"
    )


def similar_movies(item_id: str, k: int = 5) -> str:
    """Movies most similar to ``item_id`` by who watched them (item-kNN on MovieLens-100k)."""
    if not item_id:
        raise InvalidInputError("Pick a movie first.")
    rec = movielens_recommender()
    rows = [f"{i}. **{r.title}** (similarity {r.score:.2f})" for i, r in
            enumerate(rec.similar_items(item_id, k=k), 1)]
    return f"People who watched **{rec.title(item_id)}** also watched:\n\n" + "\n".join(rows)


def example_clip() -> str | None:
    """A bundled speech clip (generated once with espeak-ng), or None without espeak-ng."""
    from apps.speech.examples import example_files

    clips = example_files(get_manager().settings.data_dir)
    return str(clips[0]) if clips else None


def transcribe_clip(path: str | None) -> str:
    """The transcript of one short clip, with its detected language."""
    if not path:
        raise InvalidInputError("Record or upload a clip first.")
    transcript = transcriber().transcribe(path)
    return f"“{transcript.text}”\n\n*Language: {transcript.language}; {transcript.duration:.1f} s of audio.*"


def example_photo() -> str:
    """The bundled cat photo (scikit-image's ``chelsea``), written once to the data dir."""
    from apps.vision.examples import example_photos

    return str(example_photos(image_recognizer().data_dir / "examples")["chelsea.png"])


def classify_photo(path: str | None) -> str:
    """The image classifier's top three labels for one photo (markdown)."""
    if not path:
        raise InvalidInputError("Upload a photo first.")
    preds = image_recognizer().classify(path, top_k=3)
    return "\n".join(f"{i}. **{p.label}**: {p.score:.0%}" for i, p in enumerate(preds, 1))


def write_text(prompt: str) -> Iterator[str]:
    """Stream a short completion of ``prompt`` from the shared language model."""
    if not prompt or not prompt.strip():
        raise InvalidInputError("Type a prompt first.")
    text = ""
    for piece in text_generator().stream(prompt, max_new_tokens=WRITING_TOKENS, seed=0):
        text += piece
        yield text
