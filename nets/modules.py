"""PyTorch-style modules whose forwards are the kit's own layer pairs, lifted by
``nets.autograd.apply``: one hand-written, gradient-checked backward per layer, no
second implementation.

    model = Sequential(
        Conv2d(1, 16, 3, padding=1), ReLU(), MaxPool2d(2),      # (N, 16, 4, 4)
        Flatten(), Linear(16 * 4 * 4, 64), ReLU(), Linear(64, 10))
    loss = cross_entropy(model(X), y)
    loss.backward()

Layouts are the kit's (CS231n), which differ from PyTorch's in two places: ``Linear``'s
weight is ``(in_features, out_features)`` (``affine_forward``'s ``w``), and ``LSTM`` holds
``weight_ih (D, 4H)``, ``weight_hh (H, 4H)`` and one ``bias (4H,)`` with gates in the
order i, f, o, g. Hyperparameters follow PyTorch: ``Dropout(p)`` takes the probability
of *dropping*, ``BatchNorm(momentum=0.1)`` the weight of the new batch.
"""

from __future__ import annotations

import math

import numpy as np

from layers import (affine_backward, affine_forward, batchnorm_backward, batchnorm_forward,
                    conv_backward_fast, conv_forward_fast, dropout_backward, dropout_forward,
                    gelu_backward, gelu_forward, l2_loss, layernorm_backward,
                    layernorm_forward, lstm_backward, lstm_forward,
                    max_pool_backward_fast, max_pool_forward_fast,
                    multihead_attention_backward, multihead_attention_forward, relu_backward,
                    relu_forward, softmax_loss, spatial_batchnorm_backward,
                    spatial_batchnorm_forward, word_embedding_backward,
                    word_embedding_forward)
from layers import l1_loss as _l1_loss
from layers.backend import get_backend, get_xp, to_xp

from .autograd import Tensor, apply, apply_loss
from .module_base import (Module, ModuleNet, Parameter, Sequential, constant, init_rng,
                          manual_seed, uniform)

__all__ = ["Module", "Parameter", "Sequential", "ModuleNet", "manual_seed",
           "Linear", "ReLU", "GELU", "Dropout", "Flatten", "BatchNorm1d", "BatchNorm2d",
           "LayerNorm", "Conv2d", "MaxPool2d", "Embedding", "LSTM", "MultiheadAttention",
           "cross_entropy", "mse_loss", "l1_loss"]


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def _zeros_like_bias(n: int, like):
    """A constant zero bias for ``bias=False`` (the layer pairs always take one)."""
    return get_xp(like).zeros(n, dtype=like.dtype)


class Linear(Module):
    """y = x @ weight + bias over the last axis of x (any leading axes).

    Params: weight (in_features, out_features), bias (out_features,), both drawn from
    U(-1/sqrt(in_features), 1/sqrt(in_features)) as PyTorch's.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype=np.float32, seed=None):
        super().__init__()
        rng, bound = init_rng(seed), 1.0 / math.sqrt(in_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = uniform(rng, (in_features, out_features), bound, dtype)
        self.bias = uniform(rng, (out_features,), bound, dtype) if bias else None

    def forward(self, x):
        b = self.bias if self.bias is not None else _zeros_like_bias(self.out_features,
                                                                     self.weight.data)
        if len(x.shape) == 2:
            return apply(affine_forward, affine_backward, x, self.weight, b)
        lead = tuple(x.shape[:-1])  # affine_forward flattens trailing axes; we want the last
        flat = x.reshape(-1, self.in_features)  # a Tensor or an array alike
        out = apply(affine_forward, affine_backward, flat, self.weight, b)  # (prod(lead), M)
        return out.reshape(*lead, self.out_features)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, " \
               f"bias={self.bias is not None}"


class ReLU(Module):
    def forward(self, x):
        return apply(relu_forward, relu_backward, x)


class GELU(Module):
    """GELU, the tanh form of GPT-2 (``gelu_forward``; PyTorch's
    ``GELU(approximate='tanh')``): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""

    def forward(self, x):
        return apply(gelu_forward, gelu_backward, x)


class Dropout(Module):
    """Inverted dropout: in train mode each element is zeroed with probability ``p``
    (PyTorch's meaning) and the rest scaled by 1/(1-p); the identity in eval mode.
    Masks come from the module's Generator (``seed``, or one drawn from the Generator
    ``manual_seed`` seeds: same seed, same masks)."""

    def __init__(self, p: float = 0.5, seed=None):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p is the drop probability and must be in [0, 1); "
                             f"got {p!r}")
        self.p = float(p)
        # without a seed, the mask stream is seeded from the shared Generator, so
        # manual_seed fixes masks as it fixes weights
        self.rng = np.random.default_rng(init_rng(None).integers(2**63) if seed is None
                                         else seed)

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        return apply(dropout_forward, dropout_backward, x,
                     {"p": 1.0 - self.p, "mode": "train", "seed": self.rng})

    def extra_repr(self):
        return f"p={self.p}"


