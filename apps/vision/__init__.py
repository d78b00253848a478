"""Image recognition: classify, detect, train your own classifier, find similar images."""

from .api import ImageRecognizer, TrainingReport

__all__ = ["ImageRecognizer", "TrainingReport"]
