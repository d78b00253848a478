"""One server for the whole suite: home, status and every app page, one model manager.

    python -m apps                      # everything at http://127.0.0.1:7860
    python -m apps --apps speech,vision # a subset
    python -m apps --app speech         # one app alone, at /
    python -m apps --warmup minilm-l6   # load models at start
    python -m apps --list-models
    python -m apps --backend ray --ray-address auto   # models on a Ray Serve cluster

Username/password auth is off by default; set SPRINGBOARD_AUTH_USERNAME and
SPRINGBOARD_AUTH_PASSWORD (read from the environment, never logged) to turn it on.
"""

from __future__ import annotations

import argparse
import logging
import os
import warnings

import gradio as gr
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.routing import Mount

from core import ModelManager, get_manager, set_manager
from core.privacy import Redactor, install_log_redaction
from core.settings import Settings, get_settings

from .auth import AuthGate, gradio_session_user
from .home import render_home
from .pages import AppPage, discover_pages
from .retention import gradio_delete_cache, start_retention
from .status import full_report, render_status, web_queue_stats
from .theme import CSS, SUITE_NAME, THEME
from .ui_kit.i18n import localize_app, mark_example_tables, navbar_script
from .ui_kit.language import set_page_language
from .web_api import UsageMeter, mount_web_api

log = logging.getLogger("springboard")


def build_blocks(
    manager: ModelManager,
    pages: list[AppPage],
    alone: bool = False,
    api_usage: UsageMeter | None = None,
) -> gr.Blocks:
    """The Gradio app: home at /, each app at /<app>, status at /status.

    With ``alone``, the single app's page is served at / with no home page.
    ``api_usage`` is the API's per-key usage, shown on the status page.
    """
    usage_rows = api_usage.snapshot if api_usage is not None else None
    if alone:
        assert len(pages) == 1
        demo = pages[0].build()
        with demo.route("Status", "/status") as status_page:
            render_status(manager, status_page, lambda: web_queue_stats(demo), usage_rows)
        _hide_value_loaders(demo)
        return demo
    with gr.Blocks(title=SUITE_NAME) as demo:
        render_home(manager, pages, demo)
    for page in pages:
        # Build outside the route: a Blocks created inside a context is already rendered there,
        # and rendering it again would show every component twice.
        app_blocks = page.build()
        with demo.route(page.title, page.path):
            app_blocks.render()
    with demo.route("Status", "/status") as status_page:
        render_status(manager, status_page, lambda: web_queue_stats(demo), usage_rows)
    _hide_value_loaders(demo)
    return demo


def _hide_value_loaders(demo: gr.Blocks) -> None:
    """Keep the load events Gradio makes for callable values (``gr.State(lambda: ...)``) out of the API docs.

    They are plumbing, not endpoints; "undocumented" keeps them working for the page.
    """
    for fn in demo.fns.values():
        if fn.name == "<lambda>" and str(fn.api_name or "").startswith("lambda"):
            fn.api_visibility = "undocumented"


def _auth(settings: Settings) -> tuple[str, str] | None:
    if settings.auth_username and settings.auth_password:
        return (settings.auth_username, settings.auth_password.get_secret_value())
    if settings.auth_username or settings.auth_password:
        raise SystemExit("Set both SPRINGBOARD_AUTH_USERNAME and SPRINGBOARD_AUTH_PASSWORD, or neither.")
    return None


