"""Time-to-accuracy benchmark: how long each of the course's models needs on this machine.

One run trains, in turn, the TensorFlow tutorial MLP, the classic two-convolution CNN and the
course's own models on the full training set (60,000 images) and measures test accuracy after
every epoch. It prints a table and writes it as JSON:

    model, parameters, epochs, train seconds, test accuracy, and the training time at which the
    model first reached the classic CNN's final test accuracy (the target).

Only training is on the clock; the per-epoch test evaluation is not. The target is the classic
CNN's final accuracy in this run when it is trained, else ``--target`` (default 0.905, its
10-epoch figure on the course's 2-core reference machine).

This is a benchmark that prints figures, not a test. Examples:

    python benchmarks/time_to_accuracy.py                          # every model, full budget
    python benchmarks/time_to_accuracy.py --models classic,fast     # a selection
    python benchmarks/time_to_accuracy.py --epochs 2 --train-size 20000   # a shorter budget
    python benchmarks/time_to_accuracy.py --smoke                   # seconds: proves it runs
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Recipe:
    """How one model is trained in the benchmark: builder, optimizer, batch size, epochs."""

    label: str
    build: Callable[[], object]
    compile: Callable[[object, int], object]  # (model, steps per epoch * epochs) -> model
    batch_size: int
    epochs: int


def _recipes() -> dict[str, Recipe]:
    from fmnist_utils import models

    def adam(model, total_steps):
        return models.compile_model(model)

    return {
        "mlp": Recipe("MLP (TF tutorial)", models.reference_mlp, adam, 32, 10),
        "classic": Recipe("classic CNN", models.reference_cnn, adam, 32, 10),
        "fast": Recipe("fast CNN", models.fast_cnn, adam, 128, 10),
    }


def machine() -> dict:
    """Where the benchmark ran: CPU count, platform, Python/TensorFlow/Keras versions, date."""
    import keras
    import tensorflow as tf

    return {
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "cpus": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "gpus": len(tf.config.list_physical_devices("GPU")),
    }


def run_model(name: str, recipe: Recipe, data, epochs: int, seed: int, verbose: bool) -> dict:
    """Train one model; return its row with the per-epoch (train seconds, test accuracy) curve."""
    import keras

    from fmnist_utils import train

    (x_train, y_train), (x_test, y_test) = data
    train.set_seed(seed)
    model = recipe.build()
    steps = -(-len(x_train) // recipe.batch_size) * epochs
    recipe.compile(model, steps)
    curve: list[tuple[float, float]] = []
    clock = {"train": 0.0, "start": 0.0}

    class EpochClock(keras.callbacks.Callback):
        """Times each epoch's training, then evaluates on the test set off the clock."""

        def on_epoch_begin(self, epoch, logs=None):
            clock["start"] = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            clock["train"] += time.perf_counter() - clock["start"]
            _, accuracy = self.model.evaluate(x_test, y_test, batch_size=1024, verbose=0)
            curve.append((clock["train"], float(accuracy)))
            if verbose:
                print(
                    f"  {name}: epoch {epoch + 1}/{epochs}  {clock['train']:7.1f} s  "
                    f"test accuracy {accuracy:.4f}",
                    flush=True,
                )

    model.fit(
        x_train,
        y_train,
        batch_size=recipe.batch_size,
        epochs=epochs,
        callbacks=[EpochClock()],
        verbose=0,
    )
    return {
        "model": name,
        "label": recipe.label,
        "parameters": int(model.count_params()),
        "batch_size": recipe.batch_size,
        "epochs": epochs,
        "train_seconds": round(clock["train"], 1),
        "test_accuracy": round(curve[-1][1], 4),
        "curve": [[round(s, 1), round(a, 4)] for s, a in curve],
    }


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
        f"| model | parameters | batch | epochs | train s | test acc | s to {target:.2%} |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        reached = row["seconds_to_target"]
        lines.append(
            f"| {row['label']} | {row['parameters']:,} | {row['batch_size']} | {row['epochs']} | "
            f"{row['train_seconds']:.0f} | {row['test_accuracy']:.4f} | "
            f"{'not reached' if reached is None else f'{reached:.0f}'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="all", help="comma-separated: mlp,classic,fast")
    parser.add_argument("--epochs", type=int, help="epochs for every model (default: recipe's)")
    parser.add_argument("--train-size", type=int, help="train on the first N images (default all)")
    parser.add_argument("--test-size", type=int, help="evaluate on the first N test images")
    parser.add_argument("--target", type=float, default=0.905,
                        help="accuracy target when the classic CNN is not trained (default 0.905)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--smoke", action="store_true",
                        help="seconds: 1,000 training and 1,000 test images, one epoch")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "time_to_accuracy.json")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    args = parser.parse_args(argv)

    import fmnist_utils

    fmnist_utils.quiet_tensorflow()
    from fmnist_utils import data, preprocess

    recipes = _recipes()
    names = list(recipes) if args.models == "all" else [m.strip() for m in args.models.split(",")]
    unknown = [n for n in names if n not in recipes]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(recipes)}")
    if args.smoke:
        args.epochs, args.train_size, args.test_size = 1, args.train_size or 1000, 1000

    (x_train, y_train), (x_test, y_test) = data.load_fashion_mnist()
    x_train, y_train = x_train[: args.train_size], y_train[: args.train_size]
    x_test, y_test = x_test[: args.test_size], y_test[: args.test_size]
    prepared = (preprocess.prepare(x_train), y_train), (preprocess.prepare(x_test), y_test)
    info = machine()
    print(
        f"time-to-accuracy on {info['cpus']} CPU(s), {info['platform']}, TensorFlow "
        f"{info['tensorflow']}, Keras {info['keras']}; {len(x_train):,} training and "
        f"{len(x_test):,} test images",
        flush=True,
    )

    rows = []
    for name in names:
        recipe = recipes[name]
        epochs = args.epochs or recipe.epochs
        print(f"{recipe.label}: batch {recipe.batch_size}, {epochs} epochs", flush=True)
        rows.append(run_model(name, recipe, prepared, epochs, args.seed, not args.quiet))

    classic = next((row for row in rows if row["model"] == "classic"), None)
    target = classic["test_accuracy"] if classic else args.target
    for row in rows:
        row["seconds_to_target"] = seconds_to(row["curve"], target)

    result = {
        "machine": info,
        "train_images": len(x_train),
        "test_images": len(x_test),
        "seed": args.seed,
        "target": target,
        "target_source": "classic CNN in this run" if classic else "--target",
        "models": rows,
    }
    print()
    print(table(rows, target))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
