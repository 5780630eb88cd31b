"""Scale-out rehearsal: several copies of the web service behind nginx, loaded like one service.

The service keeps no state between requests, so more machines means more copies of it behind a
load balancer. This script rehearses that on one machine: it starts ``--replicas`` copies of
``python -m fmnist_utils serve`` (one worker process each, each on its own loopback port, all
with the same model file), puts nginx in front of them (round robin over keep-alive upstream
connections, on a third port), checks that every copy answers through nginx and reports the
same model SHA-256, then sends the load benchmark's page call (``images=true``) from separate
client processes through nginx, and prints which copy answered how many requests.

On one machine this shows the mechanism and its overhead, not more capacity: the copies share
the machine's cores. On several machines, put each copy on its own host
(``python -m fmnist_utils serve --host 0.0.0.0``) and list their addresses in the upstream.
It needs nginx (Debian: ``apt-get install nginx-light``).

    python benchmarks/scale_out.py --model models/fmnist_cnn.keras
    python benchmarks/scale_out.py --replicas 2 --requests 1000 --clients 8 \\
        --out benchmarks/results/scale_out.json
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from load_serve import (
    ROOT,
    _cpu_model,
    _free_port,
    _payloads,
    _summary,
    run_load,
    start_server,
    stop_server,
)

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_max_body_size 11m;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream fmnist {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://fmnist;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


def start_nginx(upstreams: list[str], port: int, tmp: Path) -> subprocess.Popen:
    """nginx in the foreground with a generated config; returns once it accepts connections."""
    import httpx

    servers = "\n".join(f"        server {address};" for address in upstreams)
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, servers=servers, port=port))
    nginx = subprocess.Popen(
        [shutil.which("nginx") or "nginx", "-c", str(conf), "-p", str(tmp)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if nginx.poll() is not None:
            raise SystemExit(
                "error: nginx exited:\n" + (tmp / "error.log").read_text(errors="replace")[-2000:]
            )
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
            return nginx
        except httpx.HTTPError:
            time.sleep(0.2)
    nginx.kill()
    raise SystemExit("error: nginx did not accept connections within 30 s")


def main(argv: list[str] | None = None) -> int:
    import httpx

    from fmnist_utils import serve

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=serve.DEFAULT_MODEL_PATH)
    parser.add_argument("--replicas", type=int, default=2, help="copies of the service (2)")
    parser.add_argument("--requests", type=int, default=1000, help="page calls (1000)")
    parser.add_argument("--clients", type=int, default=8, help="client processes (8)")
    parser.add_argument("--startup-timeout", type=float, default=300, help="seconds (300)")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "reports" / "scale_out.json", help="JSON results"
    )
    args = parser.parse_args(argv)
    if shutil.which("nginx") is None:
        print("error: nginx is not installed (Debian: apt-get install nginx-light)",
              file=sys.stderr)  # fmt: skip
        return 1
    if not args.model.is_file():
        print(f"error: no model at {args.model}; run `make serve` once or pass --model PATH",
              file=sys.stderr)  # fmt: skip
        return 1

    replicas, nginx = [], None
    with tempfile.TemporaryDirectory(prefix="fmnist_scale_") as tmp:
        try:
            for _ in range(args.replicas):
                replicas.append(
                    start_server(args.model, _free_port(), args.startup_timeout, workers=1)
                )
            upstreams = [url.removeprefix("http://") for _, url in replicas]
            port = _free_port()
            nginx = start_nginx(upstreams, port, Path(tmp))
            url = f"http://127.0.0.1:{port}"
            print(f"{args.replicas} copies of the service ({', '.join(upstreams)}), one worker "
                  f"each, behind nginx at {url}; machine: {_cpu_model()}, {os.cpu_count()} cores")
            # every copy answers through nginx, and all run the same model file
            seen = collections.Counter()
            fingerprints = set()
            with httpx.Client(timeout=30) as client:
                for _ in range(4 * args.replicas):
                    response = client.get(url + "/health")
                    seen[response.headers.get("x-upstream")] += 1
                    fingerprints.add(response.json()["model"]["sha256"])
            print(f"/health through nginx answered by {dict(seen)}; model SHA-256 "
                  f"{'the same on every copy' if len(fingerprints) == 1 else 'DIFFERS'}")
            payloads, labels = _payloads(200)
            result = run_load(url, payloads, labels, args.requests, args.clients, images=True)
            print(_summary(f"page, {args.clients} clients via nginx", result))
        finally:
            if nginx is not None:
                nginx.terminate()
                nginx.wait(timeout=20)
            for server, _ in replicas:
                stop_server(server)
    report = {
        "replicas": args.replicas,
        "upstreams_seen": dict(seen),
        "same_model_everywhere": len(fingerprints) == 1,
        "run": result,
        "machine": {"cpu": _cpu_model(), "cpus": os.cpu_count()},
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    ok = len(seen) == args.replicas and len(fingerprints) == 1 and result["errors"] == 0
    return 0 if ok else 3


if __name__ == "__main__":
    sys.exit(main())
