"""Normalization of image batches (N, C, H, W): spatial batchnorm and spatial groupnorm.

Spatial batchnorm normalizes each channel over (N, H, W) by reducing over axes (0, 2, 3)
directly with (C, 1, 1)-broadcast parameters. (Transposing to (N*H*W, C) to reuse the
vanilla batchnorm was 2.4x slower here: the two transposes cost more than the norm.)
Sums of products use ``einsum('nchw,nchw->c')``, one read of each operand and no
temporary.

Both are memory-bound; the passes over the data are kept few: the forward makes the
centred input, its sum of squares and the output; the backward two reductions and the
output, written as dx = k1 * dout + k2 * xc + k3 with per-channel (or per-group) k's.
"""

from __future__ import annotations

from numbers import Integral

from . import _validate as v
from .backend import get_xp

__all__ = [
    "spatial_batchnorm_forward", "spatial_batchnorm_backward",
    "spatial_groupnorm_forward", "spatial_groupnorm_backward",
]

_MODES = ("train", "test")


def _scalar(fn: str, d, key: str, default: float) -> float:
    """A Python float from a param dict: a numpy float64 scalar would promote float32."""
    value = d.get(key, default)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{fn}: {key} must be a number; got {value!r}") from None


def _running(fn: str, bn_param, key: str, C: int, x):
    """bn_param[key] as a (C,) array of x's dtype (zeros if absent)."""
    xp = get_xp(x)
    r = bn_param.get(key)
    if r is None:
        return xp.zeros(C, dtype=x.dtype)
    v.array(fn, f"bn_param[{key!r}]", r, ndim=1, what="(C,)")
    v.shape(fn, f"bn_param[{key!r}]", r, (C,), "(C,), one entry per channel of x")
    # running stats follow x's dtype (a float64 gradient check must not leave float64
    # stats that would then promote a float32 forward)
    return r.astype(x.dtype, copy=False)


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Forward pass of spatial batch normalization: each channel normalized over the
    batch and both spatial axes.

    train: mu_c = mean_{n,h,w} x, var_c = mean_{n,h,w} (x - mu_c)^2,
           out = gamma_c * (x - mu_c) / sqrt(var_c + eps) + beta_c;
           running = momentum * running + (1 - momentum) * batch statistic
    test:  the same with the running mean and variance in place of the batch ones.

    Inputs:
    - x: (N, C, H, W)
    - gamma, beta: (C,) scale and shift
    - bn_param: dict with 'mode' ('train' or 'test'); optional 'eps' (1e-5), 'momentum'
      (0.9), 'running_mean' and 'running_var' ((C,), zeros if absent). In train mode the
      dict receives new running_mean / running_var arrays (x's dtype).

    Returns a tuple of:
    - out: (N, C, H, W), x's dtype
    - cache: what spatial_batchnorm_backward needs
    """
    fn = "spatial_batchnorm_forward"
    v.array(fn, "x", x, ndim=4, what="(N, C, H, W)")
    N, C, H, W = x.shape
    gamma = v.float_param(fn, "gamma", gamma, x, ndim=1, what="(C,)")
    beta = v.float_param(fn, "beta", beta, x, ndim=1, what="(C,)")
    v.shape(fn, "gamma", gamma, (C,), "(C,), one entry per channel of x")
    v.shape(fn, "beta", beta, (C,), "(C,), one entry per channel of x")
    xp = get_xp(x, gamma, beta)
    v.same_dtype(fn, x=x, gamma=gamma, beta=beta)
    v.keys(fn, "bn_param", bn_param, ("mode",))
    mode = v.choice(fn, "bn_param['mode']", bn_param["mode"], _MODES)
    eps = _scalar(fn, bn_param, "eps", 1e-5)
    momentum = _scalar(fn, bn_param, "momentum", 0.9)
    running_mean = _running(fn, bn_param, "running_mean", C, x)
    running_var = _running(fn, bn_param, "running_var", C, x)
    if mode == "train":
        M = N * H * W
        if M < 2:
            raise ValueError(f"{fn}: train mode needs N*H*W >= 2 values per channel for a "
                             f"variance; x has shape {tuple(x.shape)}")
        mean = x.mean(axis=(0, 2, 3))  # (C,)
        xc = x - mean[:, None, None]  # (N, C, H, W)
        var = xp.einsum("nchw,nchw->c", xc, xc) / M  # (C,)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        xc = x - running_mean[:, None, None]
        var = running_var
    inv_std = 1 / xp.sqrt(var + eps)  # (C,)
    out = xc * (gamma * inv_std)[:, None, None]
    out += beta[:, None, None]
    return out, (mode, xc, gamma, inv_std)


def spatial_batchnorm_backward(dout, cache):
    """Backward pass of spatial batch normalization.

    In train mode, with xhat = (x - mu) * inv_std and M = N*H*W per channel:
    dx = gamma * inv_std * (dout - mean(dout) - xhat * mean(dout * xhat)), means over
    (n, h, w). In test mode the statistics are constants: dx = gamma * inv_std * dout.

    Inputs:
    - dout: (N, C, H, W) upstream gradient
    - cache: from spatial_batchnorm_forward

    Returns a tuple of:
    - dx: (N, C, H, W)
    - dgamma, dbeta: (C,)
    """
    mode, xc, gamma, inv_std = cache
    fn = "spatial_batchnorm_backward"
    v.array(fn, "dout", dout, ndim=4, what="(N, C, H, W)")
    v.shape(fn, "dout", dout, xc.shape, "(N, C, H, W), the shape of x")
    xp = get_xp(dout, xc)
    N, C, H, W = xc.shape
    dbeta = dout.sum(axis=(0, 2, 3))  # (C,)
    s = xp.einsum("nchw,nchw->c", dout, xc)  # sum of dout * (x - mu), (C,)
    dgamma = s * inv_std
    k1 = gamma * inv_std  # (C,)
    dx = dout * k1[:, None, None]
    if mode == "train":
        M = N * H * W
        k2 = -k1 * inv_std * dgamma / M  # multiplies xc
        k3 = -k1 * dbeta / M  # a constant per channel
        dx += xc * k2[:, None, None]
        dx += k3[:, None, None]
    return dx, dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """Forward pass of spatial group normalization: the C channels of each example split
    into G groups of C // G consecutive channels, each group normalized over its channels
    and pixels, then a per-channel scale and shift.

    Inputs:
    - x: (N, C, H, W)
    - gamma, beta: (1, C, 1, 1) scale and shift
    - G: number of groups, a divisor of C (G = 1: layer norm over (C, H, W); G = C:
      instance norm)
    - gn_param: dict; optional 'eps' (1e-5)

    Returns a tuple of:
    - out: (N, C, H, W), x's dtype
    - cache: what spatial_groupnorm_backward needs
    """
    fn = "spatial_groupnorm_forward"
    v.array(fn, "x", x, ndim=4, what="(N, C, H, W)")
    N, C, H, W = x.shape
    gamma = v.float_param(fn, "gamma", gamma, x, ndim=4, what="(1, C, 1, 1)")
    beta = v.float_param(fn, "beta", beta, x, ndim=4, what="(1, C, 1, 1)")
    v.shape(fn, "gamma", gamma, (1, C, 1, 1), "(1, C, 1, 1), one entry per channel of x")
    v.shape(fn, "beta", beta, (1, C, 1, 1), "(1, C, 1, 1), one entry per channel of x")
    xp = get_xp(x, gamma, beta)
    v.same_dtype(fn, x=x, gamma=gamma, beta=beta)
    if isinstance(G, bool) or not isinstance(G, Integral) or G < 1 or C % G:
        raise ValueError(f"{fn}: G must be a positive divisor of C = {C} (x of shape "
                         f"{tuple(x.shape)}); got {G!r}")
    if not isinstance(gn_param, dict):
        raise TypeError(f"{fn}: gn_param must be a dict; got {type(gn_param).__name__}")
    eps = _scalar(fn, gn_param, "eps", 1e-5)
    M = (C // G) * H * W  # values per group
    if M < 2:
        raise ValueError(f"{fn}: each group needs at least 2 values for a variance; "
                         f"C // G * H * W = {M} for x of shape {tuple(x.shape)}, G = {G}")
    xg = x.reshape(N, G, M)
    mean = xg.mean(axis=2, keepdims=True)  # (N, G, 1)
    xc = xg - mean  # (N, G, M)
    var = xp.einsum("ngm,ngm->ng", xc, xc)[:, :, None] / M  # (N, G, 1)
    inv_std = 1 / xp.sqrt(var + eps)
    xhat = (xc * inv_std).reshape(N, C, H, W)
    out = xhat * gamma
    out += beta
    return out, (xhat, gamma, inv_std, G)


def spatial_groupnorm_backward(dout, cache):
    """Backward pass of spatial group normalization.

    Per group, with M values and xhat the normalized input, dy = dout * gamma:
    dx = inv_std * (dy - mean(dy) - xhat * mean(dy * xhat)), means over the group.

    Inputs:
    - dout: (N, C, H, W) upstream gradient
    - cache: from spatial_groupnorm_forward

    Returns a tuple of:
    - dx: (N, C, H, W)
    - dgamma, dbeta: (1, C, 1, 1)
    """
    xhat, gamma, inv_std, G = cache
    fn = "spatial_groupnorm_backward"
    v.array(fn, "dout", dout, ndim=4, what="(N, C, H, W)")
    v.shape(fn, "dout", dout, xhat.shape, "(N, C, H, W), the shape of x")
    xp = get_xp(dout, xhat)
    N, C, H, W = xhat.shape
    M = (C // G) * H * W
    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)  # (1, C, 1, 1)
    dgamma = xp.einsum("nchw,nchw->c", dout, xhat).reshape(1, C, 1, 1)
    dy = (dout * gamma).reshape(N, G, M)
    xh = xhat.reshape(N, G, M)
    mean_dy = dy.mean(axis=2, keepdims=True)  # (N, G, 1)
    mean_dy_xh = xp.einsum("ngm,ngm->ng", dy, xh)[:, :, None] / M
    dx = dy - mean_dy
    dx -= xh * mean_dy_xh
    dx *= inv_std
    return dx.reshape(N, C, H, W), dgamma, dbeta
