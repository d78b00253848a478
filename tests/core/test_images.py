"""Image input handling: every accepted form decodes to upright RGB; every bad input is refused clearly."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import InvalidInputError
from core.images import to_rgb

LIMIT = 40_000_000


def png_bomb(path: Path, width: int, height: int) -> Path:
    """A real, valid 1-bit PNG of width x height zeros, written without holding it in memory.

    All-zero rows compress about 1000:1, so a 30000 x 30000 image is ~100 KB on disk
    but 900 million pixels once decoded.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    z = zlib.compressobj(9)
    parts = [z.compress(row * 1000) for _ in range(height // 1000)]
    parts += [z.compress(row * (height % 1000)), z.flush()]
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", b"".join(parts))
        + chunk(b"IEND", b"")
    )
    return path


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def pixel(image: Image.Image, xy: tuple[int, int]) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)[xy[1], xy[0]]


# ------------------------------------------------------------------ accepted inputs


def test_every_input_form_gives_the_same_rgb_image(tmp_path: Path) -> None:
    arr = np.random.default_rng(0).integers(0, 256, (12, 20, 3), dtype=np.uint8)
    png = encode(Image.fromarray(arr), "PNG")
    (tmp_path / "a.png").write_bytes(png)
    forms = [
        arr,
        Image.fromarray(arr),
        png,
        bytearray(png),
        str(tmp_path / "a.png"),
        tmp_path / "a.png",
        io.BytesIO(png),
    ]
    for form in forms:
        out = to_rgb(form, LIMIT)
        assert out.mode == "RGB" and out.size == (20, 12), type(form)
        np.testing.assert_array_equal(np.asarray(out), arr)


def test_exif_orientation_is_applied() -> None:
    # Landscape 40x20: left half red, right half blue. Orientation 6 means "rotate
    # 90 degrees clockwise to display", so the upright image is 20x40, red on top.
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = (255, 0, 0)
    arr[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    out = to_rgb(encode(Image.fromarray(arr), "JPEG", exif=exif, quality=95), LIMIT)
    assert out.size == (20, 40)
    top, bottom = pixel(out, (10, 5)), pixel(out, (10, 35))
    assert top[0] > 200 and top[2] < 60, top
    assert bottom[2] > 200 and bottom[0] < 60, bottom


def test_cmyk_is_converted_to_rgb() -> None:
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # no cyan, full magenta+yellow = red
    for source in (cmyk, encode(cmyk, "JPEG", quality=95)):
        out = to_rgb(source, LIMIT)
        assert out.mode == "RGB"
        np.testing.assert_allclose(pixel(out, (8, 8)), (255, 0, 0), atol=8)


def test_greyscale_becomes_three_equal_channels() -> None:
    grey = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (5, 1))  # 5 x 25
    for source in (grey, grey[:, :, None], encode(Image.fromarray(grey), "PNG")):
        out = np.asarray(to_rgb(source, LIMIT))
        assert out.shape == (5, 25, 3)
        for c in range(3):
            np.testing.assert_array_equal(out[:, :, c], grey)


def test_sixteen_bit_greyscale_is_scaled_not_clipped() -> None:
    arr = np.array([[0, 32896, 65535]], dtype=np.uint16)
    out = np.asarray(to_rgb(encode(Image.fromarray(arr), "PNG"), LIMIT))
    np.testing.assert_array_equal(out[0, :, 0], [0, 128, 255])


def test_alpha_is_composited_on_white() -> None:
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., 0] = 255  # red everywhere...
    rgba[0, :, 3] = (0, 128, 255)  # ...transparent, half, opaque
    rgba[1, :, 3] = 255
    for source in (rgba, Image.fromarray(rgba), encode(Image.fromarray(rgba), "PNG")):
        out = np.asarray(to_rgb(source, LIMIT), dtype=np.int16)
        np.testing.assert_array_equal(out[0, 0], (255, 255, 255))
        np.testing.assert_allclose(out[0, 1], (255, 127, 127), atol=2)
        np.testing.assert_array_equal(out[0, 2], (255, 0, 0))
        np.testing.assert_array_equal(out[1, 1], (255, 0, 0))


