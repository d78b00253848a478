"""Text generation benchmark: streaming latency, batched throughput, perplexity.

Everything goes through the app's API (``apps.textgen.TextGenerator``) and the
shared core, exactly as the page uses it. In one process, on one model:

1. single stream: time to first token and tokens/s for a 200-token prompt;
2. aggregate tokens/s of N concurrent requests (batched by the core) against the
   same N requests one after another (same prompts, same seeds), interleaved so
   machine noise hits both alike;
3. perplexity of the model on the opening of *Pride and Prejudice* (Project
   Gutenberg text, shipped by the Debian package ``r-cran-janeaustenr``).

    flock /tmp/springboard-heavy.lock .venv/bin/python -m bench.textgen
    .venv/bin/python -m bench.textgen --model smollm2-135m --concurrency 8 --repeats 1
    .venv/bin/python -m bench.textgen --device cuda --dtype bfloat16 --concurrency 1,8,32
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import struct
import subprocess
import tempfile
import threading
import time
import zlib
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from apps.textgen import GenerationOptions, TextGenerator, TextStream  # noqa: E402
from core.manager import ModelManager  # noqa: E402
from core.settings import PROJECT_ROOT, Settings  # noqa: E402
from core.storage import Database  # noqa: E402

PROMPT_TOKENS = 200
BRIEF = (
    "We are a small startup that makes {product}. Our customers are {audience}. "
    "They care about price, reliability, delivery times and friendly support, and they compare "
    "us with much larger competitors that have bigger marketing budgets. Last quarter we "
    "shipped a new version with better battery life, a simpler setup, an app for iOS and "
    "Android, and a two-year warranty. Reviews praise the design and the support team but "
    "mention that the manual is confusing and that delivery to rural areas is slow. "
    "We want copy that is honest, concrete and warm, that avoids buzzwords, and that explains "
    "clearly why a careful buyer should choose us. "
)
PRODUCTS = [
    ("foldable electric bikes", "city commuters with small flats"),
    ("smart plant sensors", "busy people who keep killing their houseplants"),
    ("noise-cancelling earbuds", "students who study in cafes"),
    ("reusable coffee cups", "office workers who want less waste"),
    ("home air-quality monitors", "parents of young children"),
    ("solar phone chargers", "hikers and campers"),
    ("ergonomic office chairs", "remote workers with back pain"),
    ("pet GPS trackers", "dog owners in the countryside"),
]
AUSTEN_PACKAGE = "r-cran-janeaustenr"
AUSTEN_RDB = "usr/lib/R/site-library/janeaustenr/data/Rdata.rdb"


# --------------------------------------------------------------------------- prompts
def prompt_of(gen: TextGenerator, i: int, tokens: int = PROMPT_TOKENS) -> list[dict[str, str]]:
    """A chat whose rendered prompt is ``tokens`` tokens (within a couple), about product ``i``."""
    product, audience = PRODUCTS[i % len(PRODUCTS)]
    ask = "\nWrite a long, detailed product description of at least 400 words with headings."
    body = (BRIEF.format(product=product, audience=audience) * 4).split(" ")
    lo, hi = 1, len(body)
    while lo < hi:  # the longest word prefix that fits
        mid = (lo + hi + 1) // 2
        n = gen.count_tokens([{"role": "user", "content": " ".join(body[:mid]) + ask}])
        lo, hi = (mid, hi) if n <= tokens else (lo, mid - 1)
    return [{"role": "user", "content": " ".join(body[:lo]) + ask}]


# --------------------------------------------------------------------------- runs
def single_stream(gen: TextGenerator, max_new: int, repeats: int) -> dict:
    """Median time to first piece and decode speed of one stream alone."""
    ttft, decode, overall, prompt_tokens = [], [], [], 0
    for r in range(repeats):
        stream = gen.start(prompt_of(gen, r), GenerationOptions(max_new_tokens=max_new, seed=r))
        stream.consume()
        s = stream.stats()
        prompt_tokens = s["prompt_tokens"]
        ttft.append(s["first_piece_seconds"])
        decode_time = s["seconds"] - s["first_piece_seconds"]
        decode.append((s["new_tokens"] - 1) / decode_time)
        overall.append(s["tokens_per_second"])
    return {
        "prompt_tokens": prompt_tokens,
        "time_to_first_token_s": statistics.median(ttft),
        "decode_tokens_per_s": statistics.median(decode),
        "end_to_end_tokens_per_s": statistics.median(overall),
    }


def throughput(gen: TextGenerator, concurrency: int, max_new: int, repeats: int) -> dict:
    """Aggregate tokens/s: ``concurrency`` requests at once vs the same ones in turn."""
    prompts = [prompt_of(gen, i) for i in range(concurrency)]
    options = [GenerationOptions(max_new_tokens=max_new, seed=100 + i) for i in range(concurrency)]

    def sequential() -> tuple[float, int]:
        start, tokens = time.perf_counter(), 0
        for p, o in zip(prompts, options, strict=True):
            stream = gen.start(p, o)
            stream.consume()
            tokens += stream.result.new_tokens
        return tokens / (time.perf_counter() - start), tokens

    def concurrent() -> tuple[float, int]:
        # Prepared first, so all requests reach the core within its batch window.
        requests = [gen.prepare(p, o)[0] for p, o in zip(prompts, options, strict=True)]
        barrier = threading.Barrier(concurrency + 1)
        streams: list[TextStream] = []

        def launch(request):
            barrier.wait()
            streams.append(TextStream(gen.handle, request))

        threads = [threading.Thread(target=launch, args=(r,)) for r in requests]
        for t in threads:
            t.start()
        barrier.wait()
        start = time.perf_counter()
        for t in threads:
            t.join()
        for s in list(streams):
            s.consume()
        tokens = sum(s.result.new_tokens for s in streams)
        return tokens / (time.perf_counter() - start), tokens

    seq, conc = [], []
    for _ in range(repeats):  # interleaved
        seq.append(sequential() if concurrency > 1 else concurrent())
        conc.append(concurrent())
    metrics = next(m for m in gen.manager.report()["metrics"] if m["model"] == gen.model)
    seq_rate = statistics.median(r for r, _ in seq)
    conc_rate = statistics.median(r for r, _ in conc)
    return {
        "concurrency": concurrency,
        "sequential_tokens_per_s": seq_rate,
        "concurrent_tokens_per_s": conc_rate,
        "ratio": conc_rate / seq_rate,
        "tokens_sequential": [t for _, t in seq],
        "tokens_concurrent": [t for _, t in conc],
        "max_batch_seen": metrics["max_batch"],
    }


# --------------------------------------------------------------------------- perplexity text
def austen_texts(folder: Path) -> dict[str, str]:
    """Jane Austen's novels from Debian's r-cran-janeaustenr (Project Gutenberg texts).

    Uses the installed package if present, else downloads the .deb with apt and
    unpacks it (no R needed). The data file is a sequence of zlib blocks, each a
    serialized R character vector (one element per line of the book).
    """
    rdb = Path("/") / AUSTEN_RDB
    if not rdb.is_file():
        rdb = folder / AUSTEN_RDB
        if not rdb.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory() as tmp:
                subprocess.run(
                    ["apt-get", "download", AUSTEN_PACKAGE],
                    cwd=tmp,
                    check=True,
                    capture_output=True,
                )
                deb = next(Path(tmp).glob(f"{AUSTEN_PACKAGE}_*.deb"))
                subprocess.run(["dpkg-deb", "-x", str(deb), str(folder)], check=True)
                (folder / "VERSION").write_text(deb.name)
    data = rdb.read_bytes()
    books: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        stream = zlib.decompressobj()
        blob = stream.decompress(data[pos + 4 :])
        pos = len(data) - len(stream.unused_data)
        lines = _r_character_vector(blob)
        if lines:
            books[lines[0].strip()] = "\n".join(lines)
    return books


def _r_character_vector(blob: bytes) -> list[str] | None:
    """Decode R's XDR serialization (version 3) of a plain character vector."""
    if not blob.startswith(b"X\n"):
        return None
    pos = 2 + 4 * 3  # format version, R version, minimum R version
    (n,) = struct.unpack(">i", blob[pos : pos + 4])
    pos += 4 + n  # native encoding name
    (flags,) = struct.unpack(">i", blob[pos : pos + 4])
    if flags & 0xFF != 16:  # STRSXP
        return None
    (length,) = struct.unpack(">i", blob[pos + 4 : pos + 8])
    pos += 8
    out = []
    for _ in range(length):
        _flags, size = struct.unpack(">ii", blob[pos : pos + 8])
        pos += 8
        if size == -1:  # NA
            out.append("")
            continue
        out.append(blob[pos : pos + size].decode("utf-8", errors="replace"))
        pos += size
    return out


