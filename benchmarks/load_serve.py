"""Load benchmark of the web service: many real requests from concurrent clients on loopback.

It starts the service (``python -m fmnist_utils serve``) on a free loopback port with a saved
model, or targets a running one (``--url``, loopback addresses only), waits for ``/health``,
then sends ``--requests`` POST /predict requests with real Fashion-MNIST test images (PNG)
from ``--clients`` concurrent clients (threads, one keep-alive ``httpx.Client`` each). It
prints and writes as JSON (``--out``): the error count (with examples), latency percentiles
(p50, p90, p99, max), requests per second, and how many predictions matched the images' true
classes. A few warm-up requests per client are sent first and not counted.

This is a benchmark that prints figures, not a test. Examples:

    python benchmarks/load_serve.py                                # 1,000 requests, 8 clients
    python benchmarks/load_serve.py --model models/fmnist_cnn.keras --images   # with Grad-CAM
    python benchmarks/load_serve.py --url http://127.0.0.1:8000 --requests 200
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import ipaddress
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _check_loopback(url: str) -> None:
    """Refuse any target but this machine: a load test only ever targets loopback."""
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SystemExit(f"error: {url} is not a loopback address; this benchmark only loads "
                         "servers on this machine (127.0.0.0/8, ::1, localhost)")  # fmt: skip


def _payloads(count: int) -> tuple[list[bytes], np.ndarray]:
    """The first ``count`` Fashion-MNIST test images as PNG files, and their labels."""
    from PIL import Image

    from fmnist_utils import data

    (_, _), (x_test, y_test) = data.load_fashion_mnist()
    payloads = []
    for image in x_test[:count]:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, "PNG")
        payloads.append(buffer.getvalue())
    return payloads, y_test[:count]


def start_server(model: Path, port: int, timeout: float) -> tuple[subprocess.Popen, str]:
    """``python -m fmnist_utils serve`` on 127.0.0.1:port; returns it once /health answers."""
    import httpx

    command = [
        sys.executable, "-m", "fmnist_utils", "serve", "--model", str(model),
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    # stderr to a file, not a pipe: a pipe nobody reads fills up and blocks the server
    errors = tempfile.TemporaryFile("w+")
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            errors.seek(0)
            raise SystemExit(
                f"error: the server exited with code {server.returncode}:\n" + errors.read()[-3000:]
            )
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    stop_server(server)
    raise SystemExit(f"error: the server did not answer /health within {timeout:.0f} s")


def stop_server(server: subprocess.Popen) -> None:
    """Stop the server this script started (terminate, then kill after 20 s)."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def run_load(
    url: str,
    payloads: list[bytes],
    labels: np.ndarray,
    requests: int,
    clients: int,
    images: bool = False,
    warmup: int = 2,
    timeout: float = 60.0,
    max_seconds: float = 900.0,
) -> dict:
    """Send ``requests`` predictions from ``clients`` threads; returns the figures.

    Each thread takes the next request number from a shared counter until all are sent (or
    ``max_seconds`` pass), so the clients stay busy to the end. Latency is measured per request
    from just before sending to the parsed answer.
    """
    import httpx

    endpoint = url + "/predict" + ("?images=true" if images else "")
    lock = threading.Lock()
    next_request = iter(range(requests))
    latencies: list[float] = []
    errors: list[str] = []
    right = [0]
    deadline = [float("inf")]

    def one(client: httpx.Client, i: int) -> tuple[float, str | None, int | None]:
        payload = payloads[i % len(payloads)]
        start = time.perf_counter()
        try:
            response = client.post(endpoint, files={"file": (f"{i}.png", payload, "image/png")})
            answer = response.json()
        except (httpx.HTTPError, ValueError) as error:
            return time.perf_counter() - start, f"{type(error).__name__}: {error}", None
        seconds = time.perf_counter() - start
        if response.status_code != 200:
            return seconds, f"HTTP {response.status_code}: {answer.get('detail')}", None
        return seconds, None, answer["predicted"]["index"]

    def worker() -> None:
        with httpx.Client(timeout=timeout) as client:
            for w in range(warmup):
                one(client, w)
            barrier.wait()
            while time.perf_counter() < deadline[0]:
                with lock:
                    i = next(next_request, None)
                if i is None:
                    return
                seconds, error, predicted = one(client, i)
                with lock:
                    latencies.append(seconds)
                    if error:
                        errors.append(error)
                    elif predicted == labels[i % len(labels)]:
                        right[0] += 1

    barrier = threading.Barrier(clients + 1)
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()  # every client warmed up: start the clock
    start = time.perf_counter()
    deadline[0] = start + max_seconds
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start

    ms = np.array(latencies) * 1e3
    done = len(latencies)
    return {
        "url": url,
        "endpoint": endpoint,
        "requests": done,
        "clients": clients,
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "wall_seconds": round(wall, 3),
        "requests_per_second": round(done / wall, 1) if wall > 0 else None,
        "latency_ms": {
            "p50": round(float(np.percentile(ms, 50)), 2),
            "p90": round(float(np.percentile(ms, 90)), 2),
            "p99": round(float(np.percentile(ms, 99)), 2),
            "max": round(float(ms.max()), 2),
            "mean": round(float(ms.mean()), 2),
        },
        "correct_predictions": right[0],
        "distinct_images": len(payloads),
    }


