"""Importing this module registers every bundled model with the core's registry."""

from . import (  # noqa: F401  (each module registers its models)
    embedding_head,
    image_classification,
    image_classifier_training,
    object_detection,
    speech_recognition,
    text_embedding,
    text_embedding_training,
    text_generation,
    text_generation_training,
)
