"""Helper package of the Fashion-MNIST course.

One module per concern (see the course's design): ``data`` finds, verifies and loads the data,
``course`` runs the notebooks and writes the report. Modules that need TensorFlow import it
lazily, so ``import fmnist_utils`` stays fast.
"""

__version__ = "0.1.0"

#: The public repository, written once. The Colab badges and every notebook's Setup cell are
#: generated from it by ``python -m fmnist_utils course sync-headers``.
REPO = "fmnist-course/fashion-mnist-course"
