"""One module per model role, each a real model behind a batch-in / batch-out ``ModelRunner``.

Apps reach them only through ``core.get_manager().handle(role)`` and never import
the role modules: what an app needs, the requests it sends and the results it gets
back, lives in ``shared_models.types``, which imports no torch and no model code.
Importing ``shared_models.bundled`` registers every bundled model; the core does
that on first use (``core.registry.load_model_modules``).
"""
