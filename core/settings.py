"""One settings object for the whole suite.

Values come, in order of precedence, from:
1. environment variables prefixed ``SPRINGBOARD_`` (nested with ``__``, e.g.
   ``SPRINGBOARD_MODELS__SPEECH=whisper-tiny.en``);
2. an optional TOML file named by ``SPRINGBOARD_CONFIG`` (or ``springboard.toml``
   in the working directory);
3. defaults that work with no configuration at all.
"""

from __future__ import annotations

import json
import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

# The default model of each role is named once, beside the role's request types (torch-free).
from shared_models.types import embedding as embedding_types
from shared_models.types import generation as generation_types
from shared_models.types import speech as speech_types
from shared_models.types import vision as vision_types

ENV_PREFIX = "SPRINGBOARD_"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ModelChoices(BaseModel):
    """Which model serves each role.

    A value is either a registered name (see ``python -m apps --list-models``) or
    an external source: ``hub:<org/name>``, ``torchvision:<WeightsEnum.NAME>`` or
    ``local:<folder>``.
    """

    embedding: str = embedding_types.DEFAULT_MODEL
    generation: str = generation_types.DEFAULT_MODEL
    speech: str = speech_types.DEFAULT_MODEL
    classification: str = vision_types.CLASSIFICATION_DEFAULT_MODEL
    detection: str = vision_types.DETECTION_DEFAULT_MODEL


class Limits(BaseModel):
    """Explicit limits on what callers may send. Apps read these; nothing is implicit."""

    max_text_chars: int = 4000
    max_batch_items: int = 256
    max_upload_mb: int = 50
    max_audio_seconds: float = 1800.0
    max_image_pixels: int = 40_000_000
    max_new_tokens: int = 1024
    max_choices: int = 8  # completions per API request (OpenAI's ``n``)


class Decoding(BaseModel):
    """How text generation shares a model among many users (continuous batching).

    ``continuous``: requests join and leave the running batch between decode steps
    (``shared_models.text_generation_scheduler``); off, a batch runs to its end first.
    At most ``max_active`` sequences decode at once, holding at most ``kv_cache_mb`` of
    keys and values (each reserves its prompt plus ``max_new_tokens``); up to
    ``max_waiting`` more wait, and beyond that requests are refused (HTTP 429). Prompts
    are prefilled ``prefill_chunk`` tokens per step, so a long one never stalls the rest.

    ``precision``: what language models compute in. ``auto`` is the device's choice
    (bfloat16 on a GPU) and, on a CPU with bfloat16 in hardware (AMX or AVX512-BF16),
    bfloat16 too: about 2.3x the tokens/s when several users share the model, at the same
    perplexity. Like any batched bfloat16 server, a greedy or seeded reply can then change
    slightly with what else is in the batch or in the prefix cache; ``float32`` on CPU
    makes every reply exactly repeatable, at float32's speed.
    """

    continuous: bool = True
    max_active: int = Field(default=16, ge=1, le=1024)
    max_waiting: int = Field(default=64, ge=0, le=100_000)
    kv_cache_mb: int = Field(default=1024, ge=16)
    prefill_chunk: int = Field(default=256, ge=16)
    precision: Literal["auto", "float32", "bfloat16"] = "auto"


class Privacy(BaseModel):
    """Personal-data redaction before anything is stored or logged (see ``core.privacy``).

    ``mask`` replaces a value by its kind (``[EMAIL]``); ``hash`` by its kind and a salted
    hash (``[EMAIL:3f2a9c01]``), so one customer's messages stay linked; ``keep`` stores
    personal data as typed: an explicit opt-in, shown on the status page.
    ``retention_days`` (optional) bounds how long customer data is kept (``apps.retention``).
    """

    redaction: Literal["mask", "hash", "keep"] = "mask"
    hash_salt: SecretStr | None = Field(
        default=None, description="Secret for hash mode; default: one made per installation in data_dir."
    )
    kinds: list[Literal["email", "card", "iban", "cn_id", "phone", "ip", "name"]] = Field(
        default_factory=lambda: ["email", "card", "iban", "cn_id", "phone", "ip", "name"],
        description="Which kinds of personal data are redacted.",
    )
    retention_days: int | None = Field(
        default=None,
        ge=1,
        description="Delete conversations, tickets and transcript exports older than this many "
        "days, at start and daily; None keeps them until erased.",
    )


