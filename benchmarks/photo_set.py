"""Photo-set benchmark: a served model's accuracy on photo-like renderings of test items.

It renders the photo set of :mod:`fmnist_utils.renderings` (``--per-kind`` Fashion-MNIST *test*
items photographed in each of its kinds: rotation, perspective, off-centre framing, uneven
light, coloured and textured backgrounds, strong JPEG, clutter, dark and light items on grey,
all combined), turns every photo into the model's 28x28 input with
:func:`fmnist_utils.photos.read_photo` exactly as the web service does, and classifies it
with the saved model. It prints and writes as JSON (``--out``), per kind: the number of
photos, the accuracy, how many photos ``read_photo`` refused (a ``PhotoError``: the service's
4xx answer, counted as wrong), the same items' accuracy from their clean 28x28 test images,
and ``read_photo``'s median time per photo; then the photo set's overall accuracy against
the model's accuracy on the same items' clean images and on the whole test set (10,000), with
the date and the machine. The ``plain`` row (the reference scene, no change) is shown apart
and left out of the overall figures.

This is a benchmark that prints figures, not a test. Examples:

    python benchmarks/photo_set.py --model models/fmnist_cnn.keras     # 25 per kind, seed 0
    python benchmarks/photo_set.py --model /tmp/m.keras --per-kind 50 --seed 1
    python benchmarks/photo_set.py --model /tmp/m.keras --save-inputs /tmp/inputs.png
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def evaluate(model_path: Path, per_kind: int, seed: int) -> dict:
    """Render the set, read every photo and classify it; return the report (a dict)."""
    import fmnist_utils

    fmnist_utils.quiet_tensorflow()
    from fmnist_utils import course, data, photos, preprocess, renderings, serve

    model = serve.load_model(model_path)
    (_, _), (x_test, y_test) = data.load_fashion_mnist()
    kinds = (renderings.PLAIN, *renderings.KINDS)
    started = time.perf_counter()
    records = renderings.photo_set(x_test, y_test, per_kind=per_kind, seed=seed, kinds=kinds)
    render_s = time.perf_counter() - started

    inputs = np.zeros((len(records), 28, 28), np.uint8)
    refused: list[str | None] = []
    read_ms = []
    for i, record in enumerate(records):
        t0 = time.perf_counter()
        try:
            inputs[i] = photos.read_photo(record.data).image
            refused.append(None)
        except photos.PhotoError as error:
            refused.append(f"{type(error).__name__}: {str(error)[:120]}")
        read_ms.append((time.perf_counter() - t0) * 1e3)
    predicted = model.predict(preprocess.prepare(inputs), batch_size=256, verbose=0).argmax(1)
    labels = np.array([r.label for r in records])
    indices = np.array([r.index for r in records])
    correct = (predicted == labels) & np.array([r is None for r in refused])
    clean_predicted = model.predict(preprocess.prepare(x_test), batch_size=512, verbose=0)
    clean_right = clean_predicted.argmax(1) == y_test

    rows = {}
    for kind in kinds:
        where = np.array([r.kind == kind for r in records])
        rows[kind] = {
            "n": int(where.sum()),
            "accuracy": float(correct[where].mean()),
            "refused": int(sum(refused[i] is not None for i in np.flatnonzero(where))),
            "clean_accuracy": float(clean_right[indices[where]].mean()),
            "read_photo_ms_median": round(float(np.median(np.array(read_ms)[where])), 2),
        }
    changed = np.array([r.kind != renderings.PLAIN for r in records])
    examples = [
        {"kind": r.kind, "index": r.index, "error": e}
        for r, e in zip(records, refused, strict=True)
        if e is not None
    ][:10]
    return {
        "model": {"path": str(model_path), "name": model.name, "parameters": model.count_params()},
        "set": {
            "per_kind": per_kind,
            "seed": seed,
            "kinds": list(renderings.KINDS),
            "photos": int(changed.sum()),
            "render_seconds": round(render_s, 2),
        },
        "kinds": rows,
        "overall": {
            "n": int(changed.sum()),
            "accuracy": float(correct[changed].mean()),
            "refused": int(sum(refused[i] is not None for i in np.flatnonzero(changed))),
            "clean_accuracy_same_items": float(clean_right[indices[changed]].mean()),
            "clean_accuracy_test_set": float(clean_right.mean()),
            "read_photo_ms_median": round(float(np.median(np.array(read_ms)[changed])), 2),
        },
        "refused_examples": examples,
        "inputs": inputs,  # not written to the JSON; for --save-inputs
        "machine": course.machine(),
    }


def table(report: dict) -> str:
    """The per-kind table as text."""
    lines = [
        f"{'kind':<21}{'n':>5}{'accuracy':>10}{'refused':>9}{'clean':>8}{'ms':>7}",
    ]
    for kind, row in report["kinds"].items():
        if kind == "plain":
            continue
        lines.append(
            f"{kind:<21}{row['n']:>5}{row['accuracy']:>10.1%}{row['refused']:>9}"
            f"{row['clean_accuracy']:>8.1%}{row['read_photo_ms_median']:>7.1f}"
        )
    total = report["overall"]
    lines.append("-" * len(lines[0]))
    lines.append(
        f"{'all changes':<21}{total['n']:>5}{total['accuracy']:>10.1%}{total['refused']:>9}"
        f"{total['clean_accuracy_same_items']:>8.1%}{total['read_photo_ms_median']:>7.1f}"
    )
    plain = report["kinds"].get("plain")
    if plain:
        lines.append(
            f"{'(plain, reference)':<21}{plain['n']:>5}{plain['accuracy']:>10.1%}"
            f"{plain['refused']:>9}{plain['clean_accuracy']:>8.1%}"
            f"{plain['read_photo_ms_median']:>7.1f}"
        )
    lines.append(
        f"clean accuracy on the whole test set (10,000 images): "
        f"{total['clean_accuracy_test_set']:.1%}; photo set minus clean (same items): "
        f"{100 * (total['accuracy'] - total['clean_accuracy_same_items']):+.1f} points"
    )
    return "\n".join(lines)


def save_inputs(report: dict, path: Path, per_row: int) -> None:
    """Every model input as one grey sheet, a row per kind (to look at what read_photo made)."""
    from PIL import Image

    inputs = report["inputs"]
    rows = len(inputs) // per_row
    sheet = inputs[: rows * per_row].reshape(rows, per_row, 28, 28).swapaxes(1, 2)
    Image.fromarray(sheet.reshape(rows * 28, per_row * 28)).save(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a saved .keras model")
    parser.add_argument("--per-kind", type=int, default=25, help="photos per kind (25)")
    parser.add_argument("--seed", type=int, default=0, help="the set's seed (0)")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "benchmarks" / "results" / "photo_set.json",
        help="JSON results (benchmarks/results/photo_set.json)",
    )
    parser.add_argument("--save-inputs", type=Path, help="a PNG sheet of the 28x28 model inputs")
    args = parser.parse_args(argv)
    if args.per_kind < 1:
        parser.error("--per-kind must be at least 1")
    if not args.model.is_file():
        print(f"error: no model at {args.model}", file=sys.stderr)
        return 1
    report = evaluate(args.model, args.per_kind, args.seed)
    info = report["machine"]
    print(
        f"Photo set, seed {args.seed}, {args.per_kind} per kind, model {args.model} "
        f"({report['model']['parameters']:,} parameters); {info['date']}, {info['cpu']}, "
        f"{info['cpus']} cores"
    )
    print(table(report))
    if args.save_inputs:
        save_inputs(report, args.save_inputs, args.per_kind)
        print(f"wrote {args.save_inputs}")
    report.pop("inputs")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
