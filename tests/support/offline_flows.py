"""Run the suite's main flows in this process with every outbound connection refused and recorded.

    python -m tests.support.offline_flows <attempts.jsonl>

The guard goes in before anything else is imported: ``socket.socket.connect`` and
``connect_ex``, ``socket.getaddrinfo``, ``gethostbyname(_ex)`` and ``create_connection``
refuse any host that is not this machine (loopback, ``localhost``, Unix sockets) with
``OSError`` and append the attempt (host, port, the Python frames that made it) to the
file. A library that swallows the error and carries on offline is still caught: the
attempt is on record.

Then, on the real bundled models: customer service (ask, with intents), recommendation
(fit and recommend), vision (classify), speech (transcribe), text generation (the tiny
model, streamed), embeddings, and the server app built as ``python -m apps`` builds it.
Last, two checks that the guard itself works: a loopback connection succeeds, and a
deliberate connection to a public address is refused and recorded as ``canary``.
Prints ``FLOWS {...}`` with what each flow returned.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
import traceback

_ATTEMPTS_FILE = sys.argv[1] if __name__ == "__main__" else None
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", ""}
_real = {
    "connect": socket.socket.connect,
    "connect_ex": socket.socket.connect_ex,
    "getaddrinfo": socket.getaddrinfo,
    "gethostbyname": socket.gethostbyname,
    "gethostbyname_ex": socket.gethostbyname_ex,
}
_tag = "flow"


def _is_local(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host).strip("[]").lower()
    if host in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False  # a name other than localhost: resolving it may already leave the machine
    return address.is_loopback or address.is_unspecified


def _refuse(call: str, host: object, port: object) -> None:
    record = {
        "tag": _tag,
        "call": call,
        "host": str(host),
        "port": str(port),
        "stack": traceback.format_stack(limit=12)[:-2],
    }
    if _ATTEMPTS_FILE:
        with open(_ATTEMPTS_FILE, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
    raise OSError(101, f"network is off in this test: {call} to {host}:{port} refused")


def _address_host(sock: socket.socket, address: object) -> tuple[object, object] | None:
    """(host, port) of an internet address; None for Unix sockets and the like."""
    if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        return address[0], address[1]
    return None


def _connect(self, address):
    target = _address_host(self, address)
    if target and not _is_local(target[0]):
        _refuse("connect", *target)
    return _real["connect"](self, address)


def _connect_ex(self, address):
    target = _address_host(self, address)
    if target and not _is_local(target[0]):
        _refuse("connect_ex", *target)
    return _real["connect_ex"](self, address)


def _getaddrinfo(host, port, *args, **kwargs):
    if not _is_local(host):
        _refuse("getaddrinfo", host, port)
    return _real["getaddrinfo"](host, port, *args, **kwargs)


def _gethostbyname(host):
    if not _is_local(host):
        _refuse("gethostbyname", host, "")
    return _real["gethostbyname"](host)


def _gethostbyname_ex(host):
    if not _is_local(host):
        _refuse("gethostbyname_ex", host, "")
    return _real["gethostbyname_ex"](host)


def install_guard() -> None:
    socket.socket.connect = _connect
    socket.socket.connect_ex = _connect_ex
    socket.getaddrinfo = _getaddrinfo
    socket.gethostbyname = _gethostbyname
    socket.gethostbyname_ex = _gethostbyname_ex
    # create_connection looks up names with the module's getaddrinfo and connects with the
    # socket's connect: both are guarded above.


def run_flows() -> dict:
    import os
    from pathlib import Path

    import numpy as np

    from core import get_manager
    from core.settings import get_settings

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # as `python -m apps` sets it
    settings = get_settings()
    from core import ModelManager, set_manager

    manager = ModelManager(settings)
    set_manager(manager)
    out: dict = {}

    from apps.customer_service import CustomerServiceBot

    bot = CustomerServiceBot.demo(manager=manager)
    reply = bot.ask("my card never showed up", session_id="offline-1")
    out["customer_service"] = [reply.source_id, reply.intent, reply.escalated]

    from apps.recommendation import Recommender
    from apps.recommendation.data import load_movielens_100k

    interactions, items = load_movielens_100k()  # from an installed package, as the page does
    recs = Recommender("itemknn", manager=manager).fit(interactions, items).recommend("1", k=3)
    out["recommendation"] = [r.item_id for r in recs]

    from apps.vision import ImageRecognizer
    from apps.vision.examples import example_photos

    vision = ImageRecognizer(manager=manager)
    photo = example_photos(vision.data_dir / "examples")["chelsea.png"]
    out["vision"] = [p.label for p in vision.classify(str(photo), top_k=2)]

    from apps.speech import Transcriber

    clip = Path("/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav")
    out["speech"] = Transcriber(manager=manager).transcribe(str(clip)).text[:80]

    from apps.textgen import TextGenerator

    out["textgen"] = "".join(TextGenerator(manager=manager).stream("A bike shop tagline:", max_new_tokens=12, seed=0))

    vectors = get_manager().handle("embedding").call(["where is my parcel?", "refund policy"])
    out["embedding"] = [len(vectors), int(np.asarray(vectors[0]).shape[0])]

    from apps.server import create_app

    app = create_app(settings, manager)
    out["server_routes"] = len(app.routes)
    return out


def check_guard() -> dict:
    """The guard lets this machine through and stops the rest (so the test can fail)."""
    global _tag
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    with socket.create_connection(server.getsockname(), timeout=5):
        pass
    server.close()
    _tag = "canary"
    try:
        socket.create_connection(("93.184.215.14", 80), timeout=5)  # a public address
        refused = False
    except OSError:
        refused = True
    try:
        socket.getaddrinfo("pypi.org", 443)
    except OSError:
        refused = refused and True
    else:
        refused = False
    return {"loopback": "ok", "outbound_refused": refused}


if __name__ == "__main__":
    install_guard()
    flows = run_flows()
    flows["guard"] = check_guard()
    print("FLOWS " + json.dumps(flows, ensure_ascii=False), flush=True)
