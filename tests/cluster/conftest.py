"""One local Ray cluster per test module, and a model manager whose backend is Ray Serve.

As measured in shared/docs/SERVING.md for a 2-core machine: token auth off, two CPUs, no
dashboard, a small object store, a short temp dir (Unix socket paths are limited to 107
bytes, so pytest's tmp_path is too long), Serve on a free 127.0.0.1 port, replicas with
no CPU reservation. About 25 s to start and stop. When the module is done, no process of
the cluster may be left.

Without Ray (the `cluster` extra) the tests skip on a developer's machine and fail in CI,
where `make test` installs requirements/lock-cluster.txt.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from core.manager import ModelManager
from core.settings import RaySettings, RoleDeployment, Settings
from tests.support.debian import in_ci

try:
    import ray
    from ray import serve
except ImportError:  # pragma: no cover - depends on the environment
    ray = None


def _require_ray() -> None:
    if ray is not None:
        return
    message = "Ray Serve is not installed: make install EXTRAS=dev,cluster (requirements/lock-cluster.txt)"
    if in_ci():
        pytest.fail(f"{message}. `make test` installs it in CI, so this is a failure.", pytrace=False)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cluster_processes(temp_dir: str) -> list[psutil.Process]:
    """Processes whose command line names the cluster's temp dir (raylet, GCS, workers)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(temp_dir in part for part in proc.info["cmdline"] or []):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster for this module; every process of it is gone afterwards."""
    _require_ray()
    os.environ["RAY_AUTH_MODE"] = "disabled"
    temp_dir = tempfile.mkdtemp(prefix="sbray", dir="/tmp")
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=200_000_000,
        _temp_dir=temp_dir,
        namespace="springboard-tests",
        log_to_driver=False,
    )
    try:
        yield temp_dir
    finally:
        try:
            serve.shutdown()
        finally:
            ray.shutdown()
        deadline = time.monotonic() + 30
        while _cluster_processes(temp_dir) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = _cluster_processes(temp_dir)
        for proc in left:  # never leave them running, even when the check below fails
            proc.kill()
        shutil.rmtree(temp_dir, ignore_errors=True)
        assert not left, f"Ray processes outlived the cluster: {[p.pid for p in left]}"


@pytest.fixture(scope="module")
def ray_settings(ray_cluster, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    cache = os.environ.get("SPRINGBOARD_CACHE_DIR") or str(Path(__file__).resolve().parents[2] / "data" / "cache")
    no_cpu = RoleDeployment(num_cpus=0)
    return Settings(
        data_dir=tmp_path_factory.mktemp("springboard-ray"),
        cache_dir=Path(cache),
        backend="ray",
        # One torch thread per replica: several replicas share the two cores.
        threads=1,
        ray=RaySettings(namespace="springboard-tests", http_port=_free_port(), default=no_cpu),
    )


@pytest.fixture(scope="module")
def ray_manager(ray_settings: Settings):
    """A manager whose handles run on the module's cluster (apps get it passed in)."""
    manager = ModelManager(ray_settings)
    yield manager
    manager.close()
