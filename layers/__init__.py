"""Pure functional layers: ``out, cache = X_forward(...)``, ``grads = X_backward(dout, cache)``.

Every function runs on the array module of its inputs (numpy or cupy); see
``layers.backend``. Shapes follow CS231n: images (N, C, H, W), sequences (N, T, D).
"""

from . import backend  # noqa: F401  (layers.backend is public)
from .core import affine_backward, affine_forward, relu_backward, relu_forward
from .losses import softmax_loss, svm_loss

__all__ = [
    "affine_forward", "affine_backward",
    "relu_forward", "relu_backward",
    "softmax_loss", "svm_loss",
]
