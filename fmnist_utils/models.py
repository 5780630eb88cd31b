"""Model builders, all with the Keras Functional API and an explicit ``Input``.

* :func:`reference_mlp`: the TensorFlow tutorial's classifier (Flatten, Dense 128, Dense 10).
* :func:`reference_cnn`: the classic two-convolution CNN of the Keras examples and of many
  Fashion-MNIST tutorials (Conv 32, pool, Conv 64, pool, Dense 128, Dropout).
* :func:`fast_cnn`: the course's own CNN: three convolutions with batch normalisation, more
  filters where the image is small, a small classifier on top; learns faster per epoch.

Every builder returns an *uncompiled* model whose last layer is a softmax over the ten classes,
so any of them can go to :func:`compile_model` (Adam, sparse categorical cross-entropy).

Example:
    >>> model = compile_model(reference_cnn())  # doctest: +SKIP
    >>> model.count_params()  # doctest: +SKIP
    225034
"""

from __future__ import annotations

from fmnist_utils.preprocess import IMAGE_SHAPE, NUM_CLASSES


def _keras():
    import fmnist_utils

    fmnist_utils.quiet_tensorflow()
    import keras

    return keras


def reference_mlp(hidden: int = 128, name: str = "reference_mlp"):
    """The TensorFlow tutorial's MLP: Flatten, Dense(hidden, ReLU), Dense(10, softmax).

    Example:
        >>> reference_mlp().count_params()  # doctest: +SKIP
        101770
    """
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = layers.Flatten()(inputs)
    x = layers.Dense(hidden, activation="relu")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


def reference_cnn(dropout: float = 0.5, name: str = "reference_cnn"):
    """The classic two-convolution CNN.

    Conv(32, 3x3, ReLU), MaxPool(2), Conv(64, 3x3, ReLU), MaxPool(2), Flatten,
    Dense(128, ReLU), Dropout, Dense(10, softmax).

    Example:
        >>> reference_cnn().count_params()  # doctest: +SKIP
        225034
    """
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


def _conv_bn_relu(x, filters: int, name: str):
    keras = _keras()
    layers = keras.layers
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
    # momentum 0.9 (Keras' default is 0.99): the running statistics used at test time keep up
    # with weights that change fast in short CPU trainings, so validation curves are smoother.
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def fast_cnn(
    filters: tuple[int, int, int] = (32, 64, 128),
    dropout: float = 0.3,
    name: str = "fast_cnn",
):
    """The course's CNN: three Conv-BatchNorm-ReLU stages, each followed by 2x2 max pooling.

    28x28 -> conv ``filters[0]`` -> pool -> 14x14 -> conv ``filters[1]`` -> pool -> 7x7 ->
    conv ``filters[2]`` -> pool -> 3x3 -> flatten -> dropout -> Dense(10, softmax).
    Batch normalisation lets it learn fast; pooling three times leaves a 3x3x128 map, so the
    classifier on top is small and the model has fewer parameters than :func:`reference_cnn`.
    (Global average pooling instead of the last pool and flatten trained worse here: it
    throws away where on the item a feature was found.)

    Example:
        >>> fast_cnn().count_params()  # doctest: +SKIP
        104874
    """
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = inputs
    for stage, width in enumerate(filters, 1):
        x = _conv_bn_relu(x, width, f"conv{stage}")
        x = layers.MaxPooling2D(2, name=f"pool{stage}")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


