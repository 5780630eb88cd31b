"""Time-to-accuracy benchmark: how long each of the course's models needs on this machine.

One run trains, in turn, the TensorFlow tutorial MLP, the classic two-convolution CNN and the
course's own models (the ``fast`` and ``best`` recipes of ``fmnist_utils.recipes.RECIPES``,
notebook 13) on the full training set (60,000 images) and measures test accuracy after every
epoch. It prints a table and writes it as JSON:

    model, parameters, epochs, train seconds, test accuracy, and the training time at which the
    model first reached the classic CNN's final test accuracy (the target).

Only training is on the clock; the per-epoch test evaluation is not. The target is the classic
CNN's final accuracy in this run when it is trained, else ``--target`` (default 0.905, its
10-epoch figure on the course's 2-core reference machine).

This is a benchmark that prints figures, not a test. Examples:

    python benchmarks/time_to_accuracy.py                          # every model, full budget
    python benchmarks/time_to_accuracy.py --models classic,fast,best  # a selection
    python benchmarks/time_to_accuracy.py --epochs 2 --train-size 20000   # a shorter budget
    python benchmarks/time_to_accuracy.py --smoke                   # seconds: proves it runs
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Anchor:
    """An anchor model trained as its source trains it: plain ``fit`` on arrays, Adam."""

    label: str
    build: Callable[[], object]
    batch_size: int
    epochs: int


#: The course's recipes (fmnist_utils.recipes.RECIPES) that the benchmark trains, with labels.
RECIPE_LABELS = {"fast": "fast CNN (course)", "best": "small ResNet (course best)"}


def _models() -> dict:
    """Every model the benchmark knows: the two anchors, then the course's recipes."""
    from fmnist_utils import models, recipes

    return {
        "mlp": Anchor("MLP (TF tutorial)", models.reference_mlp, 32, 10),
        "classic": Anchor("classic CNN", models.reference_cnn, 32, 10),
        **{name: recipes.RECIPES[name] for name in RECIPE_LABELS},
    }


def run_model(name: str, spec, data, epochs: int, seed: int, verbose: bool) -> dict:
    """Train one model; return its row with the per-epoch (train seconds, test accuracy) curve.

    ``spec`` is an :class:`Anchor` (plain ``fit`` on arrays) or a course ``recipes.Recipe``
    (its model, optimizer, schedule, loss and augmentation pipeline). The per-epoch test
    accuracy is measured on the weights as they are; for a recipe with weight averaging or
    test-time augmentation the final accuracy is that of the finished model (averaged weights,
    predictions averaged over flips), and is added to the curve at the last epoch's time.
    """
    import dataclasses

    import keras
    import numpy as np

    from fmnist_utils import models, recipes, train

    (x_train, y_train), (x_test, y_test) = data
    curve: list[tuple[float, float]] = []
    clock = {"train": 0.0, "start": 0.0}

    class EpochClock(keras.callbacks.Callback):
        """Times each epoch's training, then evaluates on the test set off the clock."""

        def on_epoch_begin(self, epoch, logs=None):
            clock["start"] = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            clock["train"] += time.perf_counter() - clock["start"]
            probs = self.model.predict(x_test, batch_size=1024, verbose=0)
            accuracy = float(np.mean(probs.argmax(axis=1) == y_test))
            curve.append((clock["train"], accuracy))
            if verbose:
                print(
                    f"  {name}: epoch {epoch + 1}/{epochs or '~'}  {clock['train']:7.1f} s  "
                    f"test accuracy {accuracy:.4f}",
                    flush=True,
                )

    if isinstance(spec, Anchor):
        label, batch_size, precision = spec.label, spec.batch_size, "float32"
        train.set_seed(seed)
        model = models.compile_model(spec.build())
        model.fit(
            x_train,
            y_train,
            batch_size=batch_size,
            epochs=epochs,
            callbacks=[EpochClock()],
            verbose=0,
        )
        final = curve[-1][1]
        images, probe = len(x_train) * epochs, 0.0
    else:
        label, batch_size = RECIPE_LABELS[name], spec.batch_size
        recipe = spec if epochs is None else dataclasses.replace(spec, epochs=epochs, seconds=None)
        model, history = recipes.fit_recipe(
            recipe, x_train, y_train, seed=seed, callbacks=[EpochClock()], verbose=0
        )
        precision, images = history.attrs["precision"], history.attrs["steps"] * batch_size
        # a budget in seconds pays for measuring the machine's speed first: on the clock
        probe = (history.attrs["budget"] or {}).get("probe_seconds", 0.0)
        curve = [(seconds + probe, accuracy) for seconds, accuracy in curve]
        clock["train"] += probe
        epochs = len(history)
        probs = recipes.predict_recipe(recipe, model, x_test)
        final = float(np.mean(probs.argmax(axis=1) == y_test))
        if final != curve[-1][1]:
            curve.append((clock["train"], final))
    steady = clock["train"] - probe
    return {
        "model": name,
        "label": label,
        "parameters": int(model.count_params()),
        "batch_size": batch_size,
        "epochs": epochs,
        "seconds_budget": getattr(spec, "seconds", None) if epochs is not None else None,
        "precision": precision,
        "train_seconds": round(clock["train"], 1),
        "images_per_second": round(images / steady) if steady > 0 else None,
        "test_accuracy": round(final, 4),
        "curve": [[round(s, 1), round(a, 4)] for s, a in curve],
    }


