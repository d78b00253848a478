"""Labelled image sets for training: a folder or zip of ``class_name/image.jpg``, or Fashion-MNIST.

A zip is extracted only after every entry has been checked: no absolute names,
no ``..`` components, no symlinks, no encrypted entries, and explicit caps on the
number of files and on the total uncompressed size (counted while writing, so a
header that lies about sizes does not help a zip bomb).
"""

from __future__ import annotations

import gzip
import re
import shutil
import stat
import struct
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from core.errors import InvalidInputError
from core.files import check_file_size

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
# Limits for uploaded training sets, chosen for a 2-core CPU box (new app limits):
MAX_ZIP_FILES = 20_000  # entries in one zip
MAX_ZIP_UNCOMPRESSED_BYTES = 1024**3  # 1 GiB once extracted
# Photos barely compress (JPEG/PNG are compressed already); a zip that inflates more
# than this many times its own size, beyond a small allowance, is a zip bomb.
MAX_ZIP_RATIO = 100
ZIP_RATIO_ALLOWANCE_BYTES = 64 * 1024**2
MAX_TRAIN_IMAGES = 20_000  # images in one folder-based training set
MAX_CLASSES = 200
MIN_IMAGES_PER_CLASS = 3  # at least two to learn from and one held out
IMBALANCE_WARNING_RATIO = 3.0  # warn when the largest class is this many times the smallest

FASHION_MNIST = "fashion-mnist"
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")  # apt: dataset-fashion-mnist
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


@dataclass
class ImageFolderSet:
    """Image files with integer labels; ``class_names[label]`` names each class."""

    class_names: list[str]
    paths: list[Path]
    labels: np.ndarray
    warnings: list[str] = field(default_factory=list)
    extracted_dir: Path | None = None  # where an uploaded zip was extracted (caller removes it)

    def counts(self) -> dict[str, int]:
        """Images per class, in class order."""
        n = np.bincount(self.labels, minlength=len(self.class_names))
        return {name: int(c) for name, c in zip(self.class_names, n, strict=True)}


@dataclass
class ArraySplit:
    """Greyscale uint8 images (N, H, W) with labels, for the small CNN (Fashion-MNIST)."""

    images: np.ndarray
    labels: np.ndarray


# ------------------------------------------------------------------ folders and zips


def open_training_source(source: str | Path, work_dir: Path) -> ImageFolderSet:
    """Read a folder (or a zip, extracted safely under ``work_dir``) of class folders."""
    path = Path(source).expanduser()
    if not path.exists():
        raise InvalidInputError(f"No training folder or zip at {path}.")
    if path.is_file():
        check_file_size(path, what="training zip")  # from its size, before it is opened
        if not zipfile.is_zipfile(path):
            raise InvalidInputError(
                f"{path.name} is neither a folder nor a zip file of class_name/image.jpg."
            )
        target = work_dir / f"upload-{uuid.uuid4().hex[:12]}"
        safe_extract_zip(path, target)
        try:
            data = scan_class_folders(target)
        except InvalidInputError:
            shutil.rmtree(target, ignore_errors=True)
            raise
        data.extracted_dir = target
        return data
    return scan_class_folders(path)


