"""Where does a model look? Gradient saliency, Grad-CAM and occlusion sensitivity.

Every function takes prepared float images ``(n, height, width, channels)`` (for the course:
:func:`fmnist_utils.preprocess.prepare`) and returns one heat map per image, ``(n, height,
width)`` float32, at the input's resolution, so maps of different methods can be compared and
overlaid on the image (:func:`fmnist_utils.viz.overlay_heatmap`).

* :func:`saliency`: how much a tiny change of each pixel changes the class score (the gradient's
  magnitude; Simonyan et al. 2014), optionally averaged over noisy copies (SmoothGrad,
  Smilkov et al. 2017).
* :func:`grad_cam`: which places of the last convolution's feature maps raise the class score
  (Selvaraju et al. 2017), upsampled to the image with each cell at its receptive field's
  centre (:func:`cam_upsampler`, :func:`feature_grid`).
* :func:`occlusion`: how much the class probability drops when a small patch of the image is
  covered (Zeiler and Fergus 2014).
* :func:`integrated_gradients`: gradients averaged along the path from a baseline (a black image)
  to the image, times the pixels' change; they add up to the score's change (Sundararajan et
  al. 2017). :func:`class_scores` gives the scores to check that.
* :func:`randomized_copy` and :func:`map_correlation`: the sanity check of Adebayo et al. (2018):
  a map that barely changes when the weights are randomised does not explain the model.
* :func:`deletion_curve` and :func:`area_under_curve`: is a map faithful? Remove pixels in its
  order and watch the class probability fall (Petsiuk et al. 2018).

The functions work for any single-output Keras 3 model, Functional or Sequential, that starts
from an ``Input``. The class score differentiated by :func:`saliency` and :func:`grad_cam` is the
logit (the input of the final softmax) when the last layer is a softmax ``Dense``, ``Softmax``
or ``Activation("softmax")`` layer, as in the papers (a softmax output saturates near 1 and its
gradient vanishes); otherwise it is the model's output itself.

Example:
    >>> from fmnist_utils import data, explain, models, preprocess  # doctest: +SKIP
    >>> (x_train, y_train), (x_test, y_test) = data.load_fashion_mnist()  # doctest: +SKIP
    >>> model = models.fast_cnn()  # doctest: +SKIP
    >>> maps = explain.grad_cam(model, preprocess.prepare(x_test[:4]))  # doctest: +SKIP
    >>> maps.shape, maps.dtype  # doctest: +SKIP
    ((4, 28, 28), dtype('float32'))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.integrate import trapezoid

from fmnist_utils import device

#: Layer types skipped when :func:`last_conv_layer` looks for the last feature map: pooling
#: only shrinks the map that the convolution before it made.
_POOLING = ("MaxPooling2D", "AveragePooling2D", "MaxPool2D", "AvgPool2D")


def _keras():
    import fmnist_utils

    fmnist_utils.quiet_tensorflow()
    import keras

    return keras


# --------------------------------------------------------------------------------------------
# Checking the arguments
# --------------------------------------------------------------------------------------------


def _input_shape(model) -> tuple:
    """The model's input shape without the batch axis (``None`` for unknown sizes)."""
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise ValueError(
            f"model {model.name!r} has no Input; build it from keras.Input(...) "
            "(Functional) or keras.Sequential([keras.Input(...), ...])"
        )
    if len(inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"model {model.name!r} has {len(inputs)} inputs and {len(model.outputs)} outputs; "
            "these explanations need exactly one of each"
        )
    return tuple(inputs[0].shape[1:])


def _check_images(model, images) -> np.ndarray:
    """``images`` as float32 ``(n, h, w, c)`` matching the model's input, or a ValueError."""
    images = np.asarray(images)
    expected = _input_shape(model)
    if len(expected) != 3:
        raise ValueError(
            f"model {model.name!r} takes inputs of shape {expected}; these explanations need "
            "images (height, width, channels)"
        )
    wanted = "(n, " + ", ".join("?" if d is None else str(d) for d in expected) + ")"
    if images.ndim != 4 or any(
        d is not None and d != s for d, s in zip(expected, images.shape[1:], strict=True)
    ):
        raise ValueError(
            f"images must have shape {wanted} for model {model.name!r}; got {images.shape}. "
            "Prepare them with fmnist_utils.preprocess.prepare (it adds the batch and channel "
            "axes)."
        )
    if len(images) == 0:
        raise ValueError("images is empty; pass at least one image")
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(
            f"images must be prepared float pixels; got dtype {images.dtype}. "
            "Use fmnist_utils.preprocess.prepare (uint8 0-255 -> float32 0-1)."
        )
    return images.astype(np.float32, copy=False)


def _class_indices(class_index, n: int, num_classes: int) -> np.ndarray | None:
    """``None`` (use each prediction), or an int array of length ``n`` checked against K."""
    if class_index is None:
        return None
    indices = np.asarray(class_index)
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"class_index must be None, an int or a sequence of ints; got {indices!r}")
    if indices.ndim == 0:
        indices = np.full(n, int(indices))
    if indices.shape != (n,):
        raise ValueError(f"class_index has {indices.size} entries for {n} images")
    if indices.min() < 0 or indices.max() >= num_classes:
        raise ValueError(f"class_index must be in 0..{num_classes - 1}; got {indices.tolist()}")
    return indices.astype(np.int64)