class RoleDeployment(BaseModel):
    """How one role's models are deployed on Ray Serve (``SPRINGBOARD_BACKEND=ray``).

    ``max_replicas`` above ``min_replicas`` turns on Serve's autoscaling between them,
    aiming at ``target_ongoing_requests`` per replica; otherwise ``num_replicas`` is fixed.
    ``num_gpus`` may be a fraction, so several roles share one GPU.
    """

    num_replicas: int = Field(default=1, ge=1)
    min_replicas: int = Field(default=1, ge=0)
    max_replicas: int | None = Field(default=None, ge=1)
    target_ongoing_requests: float = Field(default=2.0, gt=0)
    # Torch in a replica uses its own threads; Ray's CPU count only decides placement,
    # and 1 per replica would leave a 2-core machine room for two replicas in all.
    num_cpus: float = Field(default=0.0, ge=0)
    num_gpus: float | None = Field(
        default=None, ge=0, description="None: the role's share of a GPU when the cluster has one."
    )


# What each role gets of one GPU by default when the cluster has GPUs: all of them fit on one.
DEFAULT_GPU_SHARES = {
    "generation": 0.4,
    "speech": 0.2,
    "embedding": 0.1,
    "classification": 0.1,
    "detection": 0.1,
    "embedding_head": 0.05,
}


class RaySettings(BaseModel):
    """The Ray Serve backend: where the cluster is and how roles are deployed."""

    address: str | None = Field(
        default=None,
        description="None: start a local cluster in this process; 'auto': join the one `ray "
        "start --head` runs on this machine; or ray://host:10001.",
    )
    namespace: str = "springboard"
    http_port: int = Field(default=8000, description="Serve's HTTP proxy (unused by the pages).")
    max_ongoing_requests: int = Field(
        default=0,
        ge=0,
        description="Per replica; 0 means twice the batch size, so batches can fill "
        "(Ray's default of 5 would cap every batch at 5).",
    )
    max_models_per_replica: int = Field(
        default=4, ge=1, description="User-trained models multiplexed on one replica."
    )
    retries: int = Field(
        default=2, ge=0, description="Retries of a call whose replica died (streams never retry)."
    )
    call_timeout_s: float = Field(default=600.0, gt=0)
    default: RoleDeployment = Field(default_factory=RoleDeployment)
    roles: dict[str, RoleDeployment] = Field(default_factory=dict)

    def for_role(self, role: str) -> RoleDeployment:
        return self.roles.get(role, self.default)


class Speech(BaseModel):
    """Live microphone transcription (``apps.speech.live``): how often and when text is decoded.

    The stretch since the last finalised point is re-decoded whole for the partial text at
    most every ``live_interval`` seconds of new audio; it is finalised at a pause of
    ``live_pause_seconds``, or when it reaches ``live_max_seconds`` (under Whisper's 30 s
    window). A session takes at most ``live_session_seconds`` of audio; at most
    ``live_max_sessions`` microphones stream to the page at once (more wait in its queue).
    """

    live_interval: float = Field(default=1.0, ge=0.1, le=30.0)
    live_pause_seconds: float = Field(default=0.8, ge=0.2, le=10.0)
    live_max_seconds: float = Field(default=25.0, ge=2.0, le=30.0)
    live_session_seconds: float = Field(default=1800.0, gt=0)
    live_max_sessions: int = Field(default=8, ge=1)


class Cost(BaseModel):
    """Prices that turn compute seconds into money on the status page (see ``core.costs``).

    A CPU-hour is one core busy for an hour (process CPU time); a model on the GPU is
    priced by its GPU seconds alone. The defaults are examples in the range of cloud
    list prices (a vCPU-hour, a data-centre GPU-hour): set your own.
    """

    cpu_hour_price: float = Field(default=0.05, ge=0, description="Price of one CPU core-hour.")
    gpu_hour_price: float = Field(default=2.50, ge=0, description="Price of one GPU-hour.")
    currency: str = Field(default="USD", min_length=1, max_length=8)


