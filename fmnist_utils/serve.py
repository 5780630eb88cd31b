"""The course's web service: a FastAPI app that classifies one uploaded photo of a clothing item.

Endpoints (their schemas at ``/docs``):

* ``GET /``: a page (inline HTML, CSS and JavaScript, no CDN: it works offline) where a person
  drops or chooses a photo and sees whether it looks like a garment at all, the 28x28 image the
  model received, the ten class probabilities as bars and a Grad-CAM overlay.
* ``POST /predict``: one image in the multipart form field ``file``; answers the top classes
  with their (temperature-scaled) probabilities and a ``garment`` verdict as JSON:
  ``"garment"`` or ``"not a garment / unsure"`` when the model's out-of-distribution score
  falls below the threshold fitted on validation data. ``?images=true`` (the page's call) adds
  the model's input and the Grad-CAM overlay as base64 PNGs; ``?top=N`` (1-10) sets how many
  classes are listed.
* ``GET /health``: the model being served (path, parameters, SHA-256, training record), its
  test accuracy, calibration error, temperature and OOD threshold, and the versions serving it.

Every photo goes through :func:`fmnist_utils.photos.read_photo`, the one path from any image
to a Fashion-MNIST-like 28x28 input. Bad input gets a 4xx JSON answer ``{"detail": message,
"error": code}`` and the server goes on serving. Each request then costs one call of one
compiled function (:class:`Predictor`): probabilities, OOD score and Grad-CAM map together.

Run it with ``make serve`` or ``python -m fmnist_utils serve --model PATH --port 8000``; when
the model file does not exist, the service's model is trained first (:func:`train_model`: the
``photos`` recipe, about four minutes on a 2-core CPU), calibrated and tested.

Example:
    >>> from fastapi.testclient import TestClient  # doctest: +SKIP
    >>> with TestClient(create_app("models/fmnist_cnn.keras")) as client:  # doctest: +SKIP
    ...     with open("shirt.jpg", "rb") as f:
    ...         answer = client.post("/predict", files={"file": f}).json()
    >>> answer["top"][0], answer["garment"]["answer"]  # doctest: +SKIP
    ({'index': 6, 'name': 'Shirt', 'probability': 0.81}, 'garment')
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import html
import io
import json
import os
import platform
import string
import sys
import time
import zipfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import File, Query, UploadFile
from pydantic import BaseModel, Field

import fmnist_utils
from fmnist_utils import device, photos, preprocess
from fmnist_utils.data import CLASS_NAMES

#: Where ``make serve`` keeps its model: models/fmnist_cnn.keras at the repository's root (the
#: folder is git-ignored). Outside a checkout, models/ under the current directory.
_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL_PATH = (
    _ROOT if (_ROOT / "pyproject.toml").is_file() else Path.cwd()
) / "models" / "fmnist_cnn.keras"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: Largest accepted upload (the file itself); larger ones get 413.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: Room for the multipart envelope (boundaries, headers) on top of the file's own bytes.
_ENVELOPE_BYTES = 64 * 1024
#: Side of the Grad-CAM overlay PNG (the 28x28 map upsampled bilinearly); the page shows it at
#: 196 pixels. 112 rather than 224 makes the page's call a third cheaper (fewer pixels to blend
#: and compress: benchmarks/load_serve.py).
OVERLAY_SIZE = 112


# --------------------------------------------------------------------------------------------
# The model: training the default one, loading, describing, predicting
# --------------------------------------------------------------------------------------------
def through_photo_path(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each uint8 28x28 image as the service sees it: through :func:`photos.read_photo`.

    Returns ``(kept, images)``: which images read_photo accepted (a blank or uniform image is
    refused with :class:`~fmnist_utils.photos.NoObjectError`) and the 28x28 inputs it made
    of them. The service's threshold and its test figures come from these, not from the raw
    arrays, so they hold for what the service does.

    Example:
        >>> kept, inputs = through_photo_path(np.zeros((2, 28, 28), np.uint8))
        >>> kept.tolist(), inputs.shape
        ([False, False], (0, 28, 28))
    """
    from PIL import Image

    kept, inputs = [], []
    for image in np.asarray(images, dtype=np.uint8):
        try:
            inputs.append(photos.read_photo(Image.fromarray(image)).image)
            kept.append(True)
        except photos.PhotoError:
            kept.append(False)
    shape = (len(inputs), *preprocess.IMAGE_SHAPE[:2])
    return np.array(kept, bool), np.stack(inputs) if inputs else np.zeros(shape, np.uint8)


def _mnist_digits(split: str, count: int) -> np.ndarray | None:
    """``count`` MNIST digits of ``split`` ("train" or "test") when MNIST is on this machine."""
    from fmnist_utils import data, mnist

    try:
        (x_train, _), (x_test, _) = mnist.load_mnist(download=False)
    except (data.DataNotFoundError, OSError, ValueError):
        return None
    return (x_train if split == "train" else x_test)[:count]


def fit_detector(
    model,
    fit_images: np.ndarray,
    fit_labels: np.ndarray,
    val_images: np.ndarray,
    val_labels: np.ndarray,
    reject: float = 0.04,
    per_kind: int = 100,
    seed: int = 1,
) -> dict[str, Any]:
    """Fit the temperature and the "not a garment" detector of a trained model, on validation
    data only.

    The temperature minimises the validation images' negative log-likelihood
    (:func:`fmnist_utils.evaluate.fit_temperature`); the Mahalanobis class means and shared
    covariance come from ``fit_images`` (the training images); each score of
    :data:`fmnist_utils.ood.SCORES` gets the threshold that turns away a share ``reject`` of the
    validation images; the score kept is the one that flags the most of a *validation* set of
    no-garment images (:func:`fmnist_utils.ood.no_garment_images` with ``seed``, and MNIST
    training digits when MNIST is on this machine). The test set is not touched.

    Returns ``{"temperature", "detector": {"score", "threshold", "reject"}, "mahalanobis",
    "validation": table}`` where ``table`` (a DataFrame) says how each score did.
    """
    from fmnist_utils import evaluate, ood

    kept, val_inputs = through_photo_path(val_images)  # read_photo may refuse a faint one
    val_logits, val_features = ood.logits_and_features(model, preprocess.prepare(val_inputs))
    temperature = evaluate.fit_temperature(val_logits, np.asarray(val_labels)[kept])
    _, fit_features = ood.logits_and_features(model, preprocess.prepare(fit_images))
    mahalanobis = ood.Mahalanobis.fit(fit_features, fit_labels)
    images, kinds = ood.no_garment_images(per_kind, seed=seed, digits=_mnist_digits("train", 500))
    kept, inputs = through_photo_path(images)
    out_logits, out_features = ood.logits_and_features(model, preprocess.prepare(inputs))
    inside = ood.scores(val_logits, val_features, temperature, mahalanobis)
    outside = ood.scores(out_logits, out_features, temperature, mahalanobis)
    thresholds = {name: ood.fit_threshold(inside[name], reject) for name in inside}
    table = ood.detection_table(inside, outside, kinds[kept], thresholds)
    best = str(table["no_garments_flagged"].idxmax())
    return {
        "temperature": float(temperature),
        "detector": {"score": best, "threshold": float(thresholds[best]), "reject": reject},
        "mahalanobis": mahalanobis,
        "validation": table,
    }


