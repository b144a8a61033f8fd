"""Pure functional layers: ``out, cache = X_forward(...)``, ``grads = X_backward(dout, cache)``.

Every function runs on the array module of its inputs (numpy or cupy); see
``layers.backend``. Shapes follow CS231n: images (N, C, H, W), sequences (N, T, D).
"""

from . import backend, validate  # noqa: F401  (public: nets, optim, layerkit use them)
from ._threads import get_threads, set_threads
from .attention import (MHA_KEYS, attention_backward, attention_forward,
                        multihead_attention_backward, multihead_attention_forward,
                        positional_encoding)
from .backend import sigmoid
from .cells import RECURRENT_CELLS, RecurrentCell
from .conv import (col2im, conv_backward, conv_backward_fast, conv_backward_im2col,
                   conv_backward_naive, conv_backward_strides, conv_forward,
                   conv_forward_fast, conv_forward_im2col, conv_forward_naive,
                   conv_forward_strides, conv_output_shape, im2col)
from .conv_sandwich import (conv_bn_relu_backward, conv_bn_relu_forward,
                            conv_bn_relu_pool_backward, conv_bn_relu_pool_forward,
                            conv_relu_backward, conv_relu_forward, conv_relu_pool_backward,
                            conv_relu_pool_forward)
from .core import (affine_backward, affine_forward, dropout_backward, dropout_forward,
                   relu_backward, relu_forward)
from .graph import graph_conv_backward, graph_conv_forward, normalize_adjacency
from .gru import gru_backward, gru_forward, gru_step_backward, gru_step_forward
from .losses import distillation_loss, l1_loss, l2_loss, softmax_loss, svm_loss
from .norm import (batchnorm_backward, batchnorm_backward_alt, batchnorm_forward,
                   layernorm_backward, layernorm_forward)
from .pool import (global_avg_pool_backward, global_avg_pool_forward, max_pool_backward,
                   max_pool_backward_fast, max_pool_backward_im2col, max_pool_backward_naive,
                   max_pool_backward_reshape, max_pool_forward, max_pool_forward_fast,
                   max_pool_forward_im2col, max_pool_forward_naive, max_pool_forward_reshape)
from .recurrent import (lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward,
                        rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward)
from .sandwich import (affine_bn_relu_backward, affine_bn_relu_forward,
                       affine_ln_relu_backward, affine_ln_relu_forward,
                       affine_relu_backward, affine_relu_forward)
from .spatial_norm import (spatial_batchnorm_backward, spatial_batchnorm_forward,
                           spatial_groupnorm_backward, spatial_groupnorm_forward)
from .transformer import (BLOCK_KEYS, causal_mask, gelu_backward, gelu_forward,
                          positional_embedding_backward, positional_embedding_forward,
                          transformer_block_backward, transformer_block_forward)
from .temporal import (temporal_affine_backward, temporal_affine_forward,
                       temporal_softmax_loss, word_embedding_backward,
                       word_embedding_forward)

__all__ = [
    "affine_forward", "affine_backward",
    "relu_forward", "relu_backward",
    "dropout_forward", "dropout_backward",
    "softmax_loss", "svm_loss", "l1_loss", "l2_loss",
    "distillation_loss",
    # convolution and pooling ("set_threads": opt-in batch split over Python threads)
    "set_threads", "get_threads",
    "conv_output_shape", "im2col", "col2im",
    "conv_forward_naive", "conv_backward_naive",
    "conv_forward_fast", "conv_backward_fast", "conv_forward", "conv_backward",
    "max_pool_forward_naive", "max_pool_backward_naive",
    "max_pool_forward_fast", "max_pool_backward_fast", "max_pool_forward", "max_pool_backward",
    # the names of CS231n's fast_layers, aliases of the fast layers
    "conv_forward_im2col", "conv_backward_im2col", "conv_forward_strides",
    "conv_backward_strides", "max_pool_forward_reshape", "max_pool_backward_reshape",
    "max_pool_forward_im2col", "max_pool_backward_im2col",
    "global_avg_pool_forward", "global_avg_pool_backward",
    "spatial_batchnorm_forward", "spatial_batchnorm_backward",
    "spatial_groupnorm_forward", "spatial_groupnorm_backward",
    "conv_relu_forward", "conv_relu_backward",
    "conv_relu_pool_forward", "conv_relu_pool_backward",
    "conv_bn_relu_forward", "conv_bn_relu_backward",
    "conv_bn_relu_pool_forward", "conv_bn_relu_pool_backward",
    "attention_forward", "attention_backward",
    "multihead_attention_forward", "multihead_attention_backward",
    "positional_encoding",
    "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
    "layernorm_forward", "layernorm_backward",
    "affine_relu_forward", "affine_relu_backward",
    "affine_bn_relu_forward", "affine_bn_relu_backward",
    "affine_ln_relu_forward", "affine_ln_relu_backward",
    "sigmoid",  # CS231n's rnn_layers exports it (a stable logistic)
    "rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
    "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
    "gru_step_forward", "gru_step_backward", "gru_forward", "gru_backward",
    "word_embedding_forward", "word_embedding_backward",
    "temporal_affine_forward", "temporal_affine_backward",
    "temporal_softmax_loss",
    "normalize_adjacency", "graph_conv_forward", "graph_conv_backward",
    "gelu_forward", "gelu_backward", "causal_mask",
    "positional_embedding_forward", "positional_embedding_backward",
    "transformer_block_forward", "transformer_block_backward",
    # tables other packages read: the recurrent cells, the multi-head attention params
    "RECURRENT_CELLS", "RecurrentCell", "MHA_KEYS", "BLOCK_KEYS",
]
