"""A smoke run of benchmarks/load_serve.py: it starts the service with a small model, sends 20
real requests from 2 clients and writes its figures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "load_serve.py"

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def _script():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import load_serve
    finally:
        sys.path.pop(0)
    return load_serve


def test_smoke_run_starts_the_server_and_reports(small_model_path, tmp_path):
    out = tmp_path / "load.json"
    proc = subprocess.run(
        [
            sys.executable, str(SCRIPT), "--model", str(small_model_path), "--requests", "20",
            "--clients", "2", "--distinct", "20", "--images", "--out", str(out),
        ],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    (name, result), = report["runs"].items()
    assert name == "page, 2 client(s)" and result["images"] is True
    assert result["requests"] == 20 and result["client_processes"] == 2 and result["errors"] == 0
    lat = result["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert result["requests_per_second"] > 0
    cpu = result["cpu_ms_per_request"]
    assert cpu["server"] > 0 and cpu["clients"] > 0
    assert result["correct_predictions"] >= 12  # the small model gets most of them right
    assert report["model"]["path"] == str(small_model_path.resolve())
    assert report["machine"]["cpus"] == os.cpu_count() and report["machine"]["cpu"]
    assert "client processes" in report["layout"]
    assert "errors 0" in proc.stdout and "CPU ms/request" in proc.stdout


def test_only_loopback_targets_are_loaded():
    load_serve = _script()
    for url in ("http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"):
        load_serve._check_loopback(url)
    for url in ("http://10.0.0.5:8000", "http://192.168.1.2", "http://example.com"):
        with pytest.raises(SystemExit, match="not a loopback address"):
            load_serve._check_loopback(url)


def test_missing_model_is_reported(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--model", str(tmp_path / "none.keras")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "no model at" in proc.stderr and "make serve" in proc.stderr


@pytest.mark.skipif(
    shutil.which("nginx") is None and not os.environ.get("FMNIST_REQUIRE_NGINX"),
    reason="nginx is not installed (Debian: apt-get install nginx-light); .ci/run installs it",
)
def test_scale_out_rehearsal_spreads_requests_over_the_copies(small_model_path, tmp_path):
    out = tmp_path / "scale.json"
    proc = subprocess.run(
        [
            sys.executable, str(SCRIPT.parent / "scale_out.py"), "--model", str(small_model_path),
            "--replicas", "2", "--requests", "20", "--clients", "2", "--out", str(out),
        ],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["replicas"] == 2 and len(report["upstreams_seen"]) == 2
    assert report["same_model_everywhere"] and report["run"]["errors"] == 0
    assert report["run"]["requests"] == 20 and report["run"]["correct_predictions"] >= 12
    assert "the same on every copy" in proc.stdout