@dataclass
class ServiceModel:
    """A trained service model with what the service needs beside it: ``model`` (Keras),
    ``record`` (how it was trained, its calibration and test figures, JSON-ready), ``history``
    (the training curves) and ``mahalanobis`` (the fitted class means, or None)."""

    model: Any
    record: dict[str, Any]
    history: Any
    mahalanobis: Any


def train_service_model(
    *,
    recipe: str = "photos",
    seconds: float | None = None,
    epochs: int | None = None,
    per_class: int | None = None,
    filters: tuple[int, int, int] | None = None,
    batch_size: int | None = None,
    validation: int = 5000,
    seed: int = 42,
    verbose: int = 2,
) -> dict[str, Any]:
    """Train the service's model with a course recipe, calibrate it and test it.

    The recipe (:data:`fmnist_utils.recipes.RECIPES`, default ``"photos"``: the fast CNN with the
    flips, tilts, zooms and shifts that photos need, for a 3-minute budget) trains on the
    training set less ``validation`` images; ``seconds`` changes the budget, ``epochs`` trains
    for that many epochs instead, ``filters`` and ``batch_size`` change the network and batch
    (``per_class`` trains on that many images per class: quick tests). Then
    :func:`fit_detector` fits the temperature and the "not a garment" detector on the
    validation images, and the test set is used once, to report: accuracy, calibration error
    (ECE) before and after temperature scaling, the share of test images the detector turns
    away, and the share of a separate set of no-garment images (another seed, MNIST test
    digits) it flags or that read_photo refuses.

    Returns a :class:`ServiceModel`; :func:`save_model` writes it where the service reads
    it, :func:`train_model` does both.

    Example:
        >>> trained = train_service_model(epochs=1, per_class=300)  # doctest: +SKIP
        >>> round(trained.record["test_accuracy"], 2)  # doctest: +SKIP
        0.72
    """
    from fmnist_utils import data, evaluate, ood, recipes, train

    fmnist_utils.quiet_tensorflow()
    chosen = recipes.RECIPES[recipe]
    changes: dict[str, Any] = {}
    if filters is not None:
        changes["model_kwargs"] = {**chosen.model_kwargs, "filters": tuple(filters)}
    if batch_size is not None:
        changes["batch_size"] = batch_size
    if epochs is not None:
        changes.update(epochs=epochs, seconds=None)
    elif seconds is not None:
        changes["seconds"] = seconds
    chosen = dataclasses.replace(chosen, **changes)
    train.set_seed(seed)
    (x_train, y_train), (x_test, y_test) = data.load_fashion_mnist()
    (x_fit, y_fit), (x_val, y_val) = data.train_val_split(x_train, y_train, validation, seed)
    if per_class is not None:
        x_fit, y_fit = data.subset(x_fit, y_fit, per_class=per_class, seed=seed)
    length = f"{chosen.seconds:.0f} s" if chosen.seconds else f"{chosen.epochs} epoch(s)"
    if verbose:
        print(
            f"Training the {recipe!r} recipe ({chosen.model}, {length}) on {len(x_fit):,} "
            f"Fashion-MNIST training images (validation: {len(x_val):,})",
            flush=True,
        )
    model, history = recipes.fit_recipe(
        chosen,
        preprocess.prepare(x_fit),
        y_fit,
        validation_data=(preprocess.prepare(x_val), y_val),
        seed=seed,
        verbose=verbose,
    )
    if verbose:
        print("Fitting the temperature and the 'not a garment' detector on validation data",
              flush=True)  # fmt: skip
    fitted = fit_detector(model, x_fit, y_fit, x_val, y_val)
    temperature, detector = fitted["temperature"], fitted["detector"]

    # the test set, once: what the service does with Fashion-MNIST test images and no-garments
    test_kept, test_inputs = through_photo_path(x_test)
    logits, features = ood.logits_and_features(model, preprocess.prepare(test_inputs))
    y_kept = y_test[test_kept]
    raw = evaluate.apply_temperature(logits, 1.0)
    calibrated = evaluate.apply_temperature(logits, temperature)
    test_scores = ood.scores(logits, features, temperature, fitted["mahalanobis"])
    out_images, out_kinds = ood.no_garment_images(
        100, seed=0, digits=_mnist_digits("test", 500)
    )
    kept, out_inputs = through_photo_path(out_images)
    out_logits, out_features = ood.logits_and_features(model, preprocess.prepare(out_inputs))
    out_scores = ood.scores(out_logits, out_features, temperature, fitted["mahalanobis"])
    flagged = np.ones(len(out_images), bool)  # refused by read_photo counts as "not a garment"
    flagged[kept] = out_scores[detector["score"]].to_numpy() < detector["threshold"]
    # a test image that read_photo refuses counts as a mistake: the service gives no class
    test_accuracy = float(np.sum(np.argmax(logits, axis=1) == y_kept) / len(y_test))
    record = {
        "builder": f"fmnist_utils.models.{chosen.model}",
        "recipe": recipe,
        "recipe_settings": {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in chosen.as_dict().items()
        },
        "filters": list(chosen.model_kwargs.get("filters", (32, 64, 128))),
        "parameters": int(model.count_params()),
        "epochs": int(history["epoch"].iloc[-1]),
        "steps": int(history.attrs["steps"]),
        "batch_size": int(chosen.batch_size),
        "train_images": int(len(x_fit)),
        "seconds": round(float(history.attrs["seconds"]), 1),
        "val_accuracy": round(float(history["val_accuracy"].iloc[-1]), 4),
        "test_accuracy": round(test_accuracy, 4),
        "test_refused_by_read_photo": int((~test_kept).sum()),
        "test_ece_uncalibrated": round(evaluate.expected_calibration_error(raw, y_kept), 4),
        "test_ece": round(evaluate.expected_calibration_error(calibrated, y_kept), 4),
        "calibration": {"temperature": round(temperature, 4), "detector": detector},
        "ood_validation": json.loads(fitted["validation"].round(4).to_json(orient="index")),
        "ood_test": {
            # turned away: refused by read_photo, or answered "not a garment / unsure"
            "garments_rejected": round(
                float(
                    (np.sum(test_scores[detector["score"]] < detector["threshold"])
                     + np.sum(~test_kept)) / len(x_test)
                ),
                4,
            ),
            "no_garments_flagged": round(float(flagged.mean()), 4),
            "no_garments": int(len(out_images)),
            "refused_by_read_photo": int((~kept).sum()),
            "per_kind": {
                kind: round(float(flagged[out_kinds == kind].mean()), 4)
                for kind in dict.fromkeys(out_kinds.tolist())
            },
        },
        "seed": int(seed),
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    if verbose:
        test = record["ood_test"]
        print(
            f"Test accuracy {test_accuracy:.4f} on {len(x_test):,} images; ECE "
            f"{record['test_ece_uncalibrated']:.4f} -> {record['test_ece']:.4f} at temperature "
            f"{temperature:.2f}; 'not a garment' ({detector['score']} score): "
            f"{test['garments_rejected']:.1%} of the test images turned away, "
            f"{test['no_garments_flagged']:.1%} of {test['no_garments']} no-garment images "
            f"flagged; trained in {record['seconds']:.0f} s",
            flush=True,
        )
    return ServiceModel(model, record, history, fitted["mahalanobis"])


def save_model(trained: ServiceModel, path: str | os.PathLike) -> Path:
    """Write a :class:`ServiceModel` where the service reads it: the model at ``path`` (a
    ``.keras`` file), ``path.with_suffix(".json")`` (its record: ``/health`` reports it, the
    service takes the temperature and threshold from it) and, for the Mahalanobis score,
    ``path.with_suffix(".ood.npz")`` (class means and precision matrix).

    The model is written to a temporary file and renamed last, so an interrupted run never
    leaves half a model, or a model without its calibration, at ``path``.

    Example:
        >>> trained = train_service_model(epochs=1, per_class=300)  # doctest: +SKIP
        >>> save_model(trained, "/tmp/m.keras")  # doctest: +SKIP
        PosixPath('/tmp/m.keras')
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"save the model as a .keras file; got {path.name!r}")
    detector = trained.record["calibration"]["detector"]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.partial-{os.getpid()}.keras")
    trained.model.save(partial)
    if detector["score"] == "mahalanobis":
        np.savez(
            path.with_suffix(".ood.npz"),
            means=trained.mahalanobis.means,
            precision=trained.mahalanobis.precision,
        )
    path.with_suffix(".json").write_text(json.dumps(trained.record, indent=2) + "\n")
    os.replace(partial, path)
    return path


def train_model(path: str | os.PathLike, **options: Any) -> dict[str, Any]:
    """:func:`train_service_model` with ``options``, then :func:`save_model` at ``path``;
    returns the record. What ``make serve`` runs when its model file does not exist.

    Example:
        >>> info = train_model("/tmp/tiny.keras", epochs=1, per_class=300,
        ...                    filters=(8, 16, 32))  # doctest: +SKIP
        >>> round(info["test_accuracy"], 2)  # doctest: +SKIP
        0.72
    """
    if Path(path).suffix != ".keras":
        raise ValueError(f"save the model as a .keras file; got {Path(path).name!r}")
    trained = train_service_model(**options)
    save_model(trained, path)
    if options.get("verbose", 2):
        print(f"Saved {path} with its record and calibration", flush=True)
    return trained.record


def ensure_model(path: str | os.PathLike = DEFAULT_MODEL_PATH, **train_options: Any) -> Path:
    """``path`` if a model is saved there; otherwise train the default one there first.

    ``train_options`` go to :func:`train_model` (``epochs``, ``per_class``, ``filters``...).

    Example:
        >>> ensure_model("models/fmnist_cnn.keras")  # doctest: +SKIP
        PosixPath('models/fmnist_cnn.keras')
    """
    path = Path(path)
    if not path.is_file():
        print(f"No model at {path}: training the default model first.", flush=True)
        train_model(path, **train_options)
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_model(model, path: str | os.PathLike | None = None) -> dict[str, Any]:
    """What ``/health`` says about a model: name, parameters, input shape, the Grad-CAM layer,
    and, when it came from a file, the path, size, modification time, SHA-256 and the
    training record saved beside it by :func:`train_model`.

    Example:
        >>> describe_model(models.fast_cnn())["parameters"]  # doctest: +SKIP
        104874
    """
    from fmnist_utils import explain

    try:
        gradcam_layer = explain.last_conv_layer(model)
    except ValueError:
        gradcam_layer = None
    info: dict[str, Any] = {
        "name": model.name,
        "parameters": int(model.count_params()),
        "input_shape": [int(d) for d in model.inputs[0].shape[1:]],
        "classes": list(CLASS_NAMES),
        "gradcam_layer": gradcam_layer,
        "path": None,
        "size_bytes": None,
        "modified": None,
        "sha256": None,
        "training": None,
    }
    if path is not None:
        path = Path(path).resolve()
        stat = path.stat()
        record = path.with_suffix(".json")
        info.update(
            path=str(path),
            size_bytes=stat.st_size,
            modified=dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).isoformat(
                timespec="seconds"
            ),
            sha256=_sha256(path),
            training=json.loads(record.read_text()) if record.is_file() else None,
        )
    return info


def load_model(path: str | os.PathLike):
    """Load a saved Keras model and check that it takes 28x28x1 images and outputs 10 classes.

    Example:
        >>> model = load_model("models/fmnist_cnn.keras")  # doctest: +SKIP
    """
    fmnist_utils.quiet_tensorflow()
    import keras

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no model at {path}; train one with `make serve` (it trains the default model when "
            "none exists) or pass --model PATH"
        )
    model = keras.saving.load_model(path, compile=False)
    inputs, outputs = tuple(model.inputs[0].shape[1:]), tuple(model.outputs[0].shape[1:])
    if inputs != preprocess.IMAGE_SHAPE or outputs != (preprocess.NUM_CLASSES,):
        raise ValueError(
            f"{path} takes {inputs} and outputs {outputs}; the service needs a model from "
            f"{preprocess.IMAGE_SHAPE} images to {preprocess.NUM_CLASSES} class probabilities"
        )
    return model


@dataclass
class Answer:
    """What :meth:`Predictor.answer` says about one image.

    ``probabilities`` (10,) after temperature scaling; ``score`` the out-of-distribution score
    (higher = more like Fashion-MNIST; None when the model has no fitted detector);
    ``garment`` whether the score clears the threshold (None without a detector); ``heatmap``
    the Grad-CAM map (28, 28) in [0, 1] of the top class, None for a model without a 4-D layer.
    """

    probabilities: np.ndarray
    score: float | None
    garment: bool | None
    heatmap: np.ndarray | None


class Predictor:
    """A model ready for concurrent requests: probabilities, OOD score and Grad-CAM in one call.

    On the TensorFlow backend one ``tf.function``, traced once here for a single image, runs
    the model to the last convolution's feature maps and the penultimate features, computes the
    logits, the gradient of the top class's logit with respect to those maps and the aligned
    Grad-CAM map (:func:`fmnist_utils.explain.cam_upsampler`), all in one graph: no sub-model is
    built per request and no lock is needed (a traced function is safe to call from several
    threads). On JAX the same is one ``jax.jit`` function; on PyTorch it runs eagerly, with the
    gradient from ``torch.autograd``. ``temperature`` divides the logits before the softmax;
    ``detector`` is
    ``{"score": name, "threshold": t}`` with a name from :data:`fmnist_utils.ood.SCORES` (and
    ``mahalanobis``, an :class:`~fmnist_utils.ood.Mahalanobis`, when that is the score).

    Example:
        >>> predictor = Predictor(load_model("models/fmnist_cnn.keras"))  # doctest: +SKIP
        >>> predictor.answer(preprocess.prepare(x_test[:1])).probabilities.shape  # doctest: +SKIP
        (10,)
    """

    def __init__(
        self,
        model,
        temperature: float = 1.0,
        detector: dict[str, Any] | None = None,
        mahalanobis=None,
    ) -> None:
        import keras

        from fmnist_utils import explain

        self.model = model
        self.temperature = float(temperature)
        self.detector = detector
        self.mahalanobis = mahalanobis
        if detector is not None and detector["score"] == "mahalanobis" and mahalanobis is None:
            raise ValueError("the detector uses the Mahalanobis score: pass its fitted means")
        try:
            self.layer = explain.last_conv_layer(model)
        except ValueError:  # a model without a 4-D layer (an MLP): no Grad-CAM
            self.layer = None
        self.explains = self.layer is not None
        self._run = self._compile(keras.backend.backend(), explain)
        self.answer(np.zeros((1, *preprocess.IMAGE_SHAPE), np.float32))  # trace and warm up

    def _compile(self, backend: str, explain):
        import keras

        model = self.model
        last = model.layers[-1]
        head = explain._logit_head(last)
        if backend != "tensorflow":
            return self._compile_other(backend, explain, head)
        outputs = [last.input if head is not None else model.outputs[0]]
        if self.layer is not None:
            outputs.insert(0, model.get_layer(self.layer).output)
        sub = keras.Model(model.inputs[0], outputs)
        import tensorflow as tf

        if self.layer is not None:
            rows, cols = (tf.constant(m) for m in explain.cam_upsampler(model, self.layer))
        spec = tf.TensorSpec((1, *preprocess.IMAGE_SHAPE), tf.float32)

        @tf.function(input_signature=[spec], jit_compile=True)
        def run(x):
            with tf.GradientTape() as tape:
                result = sub(x, training=False)
                conv, features = result if self.layer is not None else (None, result)
                logits = head(features) if head is not None else tf.math.log(features + 1e-12)
                top = tf.argmax(logits, axis=-1)
                chosen = tf.gather(logits, top, axis=1, batch_dims=1)
            if self.layer is None:
                return logits, features, tf.zeros((1, 0, 0))
            grads = tape.gradient(chosen, conv)
            weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
            cam = tf.nn.relu(tf.reduce_sum(tf.cast(weights * conv, tf.float32), axis=-1))
            cam = tf.einsum("yh,nhw,xw->nyx", rows, cam, cols)
            peak = tf.reduce_max(cam, axis=(1, 2), keepdims=True)
            return logits, features, tf.math.divide_no_nan(cam, peak)

        def call(x):
            logits, features, heat = run(tf.convert_to_tensor(x, tf.float32))
            heat = heat.numpy()[0] if self.layer is not None else None
            return logits.numpy(), features.numpy(), heat

        return call

    def _compile_other(self, backend: str, explain, head):
        """The forward pass and Grad-CAM on JAX (one ``jax.jit`` function, traced at start-up)
        or PyTorch (eager, the gradient from ``torch.autograd``)."""
        import keras

        model, ops = self.model, keras.ops
        last = model.layers[-1]
        penultimate = last.input if head is not None else model.outputs[0]

        def scores(features):
            return head(features) if head is not None else ops.log(features + 1e-12)

        if self.layer is None:
            sub = keras.Model(model.inputs[0], penultimate)

            def plain(x):
                features = sub(x, training=False)
                return ops.convert_to_numpy(scores(features)), ops.convert_to_numpy(features), None

            return plain
        conv_output = model.get_layer(self.layer).output
        front = keras.Model(model.inputs[0], conv_output)
        back = keras.Model([model.inputs[0], conv_output], penultimate)  # shortcuts need x
        rows, cols = explain.cam_upsampler(model, self.layer)

        def top_logit(conv, x):
            features = back([x, conv], training=False)
            logits = ops.cast(scores(features), "float32")
            return ops.max(logits[0]), (logits, features)

        def cam_of(conv, grads):
            weights = ops.mean(ops.cast(grads, "float32"), axis=(1, 2), keepdims=True)
            cam = ops.relu(ops.sum(weights * ops.cast(conv, "float32"), axis=-1))
            cam = ops.einsum("yh,nhw,xw->nyx", rows, cam, cols)
            peak = ops.max(cam)
            return ops.where(peak > 0, cam / ops.maximum(peak, 1e-12), cam)

        if backend == "jax":
            import jax

            @jax.jit
            def run(x):
                conv = front(x, training=False)
                grads, (logits, features) = jax.grad(top_logit, has_aux=True)(conv, x)
                return logits, features, cam_of(conv, grads)

        else:
            import torch

            def run(x):
                x = ops.convert_to_tensor(x)
                conv = front(x, training=False).detach()
                conv.requires_grad_(True)
                top, (logits, features) = top_logit(conv, x)
                (grads,) = torch.autograd.grad(top, conv)
                with torch.no_grad():
                    return logits.detach(), features.detach(), cam_of(conv.detach(), grads)

        def call(x):
            logits, features, heat = run(np.asarray(x, np.float32))
            numpy = ops.convert_to_numpy
            return numpy(logits), numpy(features), numpy(heat)[0]

        return call

    def answer(self, batch: np.ndarray) -> Answer:
        """Probabilities, OOD score and verdict, and the Grad-CAM map for one prepared image
        ``(1, 28, 28, 1)``."""
        from scipy.special import softmax

        from fmnist_utils import ood

        logits, features, heat = self._run(batch)
        logits = np.asarray(logits, np.float64)
        probabilities = softmax(logits / self.temperature, axis=1)[0]
        score = garment = None
        if self.detector is not None:
            name = self.detector["score"]
            if name == "max_softmax":
                value = probabilities.max()
            elif name == "energy":
                value = ood.energy(logits, self.temperature)[0]
            else:
                value = self.mahalanobis.score(features)[0]
            score = float(value)
            garment = score >= float(self.detector["threshold"])
        return Answer(probabilities, score, garment, heat)


# --------------------------------------------------------------------------------------------
# Pictures for the page: the model's input and the Grad-CAM overlay as PNG
# --------------------------------------------------------------------------------------------
def png_base64(pixels: np.ndarray) -> str:
    """A uint8 grey ``(h, w)`` or RGB ``(h, w, 3)`` array as a base64 PNG (no data: prefix).

    Compression level 1: a few hundred bytes larger than the smallest PNG, ten times faster
    to write (the page's call encodes two pictures per request).

    Example:
        >>> base64.b64decode(png_base64(np.zeros((28, 28), np.uint8)))[:4]
        b'\\x89PNG'
    """
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(buffer, "PNG", compress_level=1)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@functools.cache
def _jet_table() -> np.ndarray:
    """matplotlib's "jet" colour map as a (256, 3) float32 table (read once, then looked up)."""
    import matplotlib

    return matplotlib.colormaps["jet"](np.linspace(0.0, 1.0, 256))[:, :3].astype(np.float32)


def gradcam_overlay(
    image: np.ndarray, heatmap: np.ndarray, size: int = OVERLAY_SIZE, alpha: float = 0.45
) -> np.ndarray:
    """The 28x28 input (pixels kept square) with the Grad-CAM map (upsampled smoothly) blended
    over it in the "jet" colours, as uint8 RGB ``(size, size, 3)``: ``(1 - alpha) * grey +
    alpha * jet(heat)``, the same picture as :func:`fmnist_utils.viz.overlay_heatmap`, with the
    colours looked up in a table instead of computed per pixel.

    Example:
        >>> gradcam_overlay(np.zeros((28, 28), np.uint8), np.eye(28), size=56).shape
        (56, 56, 3)
    """
    from PIL import Image

    grey = Image.fromarray(np.asarray(image, dtype=np.uint8)).resize(
        (size, size), Image.Resampling.NEAREST
    )
    heat = Image.fromarray(np.clip(np.asarray(heatmap, np.float32), 0, 1), mode="F").resize(
        (size, size), Image.Resampling.BILINEAR
    )
    index = np.clip(np.rint(np.asarray(heat) * 255), 0, 255).astype(np.intp)
    grey_part = (1.0 - alpha) / 255.0 * np.asarray(grey, np.float32)[..., None]
    rgb = grey_part + alpha * _jet_table()[index]
    return np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# The app
# --------------------------------------------------------------------------------------------
#: PhotoError subclass -> (HTTP status, error code) of the JSON answer.
_PHOTO_STATUS: dict[type, tuple[int, str]] = {
    photos.EmptyPhotoError: (400, "empty_upload"),
    photos.NotAnImageError: (415, "not_an_image"),
    photos.TruncatedPhotoError: (400, "truncated_image"),
    photos.PhotoTooLargeError: (413, "image_too_large"),
    photos.NoObjectError: (422, "no_item_found"),
}


def _error_body(status: int, code: str, detail: str) -> dict[str, Any]:
    return {"detail": detail, "error": code, "status": status}


def _megabytes(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"


class _UploadLimit:
    """ASGI middleware: a POST body larger than ``limit`` bytes gets 413 before it is parsed.

    A ``Content-Length`` over the limit is refused at once, without reading the body; a body
    sent in chunks is counted as it arrives and refused once it passes the limit, so an
    oversized upload is never spooled to disk in full.
    """

    class _TooLarge(Exception):
        pass

    def __init__(self, app, limit: int, file_limit: int) -> None:
        self.app, self.limit, self.file_limit = app, limit, file_limit

    def _message(self, size: str) -> bytes:
        body = _error_body(
            413,
            "upload_too_large",
            f"the upload is {size}; the limit is {_megabytes(self.file_limit)}. Send a smaller "
            "image (a photo of a few hundred pixels a side is plenty for a 28x28 model)",
        )
        return json.dumps(body).encode()

    async def _send_413(self, send, size: str) -> None:
        payload = self._message(size)
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            await self._send_413(send, _megabytes(int(length)))
            return
        state = {"received": 0, "too_large": False, "replied": False}

        async def counting_receive():
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.limit:
                    state["too_large"] = True
                    raise self._TooLarge
            return message

        async def guarded_send(message):
            if not state["too_large"]:
                await send(message)
            elif not state["replied"]:  # whatever the app answers, the client gets the 413
                state["replied"] = True
                await self._send_413(send, f"more than {_megabytes(self.limit)}")

        try:
            await self.app(scope, counting_receive, guarded_send)
        except self._TooLarge:
            if not state["replied"]:
                state["replied"] = True
                await self._send_413(send, f"more than {_megabytes(self.limit)}")


# --------------------------------------------------------------------------------------------
# The answers' schemas (FastAPI shows them at /docs)
# --------------------------------------------------------------------------------------------
class ClassScore(BaseModel):
    index: int = Field(description="class index 0-9")
    name: str = Field(description="class name")
    probability: float = Field(description="probability after temperature scaling")


class GarmentVerdict(BaseModel):
    garment: bool | None = Field(
        description="whether the image looks like a Fashion-MNIST garment; null when the model "
        "has no fitted detector"
    )
    answer: str = Field(description='"garment" or "not a garment / unsure" (or "unchecked")')
    score: float | None = Field(description="the out-of-distribution score (higher = garment)")
    score_name: str | None = Field(description="which score: max_softmax, energy, mahalanobis")
    threshold: float | None = Field(description="the score below which the answer is unsure")


class PhotoInfo(BaseModel):
    filename: str | None
    width: int
    height: int
    mode: str
    inverted: bool = Field(description="whether the photo was inverted (a dark item on light)")


class ModelRef(BaseModel):
    name: str
    sha256: str | None


class Prediction(BaseModel):
    predicted: ClassScore
    top: list[ClassScore]
    probabilities: dict[str, float]
    garment: GarmentVerdict
    photo: PhotoInfo
    model: ModelRef
    timing: dict[str, float] = Field(description="server-side milliseconds per step")
    input_png: str | None = Field(None, description="with images=true: the 28x28 model input")
    gradcam_png: str | None = Field(None, description="with images=true: the Grad-CAM overlay")
    gradcam_class: str | None = Field(None, description="the class Grad-CAM explains")


class ErrorBody(BaseModel):
    detail: str = Field(description="what is wrong and what to do")
    error: str = Field(description="a code: empty_upload, not_an_image, no_item_found...")
    status: int


class Health(BaseModel):
    status: str
    model: dict[str, Any] = Field(description="the served model: file, training record")
    quality: dict[str, Any] = Field(
        description="test accuracy, calibration error, temperature and the OOD threshold"
    )
    versions: dict[str, str]
    limits: dict[str, int]
    uptime_seconds: float


def load_calibration(path: str | os.PathLike | None) -> dict[str, Any]:
    """The temperature and OOD detector saved beside a model by :func:`train_model`.

    Reads ``path.with_suffix(".json")`` (``calibration``) and, for the Mahalanobis score,
    ``path.with_suffix(".ood.npz")``. A model without them (an in-memory model, or one trained
    elsewhere) is served with temperature 1 and no "not a garment" answer.

    Example:
        >>> load_calibration(None)
        {'temperature': 1.0, 'detector': None, 'mahalanobis': None}
    """
    from fmnist_utils import ood

    empty = {"temperature": 1.0, "detector": None, "mahalanobis": None}
    if path is None:
        return empty
    record_path = Path(path).with_suffix(".json")
    if not record_path.is_file():
        return empty
    calibration = json.loads(record_path.read_text()).get("calibration") or {}
    detector = calibration.get("detector")
    mahalanobis = None
    if detector and detector["score"] == "mahalanobis":
        arrays = np.load(Path(path).with_suffix(".ood.npz"))
        mahalanobis = ood.Mahalanobis(arrays["means"], arrays["precision"])
    return {
        "temperature": float(calibration.get("temperature", 1.0)),
        "detector": detector,
        "mahalanobis": mahalanobis,
    }


def create_app(
    model_path: str | os.PathLike | None = DEFAULT_MODEL_PATH,
    *,
    model=None,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = photos.MAX_PHOTO_PIXELS,
):
    """The FastAPI app serving ``model`` (a Keras model) or the model saved at ``model_path``.

    The model is loaded (unless given), its temperature and OOD detector read
    (:func:`load_calibration`) and its compiled function traced in the app's *lifespan*, once,
    when the server starts; every request shares it. An in-memory ``model`` is served as it
    is: temperature 1 and no "not a garment" verdict (those live in the files beside a saved
    model).

    Example:
        >>> app = create_app("models/fmnist_cnn.keras")  # doctest: +SKIP
        >>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
    """
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    if model is not None:
        model_path = None  # an in-memory model: no file, no calibration beside it
    elif model_path is None:
        raise ValueError("pass a model or the path of a saved one")
    elif not Path(model_path).is_file():
        load_model(model_path)  # raises the FileNotFoundError that says what to do
    versions: dict[str, str] = {}
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app):
        loaded = model if model is not None else load_model(model_path)
        calibration = load_calibration(model_path)
        state["predictor"] = Predictor(loaded, **calibration)
        state["info"] = describe_model(loaded, model_path)
        versions.update(_versions())
        state["page"] = _render_page(state["info"], versions, max_upload_bytes)
        state["started"] = time.time()
        app.state.predictor, app.state.model_info = state["predictor"], state["info"]
        yield
        state.clear()

    app = FastAPI(
        title="Fashion-MNIST classifier",
        version=fmnist_utils.__version__,
        description="Upload a photo of one clothing item; get the Fashion-MNIST class, how sure "
        "the model is that it is a garment at all, and where the evidence is (Grad-CAM).",
        lifespan=lifespan,
    )
    app.add_middleware(
        _UploadLimit, limit=max_upload_bytes + _ENVELOPE_BYTES, file_limit=max_upload_bytes
    )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request, exc: RequestValidationError):
        errors = exc.errors()
        file_errors = [e for e in errors if tuple(e.get("loc", ()))[-1:] == ("file",)]
        if file_errors and any(e.get("type") == "missing" for e in file_errors):
            detail = (
                "no file in the form field 'file': send the image as multipart/form-data with "
                "the field named 'file' (curl -F file=@photo.jpg http://HOST/predict)"
            )
        elif file_errors:
            detail = (
                "the form field 'file' must be an uploaded file, not text: send the image as "
                "multipart/form-data (curl -F file=@photo.jpg http://HOST/predict)"
            )
        else:
            detail = "invalid request: " + "; ".join(
                f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}"
                for e in errors
            )
        body = _error_body(422, "invalid_request", detail)
        body["errors"] = json.loads(json.dumps(errors, default=str))
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc: StarletteHTTPException):
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            allowed = (headers or {}).get("Allow", "")
            detail = (
                f"{request.method} is not allowed on {request.url.path}; use {allowed or 'another'}"
                + (
                    " with the image in the multipart form field 'file'"
                    if request.url.path.rstrip("/").endswith("predict")
                    else ""
                )
            )
            code = "method_not_allowed"
        elif exc.status_code == 404:
            detail = f"no page at {request.url.path}; try / (the page), /predict or /health"
            code = "not_found"
        else:
            detail, code = str(exc.detail), "http_error"
        return JSONResponse(
            _error_body(exc.status_code, code, detail),
            status_code=exc.status_code,
            headers=headers,
        )

    @app.exception_handler(Exception)
    async def internal_error(request, exc: Exception):  # a bug: still JSON, and logged
        detail = f"internal error ({type(exc).__name__}: {exc}); the server goes on serving"
        return JSONResponse(_error_body(500, "internal_error", detail), status_code=500)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(state["page"])

    @app.get("/health", response_model=Health)
    def health() -> dict[str, Any]:
        """The model being served, its measured quality, and the software serving it."""
        predictor = state["predictor"]
        training = state["info"].get("training") or {}
        return {
            "status": "ok",
            "model": state["info"],
            "quality": {
                "test_accuracy": training.get("test_accuracy"),
                "test_ece": training.get("test_ece"),
                "temperature": predictor.temperature,
                "ood": predictor.detector,
            },
            "versions": versions,
            "limits": {"max_upload_bytes": max_upload_bytes, "max_pixels": max_pixels},
            "uptime_seconds": round(time.time() - state["started"], 1),
        }

    errors = {status: {"model": ErrorBody} for status in (400, 413, 415, 422)}

    @app.post(
        "/predict", response_model=Prediction, response_model_exclude_unset=True, responses=errors
    )
    def predict(
        file: Annotated[UploadFile, File(description="the image: PNG, JPEG, GIF, TIFF, WebP...")],
        top: Annotated[int, Query(ge=1, le=preprocess.NUM_CLASSES, description="classes")] = 3,
        images: Annotated[bool, Query(description="add the input and Grad-CAM PNGs")] = False,
    ):
        """Classify one photo: the ``top`` classes, every class's probability, whether it looks
        like a garment at all and, with ``images=true``, the 28x28 model input and the Grad-CAM
        overlay as base64 PNGs."""
        predictor, model_info = state["predictor"], state["info"]
        t0 = time.perf_counter()
        content = file.file.read(max_upload_bytes + 1)
        if len(content) > max_upload_bytes:
            return JSONResponse(
                _error_body(
                    413,
                    "upload_too_large",
                    f"the file is larger than the limit of {_megabytes(max_upload_bytes)}; "
                    "send a smaller image (a few hundred pixels a side is plenty)",
                ),
                status_code=413,
            )
        try:
            photo = photos.read_photo(content, max_pixels=max_pixels)
        except photos.PhotoError as error:
            status, code = next(
                (v for k, v in _PHOTO_STATUS.items() if isinstance(error, k)),
                (422, "bad_image"),
            )
            return JSONResponse(_error_body(status, code, str(error)), status_code=status)
        t1 = time.perf_counter()
        result = predictor.answer(preprocess.prepare(photo.image))
        probabilities = result.probabilities
        t2 = time.perf_counter()
        order = np.argsort(-probabilities)
        ranked = [
            {"index": int(i), "name": CLASS_NAMES[i], "probability": round(float(p), 6)}
            for i, p in zip(order, probabilities[order], strict=True)
        ]
        detector = predictor.detector or {}
        answer: dict[str, Any] = {
            "predicted": ranked[0],
            "top": ranked[:top],
            "probabilities": {
                name: round(float(p), 6) for name, p in zip(CLASS_NAMES, probabilities, strict=True)
            },
            "garment": {
                "garment": result.garment,
                "answer": "unchecked"
                if result.garment is None
                else ("garment" if result.garment else "not a garment / unsure"),
                "score": None if result.score is None else round(result.score, 4),
                "score_name": detector.get("score"),
                "threshold": detector.get("threshold"),
            },
            "photo": {
                "filename": file.filename,
                "width": photo.original_size[0],
                "height": photo.original_size[1],
                "mode": photo.mode,
                "inverted": photo.inverted,
            },
            "model": {"name": model_info["name"], "sha256": model_info["sha256"]},
        }
        timings = {"preprocess_ms": (t1 - t0) * 1e3, "predict_ms": (t2 - t1) * 1e3}
        if images:
            t3 = time.perf_counter()
            answer["input_png"] = png_base64(photo.image)
            if result.heatmap is not None:
                answer["gradcam_png"] = png_base64(gradcam_overlay(photo.image, result.heatmap))
                answer["gradcam_class"] = CLASS_NAMES[int(order[0])]
            else:
                answer["gradcam_png"] = None
            timings["pictures_ms"] = (time.perf_counter() - t3) * 1e3
        answer["timing"] = {k: round(v, 2) for k, v in timings.items()}
        return answer

    return app