def compile_model(model, learning_rate: float = 1e-3, optimizer=None):
    """Compile with Adam (unless ``optimizer`` is given), sparse categorical cross-entropy and
    accuracy: integer labels, softmax outputs. Returns the model.

    Example:
        >>> model = compile_model(reference_mlp())  # doctest: +SKIP
    """
    keras = _keras()
    model.compile(
        optimizer=optimizer or keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


#: The builders by name, for loops and command lines.
BUILDERS = {
    "reference_mlp": reference_mlp,
    "reference_cnn": reference_cnn,
    "fast_cnn": fast_cnn,
}
# --- how CNNs see (04) ---

#: Layers that slide a window over the image (their ``kernel_size`` is the window).
_CONV_TYPES = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D")
#: Pooling layers (their ``pool_size`` is the window).
_POOL_TYPES = ("MaxPooling2D", "AveragePooling2D")
#: Layers after which every unit sees the whole image: the receptive-field table stops there.
_GLOBAL_TYPES = ("Flatten", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Dense")


def conv_output_size(
    n: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """Output length of a convolution or pooling along one axis: floor((n + 2p - k) / s) + 1.

    ``n`` input length, ``kernel`` window ``k``, ``stride`` ``s``, ``padding`` ``p`` zeros on
    each side; a dilated kernel covers ``dilation * (k - 1) + 1`` pixels. Keras'
    ``padding="valid"`` is ``p = 0``; ``padding="same"`` with an odd kernel is ``p = (k - 1) // 2``.

    Example:
        >>> conv_output_size(28, 3), conv_output_size(28, 3, padding=1), conv_output_size(28, 2, 2)
        (26, 28, 14)
    """
    span = dilation * (kernel - 1) + 1
    if n + 2 * padding < span:
        raise ValueError(f"a window of {span} does not fit in {n} pixels with padding {padding}")
    return (n + 2 * padding - span) // stride + 1


def _pad_before(n: int, span: int, stride: int, padding: str) -> tuple[int, int]:
    """(zeros added before the first pixel, output length) for Keras' padding modes."""
    if padding == "valid":
        return 0, (n - span) // stride + 1
    out = -(-n // stride)  # "same": ceil(n / s); TensorFlow puts the odd zero after the image
    total = max((out - 1) * stride + span - n, 0)
    return total // 2, out


def receptive_field(model, input_size: int | None = None):
    """The receptive field of every convolution and pooling layer of a chain-shaped CNN.

    Walks the layers in order with r_out = r_in + (k - 1) * j_in and j_out = j_in * s, where
    ``r`` is the receptive field (input pixels one unit sees along an axis), ``j`` the jump
    (input pixels between two neighbouring units) and ``k``, ``s`` the layer's window and stride
    (a dilated kernel counts as its span). ``first centre`` is where, in input pixel
    coordinates (0 = centre of the first pixel), the first unit's field is centred:
    start_out = start_in + ((k - 1) / 2 - p) * j_in with ``p`` the zeros padded before.
    Layers that keep the grid (batch norm, activations, dropout) are skipped; the table stops
    at the first Flatten, global pooling or Dense layer, whose units see the whole image.
    Square windows are assumed (the height axis is used).

    Returns a DataFrame: layer, type, kernel, stride, padding, output, jump, receptive field,
    first centre; the first row is the input image itself (r = 1, j = 1).

    Example:
        >>> receptive_field(reference_cnn())["receptive field"].tolist()  # doctest: +SKIP
        [1, 3, 4, 8, 10]
    """
    import pandas as pd

    n = int(input_size or model.inputs[0].shape[1])
    r, j, start = 1, 1, 0.0
    rows = [
        {
            "layer": "input",
            "type": "Input",
            "kernel": "-",
            "stride": "-",
            "padding": "-",
            "output": n,
            "jump": j,
            "receptive field": r,
            "first centre": start,
        }
    ]
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in _GLOBAL_TYPES:
            break
        if kind == "ZeroPadding2D":
            (top, bottom), _ = layer.padding
            start -= top * j
            n += top + bottom
            continue
        if kind in _CONV_TYPES:
            k, s = layer.kernel_size[0], layer.strides[0]
            span = layer.dilation_rate[0] * (k - 1) + 1
        elif kind in _POOL_TYPES:
            k, s = layer.pool_size[0], layer.strides[0]
            span = k
        else:
            out_shape = getattr(layer, "output", None)
            if out_shape is not None and len(out_shape.shape) == 4 and out_shape.shape[1] != n:
                raise ValueError(f"layer {layer.name!r} ({kind}) changes the grid; not supported")
            continue
        pad, n = _pad_before(n, span, s, layer.padding)
        r, start, j = r + (span - 1) * j, start + ((span - 1) / 2 - pad) * j, j * s
        rows.append(
            {
                "layer": layer.name,
                "type": kind,
                "kernel": span,
                "stride": s,
                "padding": layer.padding,
                "output": n,
                "jump": j,
                "receptive field": r,
                "first centre": start,
            }
        )
    return pd.DataFrame(rows)