def test_palette_transparency_and_la_become_white() -> None:
    pal = Image.new("P", (4, 4), 0)
    pal.putpalette([0, 0, 0] * 256)
    gif = encode(pal, "GIF", transparency=0)
    np.testing.assert_array_equal(pixel(to_rgb(gif, LIMIT), (1, 1)), (255, 255, 255))
    la = Image.new("LA", (4, 4), (0, 0))
    np.testing.assert_array_equal(pixel(to_rgb(la, LIMIT), (1, 1)), (255, 255, 255))


def test_float_arrays_in_unit_range() -> None:
    arr = np.full((4, 4, 3), 0.5, dtype=np.float32)
    np.testing.assert_array_equal(pixel(to_rgb(arr, LIMIT), (0, 0)), (128, 128, 128))
    for bad in (arr * 3, -arr, np.full((4, 4), np.nan)):
        with pytest.raises(InvalidInputError, match=r"\[0, 1\]"):
            to_rgb(bad, LIMIT)


def test_jpeg_draft_decodes_smaller_but_not_below_the_hint() -> None:
    jpeg = encode(Image.new("RGB", (2000, 1000), (10, 200, 30)), "JPEG")
    out = to_rgb(jpeg, LIMIT, draft_size=256)
    assert out.size == (1000, 500)  # 1/2 scale; 1/4 would make the short side 250 < 256
    assert to_rgb(jpeg, LIMIT).size == (2000, 1000)


# ------------------------------------------------------------------ refused inputs


def test_text_file_is_not_an_image(tmp_path: Path) -> None:
    note = tmp_path / "notes.txt"
    note.write_text("not a picture\n" * 10)
    with pytest.raises(InvalidInputError, match="not an image"):
        to_rgb(note, LIMIT)
    with pytest.raises(InvalidInputError, match="not an image"):
        to_rgb(note.read_bytes(), LIMIT)


def test_truncated_png_is_refused() -> None:
    arr = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    png = encode(Image.fromarray(arr), "PNG")
    with pytest.raises(InvalidInputError, match="truncated or corrupt"):
        to_rgb(png[: len(png) // 2], LIMIT)


def test_decompression_bomb_refused_from_the_header(tmp_path: Path) -> None:
    bomb = png_bomb(tmp_path / "bomb.png", 30000, 30000)
    assert bomb.stat().st_size < 1_000_000  # tiny file, 900 megapixels
    with pytest.raises(InvalidInputError, match="too many pixels"):
        to_rgb(bomb, LIMIT)


def test_pixel_limit_from_settings_applies_below_pils_own_guard(tmp_path: Path, settings) -> None:
    # 8000 x 8000 = 64 MP: under PIL's built-in guard (89 MP), over our 40 MP default.
    bomb = png_bomb(tmp_path / "big.png", 8000, 8000)
    with pytest.raises(InvalidInputError, match="MAX_IMAGE_PIXELS"):
        to_rgb(bomb, settings.limits.max_image_pixels)
    small = np.zeros((100, 100, 3), np.uint8)
    for source in (small, Image.fromarray(small), encode(Image.fromarray(small), "PNG")):
        with pytest.raises(InvalidInputError, match="limit is 5,000"):
            to_rgb(source, 5000)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (42, "got int"),
        (b"", "empty"),
        ("/no/such/image.png", "No image file"),
        (np.zeros((4, 4, 2), np.uint8), "shape"),
        (np.zeros((4, 4, 3), np.uint16), "uint16"),
        (np.zeros((0, 4, 3), np.uint8), "no pixels"),
    ],
)
def test_other_bad_inputs(value: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        to_rgb(value, LIMIT)