def _versions() -> dict[str, str]:
    import keras

    versions = {
        "fmnist_utils": fmnist_utils.__version__,
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "python": platform.python_version(),
    }
    if "tensorflow" in sys.modules:
        versions["tensorflow"] = sys.modules["tensorflow"].__version__
    return versions


# --------------------------------------------------------------------------------------------
# The page (inline HTML, CSS and JavaScript: no CDN, it works offline), kept in
# fmnist_utils/templates/page.html (package data) and filled in once per app
# --------------------------------------------------------------------------------------------
class _PageTemplate(string.Template):
    """``string.Template`` for templates/page.html: ``$name`` (or ``${name}``) is a placeholder,
    ``$$`` a literal ``$``; a ``$`` followed by anything else is left as it is, so the page's
    JavaScript can call its ``$("id")`` helper without escaping."""

    pattern = r"""
    \$(?:
      (?P<escaped>\$) |
      (?P<named>[_a-z][_a-z0-9]*) |
      {(?P<braced>[_a-z][_a-z0-9]*)} |
      (?P<invalid>(?!))
    )
    """


@functools.cache
def _page_template() -> _PageTemplate:
    """The page's markup, CSS and JavaScript: fmnist_utils/templates/page.html (package data),
    read once."""
    text = (files("fmnist_utils") / "templates" / "page.html").read_text(encoding="utf-8")
    return _PageTemplate(text)


