"""The embedding_head role: the classifier heads users train, served from their folders."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InvalidInputError, ModelUnavailableError
from shared_models.embedding_head import save_head
from shared_models.types.embedding_head import ROLE, HeadInfo, HeadInfoRequest
from shared_models.types.embedding_training import LinearHead


def test_a_saved_head_is_served_batched_with_errors_per_row(manager, tmp_path):
    weight = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], np.float32)
    bias = np.zeros(3, np.float32)
    folder = save_head(tmp_path / "head-a", LinearHead(weight, bias))
    handle = manager.handle(f"local:{folder}", role=ROLE)
    assert handle.call([HeadInfoRequest()]) == [HeadInfo(n_classes=3, dim=2)]
    out = handle.call(
        [np.array([5.0, 0.0]), np.array([1.0, 2.0, 3.0]), np.array([0.0, 5.0])],
        return_exceptions=True,
    )
    assert out[0].argmax() == 0 and out[2].argmax() == 1
    assert abs(float(out[0].sum()) - 1.0) < 1e-5
    assert isinstance(out[1], InvalidInputError) and "2 numbers" in str(out[1])
    with pytest.raises(InvalidInputError, match="already exists"):
        save_head(folder, LinearHead(weight, bias))
    manager.remove_model(f"local:{folder}")


def test_a_pickle_in_place_of_a_head_is_refused(manager, tmp_path):
    folder = tmp_path / "head-evil"
    folder.mkdir()
    (folder / "head.safetensors").write_bytes(b"\x80\x04K\x01.")  # a pickle stream
    handle = manager.handle(f"local:{folder}", role=ROLE)
    with pytest.raises(ModelUnavailableError, match="safetensors"):
        handle.call([HeadInfoRequest()])
    manager.remove_model(f"local:{folder}")
