"""Image decoding moved to ``core.images`` (the vision roles and the vision app share it)."""

from core.images import default_max_pixels, to_rgb

__all__ = ["default_max_pixels", "to_rgb"]