def austen_opening(gen: TextGenerator, tokens: int) -> tuple[str, int]:
    """The opening of Pride and Prejudice, cut at the paragraph where ``tokens`` is reached."""
    books = austen_texts(PROJECT_ROOT / "data" / "bench" / AUSTEN_PACKAGE)
    book = books["PRIDE AND PREJUDICE"]
    paragraphs = [" ".join(p.split()) for p in book.split("\n\n") if p.strip()]
    text = ""
    for p in paragraphs:
        text = f"{text}\n\n{p}" if text else p
        if gen.count_tokens(text) >= tokens:
            break
    return text, gen.count_tokens(text)


def perplexity(gen: TextGenerator, tokens: int) -> dict:
    text, n = austen_opening(gen, tokens)
    start = time.perf_counter()
    value = gen.perplexity(text)
    return {
        "text": f"Pride and Prejudice (Jane Austen), opening {len(text):,} characters",
        "source": f"Debian package {AUSTEN_PACKAGE} (Project Gutenberg text)",
        "tokens": n,
        "perplexity": value,
        "seconds": time.perf_counter() - start,
    }


# --------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    parser.add_argument(
        "--dtype", default="auto", choices=["auto", "float32", "float16", "bfloat16"]
    )
    parser.add_argument("--concurrency", default="8", help="comma-separated, e.g. 1,8,32")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--perplexity-tokens", type=int, default=4096)
    parser.add_argument("--perplexity-models", default="qwen2.5-coder-0.5b,smollm2-135m")
    parser.add_argument("--skip", default="", help="comma-separated: single,throughput,perplexity")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    settings = Settings(device=args.device, dtype=args.dtype)
    manager = ModelManager(settings)
    db = Database(Path(tempfile.mkdtemp(prefix="bench-textgen-")) / "bench.db")
    gen = TextGenerator(args.model, manager=manager, db=db)
    gen.generate("Warm up.", max_new_tokens=4)  # load outside the timed runs
    report: dict = {
        "model": gen.model,
        "device": manager.policy.describe(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "max_new_tokens": args.max_new_tokens,
        "load_average_at_start": os.getloadavg(),
    }
    if "single" not in skip:
        report["single_stream"] = single_stream(gen, args.max_new_tokens, args.repeats + 1)
        print(json.dumps(report["single_stream"]), flush=True)
    if "throughput" not in skip:
        report["throughput"] = []
        for c in (int(x) for x in args.concurrency.split(",")):
            row = throughput(gen, c, args.max_new_tokens, args.repeats)
            report["throughput"].append(row)
            print(json.dumps(row), flush=True)
    if "perplexity" not in skip:
        report["perplexity"] = []
        for name in filter(None, args.perplexity_models.split(",")):
            other = gen if name == gen.model else TextGenerator(name, manager=manager, db=db)
            row = {"model": other.model, **perplexity(other, args.perplexity_tokens)}
            report["perplexity"].append(row)
            print(json.dumps(row), flush=True)
    report["load_average_at_end"] = os.getloadavg()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