def _render_page(model_info: dict[str, Any], versions: dict[str, str], max_upload: int) -> str:
    sha = model_info["sha256"] or ""
    return _page_template().substitute(
        model_name=html.escape(model_info["name"]),
        parameters=f"{model_info['parameters']:,}",
        sha_full=html.escape(sha or "in-memory model"),
        sha=html.escape(sha[:12] or "n/a"),
        version=html.escape(versions["fmnist_utils"]),
        keras=html.escape(versions["keras"]),
        max_upload=_megabytes(max_upload),
        classes=json.dumps(list(CLASS_NAMES)),
    )


# --------------------------------------------------------------------------------------------
# Command line: python -m fmnist_utils serve
# --------------------------------------------------------------------------------------------
def _check_keras_file(path: Path) -> None:
    """Raise a ValueError unless ``path`` looks like a Keras 3 ``.keras`` archive (a zip file
    with ``config.json``), without starting TensorFlow in this process."""
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a .keras model file (not a zip archive)")
    with zipfile.ZipFile(path) as archive:
        if "config.json" not in archive.namelist():
            raise ValueError(f"{path} is not a .keras model file (no config.json inside)")


def main(argv: list[str] | None = None) -> int:
    """``python -m fmnist_utils serve [--model PATH] [--host H] [--port P] [--seconds S]``.

    Trains, calibrates and saves the service's model (:func:`train_model`, the ``photos``
    recipe) when ``--model`` does not exist, then serves it with uvicorn until Ctrl+C.
    ``--workers N`` runs N server processes on the one port (default 2: on a 2-core machine
    one process leaves a core idle while Python holds its interpreter lock; measured in
    benchmarks/load_serve.py); ``--threads N`` caps TensorFlow's threads per operation in each
    (default 1, which suits one image per request). Returns the exit code.

    Example:
        >>> main(["--model", "models/fmnist_cnn.keras", "--port", "8000"])  # doctest: +SKIP
    """
    parser = argparse.ArgumentParser(
        prog="python -m fmnist_utils serve",
        description="Serve a Fashion-MNIST model: a page at /, POST /predict, GET /health.",
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=DEFAULT_MODEL_PATH,
        help="saved .keras model; trained (the 'photos' recipe) and saved there when missing "
        f"(default: {DEFAULT_MODEL_PATH})",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"default: {DEFAULT_HOST}")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default: {DEFAULT_PORT}")
    parser.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="training budget when the model is trained (default: the recipe's 180 s)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="TensorFlow threads per operation (1)"
    )
    parser.add_argument(
        "--max-upload-mb",
        type=float,
        default=MAX_UPLOAD_BYTES / 2**20,
        help=f"largest accepted upload in MB (default {MAX_UPLOAD_BYTES / 2**20:g})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="server processes sharing the port (2: one per core of a small machine; each "
        "loads the model once, about 0.4 GB)",
    )
    parser.add_argument("--log-level", default="info", help="uvicorn's log level (info)")
    args = parser.parse_args(argv)

    import uvicorn

    started = time.perf_counter()
    try:
        options = {} if args.seconds is None else {"seconds": args.seconds}
        path = ensure_model(args.model, **options)
        _check_keras_file(path)  # the full check (shapes) runs as each worker loads it
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"Model {path} ready in {time.perf_counter() - started:.1f} s.\n"
        f"Serving on http://{args.host}:{args.port}/ with {args.workers} worker process(es) "
        "(Ctrl+C stops it)",
        flush=True,
    )
    os.environ.update(
        {
            "FMNIST_SERVE_MODEL": str(Path(path).resolve()),
            "FMNIST_SERVE_MAX_UPLOAD": str(int(args.max_upload_mb * 2**20)),
            "FMNIST_SERVE_THREADS": str(args.threads),
        }
    )
    uvicorn.run(
        "fmnist_utils.serve:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
    )
    return 0


def app_from_environment():
    """The app for ``python -m fmnist_utils serve``: one per worker process, configured by the
    environment variables that :func:`main` sets (``FMNIST_SERVE_MODEL``,
    ``FMNIST_SERVE_MAX_UPLOAD``, ``FMNIST_SERVE_THREADS``). TensorFlow's thread counts are set
    here, before it starts in this process, and numpy's BLAS gets as many threads (for one image
    its extra threads only spin: they doubled the CPU time per request).
    """
    from threadpoolctl import threadpool_limits

    fmnist_utils.quiet_tensorflow()
    threads = int(os.environ.get("FMNIST_SERVE_THREADS", "1"))
    threadpool_limits(limits=threads)
    if device.backend() == "tensorflow":
        tf = device.require_tensorflow("setting TensorFlow's thread pools")
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # TensorFlow already started in this process
            pass
    elif device.backend() == "torch":
        import torch

        torch.set_num_threads(threads)
    return create_app(
        os.environ.get("FMNIST_SERVE_MODEL", str(DEFAULT_MODEL_PATH)),
        max_upload_bytes=int(os.environ.get("FMNIST_SERVE_MAX_UPLOAD", MAX_UPLOAD_BYTES)),
    )
