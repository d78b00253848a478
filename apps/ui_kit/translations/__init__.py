"""Translation tables of the pages, one module per language, keyed by the English text."""
