"""Use Springboard's OpenAI-compatible API from plain HTTP (httpx), no SDK.

    python -m apps &                                  # the suite, at http://127.0.0.1:7860
    python examples/openai_http.py                    # or: --base http://host:port --key sk-...
    python examples/openai_http.py --audio call.wav

Shows a chat answer, a streamed answer read from server-sent events, embeddings
(base64, decoded to float32), and a transcription with subtitles.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import struct

import httpx


def chat(http: httpx.Client, model: str) -> None:
    body = {"model": model, "messages": [{"role": "user", "content": "Name a colour."}],
            "max_tokens": 20, "temperature": 0}  # fmt: skip
    answer = http.post("/v1/chat/completions", json=body).raise_for_status().json()
    print("chat:", answer["choices"][0]["message"]["content"], "| usage:", answer["usage"])


def stream(http: httpx.Client, model: str) -> None:
    body = {"model": model, "messages": [{"role": "user", "content": "Count to five."}],
            "max_tokens": 30, "stream": True, "stream_options": {"include_usage": True}}  # fmt: skip
    print("stream: ", end="")
    with http.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue  # blank lines separate events
            data = line[len("data: ") :]
            if data == "[DONE]":
                break
            chunk = json.loads(data)
            if "error" in chunk:  # an error after the stream began
                raise RuntimeError(chunk["error"]["message"])
            for choice in chunk["choices"]:
                print(choice["delta"].get("content") or "", end="", flush=True)
            if chunk.get("usage"):
                print("\n  usage:", chunk["usage"])


def embed(http: httpx.Client) -> None:
    body = {"model": "minilm-l6", "input": ["Where is my parcel?", "Refund policy"],
            "encoding_format": "base64"}  # fmt: skip
    data = http.post("/v1/embeddings", json=body).raise_for_status().json()["data"]
    raw = base64.b64decode(data[0]["embedding"])
    vector = struct.unpack(f"<{len(raw) // 4}f", raw)  # little-endian float32
    print(f"embeddings: {len(data)} vectors of {len(vector)} floats; first values {vector[:3]}")


def transcribe(http: httpx.Client, path: str) -> None:
    with open(path, "rb") as fh:
        files = {"file": (os.path.basename(path), fh, "audio/wav")}
        srt = http.post("/v1/audio/transcriptions", files=files,
                        data={"model": "whisper-1", "response_format": "srt"})  # fmt: skip
    print("transcription (srt):\n" + srt.raise_for_status().text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:7860")
    parser.add_argument("--key", default=os.environ.get("SPRINGBOARD_API_KEY", ""))
    parser.add_argument("--model", default="smollm2-135m", help="a generation model id")
    parser.add_argument("--audio", help="an audio file to transcribe")
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
    with httpx.Client(base_url=args.base, headers=headers, timeout=300) as http:
        models = http.get("/v1/models").raise_for_status().json()["data"]
        print("models:", ", ".join(m["id"] for m in models))
        chat(http, args.model)
        stream(http, args.model)
        embed(http)
        if args.audio:
            transcribe(http, args.audio)


if __name__ == "__main__":
    main()
