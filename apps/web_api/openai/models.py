"""``GET /v1/models`` and model-id resolution for the other routes.

A LoRA adapter saved on the textgen page (or with ``TextGenerator.fine_tune``) is a
model id of its own, ``<base model>:<adapter>`` (``smollm2-135m:brand-voice``): listed
with the models, and served on the loaded base by the chat and completion routes.
"""

from __future__ import annotations

import time

from fastapi import APIRouter

from apps.textgen.adapters import AdapterInfo, AdapterStore
from core import ModelManager, ModelSpec
from core.errors import UnknownModelError
from shared_models.types.generation import ROLE as GENERATION
from shared_models.types.generation_training import valid_adapter_name

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


def adapter_models(manager: ModelManager) -> list[tuple[str, AdapterInfo]]:
    """``(model id, adapter)`` for each saved adapter whose base this server serves."""
    bases = {s.name for s in serving_specs(manager) if s.role == GENERATION}
    return [
        (f"{a.base_model}:{a.name}", a)
        for a in AdapterStore(manager.settings.data_dir).list()
        if a.base_model in bases
    ]


def resolve_generation(manager: ModelManager, model: str) -> tuple[ModelSpec, str | None]:
    """The generation spec and adapter (or None) serving ``model``: a model id or ``base:adapter``.

    The base may be a model name or a role name (``generation:brand-voice``). An adapter
    that is not saved, or was trained on another base, is an unknown model (404).
    """
    if isinstance(model, str) and ":" in model:
        base, _, name = model.strip().rpartition(":")
        # A model's own id may hold a colon ("hub:org/model"); only a valid adapter name splits.
        if valid_adapter_name(name) and not _serves(manager, model.strip()):
            spec = resolve_model(manager, base, GENERATION)
            store = AdapterStore(manager.settings.data_dir)
            if not store.exists(name) or store.get(name).base_model != spec.name:
                ids = [i for i, a in adapter_models(manager) if a.base_model == spec.name]
                raise UnknownModelError(
                    f"The model '{model.strip()}' does not exist: {spec.name} has no adapter "
                    f"named '{name}'. Adapters of {spec.name}: {', '.join(ids) or 'none yet'}."
                )
            return spec, name
    return resolve_model(manager, model, GENERATION), None


def _serves(manager: ModelManager, model: str) -> bool:
    return model in {s.name for s in serving_specs(manager)}


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


def adapter_object(model_id: str, adapter: AdapterInfo) -> dict:
    return {"id": model_id, "object": "model", "created": _CREATED, "owned_by": "springboard",
            "role": GENERATION, "parent": adapter.base_model,
            "description": f"LoRA adapter '{adapter.name}' of {adapter.base_model}"}  # fmt: skip


def add_model_routes(router: APIRouter, manager: ModelManager) -> None:
    @router.get("/models")
    def list_models() -> dict:
        """Every model the server can serve, of every role, and each saved adapter as ``base:adapter``."""
        models = [model_object(s) for s in serving_specs(manager)]
        adapters = [adapter_object(i, a) for i, a in adapter_models(manager)]
        return {"object": "list", "data": models + adapters}

    @router.get("/models/{model_id:path}")
    def get_model(model_id: str) -> dict:
        """One model, by id."""
        for spec in serving_specs(manager):
            if spec.name == model_id:
                return model_object(spec)
        for adapter_id, adapter in adapter_models(manager):
            if adapter_id == model_id:
                return adapter_object(adapter_id, adapter)
        raise UnknownModelError(
            f"The model '{model_id}' does not exist; GET /v1/models lists them."
        )
