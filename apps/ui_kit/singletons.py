"""Lazy, thread-safe app objects shared by the pages and the home page's examples.

Each app's page and its home page example use the same object, so a model handle,
database or index is opened once per process, on first use (building a page or
importing this module opens nothing). The factories import their app when first
called, so importing the toolkit does not import every app.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from apps.customer_service import CustomerServiceBot
    from apps.recommendation import Recommender
    from apps.speech import Transcriber
    from apps.textgen import TextGenerator
    from apps.vision import ImageRecognizer

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


class Lazy(Generic[T]):
    """One ``T``, made by ``factory`` on the first call and returned by every call after.

    Thread-safe: under concurrent first calls the factory runs once and every caller
    gets the same object. If the factory raises, nothing is kept and the next call
    tries again (a model that failed to load may load once it is installed).
    """

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._value: T | None = None
        self._made = False
        self._lock = threading.Lock()

    def __call__(self) -> T:
        if self._made:  # fast path: no lock once made (the flag is set after the value)
            return self._value  # type: ignore[return-value]
        with self._lock:
            if not self._made:
                self._value = self._factory()
                self._made = True
        return self._value  # type: ignore[return-value]


class LazyByKey(Generic[K, T]):
    """One ``T`` per key (a model name, say), each made once by ``factory(key)``."""

    def __init__(self, factory: Callable[[K], T]) -> None:
        self._factory = factory
        self._values: dict[K, T] = {}
        self._lock = threading.Lock()

    def __call__(self, key: K) -> T:
        with self._lock:
            if key not in self._values:
                self._values[key] = self._factory(key)
            return self._values[key]


# --------------------------------------------------------------------------- the apps' objects
def _support_bot() -> CustomerServiceBot:
    from apps.customer_service import CustomerServiceBot

    return CustomerServiceBot.demo()


def _image_recognizer() -> ImageRecognizer:
    from apps.vision import ImageRecognizer

    return ImageRecognizer()


def _transcriber(model: str) -> Transcriber:
    from apps.speech import Transcriber

    return Transcriber(model or None)


def _text_generator(model: str) -> TextGenerator:
    from apps.textgen import TextGenerator

    return TextGenerator(model or None)


def _movielens_recommender() -> Recommender:
    from apps.recommendation import Recommender
    from apps.recommendation.data import load_movielens_100k
    from core import get_manager

    interactions, items = load_movielens_100k()
    return Recommender("itemknn", manager=get_manager()).fit(interactions, items)


support_bot: Lazy[CustomerServiceBot] = Lazy(_support_bot)
"""The customer service bot on the demo knowledge base (and whatever users added to it)."""

image_recognizer: Lazy[ImageRecognizer] = Lazy(_image_recognizer)
"""The vision app's recognizer: classifiers, detector, trained models and the search collection."""

movielens_recommender: Lazy[Recommender] = Lazy(_movielens_recommender)
"""Item-kNN fitted on MovieLens-100k (the recommendation page trains its own per session)."""

_transcribers: LazyByKey[str, Transcriber] = LazyByKey(_transcriber)
_text_generators: LazyByKey[str, TextGenerator] = LazyByKey(_text_generator)


def transcriber(model: str | None = None) -> Transcriber:
    """The speech app's transcriber for ``model`` (None: the configured speech model)."""
    return _transcribers(model or "")


def text_generator(model: str | None = None) -> TextGenerator:
    """The text generation app's generator for ``model`` (None: the configured model)."""
    return _text_generators(model or "")