class Interface(BaseModel):
    """The pages' language: Simplified Chinese or English (see ``apps.ui_kit.i18n``)."""

    language: Literal["auto", "zh", "en"] = Field(
        default="auto",
        description="auto: from the browser's language (the footer's Settings switch it); zh or en: always.",
    )


class Settings(BaseSettings):
    """Every knob of the suite, with defaults that need no configuration."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Field(default=PROJECT_ROOT / "data", description="User data: SQLite, indexes.")
    cache_dir: Path | None = Field(
        default=None, description="Converted weights; defaults to <data_dir>/cache."
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    quantize: Literal["auto", "none", "int8"] = Field(
        default="auto",
        description="Int8 dynamic quantization of linear layers, CPU only, for models that "
        "support it (speech: int8 decoder; bfloat16 encoder for English-only models, or for all "
        "with int8, where the CPU has bfloat16 kernels); auto means int8 on CPU.",
    )
    threads: int = Field(default=0, description="torch CPU threads; 0 means one per core.")
    memory_budget_mb: int = Field(
        default=0, description="Budget for loaded models; 0 means 70% of RAM (or GPU memory)."
    )
    warmup: Annotated[list[str], NoDecode] = Field(default_factory=list, description="Models loaded at start.")
    batch_wait_ms: float = Field(default=5.0, ge=0, le=1000)
    max_batch_size: int = Field(default=32, ge=1, le=4096)
    models: ModelChoices = Field(default_factory=ModelChoices)
    limits: Limits = Field(default_factory=Limits)
    speech: Speech = Field(default_factory=Speech)
    decoding: Decoding = Field(default_factory=Decoding)
    privacy: Privacy = Field(default_factory=Privacy)
    cost: Cost = Field(default_factory=Cost)
    ui: Interface = Field(default_factory=Interface)
    host: str = "127.0.0.1"
    port: int = 7860
    auth_username: str | None = None
    auth_password: SecretStr | None = None
    api_keys: SecretStr | None = Field(
        default=None,
        description="Bearer keys for /v1 and /api/v1, as 'name:key,name:key' (the name shows "
        "in per-key usage). Never logged.",
    )
    api_keys_file: Path | None = Field(
        default=None, description="A file of API keys, one 'name:key' a line ('#' comments)."
    )
    api_max_concurrent: int = Field(
        default=64, ge=1, description="API requests served at once; more are refused with 429."
    )
    queue_concurrency: int = Field(default=4, ge=1, description="Gradio workers per event.")
    queue_max_size: int = Field(default=64, ge=1, description="Requests waiting before refusal.")
    offline: bool = Field(
        default=True, description="Never reach a model hub; external models must be cached."
    )
    backend: Literal["local", "ray"] = Field(
        default="local",
        description="Where models run: this process, or Ray Serve deployments (the cluster extra).",
    )
    ray: RaySettings = Field(default_factory=RaySettings)

    @field_validator("warmup", mode="before")
    @classmethod
    def _split_warmup(cls, value: Any) -> Any:
        # Allow SPRINGBOARD_WARMUP=minilm-l6,yolov3-tiny as well as a JSON list.
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @property
    def model_cache_dir(self) -> Path:
        """Where converted weights (safetensors) are cached."""
        return self.cache_dir or self.data_dir / "cache"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlFileSource(settings_cls))


class _TomlFileSource(PydanticBaseSettingsSource):
    """Reads the optional TOML file; absent file means no values."""

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get(ENV_PREFIX + "CONFIG")
        candidate = Path(path) if path else Path("springboard.toml")
        if not candidate.is_file():
            if path:
                raise FileNotFoundError(f"{ENV_PREFIX}CONFIG points at {path}, which does not exist")
            return {}
        with candidate.open("rb") as fh:
            return tomllib.load(fh)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
