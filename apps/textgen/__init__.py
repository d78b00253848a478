"""Text generation: templates, streaming, chat and perplexity on the shared language model.

from apps.textgen import TextGenerator
gen = TextGenerator()
gen.generate("Write a tagline for a bike shop", max_new_tokens=60, temperature=0.7, seed=1)
report = gen.fine_tune("train.jsonl", name="house-json")     # LoRA, compared with the base
gen.generate("...", adapter="house-json")
gen.generate("...", logprobs=True).tokens                     # each token and its probability
"""

from .adapters import AdapterInfo
from .api import PromptTruncatedWarning, StopSequenceNotFoundWarning, TextGenerator
from .confidence import ScoredText, TokenConfidence
from .fine_tune_run import FineTuneReport, FineTuneRun
from .fine_tuning import TrainingData, load_training_data
from .options import GenerationOptions
from .streaming import TextStream
from .templates import BUILTIN_TEMPLATES, Template, TemplateField

__all__ = [
    "BUILTIN_TEMPLATES",
    "AdapterInfo",
    "FineTuneReport",
    "FineTuneRun",
    "TrainingData",
    "load_training_data",
    "GenerationOptions",
    "PromptTruncatedWarning",
    "ScoredText",
    "StopSequenceNotFoundWarning",
    "Template",
    "TemplateField",
    "TextGenerator",
    "TextStream",
    "TokenConfidence",
]
