"""Registry resolution and the per-row error helper every runner uses."""

from __future__ import annotations

import pytest

from core.errors import InvalidInputError, UnknownModelError
from core.registry import ModelRegistry, ModelSpec, run_valid_rows


def test_bad_rows_get_their_own_error_and_good_rows_run_in_one_batch():
    batches: list[list[int]] = []

    def prepare(x):
        if x < 0:
            raise InvalidInputError(f"negative {x}")
        return x * 10

    def run(xs):
        batches.append(xs)
        return [x + 1 for x in xs]

    out = run_valid_rows([1, -2, 3], prepare, run)
    assert out[0] == 11 and out[2] == 31
    assert isinstance(out[1], InvalidInputError) and "negative -2" in str(out[1])
    assert batches == [[10, 30]]


def test_other_exceptions_are_not_swallowed():
    with pytest.raises(ZeroDivisionError):
        run_valid_rows([0], lambda x: 1 / x, lambda xs: xs)


def test_resolve_names_roles_and_external_sources():
    reg = ModelRegistry()
    reg.register(ModelSpec(name="m", role="speech", load=lambda c: None, approx_mb=1, source="t"))
    reg.register_external("speech", lambda c: None, approx_mb=7)
    assert reg.resolve("m", role="speech").name == "m"
    external = reg.resolve("hub:org/model", role="speech")
    assert (external.name, external.source, external.approx_mb) == ("hub:org/model", "hub:org/model", 7)
    with pytest.raises(UnknownModelError, match="is a speech model, not a detection model"):
        reg.resolve("m", role="detection")
    with pytest.raises(UnknownModelError, match="cannot load external models"):
        reg.resolve("local:/x", role="detection")
