"""The course's web service: a FastAPI app that classifies one uploaded photo of a clothing item.

Endpoints:

* ``GET /``: a page (inline HTML, CSS and JavaScript, no CDN: it works offline) where a person
  drops or chooses a photo and sees the 28x28 image the model received, the ten class
  probabilities as bars and a Grad-CAM overlay.
* ``POST /predict``: one image in the multipart form field ``file``; answers the top classes
  with their probabilities as JSON. ``?images=true`` adds the model's input and the Grad-CAM
  overlay as base64 PNGs; ``?top=N`` (1-10) sets how many classes are listed.
* ``GET /health``: the model being served (path, parameters, SHA-256, modification time) and
  the versions of fmnist_utils, Keras and TensorFlow.

Every photo goes through :func:`fmnist_utils.preprocess.read_photo`, the one path from any image
to a Fashion-MNIST-like 28x28 input. Bad input gets a 4xx JSON answer ``{"detail": message,
"error": code}`` and the server goes on serving.

Run it with ``make serve`` or ``python -m fmnist_utils serve --model PATH --port 8000``; when
the model file does not exist, a default model (:func:`fmnist_utils.models.fast_cnn`, a few
epochs on the real training set) is trained and saved there first.

Example:
    >>> from fastapi.testclient import TestClient  # doctest: +SKIP
    >>> client = TestClient(create_app("models/fmnist_cnn.keras"))  # doctest: +SKIP
    >>> with open("shirt.jpg", "rb") as f:  # doctest: +SKIP
    ...     client.post("/predict", files={"file": f}).json()["top"][0]
    {'index': 6, 'name': 'Shirt', 'probability': 0.81}
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import html
import io
import json
import os
import platform
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import File, Query, UploadFile

import fmnist_utils
from fmnist_utils import preprocess
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
#: Side of the Grad-CAM overlay PNG (the 28x28 map upsampled bilinearly).
OVERLAY_SIZE = 224


# --------------------------------------------------------------------------------------------
# The model: training the default one, loading, describing, predicting
# --------------------------------------------------------------------------------------------
def train_model(
    path: str | os.PathLike,
    *,
    epochs: int = 3,
    per_class: int | None = None,
    filters: tuple[int, int, int] = (32, 64, 128),
    batch_size: int = 128,
    validation: int = 5000,
    seed: int = 42,
    verbose: int = 2,
) -> dict[str, Any]:
    """Train :func:`~fmnist_utils.models.fast_cnn` on the real training set and save it.

    ``validation`` training images (5,000) are held out for the per-epoch validation line
    (``verbose=2``: one line per epoch); ``per_class`` trains on that many images of each class
    instead of all the others (for quick tests). The model is written to a temporary file and
    then renamed, so an interrupted run never leaves half a model at ``path``; a JSON file
    beside it (``path.with_suffix(".json")``) records how it was trained and its test accuracy.

    Returns that record: ``epochs``, ``train_images``, ``seconds``, ``val_accuracy``,
    ``test_accuracy``, ``parameters``, ``filters``, ``trained_at``.

    Example:
        >>> info = train_model("/tmp/tiny.keras", epochs=1, per_class=300,
        ...                    filters=(8, 16, 32))  # doctest: +SKIP
        >>> round(info["test_accuracy"], 2)  # doctest: +SKIP
        0.72
    """
    from fmnist_utils import data, models, train

    fmnist_utils.quiet_tensorflow()
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"save the model as a .keras file; got {path.name!r}")
    train.set_seed(seed)
    (x_train, y_train), (x_test, y_test) = data.load_fashion_mnist()
    (x_fit, y_fit), (x_val, y_val) = data.train_val_split(x_train, y_train, validation, seed)
    if per_class is not None:
        x_fit, y_fit = data.subset(x_fit, y_fit, per_class=per_class, seed=seed)
    model = models.compile_model(models.fast_cnn(filters=filters))
    if verbose:
        print(
            f"Training {model.name} ({model.count_params():,} parameters) for {epochs} epoch(s) "
            f"on {len(x_fit):,} Fashion-MNIST training images (validation: {len(x_val):,})",
            flush=True,
        )
    history = train.fit(
        model,
        preprocess.prepare(x_fit),
        y_fit,
        validation_data=(preprocess.prepare(x_val), y_val),
        epochs=epochs,
        batch_size=batch_size,
        verbose=verbose,
    )
    probabilities = model.predict(preprocess.prepare(x_test), batch_size=1024, verbose=0)
    test_accuracy = float(np.mean(np.argmax(probabilities, axis=1) == y_test))
    record = {
        "builder": "fmnist_utils.models.fast_cnn",
        "filters": list(filters),
        "parameters": int(model.count_params()),
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "train_images": int(len(x_fit)),
        "seconds": round(float(history.attrs["seconds"]), 1),
        "val_accuracy": round(float(history["val_accuracy"].iloc[-1]), 4),
        "test_accuracy": round(test_accuracy, 4),
        "seed": int(seed),
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.partial-{os.getpid()}.keras")
    model.save(partial)
    os.replace(partial, path)
    path.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    if verbose:
        print(
            f"Test accuracy {test_accuracy:.4f} on {len(x_test):,} images; trained in "
            f"{record['seconds']:.0f} s; saved {path}",
            flush=True,
        )
    return record


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


class Predictor:
    """A model ready for concurrent requests: probabilities and Grad-CAM for one image.

    With the TensorFlow backend the forward pass is one compiled ``tf.function`` (a few
    milliseconds per image instead of tens in eager mode); Grad-CAM
    (:func:`fmnist_utils.explain.grad_cam`) builds a sub-model per call, so those calls are
    serialised with a lock. Both are warmed up once when the predictor is made.

    Example:
        >>> predictor = Predictor(load_model("models/fmnist_cnn.keras"))  # doctest: +SKIP
        >>> predictor.probabilities(preprocess.prepare(x_test[:1])).shape  # doctest: +SKIP
        (10,)
    """

    def __init__(self, model) -> None:
        import keras

        self.model = model
        self._lock = threading.Lock()
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            spec = tf.TensorSpec((None, *preprocess.IMAGE_SHAPE), tf.float32)
            self._forward = tf.function(lambda x: model(x, training=False), input_signature=[spec])
        else:  # pragma: no cover - the course runs on TensorFlow
            self._forward = lambda x: model(x, training=False)
        blank = np.zeros((1, *preprocess.IMAGE_SHAPE), np.float32)
        self.probabilities(blank)
        try:
            self.grad_cam(blank, 0)
            self.explains = True
        except ValueError:  # a model without a 4-D layer (an MLP): no Grad-CAM
            self.explains = False

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Class probabilities ``(10,)`` of a prepared batch of one image ``(1, 28, 28, 1)``."""
        return np.asarray(self._forward(batch), dtype=np.float64)[0]

    def grad_cam(self, batch: np.ndarray, class_index: int) -> np.ndarray:
        """The Grad-CAM map ``(28, 28)`` in [0, 1] of ``class_index`` for one prepared image."""
        from fmnist_utils import explain

        with self._lock:
            return explain.grad_cam(self.model, batch, class_index=class_index)[0]


