"""The knowledge base: entries in SQLite, their vectors in a persisted FAISS index.

SQLite is the source of truth and also keeps each entry's vector, so the FAISS
file is a cache that can always be rebuilt without re-embedding. Edits update
the index in place (``IndexIDMap2`` over an inner-product flat index: add,
remove and replace by id) and write it back atomically; a revision number
stored in both tells, at start, whether the file is current.

Concurrent edits: every entry has a version. ``update`` and ``delete`` accept
the version the caller last saw and refuse a stale one, so two people editing
the same entry cannot silently overwrite each other.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from core.errors import InvalidInputError
from core.settings import Limits
from core.storage import Database
from shared_models.types.embedding import EmbedText

from .importers import MAX_ALTERNATIVES, MAX_KB_ENTRIES, FaqEntry, make_entry
from .lexical import BM25Index

APP = "customer_service"
MIGRATIONS = [
    """
    CREATE TABLE cs_entries (
        num INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        question TEXT NOT NULL,
        answer TEXT NOT NULL,
        category TEXT NOT NULL DEFAULT '',
        alternatives TEXT NOT NULL DEFAULT '[]',
        vector BLOB NOT NULL,
        version INTEGER NOT NULL DEFAULT 1,
        updated_at REAL NOT NULL
    );
    CREATE TABLE cs_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO cs_meta (key, value) VALUES ('kb_revision', '0');
    CREATE TABLE cs_sessions (
        id TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE cs_messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES cs_sessions(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        content TEXT NOT NULL,
        intent TEXT,
        intent_confidence REAL,
        sentiment REAL,
        source_id TEXT,
        confidence REAL,
        escalated INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    CREATE INDEX cs_messages_session ON cs_messages(session_id, id);
    CREATE TABLE cs_tickets (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES cs_sessions(id) ON DELETE CASCADE,
        message_id INTEGER REFERENCES cs_messages(id),
        question TEXT NOT NULL,
        reason TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open',
        created_at REAL NOT NULL,
        closed_at REAL
    );
    CREATE TABLE cs_feedback (
        message_id INTEGER PRIMARY KEY REFERENCES cs_messages(id) ON DELETE CASCADE,
        rating INTEGER NOT NULL,
        created_at REAL NOT NULL
    )
    """,
]

Embedder = Callable[[list[str | EmbedText]], np.ndarray]
# Knowledge bases written before the model was stored were embedded with MiniLM.
LEGACY_EMBEDDING_MODEL = "minilm-l6"
# FAISS ids: entry number * SLOTS + vector index. Each entry has one vector per
# phrasing (the question first, then its alternatives) and a last one for the
# question with its answer, which catches questions worded like the answer.
SLOTS = MAX_ALTERNATIVES + 2


class ConflictError(InvalidInputError):
    """An entry changed (or vanished) since the caller read it."""


@dataclass
class StoredEntry(FaqEntry):
    """An entry as stored: with its FAISS id and edit version."""

    num: int = 0
    version: int = 1


class KnowledgeBase:
    """FAQ entries with a dense (FAISS) and a lexical (BM25) index kept in step."""

    def __init__(
        self,
        db: Database,
        index_dir: Path,
        embed: Embedder,
        limits: Limits,
        dim: int = 384,
        embedding_model: str = LEGACY_EMBEDDING_MODEL,
    ) -> None:
        self.db = db
        self.limits = limits
        self.embedding_model = embedding_model
        self.index_dir = index_dir
        self.index_path = index_dir / "kb.faiss"
        self.embed = embed
        self.dim = dim
        self._lock = threading.RLock()
        db.migrate(APP, MIGRATIONS)
        index_dir.mkdir(parents=True, exist_ok=True)
        self.entries: dict[int, StoredEntry] = {}
        self.by_id: dict[str, StoredEntry] = {}
        self.bm25 = BM25Index()
        self.index = self._load_index()
        self.rebuilt_index = False
        # Vectors of another model (possibly of another width) are not indexed, but embedded again.
        stale = self.get_meta("embedding_model", LEGACY_EMBEDDING_MODEL) != embedding_model
        self._sync_from_db(vectors=not stale)
        if stale:
            self._reembed()

    # ------------------------------------------------------------------ metadata
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        """A stored setting of this knowledge base (company name, calibration ...)."""
        rows = self.db.query("SELECT value FROM cs_meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else default

    def set_meta(self, key: str, value: str | None) -> None:
        """Store (or, with None, remove) a setting of this knowledge base."""
        with self.db.transaction() as conn:
            if value is None:
                conn.execute("DELETE FROM cs_meta WHERE key = ?", (key,))
            else:
                conn.execute(
                    "INSERT INTO cs_meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )

    def _reembed(self) -> None:
        """Vectors from another embedding model are not comparable: embed every entry again."""
        with self._lock:
            entries = self.all()
            if entries:
                flat = self._embed_questions([t for e in entries for t in _dense_texts(e)])
                start = 0
                with self.db.transaction() as conn:
                    for e in entries:
                        n = len(e.phrasings) + 1
                        conn.execute(
                            "UPDATE cs_entries SET vector = ? WHERE num = ?",
                            (flat[start : start + n].tobytes(), e.num),
                        )
                        start += n
                    revision = self._bump(conn)
                self.index = None  # type: ignore[assignment]
                self._sync_from_db()
                self._save_index(revision)
            self.set_meta("embedding_model", self.embedding_model)

    # ------------------------------------------------------------------ loading
    def revision(self) -> int:
        """The edit counter: it changes with every import, edit and delete."""
        return self._revision()

    def _revision(self, conn=None) -> int:
        conn = conn or self.db.connect()
        return int(
            conn.execute("SELECT value FROM cs_meta WHERE key = 'kb_revision'").fetchone()[0]
        )

    def _load_index(self) -> faiss.IndexIDMap2:
        if self.index_path.is_file():
            try:
                index = faiss.read_index(str(self.index_path))
                meta = json.loads(self.index_path.with_suffix(".json").read_text())
                if (
                    meta.get("revision") == self._revision()
                    and index.d == self.dim
                    and meta.get("slots") == SLOTS
                ):
                    return index
            except (RuntimeError, OSError, ValueError):
                pass  # unreadable or stale: rebuilt from the vectors in SQLite below
        return None  # type: ignore[return-value]

    def _sync_from_db(self, vectors: bool = True) -> None:
        rows = self.db.query("SELECT * FROM cs_entries ORDER BY num")
        self.entries = {row["num"]: _row_entry(row) for row in rows}
        self.by_id = {e.id: e for e in self.entries.values()}
        for num, entry in self.entries.items():
            self.bm25.add(num, lexical_text(entry))
        if not vectors:
            self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
            return
        expected = sum(len(e.phrasings) + 1 for e in self.entries.values())
        if self.index is None or self.index.ntotal != expected:
            # The file is missing, stale (a crash between commit and save) or damaged.
            self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
            for row in rows:
                vectors = np.frombuffer(row["vector"], dtype=np.float32).reshape(-1, self.dim)
                self.index.add_with_ids(vectors, _vector_ids(row["num"], len(vectors)))
            self.rebuilt_index = True
            self._save_index(self._revision())

    def _save_index(self, revision: int) -> None:
        tmp = self.index_path.with_suffix(".tmp")
        faiss.write_index(self.index, str(tmp))
        tmp.replace(self.index_path)
        meta_tmp = self.index_path.with_suffix(".json.tmp")
        meta_tmp.write_text(
            json.dumps({"revision": revision, "count": int(self.index.ntotal), "slots": SLOTS})
        )
        meta_tmp.replace(self.index_path.with_suffix(".json"))

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self.entries)

    def get(self, entry_id: str) -> StoredEntry | None:
        return self.by_id.get(entry_id)

    def all(self) -> list[StoredEntry]:
        return sorted(self.entries.values(), key=lambda e: e.num)

    # ------------------------------------------------------------------ writing
    def upsert_many(self, entries: list[FaqEntry]) -> dict[str, int]:
        """Add new entries and replace those whose id exists. All or nothing."""
        if not entries:
            return {"added": 0, "updated": 0}
        with self._lock:
            existing = {e.id: e for e in self.entries.values()}
            new_count = sum(1 for e in entries if e.id not in existing)
            if len(self.entries) + new_count > MAX_KB_ENTRIES:
                raise InvalidInputError(
                    f"The knowledge base is limited to {MAX_KB_ENTRIES} entries."
                )
            flat = self._embed_questions([t for e in entries for t in _dense_texts(e)])
            vectors, start = [], 0
            for e in entries:
                vectors.append(flat[start : start + len(e.phrasings) + 1])
                start += len(e.phrasings) + 1
            now = time.time()
            changed: list[StoredEntry] = []
            with self.db.transaction() as conn:
                for entry, vec in zip(entries, vectors, strict=True):
                    old = existing.get(entry.id)
                    alts = json.dumps(entry.alternatives, ensure_ascii=False)
                    if old is None:
                        cur = conn.execute(
                            "INSERT INTO cs_entries (id, question, answer, category, alternatives, vector,"
                            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (
                                entry.id,
                                entry.question,
                                entry.answer,
                                entry.category,
                                alts,
                                vec.tobytes(),
                                now,
                            ),
                        )
                        num, version = int(cur.lastrowid), 1
                    else:
                        conn.execute(
                            "UPDATE cs_entries SET question=?, answer=?, category=?, alternatives=?, vector=?,"
                            " version=version+1, updated_at=? WHERE num=?",
                            (
                                entry.question,
                                entry.answer,
                                entry.category,
                                alts,
                                vec.tobytes(),
                                now,
                                old.num,
                            ),
                        )
                        num, version = old.num, old.version + 1
                    changed.append(
                        StoredEntry(
                            entry.id,
                            entry.question,
                            entry.answer,
                            entry.category,
                            list(entry.alternatives),
                            num,
                            version,
                        )
                    )
                revision = self._bump(conn)
            self._apply(changed, vectors, revision)
            added = sum(1 for e in entries if e.id not in existing)
            return {"added": added, "updated": len(entries) - added}

    def replace_all(self, entries: list[FaqEntry]) -> None:
        """Make ``entries`` the whole knowledge base. The new entries are stored first, so a
        failure (an embedding error, say) leaves the old ones in place."""
        with self._lock:
            self.upsert_many(entries)
            keep = {e.id for e in entries}
            for old in [e for e in self.all() if e.id not in keep]:
                self.delete(old.id)

    def add(
        self,
        entry_id: str,
        question: str,
        answer: str,
        category: str = "",
        alternatives: list[str] | str | None = None,
    ) -> StoredEntry:
        """Add one entry; its id must be new (empty: derived from the question)."""
        entry = make_entry(
            entry_id, question, answer, category, "New entry", alternatives, limits=self.limits
        )
        with self._lock:
            if self.get(entry.id) is not None:
                raise InvalidInputError(
                    f"An entry with id {entry.id!r} already exists; edit it instead."
                )
            self.upsert_many([entry])
            return self.get(entry.id)  # type: ignore[return-value]

    def update(
        self,
        entry_id: str,
        question: str,
        answer: str,
        category: str = "",
        expected_version: int | None = None,
        alternatives: list[str] | str | None = None,
    ) -> StoredEntry:
        """Replace an entry's text; refuses if it changed since ``expected_version``."""
        entry = make_entry(
            entry_id, question, answer, category, f"Entry {entry_id}", alternatives,
            limits=self.limits,
        )  # fmt: skip
        with self._lock:
            self._check_version(entry_id, expected_version)
            self.upsert_many([entry])
            return self.get(entry_id)  # type: ignore[return-value]

    def delete(self, entry_id: str, expected_version: int | None = None) -> None:
        with self._lock:
            old = self._check_version(entry_id, expected_version)
            with self.db.transaction() as conn:
                conn.execute("DELETE FROM cs_entries WHERE num = ?", (old.num,))
                revision = self._bump(conn)
            self.index.remove_ids(_vector_ids(old.num, SLOTS))
            self.bm25.remove(old.num)
            del self.entries[old.num]
            del self.by_id[old.id]
            self._save_index(revision)

    def _check_version(self, entry_id: str, expected_version: int | None) -> StoredEntry:
        # Read the stored version, not our cache: another process may have written.
        row = self.db.query("SELECT version FROM cs_entries WHERE id = ?", (entry_id,))
        old = self.get(entry_id)
        if not row or old is None:
            raise ConflictError(
                f"There is no entry with id {entry_id!r} (it may have just been deleted)."
            )
        if expected_version is not None and int(row[0]["version"]) != int(expected_version):
            raise ConflictError(
                f"Entry {entry_id!r} was changed by someone else since you opened it "
                f"(version {row[0]['version']}, you had {expected_version}). Reload it and edit again."
            )
        return old

    def _bump(self, conn) -> int:
        revision = self._revision(conn) + 1
        conn.execute("UPDATE cs_meta SET value = ? WHERE key = 'kb_revision'", (str(revision),))
        return revision

    def _apply(self, changed: list[StoredEntry], vectors: list[np.ndarray], revision: int) -> None:
        for entry, vecs in zip(changed, vectors, strict=True):
            # Replaced entries: remove their vectors then add the new ones; nothing else moves.
            self.index.remove_ids(_vector_ids(entry.num, SLOTS))
            self.index.add_with_ids(np.ascontiguousarray(vecs), _vector_ids(entry.num, len(vecs)))
            self.entries[entry.num] = entry
            self.by_id[entry.id] = entry
            self.bm25.add(entry.num, lexical_text(entry))
        self._save_index(revision)

    def _embed_questions(self, questions: list[str | EmbedText]) -> np.ndarray:
        vectors = np.asarray(self.embed(questions), dtype=np.float32).reshape(
            len(questions), self.dim
        )
        return np.ascontiguousarray(vectors)

    # ------------------------------------------------------------------ search
    def dense_search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Entries by their best-matching phrasing: (entry number, cosine), best first."""
        with self._lock:
            if self.index.ntotal == 0:
                return []
            n = min(k * SLOTS, self.index.ntotal)
            scores, ids = self.index.search(vector.reshape(1, -1).astype(np.float32), n)
        best: dict[int, float] = {}
        for i, s in zip(ids[0], scores[0], strict=True):
            if i != -1:
                num = int(i) // SLOTS
                best.setdefault(num, float(s))  # results are sorted: the first hit is the best
        return sorted(best.items(), key=lambda kv: -kv[1])[:k]

    def entry_vectors(self, num: int) -> np.ndarray:
        """The stored vectors of one entry: each phrasing, then question plus answer."""
        entry = self.entries[num]
        with self._lock:
            return np.stack(
                [self.index.reconstruct(int(i)) for i in _vector_ids(num, len(entry.phrasings) + 1)]
            )

    def entry_similarity(self, vector: np.ndarray, num: int) -> float:
        """Cosine between a query and an entry's best phrasing."""
        entry = self.entries[num]
        vecs = np.stack(
            [self.index.reconstruct(int(i)) for i in _vector_ids(num, len(entry.phrasings) + 1)]
        )
        return float((vecs @ vector).max())

    def lexical_search(self, query: str) -> tuple[dict[int, float], dict[int, float]]:
        with self._lock:
            return self.bm25.scores(query)

    def lexical_terms(self, num: int) -> frozenset[str]:
        """The BM25 tokens of one entry (what a question's words can match)."""
        with self._lock:
            return self.bm25.terms(num)


def _row_entry(row) -> StoredEntry:
    return StoredEntry(
        row["id"],
        row["question"],
        row["answer"],
        row["category"],
        json.loads(row["alternatives"]),
        row["num"],
        row["version"],
    )


def _vector_ids(num: int, count: int) -> np.ndarray:
    return np.arange(num * SLOTS, num * SLOTS + count, dtype=np.int64)


def _dense_texts(entry: FaqEntry) -> list[str | EmbedText]:
    # Phrasings are matched question to question (E5's symmetric "query: " side); the
    # question with its answer is a passage to be found.
    return [*entry.phrasings, EmbedText(f"{entry.question} {entry.answer}", "passage")]


def lexical_text(entry: FaqEntry) -> str:
    # The phrasings twice: they are what customers paraphrase; the answer adds vocabulary.
    phrasings = " ".join(entry.phrasings)
    return f"{phrasings} {phrasings} {entry.answer}"
