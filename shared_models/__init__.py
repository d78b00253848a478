"""One module per model role. Importing this package registers every bundled model.

Each role wraps a real model behind a batch-in / batch-out ``ModelRunner``; apps
reach them only through ``core.get_manager().handle(role)``.
"""

from . import (  # noqa: F401  (each module registers its models)
    image_classification,
    object_detection,
    speech_recognition,
    text_embedding,
    text_generation,
)