# --------------------------------------------------------------------------------------------
# Pictures for the page: the model's input and the Grad-CAM overlay as PNG
# --------------------------------------------------------------------------------------------
def png_base64(pixels: np.ndarray) -> str:
    """A uint8 grey ``(h, w)`` or RGB ``(h, w, 3)`` array as a base64 PNG (no data: prefix).

    Example:
        >>> base64.b64decode(png_base64(np.zeros((28, 28), np.uint8)))[:4]
        b'\\x89PNG'
    """
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(buffer, "PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def gradcam_overlay(image: np.ndarray, heatmap: np.ndarray, size: int = OVERLAY_SIZE) -> np.ndarray:
    """The 28x28 input (pixels kept square) with the Grad-CAM map (upsampled smoothly) blended
    over it in the "jet" colours, as uint8 RGB ``(size, size, 3)``.

    Example:
        >>> gradcam_overlay(np.zeros((28, 28), np.uint8), np.eye(28), size=56).shape
        (56, 56, 3)
    """
    from PIL import Image

    from fmnist_utils import viz

    grey = Image.fromarray(np.asarray(image, dtype=np.uint8)).resize(
        (size, size), Image.Resampling.NEAREST
    )
    heat = Image.fromarray(np.clip(np.asarray(heatmap, np.float32), 0, 1), mode="F").resize(
        (size, size), Image.Resampling.BILINEAR
    )
    rgb = viz.overlay_heatmap(np.asarray(grey), np.asarray(heat), alpha=0.45, cmap="jet")
    return np.round(rgb * 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# The app
# --------------------------------------------------------------------------------------------
#: PhotoError subclass -> (HTTP status, error code) of the JSON answer.
_PHOTO_STATUS: dict[type, tuple[int, str]] = {
    preprocess.EmptyPhotoError: (400, "empty_upload"),
    preprocess.NotAnImageError: (415, "not_an_image"),
    preprocess.TruncatedPhotoError: (400, "truncated_image"),
    preprocess.PhotoTooLargeError: (413, "image_too_large"),
    preprocess.NoObjectError: (422, "no_item_found"),
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


def create_app(
    model_path: str | os.PathLike | None = DEFAULT_MODEL_PATH,
    *,
    model=None,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = preprocess.MAX_PHOTO_PIXELS,
):
    """The FastAPI app serving ``model`` (a Keras model) or the model saved at ``model_path``.

    The model is loaded and warmed up here, once; every request shares it.

    Example:
        >>> app = create_app("models/fmnist_cnn.keras")  # doctest: +SKIP
        >>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
    """
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    if model is None:
        if model_path is None:
            raise ValueError("pass a model or the path of a saved one")
        model = load_model(model_path)
    else:
        model_path = None
    started = time.time()
    predictor = Predictor(model)
    model_info = describe_model(model, model_path)
    versions = _versions()
    page = _render_page(model_info, versions, max_upload_bytes)

    app = FastAPI(
        title="Fashion-MNIST classifier",
        version=fmnist_utils.__version__,
        description="Upload a photo of one clothing item; get the Fashion-MNIST class.",
    )
    app.add_middleware(
        _UploadLimit, limit=max_upload_bytes + _ENVELOPE_BYTES, file_limit=max_upload_bytes
    )
    app.state.predictor = predictor
    app.state.model_info = model_info

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
        return HTMLResponse(page)

    @app.get("/health")
    def health() -> dict[str, Any]:
        """The model being served and the versions of the software serving it."""
        return {
            "status": "ok",
            "model": model_info,
            "versions": versions,
            "limits": {"max_upload_bytes": max_upload_bytes, "max_pixels": max_pixels},
            "uptime_seconds": round(time.time() - started, 1),
        }

    @app.post("/predict")
    def predict(
        file: Annotated[UploadFile, File(description="the image: PNG, JPEG, GIF, TIFF, WebP...")],
        top: Annotated[int, Query(ge=1, le=preprocess.NUM_CLASSES, description="classes")] = 3,
        images: Annotated[bool, Query(description="add the input and Grad-CAM PNGs")] = False,
    ):
        """Classify one photo: the ``top`` classes, every class's probability and, with
        ``images=true``, the 28x28 model input and the Grad-CAM overlay as base64 PNGs."""
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
            photo = preprocess.read_photo(content, max_pixels=max_pixels)
        except preprocess.PhotoError as error:
            status, code = next(
                (v for k, v in _PHOTO_STATUS.items() if isinstance(error, k)),
                (422, "bad_image"),
            )
            return JSONResponse(_error_body(status, code, str(error)), status_code=status)
        t1 = time.perf_counter()
        batch = preprocess.prepare(photo.image)
        probabilities = predictor.probabilities(batch)
        t2 = time.perf_counter()
        order = np.argsort(-probabilities)
        ranked = [
            {"index": int(i), "name": CLASS_NAMES[i], "probability": round(float(p), 6)}
            for i, p in zip(order, probabilities[order], strict=True)
        ]
        answer: dict[str, Any] = {
            "predicted": ranked[0],
            "top": ranked[:top],
            "probabilities": {
                name: round(float(p), 6) for name, p in zip(CLASS_NAMES, probabilities, strict=True)
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
            answer["input_png"] = png_base64(photo.image)
            if predictor.explains:
                t3 = time.perf_counter()
                heat = predictor.grad_cam(batch, int(order[0]))
                answer["gradcam_png"] = png_base64(gradcam_overlay(photo.image, heat))
                answer["gradcam_class"] = CLASS_NAMES[int(order[0])]
                timings["gradcam_ms"] = (time.perf_counter() - t3) * 1e3
            else:
                answer["gradcam_png"] = None
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
# The page (inline HTML, CSS and JavaScript: no CDN, it works offline)
# --------------------------------------------------------------------------------------------
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Fashion-MNIST classifier</title>
<style>
  :root { --accent: #2563eb; --muted: #5b6472; --card: #ffffff; --line: #d7dce3; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
         background: #f4f6f9; color: #1d2430; }
  header, main, footer { max-width: 980px; margin: 0 auto; padding: 0 1rem; }
  header { padding-top: 1.2rem; }
  h1 { margin: 0 0 .2rem; font-size: 1.6rem; }
  .meta { color: var(--muted); font-size: .9rem; margin: 0 0 1rem; }
  code { font-size: .85em; }
  #drop { display: block; border: 2px dashed #98a2b3; border-radius: 14px; background: var(--card);
          padding: 1.6rem 1rem; text-align: center; cursor: pointer; transition: .15s; }
  #drop:hover, #drop.over { border-color: var(--accent); background: #eef3ff; }
  #drop strong { font-size: 1.15rem; }
  #drop small { display: block; color: var(--muted); margin-top: .4rem; }
  #file { display: block; margin: .8rem auto 0; }
  #status { min-height: 1.4rem; color: var(--muted); margin: .7rem 0; }
  #error { background: #fdecec; border: 1px solid #f5b5b5; color: #9b1c1c; border-radius: 10px;
           padding: .7rem 1rem; }
  [hidden] { display: none !important; }
  #result h2 { font-size: 1.35rem; margin: .4rem 0 .8rem; }
  #predicted-class { color: var(--accent); }
  .panels { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 1rem; }
  figure { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 12px;
           padding: .8rem; text-align: center; }
  figure img { width: 196px; height: 196px; object-fit: contain; background: #000;
               border-radius: 6px; }
  #model-input { image-rendering: pixelated; }
  figcaption { color: var(--muted); font-size: .88rem; margin-top: .4rem; }
  .bars { background: var(--card); border: 1px solid var(--line); border-radius: 12px;
          padding: .8rem 1rem; margin-top: 1rem; }
  .bar-row { display: grid; grid-template-columns: 7.5rem 1fr 4.2rem; gap: .6rem;
             align-items: center; margin: .28rem 0; font-size: .95rem; }
  .bar { height: 1.05rem; background: #e8ebf0; border-radius: 5px; overflow: hidden; }
  .bar > span { display: block; height: 100%; width: 0; background: #9aa5b5;
                transition: width .3s; }
  .bar-row.best { font-weight: 600; }
  .bar-row.best .bar > span { background: var(--accent); }
  .value { text-align: right; font-variant-numeric: tabular-nums; }
  #timing { color: var(--muted); font-size: .85rem; }
  footer { color: var(--muted); font-size: .85rem; padding: 1.5rem 1rem 2rem; }
</style>
</head>
<body data-state="idle">
<header>
  <h1>Fashion-MNIST classifier</h1>
  <p class="meta">Model <code>__MODEL_NAME__</code> &middot; __PARAMETERS__ parameters &middot;
  SHA-256 <code title="__SHA_FULL__">__SHA__</code> &middot; fmnist_utils __VERSION__
  &middot; Keras __KERAS__</p>
</header>
<main>
  <label id="drop" for="file">
    <strong>Drop a photo here</strong> or choose one
    <small>One clothing item on a plain background works best. PNG, JPEG, GIF, BMP, TIFF or
    WebP, up to __MAX_UPLOAD__.</small>
    <input type="file" id="file" name="file" accept="image/*">
  </label>
  <p id="status" role="status"></p>
  <p id="error" role="alert" hidden></p>
  <section id="result" hidden>
    <h2>Prediction: <strong id="predicted-class"></strong>
      <span id="predicted-probability"></span></h2>
    <div class="panels">
      <figure><img id="original" alt="the uploaded photo">
        <figcaption>Your photo</figcaption></figure>
      <figure><img id="model-input" alt="the 28x28 image the model received">
        <figcaption>What the model received (28&times;28)</figcaption></figure>
      <figure><img id="gradcam" alt="Grad-CAM overlay">
        <figcaption>Grad-CAM: where the evidence for <em id="cam-class"></em> is</figcaption>
      </figure>
    </div>
    <div class="bars"><h3>Class probabilities</h3><div id="bars"></div></div>
    <p id="timing"></p>
  </section>
</main>
<footer>Everything runs on this server; the page loads nothing from elsewhere and works offline.
  API: <code>POST /predict</code> (multipart field <code>file</code>, <code>?images=true</code>,
  <code>?top=N</code>) &middot; <code>GET /health</code> &middot; <code>GET /openapi.json</code>
</footer>
<script>
"use strict";
const CLASSES = __CLASSES__;
const $ = (id) => document.getElementById(id);
const drop = $("drop"), input = $("file");
let previewUrl = null;

function setState(state, text) {
  document.body.dataset.state = state;
  $("status").textContent = text || "";
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
  setState("error", "");
}

function drawBars(probabilities, best) {
  const box = $("bars");
  box.replaceChildren();
  CLASSES.forEach((name) => {
    const p = probabilities[name];
    const row = document.createElement("div");
    row.className = "bar-row" + (name === best ? " best" : "");
    row.dataset.cls = name;
    const label = document.createElement("span");
    label.textContent = name;
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("span");
    fill.style.width = (100 * p).toFixed(1) + "%";
    bar.appendChild(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = (100 * p).toFixed(1) + "%";
    row.append(label, bar, value);
    box.appendChild(row);
  });
}

function show(answer, file) {
  const best = answer.predicted;
  $("predicted-class").textContent = best.name;
  $("predicted-probability").textContent = "(" + (100 * best.probability).toFixed(1) + "%)";
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = URL.createObjectURL(file);
  $("original").src = previewUrl;
  $("model-input").src = "data:image/png;base64," + answer.input_png;
  if (answer.gradcam_png) {
    $("gradcam").src = "data:image/png;base64," + answer.gradcam_png;
    $("cam-class").textContent = answer.gradcam_class;
  }
  drawBars(answer.probabilities, best.name);
  const t = answer.timing;
  $("timing").textContent = "Server time: preprocessing " + t.preprocess_ms.toFixed(1) +
    " ms, model " + t.predict_ms.toFixed(1) + " ms" +
    (t.gradcam_ms !== undefined ? ", Grad-CAM " + t.gradcam_ms.toFixed(1) + " ms" : "") +
    ". Photo " + answer.photo.width + "\\u00d7" + answer.photo.height + " " + answer.photo.mode +
    (answer.photo.inverted ? ", light background inverted" : "") + ".";
  $("result").hidden = false;
  setState("done", "Classified " + file.name + ".");
}

async function classify(file) {
  $("error").hidden = true;
  setState("busy", "Classifying " + file.name + "\\u2026");
  const form = new FormData();
  form.append("file", file);
  let response, answer;
  try {
    response = await fetch("predict?images=true&top=10", { method: "POST", body: form });
    answer = await response.json();
  } catch (err) {
    showError("The server did not answer (" + err + "). Is it still running?");
    return;
  }
  if (!response.ok) {
    showError(answer.detail || ("Error " + response.status));
    return;
  }
  show(answer, file);
}

input.addEventListener("change", () => { if (input.files.length) classify(input.files[0]); });
["dragenter", "dragover"].forEach((type) => drop.addEventListener(type, (event) => {
  event.preventDefault();
  drop.classList.add("over");
}));
["dragleave", "drop"].forEach((type) => drop.addEventListener(type, (event) => {
  event.preventDefault();
  drop.classList.remove("over");
}));
drop.addEventListener("drop", (event) => {
  const file = event.dataTransfer.files[0];
  if (file) classify(file);
});
</script>
</body>
</html>
"""


def _render_page(model_info: dict[str, Any], versions: dict[str, str], max_upload: int) -> str:
    sha = model_info["sha256"] or ""
    fields = {
        "__MODEL_NAME__": html.escape(model_info["name"]),
        "__PARAMETERS__": f"{model_info['parameters']:,}",
        "__SHA_FULL__": html.escape(sha or "in-memory model"),
        "__SHA__": html.escape(sha[:12] or "n/a"),
        "__VERSION__": html.escape(versions["fmnist_utils"]),
        "__KERAS__": html.escape(versions["keras"]),
        "__MAX_UPLOAD__": _megabytes(max_upload),
        "__CLASSES__": json.dumps(list(CLASS_NAMES)),
    }
    page = _PAGE
    for key, value in fields.items():
        page = page.replace(key, value)
    return page


# --------------------------------------------------------------------------------------------
# Command line: python -m fmnist_utils serve
# --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """``python -m fmnist_utils serve [--model PATH] [--host H] [--port P] [--epochs N]``.

    Trains and saves the default model when ``--model`` does not exist, then serves it with
    uvicorn until Ctrl+C. Returns the exit code.

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
        help="saved .keras model; trained (fast_cnn) and saved there when missing "
        f"(default: {DEFAULT_MODEL_PATH})",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"default: {DEFAULT_HOST}")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default: {DEFAULT_PORT}")
    parser.add_argument(
        "--epochs", type=int, default=3, help="epochs when the default model is trained (3)"
    )
    parser.add_argument(
        "--max-upload-mb",
        type=float,
        default=MAX_UPLOAD_BYTES / 2**20,
        help=f"largest accepted upload in MB (default {MAX_UPLOAD_BYTES / 2**20:g})",
    )
    parser.add_argument("--log-level", default="info", help="uvicorn's log level (info)")
    args = parser.parse_args(argv)

    import uvicorn

    started = time.perf_counter()
    try:
        path = ensure_model(args.model, epochs=args.epochs)
        app = create_app(path, max_upload_bytes=int(args.max_upload_mb * 2**20))
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    info = app.state.model_info
    print(
        f"Model {info['path']} ({info['name']}, {info['parameters']:,} parameters, sha256 "
        f"{info['sha256'][:12]}) ready in {time.perf_counter() - started:.1f} s.\n"
        f"Serving on http://{args.host}:{args.port}/  (Ctrl+C stops it)",
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0