def safe_extract_zip(archive: Path, target: Path) -> None:
    """Extract ``archive`` into ``target`` after checking every entry; refuse the whole zip if any is unsafe."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidInputError(f"{archive.name} is not a readable zip file ({exc}).") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_FILES:
            raise InvalidInputError(
                f"The zip holds {len(infos):,} entries; the limit is {MAX_ZIP_FILES:,}."
            )
        declared = sum(i.file_size for i in infos)
        if declared > MAX_ZIP_UNCOMPRESSED_BYTES:
            raise InvalidInputError(
                f"The zip would extract to {declared / 1024**2:,.0f} MB; the limit is "
                f"{MAX_ZIP_UNCOMPRESSED_BYTES / 1024**2:,.0f} MB."
            )
        # The cap while writing: the absolute limit, and at most MAX_ZIP_RATIO times the
        # archive's own size (plus an allowance), so headers that lie do not help either.
        cap = min(
            MAX_ZIP_UNCOMPRESSED_BYTES,
            ZIP_RATIO_ALLOWANCE_BYTES + MAX_ZIP_RATIO * archive.stat().st_size,
        )
        if declared > cap:
            raise InvalidInputError(
                f"The zip would extract to {declared / 1024**2:,.0f} MB from "
                f"{archive.stat().st_size / 1024**2:,.1f} MB (more than {MAX_ZIP_RATIO}x): "
                "refused as a zip bomb."
            )
        members = [(info, _safe_member_path(info)) for info in infos]
        target.mkdir(parents=True, exist_ok=False)
        root = target.resolve()
        written = 0
        try:
            for info, rel in members:
                if rel is None:  # a directory entry
                    continue
                dest = (root / rel).resolve()
                if not dest.is_relative_to(root):  # belt and braces after the name checks
                    raise InvalidInputError(f"Unsafe name in zip: {info.filename!r}.")
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, dest.open("wb") as out:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > cap:
                            raise InvalidInputError(
                                f"The zip extracts to more than {cap / 1024**2:,.0f} MB "
                                "(its sizes lie): refused as a zip bomb."
                            )
                        out.write(chunk)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as exc:
            shutil.rmtree(target, ignore_errors=True)
            raise InvalidInputError(f"The zip is corrupt ({exc}).") from exc
        except InvalidInputError:
            shutil.rmtree(target, ignore_errors=True)
            raise


def _safe_member_path(info: zipfile.ZipInfo) -> PurePosixPath | None:
    """The entry's relative path, ``None`` for a directory; unsafe entries raise."""
    name = info.filename
    shown = repr(name)
    if "\x00" in name:
        raise InvalidInputError(f"Unsafe name in zip (NUL byte): {shown}.")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise InvalidInputError(f"The zip contains a symbolic link ({shown}); links are refused.")
    if info.flag_bits & 0x1:
        raise InvalidInputError(f"The zip entry {shown} is encrypted.")
    unified = name.replace("\\", "/")
    if unified.startswith("/") or re.match(r"^[A-Za-z]:", unified):
        raise InvalidInputError(f"Unsafe absolute name in zip: {shown}.")
    parts = [p for p in unified.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InvalidInputError(f"Unsafe name in zip (path traversal): {shown}.")
    if info.is_dir() or not parts:
        return None
    return PurePosixPath(*parts)


def _visible(path: Path) -> bool:
    # macOS zips carry __MACOSX/ and ._name resource forks; editors leave dotfiles.
    return not path.name.startswith((".", "__MACOSX"))


def scan_class_folders(root: Path) -> ImageFolderSet:
    """Class folders directly under ``root`` (or under its single sub-folder, as zips often nest)."""
    if not root.is_dir():
        raise InvalidInputError(f"{root} is not a folder.")
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and _visible(p))
    loose = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if len(subdirs) == 1 and not loose and not _direct_images(subdirs[0]):
        # "dataset/cats/1.jpg": the one top folder wraps the class folders.
        subdirs = sorted(p for p in subdirs[0].iterdir() if p.is_dir() and _visible(p))
    if not subdirs:
        raise InvalidInputError(
            "The training set is empty: expected one folder per class (class_name/image.jpg)."
        )
    if len(subdirs) > MAX_CLASSES:
        raise InvalidInputError(f"{len(subdirs)} class folders; the limit is {MAX_CLASSES}.")
    per_class = {d.name: _images_in(d) for d in subdirs}
    empty = [name for name, files in per_class.items() if not files]
    if empty and all(not f for f in per_class.values()):
        raise InvalidInputError(
            "The training set has class folders but no images "
            f"({', '.join(sorted(IMAGE_SUFFIXES))})."
        )
    if empty:
        raise InvalidInputError(f"These class folders hold no images: {', '.join(empty)}.")
    if len(per_class) < 2:
        only = next(iter(per_class))
        raise InvalidInputError(
            f"Only one class ('{only}'): a classifier needs at least two class folders."
        )
    small = [f"{n} ({len(f)})" for n, f in per_class.items() if len(f) < MIN_IMAGES_PER_CLASS]
    if small:
        raise InvalidInputError(
            f"Each class needs at least {MIN_IMAGES_PER_CLASS} images (some are held out for "
            f"testing); too few in: {', '.join(small)}."
        )
    total = sum(len(f) for f in per_class.values())
    if total > MAX_TRAIN_IMAGES:
        raise InvalidInputError(f"{total:,} images; the limit is {MAX_TRAIN_IMAGES:,}.")
    names = list(per_class)
    paths = [f for files in per_class.values() for f in files]
    labels = np.concatenate([np.full(len(f), i) for i, f in enumerate(per_class.values())])
    data = ImageFolderSet(names, paths, labels.astype(np.int64))
    sizes = data.counts()
    if max(sizes.values()) >= IMBALANCE_WARNING_RATIO * min(sizes.values()):
        data.warnings.append(
            "Unbalanced classes ("
            + ", ".join(f"{k}: {v}" for k, v in sizes.items())
            + "): training weights classes equally; judge the model by macro-F1."
        )
    return data


def _direct_images(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]


def _images_in(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and _visible(p)
        and not any(part.startswith((".", "__MACOSX")) for part in p.relative_to(folder).parts)
    )


def stratified_split(
    labels: np.ndarray, holdout: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held-out): ``holdout`` of each class, at least one image, held out."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = min(len(idx) - 1, max(1, round(holdout * len(idx))))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


# ------------------------------------------------------------------ Fashion-MNIST


def fashion_mnist_available(root: Path = FASHION_MNIST_DIR) -> bool:
    """Whether Debian's dataset-fashion-mnist package is installed."""
    return (root / "train-images-idx3-ubyte.gz").is_file()


def load_fashion_mnist(
    split: str, limit: int | None = None, root: Path = FASHION_MNIST_DIR, seed: int = 0
) -> ArraySplit:
    """The ``train`` (60,000) or ``test`` (10,000) split; ``limit`` takes a class-balanced subset."""
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not fashion_mnist_available(root):
        raise InvalidInputError(
            f"Fashion-MNIST is not installed at {root}: apt-get install dataset-fashion-mnist."
        )
    images = _read_idx(root / f"{prefix}-images-idx3-ubyte.gz", 3)
    labels = _read_idx(root / f"{prefix}-labels-idx1-ubyte.gz", 1).astype(np.int64)
    if limit is not None and limit < len(labels):
        rng = np.random.default_rng(seed)
        per_class = max(1, limit // len(FASHION_MNIST_CLASSES))
        idx = np.concatenate(
            [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in range(10)]
        )
        idx = np.sort(idx)
        images, labels = images[idx], labels[idx]
    return ArraySplit(images, labels)


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read an IDX file (the MNIST format): magic, dimensions, then unsigned bytes."""
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    magic, = struct.unpack(">I", data[:4])
    if magic != 0x800 + ndim:
        raise InvalidInputError(f"{path} is not an IDX file of {ndim} dimensions.")
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
