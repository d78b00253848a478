"""The Ray Serve backend against the local one, in one run.

1. **Per-call overhead** (in this process): the same one-text embedding call, one caller
   after another, through a local handle and through a Ray handle (one replica), then the
   ratio. The model work is the same, so the difference is the backend's cost per call.
2. **Load test** (``--load``): ``bench.load``'s mixed users on the whole suite over HTTP,
   three times: the local backend, Ray with one replica per role, and Ray with two
   replicas of the generation role. Requests served, errors, p50/p95 per app, and the
   memory of the pages' process and of every replica.

    .venv/bin/python -m bench.ray_backend                          # overhead only (~1 min)
    .venv/bin/python -m bench.ray_backend --load --users 20 --seconds 90

The cluster is a local one started here (as in tests/cluster), stopped at the end.
On a 2-core machine more replicas cannot be faster: they share the same two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import httpx  # noqa: E402
import psutil  # noqa: E402
import ray  # noqa: E402
from ray import serve  # noqa: E402

from bench import load  # noqa: E402
from core.manager import ModelManager  # noqa: E402
from core.settings import PROJECT_ROOT, RaySettings, RoleDeployment, Settings  # noqa: E402

MB = 1024 * 1024


def _settings(data_dir: Path, backend: str, port: int = 8000) -> Settings:
    cache = os.environ.get("SPRINGBOARD_CACHE_DIR") or str(PROJECT_ROOT / "data" / "cache")
    return Settings(
        data_dir=data_dir,
        cache_dir=Path(cache),
        backend=backend,
        threads=1,
        ray=RaySettings(http_port=port, default=RoleDeployment(num_cpus=0)),
    )


def _median_ms(call, n: int) -> float:
    times = []
    for i in range(n):
        started = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def overhead(data_dir: Path, calls: int) -> dict:
    """Median latency of one-text embedding calls, local handle vs Ray handle, same run."""
    local = ModelManager(_settings(data_dir, "local"))
    remote = ModelManager(_settings(data_dir, "ray"))
    try:
        lh, rh = local.handle("embedding"), remote.handle("embedding")
        for h in (lh, rh):  # load the model (and start the replica) before timing
            h.call(["warm up"])
        local_ms = _median_ms(lambda i: lh.call([f"sentence number {i}"]), calls)
        ray_ms = _median_ms(lambda i: rh.call([f"sentence number {i}"]), calls)
    finally:
        local.close()
        remote.close()
    return {
        "calls": calls,
        "embed_local_ms": round(local_ms, 2),
        "embed_ray_ms": round(ray_ms, 2),
        "embed_ratio": round(ray_ms / local_ms, 2),
        "ray_overhead_ms": round(ray_ms - local_ms, 2),
    }


def _process_memory(temp_dir: str) -> dict[str, dict[str, int]]:
    """RSS in MB of every process of the cluster, by what it is.

    ``replicas``: each Serve replica, by its application (``ray::ServeReplica:<app>:...``);
    ``ray``: Ray's own processes (GCS, raylet, Serve controller and proxy, the board, idle
    workers), by title. Workers retitle themselves ``ray::...``; the others name the
    cluster's temp dir on their command line.
    """
    replicas: dict[str, int] = {}
    system: dict[str, int] = {}
    for proc in psutil.process_iter(["cmdline", "memory_info", "name"]):
        cmdline = proc.info["cmdline"] or []
        title = " ".join(cmdline)
        rss = proc.info["memory_info"].rss if proc.info["memory_info"] else 0
        if "ServeReplica:" in title:
            out, name = replicas, title.split("ServeReplica:", 1)[1].split(":", 1)[0]
        elif title.startswith("ray::"):
            out, name = system, title.split()[0]
        elif temp_dir in title:
            out, name = system, Path(cmdline[0]).name if cmdline else proc.info["name"]
        else:
            continue
        key, n = name, 2
        while key in out:
            key, n = f"{name} #{n}", n + 1
        out[key] = round(rss / MB)
    return {"replicas": replicas, "ray": system}


def load_run(label: str, env: dict, users: int, seconds: float, temp_dir: str) -> dict:
    """One ``bench.load`` run against a server with ``env``; every process's memory sampled at
    the end of the load, while the server still holds its models."""
    data_dir = Path(tempfile.mkdtemp(prefix="springboard-rayload-"))
    server = load.start_server(data_dir, env=env, timeout_s=600)
    run = load.Run()
    stop = threading.Event()
    memory: dict[str, dict[str, int]] = {"replicas": {}, "ray": {}}
    replica_batches: dict[str, dict] = {}
    pages_rss = 0
    try:
        requests = load._requests(data_dir)
        base_latency = load.baseline(server.base, requests, 1)
        watcher = threading.Thread(target=load._watch, args=(server.base, server.proc.pid, run, stop), daemon=True)
        watcher.start()
        stop_at = time.perf_counter() + seconds
        threads = []
        for i in range(users):
            t = threading.Thread(target=load._user, args=(server.base, requests, run, stop_at, i, (1.0, 3.0)))
            t.start()
            threads.append(t)
            time.sleep(10.0 / max(1, users))
        for t in threads:
            t.join()
        if env.get("SPRINGBOARD_BACKEND") == "ray":  # the local run uses no Ray process
            memory = _process_memory(temp_dir)
            # The pages' metrics count requests only; the replicas' batches are on the board.
            cluster = httpx.get(server.base + "/api/status", timeout=30).json().get("cluster", {})
            replica_batches = {d["application"]: {"batches": d["batches"], "mean": d["mean_batch"],
                                                  "max": d["max_batch"]}
                               for d in cluster.get("deployments", [])}  # fmt: skip
        pages = psutil.Process(server.proc.pid)
        pages_rss = round(pages.memory_info().rss / MB)
        stop.set()
        watcher.join(timeout=15)
    finally:
        stop.set()
        server.stop()
    result = load.summarise(run, base_latency, seconds, users)
    result["label"] = label
    result["pages_rss_mb"] = pages_rss
    result["replica_rss_mb"] = memory["replicas"]
    result["ray_rss_mb"] = memory["ray"]
    result["replica_batches"] = replica_batches
    return result


def comparison(runs: list[dict], overhead: dict) -> str:
    """The three runs side by side: requests, errors, p50/p95 per app, memory per process."""
    apps = sorted({app for r in runs for app in r["apps"]})
    lines = [
        "| | " + " | ".join(r["label"] for r in runs) + " |",
        "|---|" + "---|" * len(runs),
        "| requests served (errors) | "
        + " | ".join(f"{r['served']} ({r['errors']})" for r in runs) + " |",
    ]  # fmt: skip
    for app in apps:
        cells = []
        for r in runs:
            a = r["apps"].get(app)
            cells.append(f"{a['requests'] - a['errors']} ({a['errors']}); {a['p50_s']:.2f} / {a['p95_s']:.2f}"
                         if a else "–")  # fmt: skip
        lines.append(f"| {app}: served (errors); p50 / p95 s | " + " | ".join(cells) + " |")
    lines.append("| pages process RSS at the end, MB (peak) | "
                 + " | ".join(f"{r['pages_rss_mb']:,} ({r['peak_rss_mb']:,.0f})" for r in runs) + " |")  # fmt: skip
    lines.append("| Serve replicas: count, RSS MB | "
                 + " | ".join(f"{len(r['replica_rss_mb'])}, {sum(r['replica_rss_mb'].values()):,}" for r in runs)
                 + " |")  # fmt: skip
    lines.append("| Ray's own processes: count, RSS MB | "
                 + " | ".join(f"{len(r['ray_rss_mb'])}, {sum(r['ray_rss_mb'].values()):,}" for r in runs)
                 + " |")  # fmt: skip
    for r in runs:
        if r["replica_rss_mb"]:
            lines.append(f"\n{r['label']}: replicas " + ", ".join(f"{k} {v:,} MB" for k, v in r["replica_rss_mb"].items())
                         + "; Ray " + ", ".join(f"{k} {v:,}" for k, v in r["ray_rss_mb"].items()))  # fmt: skip
    lines.append(f"\nPer-call overhead (one-text embedding, {overhead['calls']} calls one after another, medians): "
                 f"local handle {overhead['embed_local_ms']} ms, Ray handle {overhead['embed_ray_ms']} ms, "
                 f"ratio {overhead['embed_ratio']}, Ray adds {overhead['ray_overhead_ms']} ms per call.")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--load", action="store_true", help="also run the load test three ways")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    temp_dir = tempfile.mkdtemp(prefix="sbb", dir="/tmp")
    ray.init(
        address="local", num_cpus=2, include_dashboard=False, object_store_memory=200_000_000,
        _temp_dir=temp_dir, namespace="springboard", log_to_driver=False,
    )  # fmt: skip
    results: dict = {}
    try:
        data_dir = Path(tempfile.mkdtemp(prefix="springboard-raybench-"))
        results["overhead"] = overhead(data_dir, args.calls)
        print(json.dumps(results["overhead"], indent=2))
        if args.load:
            serve.shutdown()  # each run deploys afresh from the server it starts
            address = ray.get_runtime_context().gcs_address
            cluster = {"SPRINGBOARD_BACKEND": "ray", "SPRINGBOARD_RAY__ADDRESS": address,
                       "SPRINGBOARD_THREADS": "1", "RAY_AUTH_MODE": "disabled"}  # fmt: skip
            two = {**cluster, "SPRINGBOARD_RAY__ROLES": json.dumps({"generation": {"num_replicas": 2}})}
            runs = [("local", {}), ("ray, 1 replica per role", cluster), ("ray, 2 generation replicas", two)]
            results["load"] = []
            for label, env in runs:
                result = load_run(label, env, args.users, args.seconds, temp_dir)
                results["load"].append(result)
                print(f"## {label}\n{load.markdown(result)}\nreplica RSS MB: {result['replica_rss_mb']}\n"
                      f"Ray RSS MB: {result['ray_rss_mb']}\nreplica batches: {result['replica_batches']}\n",
                      flush=True)  # fmt: skip
                serve.shutdown()
            print("## Side by side\n" + comparison(results["load"], results["overhead"]), flush=True)
    finally:
        serve.shutdown()
        ray.shutdown()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