def create_app(
    settings: Settings | None = None,
    manager: ModelManager | None = None,
    apps: list[str] | None = None,
    alone: bool = False,
) -> FastAPI:
    """The ASGI app: Gradio pages, the HTTP APIs (``/v1``, ``/api/v1``), ``/api/status``, ``/healthz``.

    Settings are the manager's unless given: the pages and the models read one object.
    """
    manager = manager or get_manager()
    settings = settings or manager.settings
    pages = discover_pages(apps)
    if alone and len(pages) != 1:
        raise SystemExit("--app serves exactly one app")
    api_usage = UsageMeter()
    demo = build_blocks(manager, pages, alone=alone, api_usage=api_usage)
    # The pages in Chinese for Chinese browsers (or always/never: ui.language); see apps.ui_kit.i18n.
    language = settings.ui.language
    set_page_language(language)  # and the text handlers build per request (apps.ui_kit.language)
    i18n = localize_app(demo).i18n(language) if language != "en" else None
    titles = ["Home", *(p.title for p in pages), "Status"]
    head = navbar_script(titles, language, mark_example_tables(demo)) or None
    demo.delete_cache = gradio_delete_cache(settings)  # cached uploads age out with privacy.retention_days
    demo.queue(
        default_concurrency_limit=settings.queue_concurrency, max_size=settings.queue_max_size
    )
    auth = _auth(settings)
    # No FastAPI docs pages: Gradio's own API page (footer link) documents the app endpoints.
    api = FastAPI(title=f"{SUITE_NAME} API", docs_url=None, redoc_url=None, openapi_url=None)

    @api.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        # Liveness only: says nothing about models or data, so it needs no auth.
        return {"status": "ok"}

    @api.get("/api/status")
    def status() -> JSONResponse:
        # Behind AuthGate when auth is on: a logged-in browser or Basic credentials.
        return JSONResponse(full_report(manager, lambda: web_queue_stats(demo), api_usage.snapshot))

    # The OpenAI-compatible API (/v1) and the REST API (/api/v1): before Gradio's root mount.
    mount_web_api(api, settings, manager, api_usage)

    app = gr.mount_gradio_app(
        api,
        demo,
        path="",
        auth=auth,
        theme=THEME,
        css=CSS,
        ssr_mode=False,
        max_file_size=f"{settings.limits.max_upload_mb}mb",
        footer_links=["api", "settings"],  # Settings: Gradio's language switch, among others
        i18n=i18n,
        head=head,
    )
    if auth is not None:
        gradio_app = next(r.app for r in app.routes if isinstance(r, Mount))
        pages_paths = ["/", "/status", *(p.path for p in pages)]
        app.add_middleware(
            AuthGate,
            credentials=auth,
            session_user=gradio_session_user(gradio_app),
            page_paths=pages_paths,
        )
    return app


def configure_logging(settings: Settings) -> None:
    """The application log: one line per record, personal data redacted before it is written.

    The redaction filter sits on the root logger's handlers, so records from every module
    (and from libraries) pass through it; ``privacy.redaction = "keep"`` turns it off.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction(Redactor.from_settings(settings))
    if settings.privacy.redaction == "keep":
        log.warning("privacy.redaction is 'keep': personal data is stored and logged as typed")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="springboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 7860)")
    parser.add_argument("--apps", help="comma-separated subset of apps to serve")
    parser.add_argument("--app", help="serve one app alone, at /")
    parser.add_argument("--warmup", help="comma-separated models to load at start")
    parser.add_argument("--list-models", action="store_true", help="list models and exit")
    parser.add_argument(
        "--backend", choices=["local", "ray"], help="where models run (default: local, this process)"
    )
    parser.add_argument(
        "--ray-address", help="Ray cluster to join with --backend ray ('auto': this machine's)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Console entry point (``springboard`` / ``python -m apps``)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    # SSR needs a Node server; we serve plain client-side pages on purpose, so the notice is noise.
    warnings.filterwarnings("ignore", message="SSR mode is not supported")
    args = parse_args(argv)
    # The one place the process reads its settings (environment, springboard.toml); the
    # manager built from them hands them to every app (``app.manager.settings``).
    settings = get_settings()
    configure_logging(settings)
    overrides = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    if args.warmup:
        overrides["warmup"] = [w.strip() for w in args.warmup.split(",") if w.strip()]
    if args.backend:
        overrides["backend"] = args.backend
    if args.ray_address:
        overrides["ray"] = settings.ray.model_copy(update={"address": args.ray_address})
    settings = settings.model_copy(update=overrides)
    manager = ModelManager(settings)
    if args.list_models:
        for spec in manager.model_specs():
            print(f"{spec.role:15} {spec.name:22} {spec.source}")
        return

    set_manager(manager)
    if settings.warmup:
        log.info("warming up %s", ", ".join(settings.warmup))
        manager.warmup()
    start_retention(settings)  # now and daily, when privacy.retention_days is set
    apps = [args.app] if args.app else ([a.strip() for a in args.apps.split(",")] if args.apps else None)
    app = create_app(settings, manager, apps=apps, alone=bool(args.app))
    log.info("serving %s at http://%s:%d", SUITE_NAME, settings.host, settings.port)
    # Open streams (queue events, heartbeats) would hold a SIGTERM for their whole lifetime.
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_level="warning", timeout_graceful_shutdown=5
    )


if __name__ == "__main__":
    main()
