"""Load benchmark of the web service as its clients see it: separate client processes, loopback.

It starts the service (``python -m fmnist_utils serve``) on a free loopback port with a saved
model, or targets a running one (``--url``, loopback addresses only), waits for ``/health``,
then runs a suite: the page's own call (``POST /predict?images=true``: probabilities, the
model's input and the Grad-CAM overlay) from one client (200 requests) and from 8 concurrent
clients (1,000 requests), and the plain prediction (``images=false``) from one client (200).
Every client is a separate process with one keep-alive ``httpx.Client``, sending real
Fashion-MNIST test images as PNG files; a few warm-up requests per client are not counted.
It prints, per run, the latency percentiles (p50, p90, p99, max), requests per second, errors
and correct predictions, with the machine (CPU model, cores) and the process layout, and
writes them as JSON (``--out``). The server and the clients share the machine's cores, as they
do on a laptop or a small VM: per-request CPU cost decides the rate.

This is a benchmark that prints figures, not a test. Examples:

    python benchmarks/load_serve.py                       # the suite, make serve's model
    python benchmarks/load_serve.py --out benchmarks/results/load_serve.json
    python benchmarks/load_serve.py --requests 20 --clients 2     # one small run
    python benchmarks/load_serve.py --url http://127.0.0.1:8000 --requests 200 --images
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


def start_server(
    model: Path, port: int, timeout: float, workers: int = 2
) -> tuple[subprocess.Popen, str]:
    """``python -m fmnist_utils serve`` on 127.0.0.1:port; returns it once /health answers."""
    import httpx

    command = [
        sys.executable, "-m", "fmnist_utils", "serve", "--model", str(model),
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        "--workers", str(workers),
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


def _client(
    endpoint: str,
    payloads: list[bytes],
    labels: np.ndarray,
    counter,
    requests: int,
    warmup: int,
    timeout: float,
    barrier,
    results,
) -> None:
    """One client process: warm up, wait for the others, then send requests until none are left.

    Request numbers come from a shared counter, so the clients stay busy to the end. Each
    request's start and end times (``time.perf_counter``, the same clock in every process on
    Linux), error and whether the prediction was right go back through ``results``.
    """
    import httpx

    records = []
    with httpx.Client(timeout=timeout) as client:

        def one(i: int) -> tuple[float, float, str | None, bool]:
            payload = payloads[i % len(payloads)]
            start = time.perf_counter()
            try:
                response = client.post(
                    endpoint, files={"file": (f"{i}.png", payload, "image/png")}
                )
                answer = response.json()
            except (httpx.HTTPError, ValueError) as error:
                return start, time.perf_counter(), f"{type(error).__name__}: {error}", False
            end = time.perf_counter()
            if response.status_code != 200:
                return start, end, f"HTTP {response.status_code}: {answer.get('detail')}", False
            predicted = answer["predicted"]["index"]
            return start, end, None, predicted == labels[i % len(labels)]

        for w in range(warmup):
            one(w)
        barrier.wait()
        cpu = time.process_time()
        while True:
            with counter.get_lock():
                i = counter.value
                counter.value += 1
            if i >= requests:
                break
            records.append(one(i))
    results.put((records, time.process_time() - cpu))


def _cpu_seconds(pid: int | None) -> float:
    """User plus system CPU seconds so far of process ``pid`` and every process under it (the
    server's worker processes), from Linux's ``/proc``; 0 elsewhere."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = [
            int(child)
            for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()
        ]
    except (OSError, IndexError, ValueError):
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(_cpu_seconds(child) for child in children)


def run_load(
    url: str,
    payloads: list[bytes],
    labels: np.ndarray,
    requests: int,
    clients: int,
    images: bool = False,
    warmup: int = 3,
    timeout: float = 60.0,
    server_pid: int | None = None,
) -> dict:
    """Send ``requests`` predictions from ``clients`` separate client processes; the figures.

    Each client is its own process (``multiprocessing``, spawn), as real clients are, so the
    clients' own Python work does not share one interpreter lock with each other. Latency is
    measured per request from just before sending to the parsed answer; the rate is the
    requests divided by the time from the first request's start to the last one's end. With
    ``server_pid`` (a server on this machine), the server's CPU time per request is measured
    too (from ``/proc``, so it includes the warm-up requests: a few in hundreds); the clients'
    CPU time per request always is.
    """
    import multiprocessing as mp

    endpoint = url + "/predict" + ("?images=true" if images else "")
    context = mp.get_context("spawn")
    counter = context.Value("i", 0)
    barrier = context.Barrier(clients)
    results = context.Queue()
    processes = [
        context.Process(
            target=_client,
            args=(endpoint, payloads, labels, counter, requests, warmup, timeout, barrier,
                  results),
            daemon=True,
        )
        for _ in range(clients)
    ]  # fmt: skip
    for process in processes:
        process.start()
    server_cpu = _cpu_seconds(server_pid)
    records, client_cpu = [], 0.0
    for _ in processes:
        done, seconds = results.get()
        records.extend(done)
        client_cpu += seconds
    server_cpu = _cpu_seconds(server_pid) - server_cpu if server_pid else None
    for process in processes:
        process.join()

    starts = np.array([r[0] for r in records])
    ends = np.array([r[1] for r in records])
    errors = [r[2] for r in records if r[2]]
    ms = (ends - starts) * 1e3
    wall = float(ends.max() - starts.min())
    done = len(records)
    return {
        "url": url,
        "endpoint": endpoint,
        "images": images,
        "requests": done,
        "clients": clients,
        "client_processes": clients,
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
        "cpu_ms_per_request": {
            "server": round(1e3 * server_cpu / done, 2) if server_pid else None,
            "clients": round(1e3 * client_cpu / done, 2),
        },
        "correct_predictions": int(sum(r[3] for r in records)),
        "distinct_images": len(payloads),
    }