class Flatten(Module):
    """(N, d_1, ..., d_k) -> (N, d_1 * ... * d_k)."""

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        return x.reshape(x.shape[0], -1)


class _BatchNorm(Module):
    """Shared by BatchNorm1d/2d: weight (gamma) ones, bias (beta) zeros, and running
    statistics (mean zeros, var ones) in ``bn_param``, the layer's own state dict."""

    forward_pair: tuple

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 dtype=np.float32):
        super().__init__()
        self.num_features = num_features
        self.weight = constant((num_features,), 1.0, dtype)
        self.bias = constant((num_features,), 0.0, dtype)
        xp = get_backend()
        # the layers' momentum is the weight of the old running value: 1 - PyTorch's
        self.bn_param = {"mode": "train", "eps": eps, "momentum": 1.0 - momentum,
                         "running_mean": xp.zeros(num_features, dtype=dtype),
                         "running_var": xp.ones(num_features, dtype=dtype)}

    def _buffers(self):
        return {k: self.bn_param[k] for k in ("running_mean", "running_var")}

    def _set_buffer(self, name, value):
        self.bn_param[name] = value

    def forward(self, x):
        self.bn_param["mode"] = "train" if self.training else "test"
        fwd, bwd = self.forward_pair
        return apply(fwd, bwd, x, self.weight, self.bias, self.bn_param)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.bn_param['eps']}"


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, D) inputs over the batch (``batchnorm_forward``).
    Running variance: the layer's, the biased batch variance (PyTorch keeps the unbiased
    one), so eval-mode outputs differ from PyTorch's by that factor after training."""

    forward_pair = (batchnorm_forward, batchnorm_backward)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs per channel (``spatial_batchnorm_forward``)."""

    forward_pair = (spatial_batchnorm_forward, spatial_batchnorm_backward)


class LayerNorm(Module):
    """Layer normalisation over the last axis (size ``normalized_shape``), any leading axes.
    Params: weight ones, bias zeros, (normalized_shape,)."""

    def __init__(self, normalized_shape: int, eps: float = 1e-5, dtype=np.float32):
        super().__init__()
        self.D, self.eps = int(normalized_shape), eps
        self.weight = constant((self.D,), 1.0, dtype)
        self.bias = constant((self.D,), 0.0, dtype)

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        lead = x.shape[:-1]
        flat = x if x.ndim == 2 else x.reshape(-1, self.D)  # the layer normalises rows
        out = apply(layernorm_forward, layernorm_backward, flat, self.weight, self.bias,
                    {"eps": self.eps})
        return out if x.ndim == 2 else out.reshape(*lead, self.D)

    def extra_repr(self):
        return f"({self.D},), eps={self.eps}"


class Conv2d(Module):
    """2-D convolution (``conv_forward_fast``): weight (F, C, HH, WW), bias (F,), both
    from U(-1/sqrt(C*HH*WW), +) as PyTorch's; zero padding, one stride for both axes."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride: int = 1,
                 padding: int = 0, bias: bool = True, dtype=np.float32, seed=None):
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        rng, bound = init_rng(seed), 1.0 / math.sqrt(in_channels * kh * kw)
        self.out_channels = out_channels
        self.weight = uniform(rng, (out_channels, in_channels, kh, kw), bound, dtype)
        self.bias = uniform(rng, (out_channels,), bound, dtype) if bias else None
        self.conv_param = {"stride": stride, "pad": padding}

    def forward(self, x):
        b = self.bias if self.bias is not None else _zeros_like_bias(self.out_channels,
                                                                     self.weight.data)
        return apply(conv_forward_fast, conv_backward_fast, x, self.weight, b,
                     self.conv_param)

    def extra_repr(self):
        F, C, kh, kw = self.weight.shape
        return f"{C}, {F}, kernel_size=({kh}, {kw}), stride={self.conv_param['stride']}, " \
               f"padding={self.conv_param['pad']}"


class MaxPool2d(Module):
    """Max pooling (``max_pool_forward_fast``); stride defaults to kernel_size."""

    def __init__(self, kernel_size: int, stride: int | None = None):
        super().__init__()
        self.pool_param = {"pool_height": kernel_size, "pool_width": kernel_size,
                           "stride": kernel_size if stride is None else stride}

    def forward(self, x):
        return apply(max_pool_forward_fast, max_pool_backward_fast, x, self.pool_param)

    def extra_repr(self):
        return f"kernel_size={self.pool_param['pool_height']}, " \
               f"stride={self.pool_param['stride']}"