def main(argv: list[str] | None = None) -> int:
    from fmnist_utils import serve

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running service on loopback (default: start one)")
    parser.add_argument(
        "--model",
        type=Path,
        default=serve.DEFAULT_MODEL_PATH,
        help="saved model for the server this script starts (default: make serve's model)",
    )
    parser.add_argument("--requests", type=int, default=1000, help="counted requests (1000)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (8)")
    parser.add_argument("--images", action="store_true", help="ask for PNGs and Grad-CAM too")
    parser.add_argument("--distinct", type=int, default=200, help="distinct test images (200)")
    parser.add_argument("--warmup", type=int, default=2, help="uncounted requests per client")
    parser.add_argument("--timeout", type=float, default=60, help="seconds per request (60)")
    parser.add_argument("--max-seconds", type=float, default=900, help="stop sending after")
    parser.add_argument("--startup-timeout", type=float, default=300, help="seconds (300)")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "reports" / "load_serve.json", help="JSON results"
    )
    args = parser.parse_args(argv)
    if args.requests < 1 or args.clients < 1:
        parser.error("--requests and --clients must be at least 1")

    server = None
    if args.url:
        url = args.url.rstrip("/")
        _check_loopback(url)
    else:
        if not args.model.is_file():
            print(
                f"error: no model at {args.model}; run `make serve` once (it trains and saves "
                "the default model) or pass --model PATH",
                file=sys.stderr,
            )
            return 1
        started = time.perf_counter()
        server, url = start_server(args.model, _free_port(), args.startup_timeout)
        print(f"Started the service at {url} in {time.perf_counter() - started:.1f} s")
    try:
        import httpx

        health = httpx.get(url + "/health", timeout=30).json()
        payloads, labels = _payloads(args.distinct)
        result = run_load(
            url, payloads, labels, args.requests, args.clients, images=args.images,
            warmup=args.warmup, timeout=args.timeout, max_seconds=args.max_seconds,
        )  # fmt: skip
    finally:
        if server is not None:
            stop_server(server)

    result.update(
        model={k: health["model"].get(k) for k in ("name", "parameters", "sha256", "path")},
        versions=health.get("versions"),
        machine={
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        },
        images=args.images,
        measured_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    lat = result["latency_ms"]
    print(
        f"{result['requests']:,} requests from {result['clients']} clients to "
        f"{result['endpoint']} in {result['wall_seconds']:.1f} s\n"
        f"errors: {result['errors']}"
        + (f" (e.g. {result['error_examples'][0]})" if result["errors"] else "")
        + f"\nlatency ms: p50 {lat['p50']:.1f}  p90 {lat['p90']:.1f}  p99 {lat['p99']:.1f}  "
        f"max {lat['max']:.1f}\nrequests per second: {result['requests_per_second']:.1f}\n"
        f"correct predictions: {result['correct_predictions']} of {result['requests']}\n"
        f"machine: {os.cpu_count()} CPUs, load average "
        + " ".join(f"{v:.1f}" for v in (result["machine"]["load_average"] or []))
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if result["errors"] == 0 else 3


if __name__ == "__main__":
    sys.exit(main())
