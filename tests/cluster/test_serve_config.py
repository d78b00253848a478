"""deploy/serve_config.yaml stays valid and names each application as the pages look it up."""

from __future__ import annotations

import pytest
import yaml

from core.settings import PROJECT_ROOT, Settings
from tests.cluster.conftest import _require_ray

CONFIG = PROJECT_ROOT / "deploy" / "serve_config.yaml"


def test_serve_config_matches_the_backend_names() -> None:
    _require_ray()
    from ray.serve.schema import ServeDeploySchema

    from core.backends.ray_replica import build_app
    from core.backends.ray_serve import app_name, role_app_name

    config = ServeDeploySchema.model_validate(yaml.safe_load(CONFIG.read_text(encoding="utf-8")))
    models = Settings().models
    for app in config.applications:
        role = app.args["role"]
        model = app.args.get("model", getattr(models, role, None))
        # The pages find a running deployment by this name; a mismatch would deploy a second copy.
        assert app.name == (app_name(model) if model else role_app_name(role)), app.name
        assert build_app(app.args)._bound_deployment.name == app.name
        assert app.route_prefix is None  # reached through handles, not HTTP
    roles = {app.args["role"] for app in config.applications}
    assert roles == {"embedding", "generation", "speech", "classification", "detection", "embedding_head"}


def test_build_app_needs_a_role() -> None:
    _require_ray()
    from core.backends.ray_replica import build_app
    from core.errors import SpringboardError

    with pytest.raises(SpringboardError, match="need a role"):
        build_app({})
