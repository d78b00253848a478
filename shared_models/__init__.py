"""One module per model role. Importing this package registers every bundled model.

Each role wraps a real model behind a batch-in / batch-out ``ModelRunner``; apps
reach them only through ``core.get_manager().handle(role)``.
"""

from . import text_embedding  # noqa: F401  (registers its models)
