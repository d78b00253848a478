"""Recommendation app: train on interactions, recommend, explain, evaluate.

Public API: ``Recommender`` (see ``api.py``) and ``Recommendation``.
"""

from .api import Recommendation, Recommender

__all__ = ["Recommendation", "Recommender"]
