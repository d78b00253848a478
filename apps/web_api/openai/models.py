"""``GET /v1/models`` and model-id resolution for the other routes."""

from __future__ import annotations

import time

from fastapi import APIRouter

from core import ModelManager, ModelSpec
from core.errors import UnknownModelError

# OpenAI's model ids that clients hard-code, served by the role's configured model.
ALIASES = {"whisper-1": "speech"}
_CREATED = int(time.time())  # the server's start; models carry no creation date here


def configured_roles(manager: ModelManager) -> list[str]:
    """The roles settings choose a model for (``SPRINGBOARD_MODELS__<ROLE>``)."""
    return list(type(manager.settings.models).model_fields)


def serving_specs(manager: ModelManager) -> list[ModelSpec]:
    """Every model the core can serve: registered (bundled and user-added) plus each role's choice."""
    # Trainers are models too, but nothing outside an app can use one through /v1.
    specs = {s.name: s for s in manager.model_specs() if "training" not in s.role}
    for role in configured_roles(manager):
        try:
            spec = manager.spec(role)
        except Exception:  # an external choice that cannot be resolved is simply not listed
            continue
        specs.setdefault(spec.name, spec)
    return list(specs.values())


def resolve_model(manager: ModelManager, model: str, role: str) -> ModelSpec:
    """The spec serving ``model`` (a model name, a role name, or an alias) for ``role``.

    Raises ``UnknownModelError`` (404) for anything else, including a model of
    another role: no such model exists for this endpoint.
    """
    if not isinstance(model, str) or not model.strip():
        raise UnknownModelError("Give a model id; GET /v1/models lists them.")
    model = ALIASES.get(model.strip(), model.strip())
    names = {s.name for s in serving_specs(manager)}
    if model not in names and model not in configured_roles(manager):
        raise UnknownModelError(_unknown(manager, model, role))
    spec = manager.spec(model)
    if spec.role != role:
        raise UnknownModelError(
            f"'{model}' is a {spec.role} model; {_unknown(manager, None, role)}"
        )
    return spec


def _unknown(manager: ModelManager, model: str | None, role: str) -> str:
    known = ", ".join(s.name for s in serving_specs(manager) if s.role == role) or "none"
    head = f"The model '{model}' does not exist. " if model else ""
    return f"{head}Models for this endpoint ({role}): {known}."


def model_object(spec: ModelSpec) -> dict:
    return {"id": spec.name, "object": "model", "created": _CREATED, "owned_by": "springboard",
            "role": spec.role, "description": spec.description}  # fmt: skip


def add_model_routes(router: APIRouter, manager: ModelManager) -> None:
    @router.get("/models")
    def list_models() -> dict:
        """Every model the server can serve, of every role."""
        return {"object": "list", "data": [model_object(s) for s in serving_specs(manager)]}

    @router.get("/models/{model_id:path}")
    def get_model(model_id: str) -> dict:
        """One model, by id."""
        for spec in serving_specs(manager):
            if spec.name == model_id:
                return model_object(spec)
        raise UnknownModelError(
            f"The model '{model_id}' does not exist; GET /v1/models lists them."
        )
