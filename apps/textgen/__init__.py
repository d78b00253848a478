"""Text generation: templates, streaming, chat and perplexity on the shared language model.

from apps.textgen import TextGenerator
gen = TextGenerator()
gen.generate("Write a tagline for a bike shop", max_new_tokens=60, temperature=0.7, seed=1)
"""

from .api import PromptTruncatedWarning, StopSequenceNotFoundWarning, TextGenerator
from .options import GenerationOptions
from .streaming import TextStream
from .templates import BUILTIN_TEMPLATES, Template, TemplateField

__all__ = [
    "BUILTIN_TEMPLATES",
    "GenerationOptions",
    "PromptTruncatedWarning",
    "StopSequenceNotFoundWarning",
    "Template",
    "TemplateField",
    "TextGenerator",
    "TextStream",
]