def _normalise(maps: np.ndarray) -> np.ndarray:
    """Scale each map so its maximum is 1 (an all-zero map stays zero); float32 in [0, 1]."""
    maps = np.nan_to_num(np.asarray(maps, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    maps = np.maximum(maps, 0.0)
    peak = maps.reshape(len(maps), -1).max(axis=1).reshape(-1, *([1] * (maps.ndim - 1)))
    safe = np.where(peak > 0, peak, 1.0)
    return np.clip(maps / safe, 0.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Forward passes that expose a layer and the class scores
# --------------------------------------------------------------------------------------------


def _is_softmax(activation) -> bool:
    return getattr(activation, "__name__", "") == "softmax"


def _logit_head(layer) -> Callable | None:
    """If ``layer`` ends in a softmax, a function from its input to the logits; else None."""
    keras = _keras()
    kind = type(layer).__name__
    if kind == "Softmax" or (kind == "Activation" and _is_softmax(layer.activation)):
        return lambda h: h
    if isinstance(layer, keras.layers.Dense) and _is_softmax(layer.activation):

        def dense_logits(h):
            z = keras.ops.matmul(h, layer.kernel)
            return z + layer.bias if layer.bias is not None else z

        return dense_logits
    return None


def _forward(model, layer_name: str | None = None) -> Callable:
    """A function ``x -> (activations of layer_name or None, class scores (n, K))``.

    The scores are logits when the last layer is a softmax (see the module docstring), else the
    model's output. Sequential models are run layer by layer; Functional models through a
    sub-model from ``model.inputs`` to ``[layer.output, scores]``.
    """
    keras = _keras()
    _input_shape(model)
    last = model.layers[-1]
    head = _logit_head(last)
    if isinstance(model, keras.Sequential):
        layers = list(model.layers)
        if layer_name is not None and layer_name not in [layer.name for layer in layers]:
            model.get_layer(layer_name)  # raises Keras' "no such layer" ValueError

        def run(x):
            captured = None
            body = layers[:-1] if head is not None else layers
            for layer in body:
                x = layer(x, training=False)
                if layer.name == layer_name:
                    captured = x
            if head is not None:
                x = head(x)
                if last.name == layer_name:
                    captured = None  # the logits layer itself is not a feature map
            return captured, x

        return run
    if head is not None and last.output is not model.outputs[0]:
        head = None  # the last listed layer is not the output: fall back to the model's output
    score_tensor = last.input if head is not None else model.outputs[0]
    outputs = [score_tensor]
    if layer_name is not None:
        outputs.insert(0, model.get_layer(layer_name).output)
    sub = keras.Model(model.inputs[0], outputs)  # one tensor, not a list: no structure warning

    def run_functional(x):
        result = sub(x, training=False)
        if layer_name is None:
            captured, scores = None, result
        else:
            captured, scores = result
        return captured, head(scores) if head is not None else scores

    return run_functional


def _split(model, layer_name: str) -> tuple[Callable, Callable]:
    """Two functions, ``x -> activations h of layer_name`` and ``(x, h) -> class scores`` (the
    logits for a softmax model, as in :func:`_forward`), so that the scores can be
    differentiated with respect to the feature map on every backend
    (:func:`fmnist_utils.device.gradients`). The second also takes the images: a path around
    the layer (a residual shortcut) still starts from them."""
    keras = _keras()
    last = model.layers[-1]
    head = _logit_head(last)
    if isinstance(model, keras.Sequential):
        layers = list(model.layers)
        names = [layer.name for layer in layers]
        if layer_name not in names:
            model.get_layer(layer_name)  # raises Keras' "no such layer" ValueError
        cut = names.index(layer_name) + 1
        body = layers[:-1] if head is not None else layers

        def front(x):
            for layer in layers[:cut]:
                x = layer(x, training=False)
            return x

        def back(x, h):
            for layer in body[cut:]:
                h = layer(h, training=False)
            return head(h) if head is not None else h

        return front, back
    if head is not None and last.output is not model.outputs[0]:
        head = None  # the last listed layer is not the output: fall back to the model's output
    feature = model.get_layer(layer_name).output
    front_model = keras.Model(model.inputs[0], feature)
    scores = last.input if head is not None else model.outputs[0]
    back_model = keras.Model([model.inputs[0], feature], scores)

    def front_functional(x):
        return front_model(x, training=False)

    def back_functional(x, h):
        scores = back_model([keras.ops.convert_to_tensor(x), h], training=False)
        return head(scores) if head is not None else scores

    return front_functional, back_functional


def _chosen_sum(scores, classes: np.ndarray):
    """The sum over images of each image's score for its class in ``classes`` (float32)."""
    keras = _keras()
    scores = keras.ops.cast(scores, "float32")
    index = keras.ops.convert_to_tensor(np.asarray(classes, np.int32).reshape(-1, 1))
    return keras.ops.sum(keras.ops.take_along_axis(scores, index, axis=1))


def _num_classes(model) -> int:
    return int(model.outputs[0].shape[-1])


def last_conv_layer(model) -> str:
    """Name of the last layer with a 4-D output (a feature map), skipping pooling layers.

    For a Conv-BatchNorm-ReLU stage this is the ReLU (the activated map); pooling is skipped
    because it only shrinks the map of the layer before it, and Grad-CAM wants the finest
    last map. Only when every 4-D layer is a pooling layer is the last of them returned.

    Raises:
        ValueError: the model has no layer with a 4-D output (an MLP, for instance).

    Example:
        >>> from fmnist_utils import models  # doctest: +SKIP
        >>> model = models.fast_cnn()  # doctest: +SKIP
        >>> last_conv_layer(model), last_conv_layer(models.reference_cnn())  # doctest: +SKIP
        ('conv3_relu', 'conv2')
    """
    _input_shape(model)
    candidates = []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):  # a layer with no (or several) outputs in graph
            continue
        if len(shape) == 4:
            candidates.append(layer)
    if not candidates:
        raise ValueError(
            f"model {model.name!r} has no layer with a 4-D output (batch, height, width, "
            "channels), so Grad-CAM has no feature map to use; try saliency() or occlusion()"
        )
    convs = [layer for layer in candidates if type(layer).__name__ not in _POOLING]
    return (convs or candidates)[-1].name


def _outputs(model, images: np.ndarray, batch_size: int) -> np.ndarray:
    """The model's outputs (probabilities for the course's softmax models), batch by batch."""
    return np.concatenate(
        [
            _keras().ops.convert_to_numpy(model(images[i : i + batch_size], training=False))
            for i in range(0, len(images), batch_size)
        ]
    )


def _predicted(run, images: np.ndarray, batch_size: int) -> np.ndarray:
    """Predicted class of every image (argmax of the class scores)."""
    preds = [
        np.argmax(_keras().ops.convert_to_numpy(run(images[i : i + batch_size])[1]), axis=-1)
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(preds)


# --------------------------------------------------------------------------------------------
# Where a feature map's cells sit on the image (for upsampling Grad-CAM)
# --------------------------------------------------------------------------------------------

#: Layers that slide a window over the map, and the attribute holding the window's size.
_WINDOWS = {
    "Conv2D": "kernel_size",
    "DepthwiseConv2D": "kernel_size",
    "SeparableConv2D": "kernel_size",
    "MaxPooling2D": "pool_size",
    "AveragePooling2D": "pool_size",
}

#: One spatial axis of a feature map: (cells, jump, lo, hi): cell ``i`` sees the input pixels
#: ``lo + i * jump`` to ``hi + i * jump`` (pixel-centre coordinates, 0 = the first pixel's centre).
_Axis = tuple[int, int, float, float]


def _spatial(tensor) -> tuple | None:
    """The static (height, width) of a 4-D tensor (``None`` for an unknown size), else None."""
    shape = getattr(tensor, "shape", None)
    return None if shape is None or len(shape) != 4 else tuple(shape[1:3])


def _same_size(a: tuple, b: tuple) -> bool:
    """Two static spatial shapes that may be the same (unknown sizes match anything)."""
    return all(x is None or y is None or x == y for x, y in zip(a, b, strict=True))


def _through(operation, grids: list[list[_Axis]], output) -> list[_Axis] | None:
    """The grid of ``operation``'s output from those of its 4-D inputs; None if not derivable."""
    kind = type(operation).__name__
    if getattr(operation, "data_format", "channels_last") == "channels_first":
        return None
    if kind in _WINDOWS:
        if len(grids) != 1:
            return None
        window = getattr(operation, _WINDOWS[kind])
        dilation = getattr(operation, "dilation_rate", None) or (1, 1)
        strides = operation.strides or window
        axes = []
        for (n, jump, lo, hi), k, d, s in zip(grids[0], window, dilation, strides, strict=True):
            span = d * (k - 1) + 1
            if operation.padding == "valid":
                pad, out = 0, (n - span) // s + 1
            elif operation.padding == "same":  # TensorFlow puts the odd zero after the map
                out = -(-n // s)
                pad = max((out - 1) * s + span - n, 0) // 2
            else:
                return None
            if out < 1:
                return None
            axes.append((out, jump * s, lo - pad * jump, hi + (span - 1 - pad) * jump))
        return axes
    if kind in ("ZeroPadding2D", "Cropping2D"):
        if len(grids) != 1:
            return None
        sign = 1 if kind == "ZeroPadding2D" else -1  # cropping removes cells, padding adds them
        edges = operation.padding if sign == 1 else operation.cropping
        axes = []
        for (n, jump, lo, hi), (before, after) in zip(grids[0], edges, strict=True):
            shift = sign * before * jump  # the new first cell is ``sign * before`` cells earlier
            axes.append((n + sign * (before + after), jump, lo - shift, hi - shift))
        return axes
    # Any other layer (batch norm, activations, dropout, Add, Concatenate...) must keep the grid
    # of its inputs; the cells of a merge see what any of its inputs sees (union of the fields).
    sizes = {tuple((n, jump) for n, jump, _, _ in grid) for grid in grids}
    if len(sizes) != 1:
        return None
    (first, *_), out_size = grids, _spatial(output)
    if out_size is None or not _same_size(out_size, tuple(n for n, _, _, _ in first)):
        return None
    return [
        (n, jump, min(grid[a][2] for grid in grids), max(grid[a][3] for grid in grids))
        for a, (n, jump, _, _) in enumerate(first)
    ]


def _grid(model, layer_name: str, image_size: tuple[int, int]) -> list[_Axis] | None:
    """Per spatial axis, the (cells, jump, lo, hi) of ``layer_name``'s output for images of
    ``image_size``, walking its graph back to the model's input; None if not derivable."""
    source = model.inputs[0]
    try:
        target = model.get_layer(layer_name).output
    except (AttributeError, ValueError):  # a layer called several times has no single output
        return None
    memo: dict[int, list[_Axis] | None] = {}

    def walk(tensor) -> list[_Axis] | None:
        if tensor is source:
            return [(int(n), 1, 0.0, 0.0) for n in image_size]
        if id(tensor) in memo:
            return memo[id(tensor)]
        memo[id(tensor)] = None  # a cycle (there is none in a Keras graph) ends here
        history = getattr(tensor, "_keras_history", None)
        if history is None or history[1] is None:
            return None
        operation, node_index, _ = history
        node = operation._inbound_nodes[node_index]
        size = _spatial(tensor)
        inputs = [t for t in node.input_tensors if _spatial(t) is not None]
        if len(inputs) > 1 and size is not None:  # broadcast inputs (n, 1, 1, c) are ignored
            inputs = [t for t in inputs if _same_size(_spatial(t), size)]
        grids = [walk(t) for t in inputs]
        result = None
        if grids and all(grid is not None for grid in grids):
            result = _through(operation, grids, tensor)
        memo[id(tensor)] = result
        return result

    return walk(target)


def _image_size(model, image_size: tuple[int, int] | None) -> tuple[int, int]:
    if image_size is not None:
        return int(image_size[0]), int(image_size[1])
    shape = _input_shape(model)
    if len(shape) != 3 or shape[0] is None or shape[1] is None:
        raise ValueError(
            f"model {model.name!r} takes inputs of shape {shape}; pass image_size=(height, width)"
        )
    return int(shape[0]), int(shape[1])


def feature_grid(
    model, layer_name: str | None = None, image_size: tuple[int, int] | None = None
) -> tuple[tuple[int, float], tuple[int, float]] | None:
    """Where the cells of a layer's feature map sit on the image: ``((stride_y, offset_y),
    (stride_x, offset_x))``, or None when that cannot be derived from the layers.

    Cell ``i`` of an axis has its receptive field centred on input coordinate
    ``offset + i * stride`` (pixel centres: 0 is the first pixel's centre, so 1.5 is halfway
    between pixels 1 and 2). Stride and field are composed through the layers from the input:
    convolutions (``Conv2D``, ``DepthwiseConv2D``, ``SeparableConv2D``, dilation included) and
    pooling with their padding (``"same"`` pads ``max((out - 1) * s + k - in, 0) // 2`` zeros
    before the map, as TensorFlow does), ``ZeroPadding2D`` and ``Cropping2D``. Layers that keep
    the grid (batch norm, activations, dropout...) pass it through; a merge (``Add``,
    ``Concatenate``...) of maps on the same grid sees the union of its inputs' fields, whose
    centre is the offset (in a ResNet block, the 3x3 branch's field contains the 1x1
    shortcut's). None for anything else that changes the grid (an unknown layer, upsampling,
    a reshape, ``channels_first`` data, a nested model on the way), or merged maps with
    different strides.

    Args:
        model: a Keras model built from an ``Input``.
        layer_name: a layer with a 4-D output (default: :func:`last_conv_layer`).
        image_size: ``(height, width)`` of the images (default: the model's input size).

    Example:
        >>> from fmnist_utils import models  # doctest: +SKIP
        >>> feature_grid(models.reference_cnn())  # doctest: +SKIP
        ((2, 3.5), (2, 3.5))
    """
    image_size = _image_size(model, image_size)
    grid = _grid(model, layer_name or last_conv_layer(model), image_size)
    if grid is None:
        return None
    (_, stride_y, lo_y, hi_y), (_, stride_x, lo_x, hi_x) = grid
    return (stride_y, (lo_y + hi_y) / 2), (stride_x, (lo_x + hi_x) / 2)


def _interpolation(size: int, cells: int, stride: float, offset: float) -> np.ndarray:
    """``(size, cells)`` float32 bilinear weights at pixel centres of cells at
    ``offset + i * stride``, constant beyond the first and last cell."""
    position = np.clip((np.arange(size) - offset) / stride, 0.0, cells - 1.0)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, cells - 1)
    frac = position - low
    matrix = np.zeros((size, cells))
    np.add.at(matrix, (np.arange(size), low), 1.0 - frac)
    np.add.at(matrix, (np.arange(size), high), frac)
    return matrix.astype(np.float32)


def _upsampler(
    model, layer_name: str, image_size: tuple[int, int], feature_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The matrices of :func:`cam_upsampler` for maps of ``feature_size`` cells."""
    grid = _grid(model, layer_name, image_size)
    if grid is None or tuple(axis[0] for axis in grid) != tuple(feature_size):
        # resize-style alignment: the cells tile the image evenly
        sizes = zip(image_size, feature_size, strict=True)
        grid = [(c, n / c, n / c / 2 - 0.5, n / c / 2 - 0.5) for n, c in sizes]
    return tuple(
        _interpolation(n, cells, jump, (lo + hi) / 2)
        for n, (cells, jump, lo, hi) in zip(image_size, grid, strict=True)
    )


def _feature_layer(model, layer_name: str | None) -> str:
    """``layer_name`` (default: :func:`last_conv_layer`), checked to have a 4-D output."""
    layer_name = layer_name or last_conv_layer(model)
    rank = len(model.get_layer(layer_name).output.shape)
    if rank != 4:
        raise ValueError(
            f"layer {layer_name!r} has a {rank}-D output; Grad-CAM needs a 4-D feature map "
            f"(batch, height, width, channels), e.g. {last_conv_layer(model)!r}"
        )
    return layer_name


def cam_upsampler(
    model, layer_name: str | None = None, image_size: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Matrices that upsample a layer's ``(h', w')`` map to the image, cells where they look.

    Returns float32 ``Wy (height, h')`` and ``Wx (width, w')``: the upsampled map of one map
    ``cam`` is ``Wy @ cam @ Wx.T`` (:func:`upsample_cam` does it for a batch). Each pixel's
    value is interpolated bilinearly between the cells whose receptive fields are centred
    nearest to it, with the centres of :func:`feature_grid`; pixels beyond the first or last
    centre take that cell's value (no extrapolation). Every row sums to 1.

    ``tf.image.resize`` instead assumes that the cells tile the image evenly (cell ``i`` at
    ``(i + 0.5) * height / h' - 0.5``). That is right for "same" convolutions and 2x2 pooling
    of even sizes (:func:`fmnist_utils.models.fast_cnn`), but not after "valid" convolutions
    or stride-2 convolutions of odd sizes: for :func:`fmnist_utils.models.reference_cnn`'s
    11x11 map it puts cells up to 2.7 pixels away from their fields' centres. When
    :func:`feature_grid` cannot derive the grid, the matrices fall back to that even tiling.

    Args:
        model: a Keras model built from an ``Input``.
        layer_name: a layer with a 4-D output (default: :func:`last_conv_layer`).
        image_size: ``(height, width)`` of the images (default: the model's input size).

    Raises:
        ValueError: the layer is not 4-D, or the sizes are unknown (pass ``image_size``).

    Example:
        >>> from fmnist_utils import models  # doctest: +SKIP
        >>> wy, wx = cam_upsampler(models.reference_cnn())  # doctest: +SKIP
        >>> wy.shape, np.allclose(wy.sum(axis=1), 1)  # doctest: +SKIP
        ((28, 11), True)
    """
    layer_name = _feature_layer(model, layer_name)
    image_size = _image_size(model, image_size)
    grid = _grid(model, layer_name, image_size)
    feature_size = _spatial(model.get_layer(layer_name).output)
    if grid is not None and (feature_size is None or None in feature_size):
        feature_size = tuple(axis[0] for axis in grid)
    if feature_size is None or None in feature_size:
        raise ValueError(
            f"the size of layer {layer_name!r}'s map is unknown; pass image_size=(height, width)"
        )
    return _upsampler(model, layer_name, image_size, feature_size)


def upsample_cam(cam, upsampler: tuple[np.ndarray, np.ndarray]):
    """Upsample a batch of maps ``(n, h', w')`` with :func:`cam_upsampler`'s matrices.

    Returns the float32 backend tensor ``(n, height, width)`` ``Wy @ cam @ Wx.T`` (one
    ``keras.ops.einsum``), so it also runs inside a compiled function (``tf.function``,
    ``jax.jit``), e.g. one that computes the class probabilities and the Grad-CAM map of a
    request together.

    Example:
        >>> upsampler = cam_upsampler(model)  # doctest: +SKIP
        >>> tuple(upsample_cam(np.ones((2, 11, 11)), upsampler).shape)  # doctest: +SKIP
        (2, 28, 28)
    """
    ops = _keras().ops
    wy, wx = (ops.cast(matrix, "float32") for matrix in upsampler)
    return ops.einsum("yh,nhw,xw->nyx", wy, ops.cast(cam, "float32"), wx)


# --------------------------------------------------------------------------------------------
# Grad-CAM
# --------------------------------------------------------------------------------------------


def grad_cam(
    model,
    images: np.ndarray,
    class_index: int | Sequence[int] | np.ndarray | None = None,
    layer_name: str | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """Grad-CAM heat maps (Selvaraju et al. 2017), one per image, at the input's size.

    For the feature maps ``A^k`` of ``layer_name`` (default: :func:`last_conv_layer`) and the
    class score ``y^c``: weights ``a_k = mean over positions of dy^c/dA^k``, map
    ``ReLU(sum_k a_k A^k)``, upsampled bilinearly to the image and scaled so each map's maximum
    is 1 (a map with no positive evidence stays all zeros). The upsampling
    (:func:`cam_upsampler`) puts each cell on the centre of its receptive field, derived from
    the layers' strides and padding, rather than tiling the image evenly as
    ``tf.image.resize`` does, which is up to 2.7 px off after "valid" or stride-2 layers.

    Args:
        model: a single-input, single-output Keras model built from an ``Input``.
        images: prepared float images ``(n, height, width, channels)``.
        class_index: ``None`` explains each image's predicted class; an int explains that class
            for every image; a sequence gives one class per image.
        layer_name: the layer whose feature maps are weighted (it must have a 4-D output).
        batch_size: images per gradient computation (bounds the memory used).

    Returns:
        float32 array ``(n, height, width)`` with values in [0, 1].

    Raises:
        ValueError: the images do not fit the model, the model has no 4-D layer, the layer is
            not 4-D, or a class index is out of range.

    Example:
        >>> from fmnist_utils import models  # doctest: +SKIP
        >>> x = np.random.rand(3, 28, 28, 1).astype("float32")  # doctest: +SKIP
        >>> maps = grad_cam(models.fast_cnn(), x)  # doctest: +SKIP
        >>> maps.shape, float(maps.min()) >= 0, float(maps.max()) <= 1  # doctest: +SKIP
        ((3, 28, 28), True, True)
    """
    keras = _keras()
    images = _check_images(model, images)
    indices = _class_indices(class_index, len(images), _num_classes(model))
    layer_name = _feature_layer(model, layer_name)
    front, back = _split(model, layer_name)
    height, width = images.shape[1:3]
    maps, upsampler = [], None
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size]
        features = front(x)
        if indices is None:
            chosen = np.argmax(keras.ops.convert_to_numpy(back(x, features)), axis=-1)
        else:
            chosen = indices[start : start + batch_size]
        (grads,) = device.gradients(
            lambda h, x=x, c=chosen: _chosen_sum(back(x, h), c), [features]
        )
        features = keras.ops.convert_to_numpy(features).astype(np.float32)
        weights = grads.astype(np.float32).mean(axis=(1, 2), keepdims=True)  # a_k per channel
        cam = np.maximum((weights * features).sum(axis=-1), 0.0)  # (n, h', w')
        if upsampler is None:
            upsampler = _upsampler(model, layer_name, (height, width), tuple(cam.shape[1:3]))
        maps.append(keras.ops.convert_to_numpy(upsample_cam(cam, upsampler)))
    return _normalise(np.concatenate(maps))


# --------------------------------------------------------------------------------------------
# Gradient saliency (and SmoothGrad)
# --------------------------------------------------------------------------------------------


def saliency(
    model,
    images: np.ndarray,
    class_index: int | Sequence[int] | np.ndarray | None = None,
    smooth_samples: int = 0,
    noise: float = 0.15,
    seed: int = 0,
    batch_size: int = 256,
) -> np.ndarray:
    """Gradient saliency (Simonyan et al. 2014): ``|d score / d pixel|``, max over channels.

    With ``smooth_samples > 0`` this is SmoothGrad (Smilkov et al. 2017): the absolute gradient
    averaged over that many copies of each image with Gaussian noise of standard deviation
    ``noise * (max - min)`` of the image added, which removes much of the speckle. The class is
    chosen on the clean image. Each map is scaled to a maximum of 1.

    Args:
        model: a single-input, single-output Keras model built from an ``Input``.
        images: prepared float images ``(n, height, width, channels)``.
        class_index: ``None`` (predicted class), an int, or one int per image.
        smooth_samples: noisy copies per image for SmoothGrad (0: plain gradient).
        noise: noise level as a fraction of each image's value range.
        seed: seed of the SmoothGrad noise.
        batch_size: images per gradient computation.

    Returns:
        float32 array ``(n, height, width)`` with values in [0, 1].

    Example:
        >>> from fmnist_utils import models  # doctest: +SKIP
        >>> x = np.random.rand(2, 28, 28, 1).astype("float32")  # doctest: +SKIP
        >>> saliency(models.fast_cnn(), x, smooth_samples=8).shape  # doctest: +SKIP
        (2, 28, 28)
    """
    images = _check_images(model, images)
    indices = _class_indices(class_index, len(images), _num_classes(model))
    run = _forward(model)
    if indices is None:
        indices = _predicted(run, images, batch_size)
    rng = np.random.default_rng(seed)

    def abs_gradient(x: np.ndarray, classes: np.ndarray) -> np.ndarray:
        (grad,) = device.gradients(lambda v: _chosen_sum(run(v)[1], classes), [x])
        return np.abs(grad).max(axis=-1)

    if smooth_samples <= 0:
        maps = [
            abs_gradient(images[i : i + batch_size], indices[i : i + batch_size])
            for i in range(0, len(images), batch_size)
        ]
        return _normalise(np.concatenate(maps))
    # SmoothGrad: all noisy copies of a few images go through one gradient computation
    per_chunk = max(1, batch_size // smooth_samples)
    maps = []
    for start in range(0, len(images), per_chunk):
        x = images[start : start + per_chunk]
        spread = (x.max(axis=(1, 2, 3)) - x.min(axis=(1, 2, 3))).reshape(1, -1, 1, 1, 1)
        noisy = x[None] + rng.normal(size=(smooth_samples, *x.shape)) * noise * spread
        classes = np.tile(indices[start : start + per_chunk], smooth_samples)
        grads = abs_gradient(noisy.reshape(-1, *x.shape[1:]).astype(np.float32), classes)
        maps.append(grads.reshape(smooth_samples, len(x), *x.shape[1:3]).mean(axis=0))
    return _normalise(np.concatenate(maps))


# --------------------------------------------------------------------------------------------
# Integrated Gradients
# --------------------------------------------------------------------------------------------


def class_scores(
    model,
    images: np.ndarray,
    class_index: int | Sequence[int] | np.ndarray | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """The class score that :func:`saliency`, :func:`grad_cam` and
    :func:`integrated_gradients` differentiate (the logit for softmax models), one per image.

    ``class_index=None`` takes each image's predicted class. Float64 ``(n,)``.

    Example:
        >>> from fmnist_utils import models  # doctest: +SKIP
        >>> x = np.zeros((2, 28, 28, 1), "float32")
        >>> class_scores(models.fast_cnn(), x, class_index=3).shape  # doctest: +SKIP
        (2,)
    """
    images = _check_images(model, images)
    indices = _class_indices(class_index, len(images), _num_classes(model))
    run = _forward(model)
    numpy = _keras().ops.convert_to_numpy
    scores = np.concatenate(
        [numpy(run(images[i : i + batch_size])[1]) for i in range(0, len(images), batch_size)]
    )
    chosen = scores.argmax(axis=1) if indices is None else indices
    return scores[np.arange(len(images)), chosen].astype(np.float64)


def integrated_gradients(
    model,
    images: np.ndarray,
    class_index: int | Sequence[int] | np.ndarray | None = None,
    baseline: float | np.ndarray = 0.0,
    steps: int = 32,
    batch_size: int = 256,
) -> np.ndarray:
    """Integrated Gradients (Sundararajan et al. 2017): signed attributions in score units.

    For an image ``x``, a baseline ``x'`` (default: a black image) and the class score ``F``
    (the logit, as for :func:`saliency`), pixel ``i`` gets ``(x_i - x'_i)`` times the mean of
    ``dF/dx_i`` along the straight path from ``x'`` to ``x``. The path integral is estimated
    with ``steps`` points (midpoint rule). *Completeness*: the attributions of an image sum to
    ``F(x) - F(x')`` (up to the integration error, which shrinks as ``steps`` grows); check it
    with :func:`class_scores`. Pixels equal to the baseline get exactly 0: with a black
    baseline, the black background can never carry attribution.

    Unlike the other maps, these are not rescaled: they keep their sign (negative: the pixel
    lowers the score) and sum to the score difference. Channels are summed.

    Args:
        model: a single-input, single-output Keras model built from an ``Input``.
        images: prepared float images ``(n, height, width, channels)``.
        class_index: ``None`` (predicted class), an int, or one int per image.
        baseline: a number (every pixel) or an array of one image's or every image's shape.
        steps: points on the path from the baseline to the image.
        batch_size: path points per gradient computation.

    Returns:
        float32 array ``(n, height, width)``.

    Example:
        >>> from fmnist_utils import models  # doctest: +SKIP
        >>> x = np.random.rand(2, 28, 28, 1).astype("float32")  # doctest: +SKIP
        >>> model = models.fast_cnn()  # doctest: +SKIP
        >>> attributions = integrated_gradients(model, x, 3, steps=64)  # doctest: +SKIP
        >>> gap = class_scores(model, x, 3) - class_scores(model, 0 * x, 3)  # doctest: +SKIP
        >>> np.allclose(attributions.sum(axis=(1, 2)), gap, atol=0.05)  # doctest: +SKIP
        True
    """
    images = _check_images(model, images)
    if steps < 1:
        raise ValueError(f"steps must be at least 1; got {steps}")
    indices = _class_indices(class_index, len(images), _num_classes(model))
    run = _forward(model)
    if indices is None:
        indices = _predicted(run, images, batch_size)
    baselines = np.broadcast_to(np.asarray(baseline, np.float32), images.shape)
    alphas = ((np.arange(steps) + 0.5) / steps).astype(np.float32).reshape(-1, 1, 1, 1, 1)
    per_chunk = max(1, batch_size // steps)
    maps = []
    for start in range(0, len(images), per_chunk):
        x = images[start : start + per_chunk]
        base = baselines[start : start + per_chunk]
        path = (base[None] + alphas * (x - base)[None]).reshape(-1, *x.shape[1:])  # (steps*m,)
        classes = np.tile(indices[start : start + per_chunk], steps)
        (grads,) = device.gradients(
            lambda v, c=classes: _chosen_sum(run(v)[1], c), [path.astype(np.float32)]
        )
        grads = grads.reshape(steps, len(x), *x.shape[1:])
        maps.append(((x - base) * grads.mean(axis=0)).sum(axis=-1))
    return np.concatenate(maps).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Occlusion sensitivity
# --------------------------------------------------------------------------------------------


def _positions(size: int, patch: int, stride: int) -> list[int]:
    """Top-left corners along one axis so that patches cover the whole axis."""
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return starts


def occlusion(
    model,
    images: np.ndarray,
    class_index: int | Sequence[int] | np.ndarray | None = None,
    patch: int = 4,
    stride: int = 2,
    fill: float = 0.0,
    batch_size: int = 1024,
) -> np.ndarray:
    """Occlusion sensitivity (Zeiler and Fergus 2014): the drop of the class probability when a
    ``patch x patch`` square of the image is set to ``fill``.

    The square slides with ``stride`` (the last row and column of positions touch the image's
    edge, so every pixel is covered); each pixel gets the mean drop over the squares that cover
    it. All occluded copies are predicted in batches of ``batch_size``. Positive values: covering
    the place lowers the class's output (evidence for the class); negative: covering it raises
    the output. For the course's softmax models the values are probabilities, in [-1, 1].

    Args:
        model: a single-input, single-output Keras model built from an ``Input``.
        images: prepared float images ``(n, height, width, channels)``.
        class_index: ``None`` (predicted class), an int, or one int per image.
        patch: side of the square, in pixels.
        stride: step between squares, in pixels.
        fill: the value the covered pixels get (0 = black, the Fashion-MNIST background).
        batch_size: occluded images per prediction call.

    Returns:
        float32 array ``(n, height, width)``: probability drops (not rescaled).

    Example:
        >>> from fmnist_utils import models  # doctest: +SKIP
        >>> x = np.random.rand(2, 28, 28, 1).astype("float32")  # doctest: +SKIP
        >>> occlusion(models.fast_cnn(), x, patch=4, stride=2).shape  # doctest: +SKIP
        (2, 28, 28)
    """
    images = _check_images(model, images)
    n, height, width = images.shape[:3]
    if not (1 <= patch <= min(height, width)) or stride < 1:
        raise ValueError(
            f"patch must be in 1..{min(height, width)} and stride at least 1; got {patch}, {stride}"
        )
    indices = _class_indices(class_index, n, _num_classes(model))

    base = _outputs(model, images, batch_size)
    if indices is None:
        indices = base.argmax(axis=-1)
    base_score = base[np.arange(n), indices]
    corners = [
        (r, c) for r in _positions(height, patch, stride) for c in _positions(width, patch, stride)
    ]
    masks = np.ones((len(corners), height, width, 1), np.float32)
    for k, (r, c) in enumerate(corners):
        masks[k, r : r + patch, c : c + patch] = 0.0
    coverage = (1.0 - masks[..., 0]).sum(axis=0)  # squares covering each pixel
    maps = np.zeros((n, height, width), np.float32)
    per_chunk = max(1, batch_size // len(corners))
    for start in range(0, n, per_chunk):
        x = images[start : start + per_chunk]
        occluded = x[:, None] * masks[None] + fill * (1.0 - masks[None])  # (m, P, h, w, c)
        occluded = occluded.reshape(-1, *images.shape[1:]).astype(np.float32)
        probs = _outputs(model, occluded, batch_size).reshape(len(x), len(corners), -1)
        classes = indices[start : start + per_chunk]
        drop = base_score[start : start + per_chunk, None] - probs[np.arange(len(x)), :, classes]
        # spread each square's drop over the pixels it covered: (m, P) @ (P, h*w)
        covered = (1.0 - masks[..., 0]).reshape(len(corners), -1)
        maps[start : start + len(x)] = (drop @ covered).reshape(len(x), height, width)
    return (maps / np.maximum(coverage, 1.0)).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Faithfulness: deletion and insertion curves
# --------------------------------------------------------------------------------------------


def deletion_curve(
    model,
    images: np.ndarray,
    maps: np.ndarray,
    class_index: int | Sequence[int] | np.ndarray | None = None,
    steps: int = 28,
    fill: float = 0.0,
    insertion: bool = False,
    seed: int = 0,
    batch_size: int = 1024,
) -> np.ndarray:
    """How fast the class output falls when pixels are removed in the order a map ranks them.

    Deletion (Petsiuk et al. 2018, "RISE"): pixels are ranked by ``maps`` (highest first; ties
    in random order, from ``seed``), and the top ``k / steps`` share of them is set to ``fill``
    for ``k = 0 .. steps``; the model's output for the class is recorded each time. A map that
    finds the pixels the model really uses makes the curve fall fast: a small
    :func:`area_under_curve`. With ``insertion=True`` the image starts all ``fill`` and the
    top pixels are restored in the same order: a faithful map makes that curve rise fast (a
    large area). Filling with black (the Fashion-MNIST background) changes nothing where the
    image is already black, so a map that ranks background first is scored as if it ranked
    nothing.

    Args:
        model: a single-input, single-output Keras model built from an ``Input``.
        images: prepared float images ``(n, height, width, channels)``.
        maps: importance maps ``(n, height, width)`` (any scale; only the ranking counts).
        class_index: ``None`` (predicted class on the intact image), an int, or one per image.
        steps: number of removal steps (the curve has ``steps + 1`` points).
        fill: the value removed pixels get.
        insertion: start from the all-``fill`` image and restore pixels instead.
        seed: seed of the random order among equal map values.
        batch_size: images per prediction call.

    Returns:
        float32 array ``(n, steps + 1)``: the class's output (its probability for the course's
        softmax models) after removing (or inserting) 0, 1/steps, ..., all of the pixels.

    Example:
        >>> curves = deletion_curve(model, x, explain.grad_cam(model, x))  # doctest: +SKIP
        >>> area_under_curve(curves).mean()  # lower: the map found what matters  # doctest: +SKIP
    """
    images = _check_images(model, images)
    n, height, width = images.shape[:3]
    maps = np.asarray(maps, dtype=np.float64)
    if maps.shape != (n, height, width):
        raise ValueError(f"maps must have shape {(n, height, width)}; got {maps.shape}")
    if steps < 1:
        raise ValueError(f"steps must be at least 1; got {steps}")
    indices = _class_indices(class_index, n, _num_classes(model))

    if indices is None:
        indices = _outputs(model, images, batch_size).argmax(axis=-1)
    pixels = height * width
    counts = np.round(np.linspace(0, pixels, steps + 1)).astype(int)
    rng = np.random.default_rng(seed)
    curves = np.zeros((n, steps + 1), np.float32)
    per_chunk = max(1, batch_size // (steps + 1))
    for start in range(0, n, per_chunk):
        chunk = images[start : start + per_chunk]
        m = len(chunk)
        flat = maps[start : start + m].reshape(m, pixels)
        # rank of every pixel: 0 for the most important (random order among ties)
        order = np.stack([np.lexsort((rng.random(pixels), -row)) for row in flat])
        rank = np.empty_like(order)
        rank[np.arange(m)[:, None], order] = np.arange(pixels)
        removed = rank[:, None, :] < counts[None, :, None]  # (m, steps + 1, pixels)
        if insertion:
            removed = ~removed
        removed = removed.reshape(m, steps + 1, height, width, 1)
        x = np.where(removed, np.float32(fill), chunk[:, None]).astype(np.float32)
        flat_x = x.reshape(-1, *images.shape[1:])
        probs = _outputs(model, flat_x, batch_size).reshape(m, steps + 1, -1)
        curves[start : start + m] = probs[np.arange(m), :, indices[start : start + m]]
    return curves


def area_under_curve(curves: np.ndarray) -> np.ndarray:
    """Area under each deletion or insertion curve, over the share of pixels from 0 to 1.

    The trapezoid rule over the ``steps + 1`` evenly spaced points of each row of
    :func:`deletion_curve`. Deletion: lower is better; insertion: higher is better.

    Example:
        >>> area_under_curve(np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])).tolist()
        [0.25, 1.0]
    """
    curves = np.asarray(curves, dtype=np.float64)
    return trapezoid(curves, dx=1 / (curves.shape[1] - 1), axis=1)


# --------------------------------------------------------------------------------------------
# Sanity check: randomised weights (Adebayo et al. 2018)
# --------------------------------------------------------------------------------------------


def _seed_initializers(config: dict, seed: int) -> dict:
    """A copy of a layer config whose initialisers carry ``seed`` (so re-drawing is repeatable)."""
    config = dict(config)
    for key, value in config.items():
        if key.endswith("_initializer") and isinstance(value, dict):
            inner = dict(value.get("config") or {})
            if "seed" in inner or value.get("class_name") in (
                "GlorotUniform",
                "GlorotNormal",
                "HeUniform",
                "HeNormal",
                "LecunUniform",
                "LecunNormal",
                "RandomUniform",
                "RandomNormal",
                "TruncatedNormal",
                "VarianceScaling",
                "Orthogonal",
            ):
                inner["seed"] = seed
                config[key] = {**value, "config": inner}
    return config


def randomized_copy(model, seed: int = 0, layers: Sequence[str] | None = None):
    """A copy of ``model`` with freshly initialised weights, for the saliency sanity check.

    ``keras.models.clone_model`` rebuilds every layer from its config; each layer's initialisers
    get the seed ``seed + its position``, so the same seed gives the same weights. With
    ``layers`` (names) only those layers are re-initialised and every other layer keeps the
    trained weights: randomising from the top down ("cascading randomisation") shows from which
    layer on the maps stop depending on what was learned. The original model is not changed.

    Example:
        >>> random_model = randomized_copy(model, seed=1)  # doctest: +SKIP
        >>> top_only = randomized_copy(model, seed=1, layers=["probabilities"])  # doctest: +SKIP
    """
    keras = _keras()
    names = [layer.name for layer in model.layers]
    if layers is not None:
        unknown = sorted(set(layers) - set(names))
        if unknown:
            raise ValueError(f"no such layers in {model.name!r}: {unknown}; it has {names}")
    position = {name: i for i, name in enumerate(names)}

    def clone(layer):
        config = _seed_initializers(layer.get_config(), seed + position.get(layer.name, 0))
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    keep = set(names) - set(layers) if layers is not None else set()
    for layer in model.layers:
        if layer.name in keep and layer.weights:
            copy.get_layer(layer.name).set_weights(layer.get_weights())
    return copy


def map_correlation(maps_a: np.ndarray, maps_b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation between paired heat maps, one value per image.

    Rank correlation compares which pixels a map ranks high, whatever the scale; Adebayo et al.
    (2018) use it to show whether a map changes when the model's weights are randomised.
    An image whose map is constant in either set gets ``nan``.

    Example:
        >>> a = np.arange(8.0).reshape(2, 2, 2)
        >>> map_correlation(a, a ** 2).tolist(), map_correlation(a, -a).tolist()
        ([1.0, 1.0], [-1.0, -1.0])
    """
    from scipy.stats import rankdata

    a = np.asarray(maps_a, dtype=np.float64)
    b = np.asarray(maps_b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"maps must have the same shape; got {a.shape} and {b.shape}")
    ra = rankdata(a.reshape(len(a), -1), axis=1)
    rb = rankdata(b.reshape(len(b), -1), axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denom = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (ra * rb).sum(axis=1) / np.where(denom > 0, denom, 1), np.nan)
