"""Image input handling: anything image-like in, an RGB ``PIL.Image`` out.

The vision roles decode what they are sent with it, and the vision app decodes
uploads with it before it builds requests, so both sides apply the same limits.

Accepted inputs: a ``PIL.Image``, a path (``str`` / ``Path``), encoded bytes
(``bytes`` / ``bytearray`` / ``memoryview``), a binary file object, or a numpy
array (H x W grey, H x W x 1/3/4, ``uint8`` or float in [0, 1]).

Every failure is an ``InvalidInputError`` with a message for the person who sent
the image: not an image, truncated, too many pixels. The pixel limit is checked
from the header, before any pixel is decoded, so a decompression bomb (a small
file that claims to be 30000 x 30000) costs nothing.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InvalidInputError
from .files import check_file_size

WHITE = (255, 255, 255)
EXIF_ORIENTATION = 0x0112


def default_max_pixels() -> int:
    """The pixel limit from the process settings (``limits.max_image_pixels``)."""
    from .settings import get_settings

    return get_settings().limits.max_image_pixels


def to_rgb(image: Any, max_pixels: int | None = None, draft_size: int | None = None) -> Image.Image:
    """Decode ``image`` into an 8-bit RGB ``PIL.Image``, upright according to its EXIF tag.

    ``max_pixels`` defaults to ``settings.limits.max_image_pixels``. ``draft_size``
    is a hint for callers that will shrink the image anyway: a JPEG may then be
    decoded at 1/2, 1/4 or 1/8 scale (in the DCT, much faster than decoding and
    resizing), keeping both sides at least ``draft_size`` pixels. Leave it unset
    when pixel coordinates in the original image matter.
    """
    limit = max_pixels if max_pixels is not None else default_max_pixels()
    if isinstance(image, np.ndarray):
        return _from_array(image, limit)
    if isinstance(image, Image.Image):
        _check_pixels(image.size, limit)
        return _decode(image, None)
    return _decode(_open(image, limit), draft_size)


def _open(source: Any, limit: int) -> Image.Image:
    """Open lazily: only the header is read, so the size is known before decoding."""
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if not path.is_file():
            raise InvalidInputError(f"No image file at {path}.")
        check_file_size(path, what="image")  # refused from its size, before it is opened
        fp: Any = path
    elif isinstance(source, (bytes, bytearray, memoryview)):
        if not len(source):
            raise InvalidInputError("The image is empty (0 bytes).")
        fp = io.BytesIO(bytes(source))
    elif hasattr(source, "read"):
        fp = source
    else:
        raise InvalidInputError(
            f"Expected an image (PIL image, path, bytes or array), got {type(source).__name__}."
        )
    try:
        im = Image.open(fp)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # PIL's own guard fires at open for extreme sizes (and the warning, if
        # warnings are errors). Either way it is a bomb by our rules too.
        raise InvalidInputError(
            f"The image has too many pixels to process safely ({exc})."
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidInputError("The data is not an image in a format that can be read.") from exc
    _check_pixels(im.size, limit)
    return im


def _decode(im: Image.Image, draft_size: int | None) -> Image.Image:
    """Decode the pixels of an opened image (size already checked); corrupt data is refused."""
    try:
        if draft_size and im.format == "JPEG":
            im.draft(None, (draft_size, draft_size))  # no-op for other formats
        im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidInputError(
            f"The image has too many pixels to process safely ({exc})."
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # PIL says "image file is truncated" or similar; callers need only the gist.
        raise InvalidInputError(f"The image file is truncated or corrupt ({exc}).") from exc
    return _to_rgb_mode(_upright(im))


def _check_pixels(size: tuple[int, int], limit: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise InvalidInputError(f"The image has no pixels ({width} x {height}).")
    if width * height > limit:
        raise InvalidInputError(
            f"The image is {width} x {height} = {width * height:,} pixels; the limit is "
            f"{limit:,} (SPRINGBOARD_LIMITS__MAX_IMAGE_PIXELS)."
        )


def _upright(im: Image.Image) -> Image.Image:
    """Apply the EXIF orientation tag (phones store photos sideways and set this tag)."""
    try:
        # exif_transpose copies even an upright image; only call it when there is work to do.
        if im.getexif().get(EXIF_ORIENTATION, 1) in (1, None):
            return im
        return ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001 - a broken EXIF block should not reject a good photo
        return im


def _to_rgb_mode(im: Image.Image) -> Image.Image:
    """Convert any PIL mode to RGB; transparent areas become white, as a viewer shows them."""
    if im.mode == "RGB":
        return im
    if im.mode.startswith("I;16"):
        # 16-bit greyscale: PIL's convert would clip at 255 and give a white image.
        arr = np.asarray(im, dtype=np.float32) / 257.0
        return Image.fromarray(arr.round().astype(np.uint8)).convert("RGB")
    if im.mode in ("I", "F"):
        arr = np.clip(np.asarray(im, dtype=np.float32), 0, 255)
        return Image.fromarray(arr.astype(np.uint8)).convert("RGB")
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        im.mode == "P" and "transparency" in im.info
    )
    if has_alpha:
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, WHITE + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    # CMYK, L, 1, P, YCbCr, LAB, HSV: PIL's conversions are right for display.
    return im.convert("RGB")


def _from_array(arr: np.ndarray, limit: int) -> Image.Image:
    """An RGB image from an H x W, H x W x 1, H x W x 3 or H x W x 4 array."""
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise InvalidInputError(
            f"An image array must be H x W, H x W x 3 or H x W x 4; got shape {arr.shape}."
        )
    _check_pixels((arr.shape[1], arr.shape[0]), limit)
    if arr.dtype == np.uint8:
        data = arr
    elif arr.dtype == np.bool_:
        data = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or arr.min() < 0.0 or arr.max() > 1.0:
            raise InvalidInputError(
                "A float image array must hold values in [0, 1] (scale it, or pass uint8)."
            )
        data = (arr * 255.0 + 0.5).astype(np.uint8)
    else:
        raise InvalidInputError(
            f"An image array must be uint8 or float in [0, 1]; got {arr.dtype}."
        )
    # uint8 H x W, H x W x 3 and H x W x 4 map to PIL modes L, RGB and RGBA.
    return _to_rgb_mode(Image.fromarray(np.ascontiguousarray(data)))
