"""What crosses the handle boundary: every role's requests, results and stream events.

These are plain dataclasses of primitives, numpy arrays and bytes. They pickle, and
importing them imports no torch and no model code, so an app (or a client in another
process, or a Ray Serve replica) can build requests and read results without loading
a model. ``tests/shared_models/test_types.py`` holds every module here to that.
"""
