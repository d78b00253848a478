"""Users' own templates, kept in the suite's SQLite database."""

from __future__ import annotations

import time

from core.errors import InvalidInputError
from core.storage import Database

from .templates import BUILTIN_TEMPLATES, Template, user_template

APP = "textgen"
MIGRATIONS = [
    """
    CREATE TABLE textgen_templates (
        name TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        system_prompt TEXT NOT NULL DEFAULT '',
        prompt TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    )
    """,
]
# Saved templates per database: enough for any team, small enough for one dropdown.
MAX_USER_TEMPLATES = 200


class TemplateStore:
    """Built-in templates plus the user templates saved in ``db``."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate(APP, MIGRATIONS)

    def all(self) -> list[Template]:
        """Built-ins first (in their fixed order), then user templates by title."""
        rows = self.db.query(
            "SELECT name, title, description, system_prompt, prompt FROM textgen_templates "
            "ORDER BY title COLLATE NOCASE"
        )
        return list(BUILTIN_TEMPLATES.values()) + [_from_row(r) for r in rows]

    def get(self, name: str) -> Template:
        if not isinstance(name, str):
            raise InvalidInputError(f"A template name is text, got {type(name).__name__}.")
        if name in BUILTIN_TEMPLATES:
            return BUILTIN_TEMPLATES[name]
        rows = self.db.query(
            "SELECT name, title, description, system_prompt, prompt FROM textgen_templates "
            "WHERE name = ?",
            (name,),
        )
        if not rows:
            known = ", ".join(t.name for t in self.all())
            raise InvalidInputError(f"No template named {name!r}. Templates: {known}.")
        return _from_row(rows[0])

    def save(
        self,
        name: str,
        title: str,
        system_prompt: str,
        prompt: str,
        description: str = "",
        overwrite: bool = False,
    ) -> Template:
        """Check and store a user template; ``overwrite`` replaces one of the same name."""
        template = user_template(name, title, system_prompt, prompt, description)
        now = time.time()
        with self.db.transaction() as conn:
            exists = conn.execute(
                "SELECT 1 FROM textgen_templates WHERE name = ?", (template.name,)
            ).fetchone()
            if exists and not overwrite:
                raise InvalidInputError(
                    f"A template named '{template.name}' already exists; pick another name or "
                    "choose to overwrite it."
                )
            if not exists:
                (count,) = conn.execute("SELECT COUNT(*) FROM textgen_templates").fetchone()
                if count >= MAX_USER_TEMPLATES:
                    raise InvalidInputError(
                        f"There are already {count} saved templates (the limit is "
                        f"{MAX_USER_TEMPLATES}); delete one first."
                    )
            conn.execute(
                "INSERT INTO textgen_templates "
                "(name, title, description, system_prompt, prompt, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET title = excluded.title, "
                "description = excluded.description, system_prompt = excluded.system_prompt, "
                "prompt = excluded.prompt, updated_at = excluded.updated_at",
                (
                    template.name,
                    template.title,
                    template.description,
                    template.system_prompt,
                    template.prompt,
                    now,
                    now,
                ),
            )
        return template

    def delete(self, name: str) -> bool:
        """Delete a user template. Built-ins cannot be deleted. Returns whether one was."""
        if name in BUILTIN_TEMPLATES:
            raise InvalidInputError(f"'{name}' is a built-in template and cannot be deleted.")
        with self.db.transaction() as conn:
            cursor = conn.execute("DELETE FROM textgen_templates WHERE name = ?", (name,))
        return cursor.rowcount > 0


def _from_row(row) -> Template:
    # Rows were checked on save; building through user_template re-derives the fields.
    return user_template(
        row["name"], row["title"], row["system_prompt"], row["prompt"], row["description"]
    )
