"""The status page: the shared model core at work, refreshed live.

Shows the device, the memory budget and use, each model's state, per-model
requests, latency and batch sizes, what the requests cost per app, model and hour
(``core.costs``; downloadable as CSV), and the manager's recent events (loads,
evictions). Models can be loaded or unloaded by hand to show eviction.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import pandas as pd

from core import ModelManager
from core.errors import SpringboardError

from .ui_kit import page_errors, tr, tr_frame, tr_text

REFRESH_SECONDS = 2.0

_METRIC_COLUMNS = {
    "model": "model",
    "requests": "requests",
    "errors": "errors",
    "queue_depth": "queued",
    "batches": "batches",
    "mean_batch": "mean batch",
    "max_batch": "max batch",
    "p50_ms": "p50 ms",
    "p95_ms": "p95 ms",
    "forward_p50_ms": "forward p50 ms",
}


def web_queue_stats(blocks: gr.Blocks) -> dict:
    """Requests waiting in and being run by the Gradio queue (every page's events share it)."""
    queue = getattr(blocks, "_queue", None)  # Gradio keeps it private; read it defensively
    if queue is None:
        return {"waiting": 0, "running": 0, "max_waiting": None}
    return {
        "waiting": len(queue),
        "running": queue.get_active_worker_count(),
        "max_waiting": queue.max_size,
    }


def summary_markdown(report: dict) -> str:
    """Device, memory and queues at a glance."""
    loaded = [m for m in report["models"] if m["loaded"]]
    cluster = report.get("cluster")
    if cluster is not None:  # the models live in the cluster's replicas, not in this process
        replicas = cluster.get("replica_memory", [])
        where = tr(
            "**Models loaded:** {count} in {backend} replicas ({weights_mb:,.0f} MB of weights; "
            "{replicas} replicas using {rss_mb:,} MB RSS)",
            count=len(loaded), backend=cluster["backend"],
            weights_mb=sum(m["memory_mb"] for m in loaded), replicas=len(replicas),
            rss_mb=sum(r["rss_mb"] for r in replicas),
        ) + "  "
    else:
        where = tr(
            "**Models loaded:** {count} ({used_mb:.0f} MB of a {budget_mb:,} MB budget)",
            count=len(loaded), used_mb=report["used_mb"], budget_mb=report["budget_mb"],
        ) + "  "
    lines = [
        tr("**Device:** {device}", device=tr_text(report["device"])) + "  ",
        where,
        tr(
            "**Process memory:** {rss_mb:,} MB RSS; system memory {percent:.0f}% used",
            rss_mb=report["process_rss_mb"], percent=report["system_memory_percent"],
        ),
    ]
    web = report.get("web_queue")
    if web is not None:
        limit = tr(" (refused beyond {max})", max=web["max_waiting"]) if web["max_waiting"] else ""
        queued = sum(m.get("queue_depth", 0) for m in report["metrics"])
        lines.append("  \n" + tr(
            "**Queue depth:** {waiting} requests waiting{limit}, {running} running; "
            "{queued} waiting for a model batch",
            waiting=web["waiting"], limit=limit, running=web["running"], queued=queued,
        ))
    privacy = report.get("privacy")
    if privacy is not None:
        # "personal data: email": the kinds' own entries, apart from words such as "card".
        kinds = ", ".join(
            shown if (shown := tr_text(f"personal data: {k}")) != f"personal data: {k}" else k
            for k in privacy["kinds"]
        ) or tr_text("nothing")
        mode = privacy["redaction"]
        if mode == "keep":
            text = tr("**off (keep, opted in)**: personal data is stored and logged as typed")
        else:
            template = (
                "{mode}: {kinds} masked before anything is stored or logged"
                if mode == "mask"
                else "{mode}: {kinds} replaced by a salted hash before anything is stored or logged"
            )
            text = tr(template, mode=tr_text(mode), kinds=kinds)
        lines.append("  \n" + tr("**Personal-data redaction:** {text}", text=text))
    if "gpu_allocated_mb" in report:
        lines.append("  \n" + tr(
            "**GPU memory:** {allocated:,} MB allocated, {reserved:,} MB reserved",
            allocated=report["gpu_allocated_mb"], reserved=report["gpu_reserved_mb"],
        ))
    return "\n".join(lines)


_MODEL_COLUMNS = {
    "model": "model",
    "role": "role",
    "loaded": "loaded",
    "in_use": "running now",
    "memory_mb": "memory MB",
    "precision": "precision",
    "load_seconds": "load s",
    "loads": "times loaded",
    "source": "weights from",
}


# On a cluster backend the models are in its replicas: which deployment, in what state.
_CLUSTER_MODEL_COLUMNS = {"deployment": "deployment", "state": "state", "replicas": "replicas",
                          "replicas_loaded": "loaded in replicas"}  # fmt: skip


def models_frame(report: dict) -> pd.DataFrame:
    columns = dict(_MODEL_COLUMNS)
    if report.get("cluster") is not None:
        columns = {**columns, **_CLUSTER_MODEL_COLUMNS}
    frame = pd.DataFrame(report["models"], columns=list(columns))
    frame["loaded"] = frame["loaded"].map({True: "yes", False: "no"})
    frame["precision"] = frame["precision"].fillna("")  # cluster rows do not say
    if "replicas" in frame:
        frame["replicas"] = frame["replicas"].map(_replica_states)
    return frame.rename(columns=columns)


def _replica_states(states: dict) -> str:
    return ", ".join(f"{n} {state.lower()}" for state, n in states.items())


def metrics_frame(report: dict) -> pd.DataFrame:
    frame = pd.DataFrame(report["metrics"], columns=list(_METRIC_COLUMNS))
    return frame.rename(columns=_METRIC_COLUMNS)


_DECODE_COLUMNS = {
    "model": "model",
    "active": "decoding",
    "prefilling": "prefilling",
    "waiting": "waiting",
    "kv": "KV cache MB (reserved / budget)",
    "steps": "decode steps",
    "joined_mid_batch": "joined mid-batch",
    "refused": "refused (429)",
}


def decode_loop_frame(report: dict) -> pd.DataFrame:
    """Each generation model's continuous-batching loop (the ``serving`` entry of its report row):
    rows decoding and waiting against their bounds, KV cache reserved against its budget,
    decode steps, rows that joined a running batch, and requests refused."""
    rows = []
    for m in report["models"]:
        s = m.get("serving")
        if not s or "steps" not in s:  # not a decode loop (or a cluster row's text)
            continue
        rows.append({
            "model": m["model"],
            "active": f"{s['active']} of {s.get('max_active', '?')}",
            "prefilling": s["prefilling"],
            "waiting": f"{s['waiting']} of {s.get('max_waiting', '?')}",
            "kv": f"{s['kv_reserved_mb']:,} / {s.get('kv_budget_mb', 0):,}",
            "steps": s["steps"],
            "joined_mid_batch": s["joined_mid_batch"],
            "refused": s.get("refused", 0),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=list(_DECODE_COLUMNS)).rename(columns=_DECODE_COLUMNS)


def batch_sizes_frame(report: dict) -> pd.DataFrame:
    """Long format for a bar chart: how many batches of each size each model ran."""
    rows = [
        {"model": m["model"], "batch size": str(size), "batches": count}
        for m in report["metrics"]
        for size, count in m["batch_sizes"].items()
    ]
    return pd.DataFrame(rows, columns=["model", "batch size", "batches"])


_CLUSTER_COLUMNS = {
    "application": "deployment",
    "status": "state",
    "replicas": "replicas",
    "waiting": "requests in flight",
    "batches": "batches",
    "mean_batch": "mean batch",
    "max_batch": "max batch",
    "message": "message",
}


def cluster_frame(report: dict) -> pd.DataFrame:
    """The cluster backend's deployments (empty when models run in this process)."""
    rows = (report.get("cluster") or {}).get("deployments", [])
    frame = pd.DataFrame(rows, columns=list(_CLUSTER_COLUMNS))
    frame["replicas"] = frame["replicas"].map(_replica_states)
    return frame.rename(columns=_CLUSTER_COLUMNS)


def events_frame(report: dict) -> pd.DataFrame:
    return pd.DataFrame(
        list(reversed(report["events"])), columns=["time", "event", "model", "detail"]
    )


_COST_COLUMNS = {
    "requests": "requests",
    "cost": "cost",
    "cost_per_request": "per 1,000 requests",
    "cpu_seconds": "CPU s",
    "gpu_seconds": "GPU s",
    "tokens_in": "tokens in",
    "tokens_out": "tokens out",
    "audio_seconds": "audio s",
    "images": "images",
}


def _money(value: float) -> str:
    return f"{value:.4g}" if value else "0"


def cost_frame(report: dict, by: str) -> pd.DataFrame:
    """Usage and money per app (``by="app"``), per model (``"model"``) or per hour (``"hour"``)."""
    costs = report["costs"]
    currency = costs["prices"]["currency"]
    if by == "hour":
        rows = list(reversed(costs["by_hour"]))  # newest first
        keys = ["hour", "app", "model"]
    else:
        rows = costs[f"by_{by}"]
        keys = [by]
    columns = {k: k for k in keys} | {
        k: v for k, v in _COST_COLUMNS.items() if by != "hour" or k != "cost_per_request"
    }
    frame = pd.DataFrame(rows, columns=list(columns))
    frame["cost"] = frame["cost"].map(_money)
    for seconds in ("cpu_seconds", "gpu_seconds", "audio_seconds"):
        frame[seconds] = frame[seconds].round(3)
    if "cost_per_request" in frame:
        frame["cost_per_request"] = frame["cost_per_request"].map(lambda v: _money(v * 1000))
    frame = frame.rename(columns=columns)
    return frame.rename(columns={c: f"{c} ({currency})" for c in ("cost", "per 1,000 requests")})


def costs_markdown(report: dict) -> str:
    """The total so far and the prices that turn compute into money."""
    costs = report["costs"]
    total, prices = costs["total"], costs["prices"]
    currency = prices["currency"]
    return tr(
        "**Compute used so far:** {requests:,} requests, "
        "{cpu_seconds:.2f} CPU seconds, {gpu_seconds:.2f} GPU seconds: "
        "**{cost} {currency}** at {cpu_hour:g} {currency} per CPU "
        "core-hour and {gpu_hour:g} {currency} per GPU-hour (settings "
        "`cost.cpu_hour_price`, `cost.gpu_hour_price`).  \n"
        "A batch's compute is split among its requests: generation by tokens, other inputs "
        "equally. The app is the package that called the model.",
        requests=total["requests"], cpu_seconds=total["cpu_seconds"],
        gpu_seconds=total["gpu_seconds"], cost=_money(total["cost"]), currency=currency,
        cpu_hour=prices["cpu_hour"], gpu_hour=prices["gpu_hour"],
    )


def costs_csv_file(manager: ModelManager, folder: str | Path | None = None) -> Path:
    """Write the hourly costs (``manager.costs.to_csv()``) to a CSV file and return its path."""
    folder = (
        Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="springboard-costs-"))
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"springboard-costs-{time.strftime('%Y%m%d-%H%M%S')}.csv"
    path.write_text(manager.costs.to_csv(), encoding="utf-8")
    return path


def privacy_report(settings) -> dict:
    """What is redacted before storage and logging (``Settings.privacy``)."""
    privacy = settings.privacy
    return {"redaction": privacy.redaction, "kinds": list(privacy.kinds)}


def full_report(
    manager: ModelManager,
    queue_stats: Callable[[], dict] | None = None,
    api_usage: Callable[[], list[dict]] | None = None,
) -> dict:
    """The manager's report plus the web queue, privacy and per-key API usage, as on the
    page and at /api/status."""
    report = manager.report()
    if queue_stats is not None:
        report["web_queue"] = queue_stats()
    report["privacy"] = privacy_report(manager.settings)
    if api_usage is not None:
        report["api_usage"] = api_usage()
    report["costs"] = manager.costs.report()
    return report


_USAGE_COLUMNS = {
    "key": "key name",
    "requests": "requests",
    "errors": "errors",
    "prompt_tokens": "prompt tokens",
    "completion_tokens": "completion tokens",
    "audio_seconds": "audio seconds",
}


def api_usage_frame(report: dict) -> pd.DataFrame:
    """Per-key API usage (key names only, never keys)."""
    frame = pd.DataFrame(report.get("api_usage", []), columns=list(_USAGE_COLUMNS))
    return frame.rename(columns=_USAGE_COLUMNS)


def render_status(
    manager: ModelManager,
    page: gr.Blocks,
    queue_stats: Callable[[], dict] | None = None,
    api_usage: Callable[[], list[dict]] | None = None,
) -> None:
    """Build the status page's components in ``page`` (the current Blocks context).

    ``queue_stats`` returns the web queue's depth (``web_queue_stats`` of the served Blocks);
    ``api_usage`` the API's per-key usage rows.
    """
    gr.Markdown("# Status\nThe shared model core, live. Refreshes every two seconds.")
    summary = gr.Markdown()
    gr.Markdown("### Models")
    models = gr.Dataframe(interactive=False, wrap=True)
    gr.Markdown("### Serving: requests, latency and batching per model")
    metrics = gr.Dataframe(interactive=False)
    batches = gr.BarPlot(
        x="batch size",
        y="batches",
        color="model",
        title="Batch sizes run so far",
        height=260,
    )
    gr.Markdown(
        "### Text generation: the continuous-batching loop\n"
        "Sequences decode together one token a step; new requests join at the next step and "
        "finished ones leave at once. Beyond the waiting limit a request is refused (HTTP 429)."
    )
    decode_loop = gr.Dataframe(interactive=False, elem_id="status-decode-loop")
    gr.Markdown("### API usage per key (/v1, /api/v1)")
    usage = gr.Dataframe(interactive=False)
    backend = manager.backend.kind
    with gr.Column(visible=backend != "local"):
        gr.Markdown(f"### Cluster deployments ({backend}): replicas, requests in flight, batches")
        deployments = gr.Dataframe(interactive=False, wrap=True)
    gr.Markdown("### Cost: what the requests used, per app, per model and per hour")
    cost_summary = gr.Markdown(elem_id="status-cost-summary")
    cost_apps = gr.Dataframe(interactive=False, label="Per app", elem_id="status-cost-apps")
    cost_models = gr.Dataframe(interactive=False, label="Per model", elem_id="status-cost-models")
    cost_hours = gr.Dataframe(interactive=False, label="Per hour, app and model", max_height=300)
    with gr.Row():
        export_btn = gr.Button("Export costs as CSV", size="sm", elem_id="status-cost-export")
        export_file = gr.File(label="Costs (CSV)", interactive=False, elem_id="status-cost-file")
    gr.Markdown("### Recent events")
    events = gr.Dataframe(interactive=False, wrap=True, max_height=300)
    with gr.Accordion("Load or unload a model by hand", open=False):
        choice = gr.Dropdown(choices=manager.model_names(), label="Model")
        with gr.Row():
            load_btn = gr.Button("Load")
            unload_btn = gr.Button("Unload")
        outcome = gr.Markdown()

    outputs = [
        summary,
        models,
        metrics,
        batches,
        decode_loop,
        usage,
        deployments,
        events,
        cost_summary,
        cost_apps,
        cost_models,
        cost_hours,
    ]

    def refresh() -> tuple:
        report = full_report(manager, queue_stats, api_usage)
        # The tables' headers (and words such as yes/no, loaded) in the viewer's language; the
        # bar chart's frame keeps its column names, which the plot is keyed by.
        return (
            summary_markdown(report),
            tr_frame(models_frame(report)),
            tr_frame(metrics_frame(report)),
            batch_sizes_frame(report),
            tr_frame(decode_loop_frame(report), cells=False),
            tr_frame(api_usage_frame(report)),
            tr_frame(cluster_frame(report)),
            tr_frame(events_frame(report)),
            costs_markdown(report),
            tr_frame(cost_frame(report, "app"), cells=False),
            tr_frame(cost_frame(report, "model"), cells=False),
            tr_frame(cost_frame(report, "hour"), cells=False),
        )

    @page_errors
    def export_costs() -> str:
        return str(costs_csv_file(manager))

    @page_errors
    def load(name: str | None, progress: gr.Progress = gr.Progress()) -> str:
        if not name:
            return tr("Choose a model first.")
        progress(0.1, desc=tr("Loading {name}…", name=name))
        try:
            manager.load(name)
        except SpringboardError as exc:  # shown in the page's status line; others: page_errors
            return tr("**Could not load {name}:** {error}", name=name, error=str(exc))
        return tr("Loaded **{name}**.", name=name)

    @page_errors
    def unload(name: str | None) -> str:
        if not name:
            return tr("Choose a model first.")
        if manager.unload(name):
            return tr("Unloaded **{name}**.", name=name)
        return tr("{name} is not loaded or busy.", name=name)

    timer = gr.Timer(REFRESH_SECONDS)
    timer.tick(refresh, outputs=outputs, api_name=False, show_progress="hidden", queue=False)
    load_btn.click(load, inputs=choice, outputs=outcome, api_name=False).then(
        refresh, outputs=outputs, api_name=False
    )
    unload_btn.click(unload, inputs=choice, outputs=outcome, api_name=False).then(
        refresh, outputs=outputs, api_name=False
    )
    export_btn.click(export_costs, outputs=export_file, api_name=False)
    page.load(refresh, outputs=outputs, api_name=False)