#: The default suite, the issue's targets: the page's own call (``images=true``: probabilities,
#: the model input and the Grad-CAM overlay as PNGs) from one client and from eight at once, and
#: the plain prediction from one client.
SUITE = (
    ("page, 1 client", True, 1, 200),
    ("plain prediction, 1 client", False, 1, 200),
    ("page, 8 clients", True, 8, 1000),
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _summary(name: str, run: dict) -> str:
    lat = run["latency_ms"]
    return (
        f"{name:<28} {run['requests']:>5,} requests  {run['clients']} client(s)  "
        f"p50 {lat['p50']:6.1f} ms  p90 {lat['p90']:6.1f}  p99 {lat['p99']:6.1f}  "
        f"max {lat['max']:6.1f}  {run['requests_per_second']:7.1f}/s  errors {run['errors']}  "
        f"right {run['correct_predictions']}/{run['requests']}  CPU ms/request: server "
        f"{run['cpu_ms_per_request']['server']}, clients {run['cpu_ms_per_request']['clients']}"
    )


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
    parser.add_argument(
        "--requests", type=int, help="one run of this many requests instead of the suite"
    )
    parser.add_argument("--clients", type=int, default=8, help="client processes (8)")
    parser.add_argument("--images", action="store_true", help="one run: the page's call")
    parser.add_argument("--distinct", type=int, default=200, help="distinct test images (200)")
    parser.add_argument(
        "--workers", type=int, default=2, help="server processes of the server it starts (2)"
    )
    parser.add_argument("--warmup", type=int, default=3, help="uncounted requests per client")
    parser.add_argument("--timeout", type=float, default=60, help="seconds per request (60)")
    parser.add_argument("--startup-timeout", type=float, default=300, help="seconds (300)")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "reports" / "load_serve.json", help="JSON results"
    )
    args = parser.parse_args(argv)
    if (args.requests is not None and args.requests < 1) or args.clients < 1:
        parser.error("--requests and --clients must be at least 1")
    runs = (
        [(f"{'page' if args.images else 'plain prediction'}, {args.clients} client(s)",
          args.images, args.clients, args.requests)]
        if args.requests is not None
        else list(SUITE)
    )  # fmt: skip

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
        server, url = start_server(
            args.model, _free_port(), args.startup_timeout, workers=args.workers
        )
        print(f"Started the service at {url} in {time.perf_counter() - started:.1f} s")
    cores = os.cpu_count()
    layout = (
        f"{'an external server' if server is None else f'{args.workers} server process(es)'} "
        f"(uvicorn, one compiled model each) and up to "
        f"{max(r[2] for r in runs)} client processes (httpx, one keep-alive connection each) on "
        f"the same {cores}-core machine over loopback; PNG Fashion-MNIST test images"
    )
    print(f"Machine: {_cpu_model()}, {cores} cores. Layout: {layout}.")
    results = {}
    try:
        import httpx

        health = httpx.get(url + "/health", timeout=30).json()
        payloads, labels = _payloads(args.distinct)
        for name, images, clients, requests in runs:
            results[name] = run_load(
                url, payloads, labels, requests, clients, images=images, warmup=args.warmup,
                timeout=args.timeout, server_pid=server.pid if server else None,
            )  # fmt: skip
            print(_summary(name, results[name]), flush=True)
    finally:
        if server is not None:
            stop_server(server)

    report = {
        "runs": results,
        "layout": layout,
        "model": {k: health["model"].get(k) for k in ("name", "parameters", "sha256", "path")},
        "quality": health.get("quality"),
        "training": health["model"].get("training"),
        "versions": health.get("versions"),
        "machine": {
            "cpu": _cpu_model(),
            "cpus": cores,
            "platform": platform.platform(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        },
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    errors = sum(run["errors"] for run in results.values())
    for run in results.values():
        if run["errors"]:
            print(f"errors in {run['endpoint']}: e.g. {run['error_examples'][0]}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if errors == 0 else 3


if __name__ == "__main__":
    sys.exit(main())
