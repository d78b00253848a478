"""Similar-image search: L2-normalised backbone embeddings in a FAISS inner-product index.

Inner product of unit vectors is cosine similarity, so scores are in [-1, 1]
(1 for the same picture). The collection is kept on disk next to the index: a
thumbnail of each image (for the page) and its original name.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from core.errors import InvalidInputError

INDEX_FILE, ITEMS_FILE = "index.faiss", "items.json"
THUMBNAIL_SIDE = 384  # stored copies are shrunk to this longest side
MAX_COLLECTION_IMAGES = 20_000  # new app limit: images in the search collection


@dataclass(frozen=True)
class SimilarImage:
    """One hit: the image's name in the collection, its stored copy, cosine similarity."""

    name: str
    path: Path
    score: float


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32, C-contiguous, as FAISS wants)."""
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.maximum(norms, 1e-12)


def pixel_digest(image: Image.Image) -> str:
    """A fingerprint of the decoded pixels (the same picture in another file format matches)."""
    return hashlib.sha256(f"{image.size}".encode() + image.tobytes()).hexdigest()


class SimilarityIndex:
    """A persistent FAISS index of image embeddings with the images it was built from."""

    def __init__(self, root: Path, dim: int) -> None:
        import faiss

        self.root, self.dim = root, dim
        self.images_dir = root / "images"
        self.images_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._items: list[dict] = []
        self._index = faiss.IndexFlatIP(dim)
        if (root / INDEX_FILE).is_file() and (root / ITEMS_FILE).is_file():
            index = faiss.read_index(str(root / INDEX_FILE))
            items = json.loads((root / ITEMS_FILE).read_text())
            if index.d == dim and index.ntotal == len(items):
                self._index, self._items = index, items

    def __len__(self) -> int:
        return len(self._items)

    def add(self, images: list[Image.Image], names: list[str], vectors: np.ndarray) -> int:
        """Add decoded RGB images with their embeddings; returns the collection size.

        An image whose pixels are already in the collection is not added again.
        """
        if len(images) != len(names) or len(images) != len(vectors):
            raise ValueError("images, names and vectors must have the same length")
        with self._lock:
            seen = {item.get("sha256") for item in self._items}
            fresh = []
            for i, image in enumerate(images):
                digest = pixel_digest(image)
                if digest not in seen:
                    seen.add(digest)
                    fresh.append((i, digest))
            images = [images[i] for i, _ in fresh]
            names = [names[i] for i, _ in fresh]
            digests = [d for _, d in fresh]
            vectors = vectors[[i for i, _ in fresh]]
            if len(self._items) + len(images) > MAX_COLLECTION_IMAGES:
                raise InvalidInputError(
                    f"The collection would hold {len(self._items) + len(images):,} images; "
                    f"the limit is {MAX_COLLECTION_IMAGES:,}."
                )
            new_items = []
            for image, name, digest in zip(images, names, digests, strict=True):
                thumb = image.copy()
                thumb.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
                file = self.images_dir / f"{uuid.uuid4().hex}.jpg"
                thumb.save(file, quality=90)
                new_items.append({"name": name, "file": file.name, "sha256": digest})
            if new_items:
                self._index.add(normalise(vectors))
            self._items.extend(new_items)
            self._save()
            return len(self._items)

    def search(self, vector: np.ndarray, k: int) -> list[SimilarImage]:
        """The ``k`` most similar images, best first."""
        with self._lock:
            if not self._items:
                raise InvalidInputError(
                    "The search collection is empty: add images to it first."
                )
            k = min(k, len(self._items))
            scores, ids = self._index.search(normalise(vector.reshape(1, -1)), k)
            return [
                SimilarImage(
                    self._items[i]["name"], self.images_dir / self._items[i]["file"], float(s)
                )
                for s, i in zip(scores[0], ids[0], strict=True)
                if i >= 0
            ]

    def clear(self) -> None:
        """Forget every image in the collection."""
        import faiss

        with self._lock:
            for item in self._items:
                (self.images_dir / item["file"]).unlink(missing_ok=True)
            self._items = []
            self._index = faiss.IndexFlatIP(self.dim)
            self._save()

    def _save(self) -> None:
        import faiss

        # Write both files beside the old ones, then swap, so a crash keeps the old pair.
        tmp_index, tmp_items = self.root / (INDEX_FILE + ".tmp"), self.root / (ITEMS_FILE + ".tmp")
        faiss.write_index(self._index, str(tmp_index))
        tmp_items.write_text(json.dumps(self._items))
        tmp_index.replace(self.root / INDEX_FILE)
        tmp_items.replace(self.root / ITEMS_FILE)
