"""Customer service: answers from the company's own knowledge, intents, escalation."""

from .api import CustomerServiceBot, Reply, Source
from .knowledge import ConflictError

__all__ = ["ConflictError", "CustomerServiceBot", "Reply", "Source"]
