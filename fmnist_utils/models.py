"""Model builders, all with the Keras Functional API and an explicit ``Input``.

* :func:`reference_mlp`: the TensorFlow tutorial's classifier (Flatten, Dense 128, Dense 10).
* :func:`reference_cnn`: the classic two-convolution CNN of the Keras examples and of many
  Fashion-MNIST tutorials (Conv 32, pool, Conv 64, pool, Dense 128, Dropout).
* :func:`fast_cnn`: the course's own CNN: batch normalisation, more filters where the image is
  small, global average pooling; trains to a better accuracy in less time on a CPU.

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
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


def _conv_bn_relu(x, filters: int, name: str):
    keras = _keras()
    layers = keras.layers
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def fast_cnn(
    filters: tuple[int, int, int] = (32, 64, 128),
    dropout: float = 0.3,
    name: str = "fast_cnn",
):
    """The course's CNN: three Conv-BatchNorm-ReLU stages, pooling between, global average.

    28x28 -> conv ``filters[0]`` -> pool -> 14x14 -> conv ``filters[1]`` -> pool -> 7x7 ->
    conv ``filters[2]`` -> global average pooling -> dropout -> Dense(10, softmax).
    Batch normalisation lets it train with a high learning rate; global average pooling
    replaces the big dense layer, so it has fewer parameters than :func:`reference_cnn`.

    Example:
        >>> fast_cnn().count_params()  # doctest: +SKIP
        94538
    """
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = _conv_bn_relu(inputs, filters[0], "conv1")
    x = layers.MaxPooling2D(2)(x)
    x = _conv_bn_relu(x, filters[1], "conv2")
    x = layers.MaxPooling2D(2)(x)
    x = _conv_bn_relu(x, filters[2], "conv3")
    x = layers.GlobalAveragePooling2D()(x)
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
