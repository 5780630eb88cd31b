"""A smoke run of benchmarks/time_to_accuracy.py: seconds, real data, every model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "time_to_accuracy.py"


def test_smoke_run_prints_and_writes_the_table(tmp_path: Path) -> None:
    out = tmp_path / "tta.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    rows = {row["model"]: row for row in result["models"]}
    assert list(rows) == ["mlp", "classic", "fast", "best"]
    assert result["target"] == rows["classic"]["test_accuracy"]
    assert result["train_images"] == 1000 and result["test_images"] == 1000
    for row in rows.values():
        assert row["epochs"] == 1 and 1 <= len(row["curve"]) <= 2  # + final (EMA, TTA)
        assert 0.0 <= row["test_accuracy"] <= 1.0
        if row["model"] in ("mlp", "classic"):  # better than chance after one epoch; the
            # recipes' one-cycle schedules barely start in 4 steps (tests/test_recipes.py)
            assert row["test_accuracy"] > 0.1
        assert row["train_seconds"] > 0
        assert f"| {row['label']} | {row['parameters']:,} |" in proc.stdout
    assert rows["classic"]["seconds_to_target"] == rows["classic"]["train_seconds"]
    assert rows["classic"]["time_ratio_to_classic"] == 1.0
    assert result["time_ratio_to_classic"] == rows["fast"]["time_ratio_to_classic"]
    for row in rows.values():
        assert row["precision"] in ("float32", "mixed_bfloat16")
        assert row["images_per_second"] > 0
    assert rows["mlp"]["precision"] == "float32"
    # the machine: CPU model, the flags that decide speed, what this machine's recipes choose
    machine = result["machine"]
    assert machine["cpu"] and isinstance(machine["cpu_flags"], list)
    assert machine["precision_chosen"] in ("float32", "mixed_bfloat16")
    assert rows["best"]["precision"] == machine["precision_chosen"]  # "auto" follows the machine
    # both precisions measured for each course recipe, and printed
    assert set(result["precision_check"]) == {"fast", "best"}
    for name, speeds in result["precision_check"].items():
        assert speeds["float32"] > 0 and speeds["mixed_bfloat16"] > 0
        assert f"{name}: float32 {speeds['float32']:,} images/s" in proc.stdout


def test_unknown_model_is_refused_with_the_choices(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--models", "mlp,vgg", "--out", str(tmp_path / "x.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "unknown model(s) vgg; choose from mlp, classic, fast, best" in proc.stderr


def test_seconds_to_reads_the_first_epoch_at_target() -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import time_to_accuracy as tta
    finally:
        sys.path.pop(0)
    curve = [[10.0, 0.80], [20.0, 0.905], [30.0, 0.90], [40.0, 0.95]]
    assert tta.seconds_to(curve, 0.905) == 20.0
    assert tta.seconds_to(curve, 0.96) is None
