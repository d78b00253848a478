"""Image recognition: classify, detect, train your own classifier, find similar images."""

from .api import ExplainedImage, ImageRecognizer, TrainingReport

__all__ = ["ExplainedImage", "ImageRecognizer", "TrainingReport"]