def precision_check(specs: dict, data, seed: int, probe_steps: int) -> dict:
    """Training images/s of each course recipe among ``specs`` (name -> spec; anchors are
    skipped) in float32 and in mixed_bfloat16, measured
    on this machine with :func:`fmnist_utils.recipes.steps_for_budget`'s probe (real data and
    input pipeline, after the graph is traced)."""
    import dataclasses

    from fmnist_utils import recipes

    (x_train, y_train), _ = data
    result = {}
    for name, spec in specs.items():
        if isinstance(spec, Anchor):
            continue
        result[name] = {
            precision: round(
                recipes.steps_for_budget(
                    dataclasses.replace(spec, precision=precision),
                    x_train,
                    y_train,
                    seconds=3600.0,
                    seed=seed,
                    probe_steps=probe_steps,
                )["images_per_second"]
            )
            for precision in ("float32", "mixed_bfloat16")
        }
    return result


def seconds_to(curve: list[list[float]], target: float) -> float | None:
    """Training seconds at the end of the first epoch whose test accuracy reached ``target``.

    Example:
        >>> seconds_to([[10.0, 0.88], [20.0, 0.91]], 0.905)
        20.0
    """
    return next((seconds for seconds, accuracy in curve if accuracy >= target), None)


def table(rows: list[dict], target: float) -> str:
    """The results as a Markdown table (what the README shows)."""
    lines = [
        f"| model | parameters | batch | epochs | precision | images/s | train s | test acc "
        f"| s to {target:.2%} |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        reached = row["seconds_to_target"]
        lines.append(
            f"| {row['label']} | {row['parameters']:,} | {row['batch_size']} | {row['epochs']} | "
            f"{row['precision']} | {row['images_per_second'] or 0:,} | "
            f"{row['train_seconds']:.0f} | {row['test_accuracy']:.4f} | "
            f"{'not reached' if reached is None else f'{reached:.0f}'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="all", help="comma-separated: mlp,classic,fast,best")
    parser.add_argument("--epochs", type=int, help="epochs for every model (default: recipe's)")
    parser.add_argument("--train-size", type=int, help="train on the first N images (default all)")
    parser.add_argument("--test-size", type=int, help="evaluate on the first N test images")
    parser.add_argument(
        "--target",
        type=float,
        default=0.905,
        help="accuracy target when the classic CNN is not trained (default 0.905)",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="seconds: 1,000 training and 1,000 test images, one epoch",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "time_to_accuracy.json")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    parser.add_argument(
        "--no-precision-check",
        action="store_true",
        help="skip measuring each recipe's images/s in float32 and mixed_bfloat16",
    )
    args = parser.parse_args(argv)

    import fmnist_utils

    fmnist_utils.quiet_tensorflow()
    from fmnist_utils import course, data, preprocess, recipes

    specs = _models()
    names = list(specs) if args.models == "all" else [m.strip() for m in args.models.split(",")]
    unknown = [n for n in names if n not in specs]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(specs)}")
    if args.smoke:
        args.epochs, args.train_size, args.test_size = 1, args.train_size or 1000, 1000

    (x_train, y_train), (x_test, y_test) = data.load_fashion_mnist()
    x_train, y_train = x_train[: args.train_size], y_train[: args.train_size]
    x_test, y_test = x_test[: args.test_size], y_test[: args.test_size]
    prepared = (preprocess.prepare(x_train), y_train), (preprocess.prepare(x_test), y_test)
    info = course.machine()
    print(
        f"time-to-accuracy on {info['cpus']} CPU(s) ({info['cpu']}), {info['platform']}, "
        f"Keras {info['keras']} on {info['backend']} {info.get(info['backend'], '')}; "
        f"{len(x_train):,} training and "
        f"{len(x_test):,} test images",
        flush=True,
    )

    rows = []
    for name in names:
        spec = specs[name]
        budgeted = isinstance(spec, recipes.Recipe) and spec.seconds and not args.epochs
        epochs = None if budgeted else args.epochs or spec.epochs
        print(
            f"{name}: batch {spec.batch_size}, "
            + (f"{spec.seconds:.0f} s of training" if budgeted else f"{epochs} epochs"),
            flush=True,
        )
        rows.append(run_model(name, spec, prepared, epochs, args.seed, not args.quiet))

    classic = next((row for row in rows if row["model"] == "classic"), None)
    target = classic["test_accuracy"] if classic else args.target
    for row in rows:
        row["seconds_to_target"] = seconds_to(row["curve"], target)
        reached = row["seconds_to_target"]
        row["time_ratio_to_classic"] = (
            round(reached / classic["train_seconds"], 3) if classic and reached else None
        )
    fast = next((row for row in rows if row["model"] == "fast"), None)
    checked = {}
    if not args.no_precision_check:
        print("precision check: training images/s, float32 vs mixed_bfloat16", flush=True)
        checked = precision_check(
            {name: specs[name] for name in names}, prepared, args.seed, 3 if args.smoke else 30
        )

    result = {
        "machine": info,
        "train_images": len(x_train),
        "test_images": len(x_test),
        "seed": args.seed,
        "target": target,
        "target_source": "classic CNN in this run" if classic else "--target",
        "time_ratio_to_classic": fast["time_ratio_to_classic"] if fast else None,
        "precision_check": checked,
        "models": rows,
    }
    print()
    print(table(rows, target))
    if result["time_ratio_to_classic"] is not None:
        print(
            f"\nThe fast recipe reached the classic CNN's {target:.2%} after "
            f"{fast['seconds_to_target']:.0f} s: {result['time_ratio_to_classic']:.2f} of the "
            f"classic CNN's {classic['train_seconds']:.0f} s."
        )
    for name, speeds in checked.items():
        print(
            f"{name}: float32 {speeds['float32']:,} images/s, mixed_bfloat16 "
            f"{speeds['mixed_bfloat16']:,} images/s (this machine chooses "
            f"{info['precision_chosen']})"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
