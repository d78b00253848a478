"""Recommendation app: train on interactions, recommend, explain, evaluate.

Public API: ``Recommender`` (see ``api.py``), ``Recommendation`` and ``ColumnMapping``
(which column is the user, item, rating, time or event; see ``columns.py``).
"""

from .api import Recommendation, Recommender
from .columns import ColumnMapping

__all__ = ["ColumnMapping", "Recommendation", "Recommender"]
