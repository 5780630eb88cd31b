"""Model builders, all with the Keras Functional API and an explicit ``Input``.

* :func:`reference_mlp`: the TensorFlow tutorial's classifier (Flatten, Dense 128, Dense 10).
* :func:`reference_cnn`: the classic two-convolution CNN of the Keras examples and of many
  Fashion-MNIST tutorials (Conv 32, pool, Conv 64, pool, Dense 128, Dropout).
* :func:`fast_cnn`: the course's own CNN: three convolutions with batch normalisation, more
  filters where the image is small, a small classifier on top; learns faster per epoch.

Every builder returns an *uncompiled* model whose last layer is a softmax over the ten classes,
so any of them can go to :func:`compile_model` (Adam, sparse categorical cross-entropy). That
layer computes in float32 under any dtype policy: under ``mixed_bfloat16`` a bfloat16 softmax
gives probabilities that sum to 1 only within about 1e-3, enough to fool calibration code that
tells probabilities from logits.

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
    outputs = layers.Dense(
        NUM_CLASSES, activation="softmax", dtype="float32", name="probabilities"
    )(x)
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
    outputs = layers.Dense(
        NUM_CLASSES, activation="softmax", dtype="float32", name="probabilities"
    )(x)
    return keras.Model(inputs, outputs, name=name)


def _conv_bn_relu(x, filters: int, name: str, stride: int = 1):
    keras = _keras()
    layers = keras.layers
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=name)(x)
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
    outputs = layers.Dense(
        NUM_CLASSES, activation="softmax", dtype="float32", name="probabilities"
    )(x)
    return keras.Model(inputs, outputs, name=name)


def _residual_block(x, filters: int, stride: int, name: str):
    """Two 3x3 Conv-BN layers plus a shortcut; a 1x1 convolution matches shapes when needed."""
    keras = _keras()
    layers = keras.layers
    shortcut = x
    h = _conv_bn_relu(x, filters, f"{name}_conv1", stride=stride)
    h = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(h)
    h = layers.BatchNormalization(momentum=0.9, name=f"{name}_conv2_bn")(h)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(
            filters, 1, strides=stride, use_bias=False, name=f"{name}_shortcut"
        )(shortcut)
        shortcut = layers.BatchNormalization(momentum=0.9, name=f"{name}_shortcut_bn")(shortcut)
    h = layers.Add(name=f"{name}_add")([h, shortcut])
    return layers.ReLU(name=f"{name}_relu")(h)


def resnet_cnn(
    widths: tuple[int, ...] = (32, 64, 128),
    blocks: int = 1,
    dropout: float = 0.0,
    name: str = "resnet_cnn",
):
    """A small ResNet for 28x28 images: the course's best model (notebook 13).

    A Conv-BN-ReLU stem with ``widths[0]`` filters at 28x28 and 2x2 max pooling to 14x14; then
    one stage per width, each of ``blocks`` residual blocks (two 3x3 Conv-BN layers whose
    input is added back to their output, He et al. 2016); every stage after the first halves
    the resolution with a stride-2 convolution (14 -> 7 -> 4). Global average pooling,
    ``dropout`` and a Dense softmax close it. Pooling right after the stem keeps the costly
    28x28 resolution to one cheap convolution: on a CPU, time goes where the pixels are.

    Example:
        >>> resnet_cnn().count_params()  # doctest: +SKIP
    """
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = _conv_bn_relu(inputs, widths[0], "stem")
    x = layers.MaxPooling2D(2, name="stem_pool")(x)
    for stage, width in enumerate(widths, 1):
        for block in range(1, blocks + 1):
            stride = 2 if stage > 1 and block == 1 else 1
            x = _residual_block(x, width, stride, f"stage{stage}_block{block}")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    # float32 output: under a mixed-precision policy the softmax and the loss stay exact
    outputs = layers.Dense(
        NUM_CLASSES, activation="softmax", dtype="float32", name="probabilities"
    )(x)
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
    "resnet_cnn": resnet_cnn,
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


# --- training experiments (07) ---


def experiment_mlp(
    units: int = 256,
    depth: int = 2,
    activation: str = "relu",
    batch_norm: bool = False,
    dropout: float = 0.0,
    name: str = "experiment_mlp",
    kernel_initializer: str = "glorot_uniform",
):
    """A configurable MLP for controlled training experiments: one switch per factor.

    Flatten, then ``depth`` hidden blocks of Dense(``units``) -> [BatchNormalization] ->
    activation -> [Dropout(``dropout``)], then Dense(10, softmax). The hidden Dense layers are
    named ``dense1`` ... ``dense<depth>`` (their kernels are what
    :func:`fmnist_utils.train.gradient_norms` reports), the output ``probabilities``. With
    batch normalisation the Dense layers have no bias (the normalisation's offset replaces
    it). ``activation`` is any Keras activation name ("relu", "elu", "gelu", "sigmoid"...).
    ``kernel_initializer`` draws the hidden layers' initial weights: Keras' default
    ``"glorot_uniform"`` (variance 2 / (fan_in + fan_out)) or e.g. ``"he_normal"`` (variance
    2 / fan_in, for ReLU); the output layer keeps Keras' default.

    Example:
        >>> experiment_mlp().count_params()  # doctest: +SKIP
        269322
        >>> deep = experiment_mlp(units=64, depth=8, activation="sigmoid")  # doctest: +SKIP
        >>> he = experiment_mlp(depth=8, kernel_initializer="he_normal")  # doctest: +SKIP
    """
    if depth < 0:
        raise ValueError(f"depth must be 0 or more; got {depth}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1); got {dropout}")
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = layers.Flatten(name="flatten")(inputs)
    for i in range(1, depth + 1):
        x = layers.Dense(
            units, use_bias=not batch_norm, kernel_initializer=kernel_initializer, name=f"dense{i}"
        )(x)
        if batch_norm:
            x = layers.BatchNormalization(momentum=0.9, name=f"dense{i}_bn")(x)
        x = layers.Activation(activation, name=f"dense{i}_{activation}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dense{i}_dropout")(x)
    outputs = layers.Dense(
        NUM_CLASSES, activation="softmax", dtype="float32", name="probabilities"
    )(x)
    return keras.Model(inputs, outputs, name=name)


# --- transfer and embeddings (11) ---

#: Where ``keras.applications`` downloads its ImageNet weights from (probed before a download).
IMAGENET_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


def _features(model, layer: str | int | None):
    """The output tensor of ``model``'s layer ``layer`` (a name or an index).

    By default, the tensor that feeds the classifier: the output of ``model.layers[-2]``, or
    the input of that layer when it is a Dropout (the same values outside training).
    """
    keras = _keras()
    if layer is not None:
        chosen = model.layers[layer] if isinstance(layer, int) else model.get_layer(layer)
        return chosen.output
    chosen = model.layers[-2]
    return chosen.input if isinstance(chosen, keras.layers.Dropout) else chosen.output


def embedding_model(model, layer: str | int | None = None, name: str | None = None):
    """A model that maps images to ``layer``'s output: the network as a feature extractor.

    By default ``layer`` is the one before the classifier (``model.layers[-2]``; a Dropout
    there is skipped, as it changes nothing outside training), so the output is the
    penultimate representation, the *embedding* a search engine compares. The new model shares
    its layers (and weights) with ``model``; nothing is copied or retrained.

    Example:
        >>> embed = embedding_model(fast_cnn())  # doctest: +SKIP
        >>> embed.output.shape  # the flattened 3x3x128 map  # doctest: +SKIP
        (None, 1152)
    """
    keras = _keras()
    features = _features(model, layer)
    return keras.Model(model.input, features, name=name or f"{model.name}_embedding")


def new_head(model, num_classes: int, layer: str | int | None = None, name: str | None = None):
    """The same network up to ``layer`` with a new softmax classifier of ``num_classes`` units.

    The layers below the head are ``model``'s own (shared, not copied), and nothing is
    frozen: use it on a freshly built model to change the number of classes, e.g. a fast CNN
    for five classes, trained end to end. To reuse a *trained* network, see
    :func:`transfer_model`, which copies and freezes it.

    Example:
        >>> five_way = new_head(fast_cnn(), 5)  # doctest: +SKIP
        >>> five_way.output.shape  # doctest: +SKIP
        (None, 5)
    """
    keras = _keras()
    features = _features(model, layer)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", dtype="float32", name="probabilities"
    )(features)
    return keras.Model(model.input, outputs, name=name or model.name)


def transfer_model(
    model,
    num_classes: int,
    layer: str | int | None = None,
    dropout: float = 0.3,
    name: str = "transfer",
):
    """Reuse a trained network: a frozen copy of it up to ``layer``, and a new classifier.

    The recipe of the Keras transfer-learning guide: the *backbone* (a copy of ``model`` up to
    ``layer``, by default the layer before its classifier, with the trained weights; ``model``
    itself is left untouched) is frozen and called with ``training=False``, then Dropout and a
    new ``Dense(num_classes, softmax)`` head. A 4-D feature map is averaged to a vector
    (global average pooling) before the head.

    A frozen BatchNormalization layer runs in inference mode (its stored mean and variance).
    The guide's ``training=False`` is meant to keep it so after unfreezing, but in Keras 3 the
    ``training=True`` of ``fit`` overrides a value given when the model was built
    (keras-team/keras#20285), so :func:`freeze_backbone` keeps the batch normalisation layers
    frozen when it unfreezes the rest. The backbone is the layer named ``"backbone"``;
    recompile after changing what is trainable.

    Example:
        >>> reused = compile_model(transfer_model(pretrained, num_classes=5))  # doctest: +SKIP
        >>> reused.get_layer("backbone").trainable  # doctest: +SKIP
        False
    """
    keras = _keras()
    layers = keras.layers
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    backbone = embedding_model(copy, layer, name="backbone")
    backbone.trainable = False
    inputs = keras.Input(shape=tuple(model.inputs[0].shape[1:]), name="image")
    x = backbone(inputs, training=False)  # the guide's recipe; see freeze_backbone for BN
    if len(x.shape) == 4:
        x = layers.GlobalAveragePooling2D(name="head_pool")(x)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = layers.Dense(
        num_classes, activation="softmax", dtype="float32", name="probabilities"
    )(x)
    return keras.Model(inputs, outputs, name=name)


def freeze_backbone(
    model,
    frozen: bool = True,
    backbone: str = "backbone",
    from_layer: str | int | None = None,
    freeze_batchnorm: bool = True,
):
    """Freeze (``frozen=True``) or unfreeze the nested model named ``backbone``; returns ``model``.

    A frozen layer's weights are not updated by ``fit``. Unfreezing with ``from_layer`` (a
    layer name or index inside the backbone) makes only that layer and the ones after it
    trainable: big backbones are usually fine-tuned from the top, where the features are the
    most specific to the task they were trained on. With ``freeze_batchnorm`` (the default)
    the backbone's BatchNormalization layers stay frozen, which in Keras means they run in
    inference mode: they keep normalising with the mean and variance of the data they were
    trained on, instead of re-estimating them from a few small batches of new data (which
    would shift every feature the layers above rely on). Keras reads the flags when the model
    is compiled, so compile again (with a low learning rate, to fine-tune) after changing them.

    Example:
        >>> freeze_backbone(reused, frozen=False)  # doctest: +SKIP
        >>> compile_model(reused, learning_rate=1e-4)  # doctest: +SKIP
    """
    keras = _keras()
    inner = model.get_layer(backbone)
    inner.trainable = not frozen
    # Every layer is set one by one: setting a model's flag to the value it already has leaves
    # its sublayers as they are, so layers frozen by an earlier call would stay frozen.
    everything, stack = [], list(inner.layers)
    while stack:  # nested models first, then their layers
        layer = stack.pop(0)
        everything.append(layer)
        stack.extend(getattr(layer, "layers", []))
    for layer in everything:
        layer.trainable = not frozen
    if frozen:
        return model
    if isinstance(from_layer, str):
        from_layer = [layer.name for layer in inner.layers].index(inner.get_layer(from_layer).name)
    for layer in inner.layers[: from_layer or 0]:
        layer.trainable = False
    if freeze_batchnorm:
        for layer in everything:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
    return model


def count_weights(model) -> dict[str, int]:
    """The number of trainable and non-trainable weights (scalars) of ``model``.

    Example:
        >>> count_weights(transfer_model(pretrained, 5))  # doctest: +SKIP
        {'trainable': 5765, 'non-trainable': 94144, 'total': 99909}
    """
    import numpy as np

    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return {"trainable": trainable, "non-trainable": frozen, "total": trainable + frozen}


def _connection_error(url: str, timeout: float) -> str | None:
    """Why a TCP connection to ``url``'s host does not open within ``timeout`` s (None: it does).

    The attempt runs in a daemon thread that is abandoned after ``timeout``, so even a name
    lookup that never answers cannot stall the caller.
    """
    import socket
    import threading
    from urllib.parse import urlparse

    parts = urlparse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    result: list[str | None] = []

    def probe() -> None:
        try:
            socket.create_connection((parts.hostname, port), timeout=timeout).close()
            result.append(None)
        except OSError as err:
            result.append(f"{type(err).__name__}: {err}")

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return result[0] if result else f"no answer within {timeout:g} s"


def imagenet_backbone(
    architecture: str = "MobileNetV3Small",
    input_size: int = 96,
    weights: str | None = "imagenet",
    timeout: float = 10.0,
    pooling: str | None = "avg",
):
    """A ``keras.applications`` network without its top, with ImageNet weights if they can be had.

    ``weights`` is ``"imagenet"`` (download into the Keras cache, ``~/.keras/models``, unless
    it is there already), a path to a weights file for the same architecture without its top
    (``.h5`` or ``.weights.h5``; e.g. a file copied from another machine's Keras cache), or
    ``None``/``""`` for random weights. Whatever fails, the network is still built, with random
    weights, and the returned ``info`` says so:

    ``info`` keys: ``architecture``, ``input_size``, ``requested``, ``weights_available`` (bool),
    ``source`` (``"imagenet"``, the file, or ``"random"``), ``message`` and ``seconds`` (spent
    getting the weights).

    The download cannot hang: the weights' host is first probed with a connection attempt
    abandoned after ``timeout`` seconds (offline it usually fails at once, on the name
    lookup), and the download itself runs with that socket timeout (Keras' ``get_file`` sets
    none). Offline, Keras raises a plain ``Exception`` ("URL
    fetch failure ... Name or service not known"); it is caught and reported.

    The returned network takes RGB images with pixels 0-255, of at least 32x32 pixels, whatever
    the architecture. MobileNetV3, EfficientNet(V2) and ConvNeXt rescale such pixels inside
    (their ``preprocess_input`` does nothing) and are returned as Keras builds them. The others
    expect their family's ``keras.applications.<family>.preprocess_input`` to have been applied
    (MobileNet(V2), ResNetV2, Inception, Xception, NASNet: -1 to 1; ResNet, VGG: BGR minus the
    ImageNet mean; DenseNet: ImageNet mean and standard deviation), so here it is applied
    inside the model, as its first step. ImageNet weights are the 224x224 ones whatever
    ``input_size`` is (Keras warns about that; the warning is silenced here).

    Example:
        >>> backbone, info = imagenet_backbone("MobileNetV3Small", 96)  # doctest: +SKIP
        >>> info["weights_available"], backbone.output.shape  # doctest: +SKIP
        (False, (None, 576))
    """
    import socket
    import time
    import warnings
    from pathlib import Path

    keras = _keras()
    build = getattr(keras.applications, architecture, None)
    # The family module (keras.applications.resnet for ResNet50...) holds its preprocess_input.
    family = getattr(keras.applications, getattr(build, "__module__", "").rsplit(".", 1)[-1], None)
    if not callable(build) or not hasattr(family, "preprocess_input"):
        raise ValueError(
            f"{architecture!r} is not a keras.applications network (e.g. 'MobileNetV3Small', "
            "'EfficientNetB0', 'ResNet50')"
        )
    input_shape = (input_size, input_size, 3)
    kwargs = {"input_shape": input_shape, "include_top": False, "pooling": pooling}
    info = {
        "architecture": architecture,
        "input_size": input_size,
        "requested": weights or "random",
        "weights_available": False,
        "source": "random",
        "message": "",
        "seconds": 0.0,
    }
    start = time.perf_counter()

    def attempt(source: str):
        saved = socket.getdefaulttimeout()
        socket.setdefaulttimeout(timeout)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*input_shape.*")
                inputs = keras.Input(shape=input_shape)
                scaled = family.preprocess_input(inputs)
                if scaled is inputs:  # the network rescales 0-255 pixels itself
                    return build(weights=source, **kwargs)
                # Build the network on the preprocessed tensor: the preprocessing becomes its
                # first step, and its layers stay where they are (names, weights files).
                network = build(weights=source, input_tensor=scaled, **kwargs)
                return keras.Model(inputs, network.output, name=network.name)
        finally:
            socket.setdefaulttimeout(saved)

    reason = "random weights were asked for"
    if weights == "imagenet":
        error = _connection_error(IMAGENET_WEIGHTS_URL, timeout)
        if error:
            reason = (
                f"cannot reach {IMAGENET_WEIGHTS_URL} ({error}); offline? Pass a local "
                "weights file instead"
            )
        else:
            try:
                model = attempt("imagenet")
                reason = ""
            except Exception as err:  # Keras raises a bare Exception for a failed download
                reason = f"the download failed: {str(err).splitlines()[0][:300]}"
        source = "imagenet"
    elif weights:
        path = Path(weights).expanduser()
        source = str(path)
        if not path.is_file():
            reason = f"no weights file at {path}"
        else:
            try:
                model = attempt(str(path))
                reason = ""
            except Exception as err:  # a file for another architecture, or a broken one
                reason = f"could not load {path}: {str(err).splitlines()[0][:300]}"
    info["seconds"] = time.perf_counter() - start
    if not reason:
        info.update(weights_available=True, source=source, message=f"{source} weights loaded")
        return model, info
    info["message"] = f"{reason}; the network has random weights"
    return attempt(None), info
