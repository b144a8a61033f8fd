"""Pure functional layers: ``out, cache = X_forward(...)``, ``grads = X_backward(dout, cache)``.

Every function runs on the array module of its inputs (numpy or cupy); see
``layers.backend``. Shapes follow CS231n: images (N, C, H, W), sequences (N, T, D).
"""

from . import backend  # noqa: F401  (layers.backend is public)
from .attention import (attention_backward, attention_forward,
                        multihead_attention_backward, multihead_attention_forward,
                        positional_encoding)
from .core import (affine_backward, affine_forward, dropout_backward, dropout_forward,
                   relu_backward, relu_forward)
from .gru import gru_backward, gru_forward, gru_step_backward, gru_step_forward
from .losses import softmax_loss, svm_loss
from .norm import (batchnorm_backward, batchnorm_backward_alt, batchnorm_forward,
                   layernorm_backward, layernorm_forward)
from .recurrent import (lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward,
                        rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward)
from .sandwich import (affine_bn_relu_backward, affine_bn_relu_forward,
                       affine_ln_relu_backward, affine_ln_relu_forward,
                       affine_relu_backward, affine_relu_forward)
from .temporal import (temporal_affine_backward, temporal_affine_forward,
                       temporal_softmax_loss, word_embedding_backward,
                       word_embedding_forward)

__all__ = [
    "affine_forward", "affine_backward",
    "relu_forward", "relu_backward",
    "dropout_forward", "dropout_backward",
    "softmax_loss", "svm_loss",
    "attention_forward", "attention_backward",
    "multihead_attention_forward", "multihead_attention_backward",
    "positional_encoding",
    "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
    "layernorm_forward", "layernorm_backward",
    "affine_relu_forward", "affine_relu_backward",
    "affine_bn_relu_forward", "affine_bn_relu_backward",
    "affine_ln_relu_forward", "affine_ln_relu_backward",
    "rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
    "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
    "gru_step_forward", "gru_step_backward", "gru_forward", "gru_backward",
    "word_embedding_forward", "word_embedding_backward",
    "temporal_affine_forward", "temporal_affine_backward",
    "temporal_softmax_loss",
]