class Embedding(Module):
    """Rows of ``weight (num_embeddings, embedding_dim)`` (N(0, 1), as PyTorch's) picked by
    integer ids of any shape (``word_embedding_forward``)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype=np.float32, seed=None):
        super().__init__()
        a = init_rng(seed).standard_normal((num_embeddings, embedding_dim)).astype(dtype)
        self.weight = Parameter(to_xp(a, get_backend()))

    def forward(self, ids):
        ids = _data(ids)
        if ids.ndim == 2:
            return apply(word_embedding_forward, word_embedding_backward, ids, self.weight)
        out = apply(word_embedding_forward, word_embedding_backward, ids.reshape(1, -1),
                    self.weight)  # (1, n, D): the layer takes (N, T) ids
        return out.reshape(*ids.shape, self.weight.shape[1])


class LSTM(Module):
    """One LSTM layer over (N, T, D) sequences (``lstm_forward``), batch first.

    Params: weight_ih (D, 4H), weight_hh (H, 4H), bias (4H,), gates in the order i, f,
    o, g, all from U(-1/sqrt(H), 1/sqrt(H)). ``forward(x, h0=None)`` returns the hidden
    states of every step, (N, T, H) (the cell starts at zero, as the layer's; PyTorch's
    would return ``(output, (h_n, c_n))``; ``h_n`` is ``output[:, -1]``).
    """

    def __init__(self, input_size: int, hidden_size: int, dtype=np.float32, seed=None):
        super().__init__()
        rng, bound, H = init_rng(seed), 1.0 / math.sqrt(hidden_size), hidden_size
        self.hidden_size = H
        self.weight_ih = uniform(rng, (input_size, 4 * H), bound, dtype)
        self.weight_hh = uniform(rng, (H, 4 * H), bound, dtype)
        self.bias = uniform(rng, (4 * H,), bound, dtype)

    def forward(self, x, h0=None):
        if h0 is None:
            xd = _data(x)
            h0 = get_xp(xd).zeros((xd.shape[0], self.hidden_size), dtype=xd.dtype)
        return apply(lstm_forward, lstm_backward, x, h0, self.weight_ih, self.weight_hh,
                     self.bias)


class MultiheadAttention(Module):
    """Multi-head attention (``multihead_attention_forward``), batch first.

    Params: Wq, Wk, Wv, Wo (E, E), applied as x @ W + b (Xavier-uniform, as PyTorch's),
    and bq, bk, bv, bo (E,) zeros. ``forward(query, key=None, value=None, mask=None)``
    returns (N, S, E); key defaults to query and value to key; mask: bool, broadcastable
    to (N, heads, S, T), True = attend (PyTorch's ``attn_mask`` has the opposite sense).
    """

    KEYS = ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")

    def __init__(self, embed_dim: int, num_heads: int, dtype=np.float32, seed=None):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: num_heads ({num_heads}) must divide "
                             f"embed_dim ({embed_dim})")
        rng, E = init_rng(seed), embed_dim
        self.num_heads = num_heads
        for k in self.KEYS:
            setattr(self, k, uniform(rng, (E, E), math.sqrt(6.0 / (2 * E)), dtype)
                    if k[0] == "W" else constant((E,), 0.0, dtype))

    def forward(self, query, key=None, value=None, mask=None):
        key = query if key is None else key
        value = key if value is None else value
        params = {k: self._parameters[k] for k in self.KEYS}
        return apply(multihead_attention_forward, multihead_attention_backward, query, key,
                     value, params, self.num_heads, _data(mask))


# --- losses (mean over the batch, as PyTorch's default reduction) ---------------------------


def cross_entropy(logits, y):
    """Mean softmax cross-entropy (``softmax_loss``) of logits (N, C) or (N, T, C) (then
    over all N*T positions) against integer labels (N,) or (N, T)."""
    y = _data(y)
    if len(logits.shape) != 2:
        C = logits.shape[-1]
        logits = (logits if isinstance(logits, Tensor) else Tensor(logits)).reshape(-1, C)
        y = y.reshape(-1)
    return apply_loss(softmax_loss, logits, y)


def _regression_loss(loss_fn, x, target):
    """A kit loss ``(loss, dx) = loss_fn(x, y)`` of two same-shape arrays, with the
    target differentiated too when it is a Tensor that requires a gradient (-dx: both
    losses depend on x - y only)."""
    if not (isinstance(target, Tensor) and target.requires_grad):
        return apply_loss(loss_fn, x, target)

    def backward(dloss, dx):
        return dx * dloss, -(dx * dloss)

    backward.__name__ = loss_fn.__name__
    return apply(loss_fn, backward, x, target)


def mse_loss(x, target):
    """Mean of (x - target)^2 over all elements (``l2_loss``); target: x's shape."""
    return _regression_loss(l2_loss, x, target)


def l1_loss(x, target):
    """Mean of |x - target| over all elements (``l1_loss``); target: x's shape."""
    return _regression_loss(_l1_loss, x, target)
