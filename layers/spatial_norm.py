"""Normalization of image batches (N, C, H, W): spatial batchnorm and spatial groupnorm.

Spatial batchnorm normalizes each channel over (N, H, W) by reducing over axes (0, 2, 3)
directly with (C, 1, 1)-broadcast parameters. (Transposing to (N*H*W, C) to reuse the
vanilla batchnorm was 2.4x slower here: the two transposes cost more than the norm.)
Sums of products use ``einsum('nchw,nchw->c')``, one read of each operand and no
temporary.

Both are memory-bound; the passes over the data are kept few: the forward makes the
centred input, its sum of squares and the output; the backward two reductions and the
output, written as dx = k1 * dout + k2 * xc + k3 with per-channel (or per-group) k's.
Plain sums over (N, H, W) are BLAS matrix-vector products (3x faster than
``sum(axis=(0, 2, 3))`` on one core). Spatial batchnorm treats each channel on its own,
so large inputs split their channels over threads (layers._threads; numpy releases the
GIL in every pass), which numpy's one-core elementwise loops otherwise leave idle.
"""

from __future__ import annotations

from . import validate as v
from ._threads import batch_parts, run_parts
from .backend import get_xp
from ._cache import backward_of, forward_layer
from .norm import normalize_last_axis, stable_inv_std

__all__ = [
    "spatial_batchnorm_forward", "spatial_batchnorm_backward",
    "spatial_groupnorm_forward", "spatial_groupnorm_backward",
]

_MODES = ("train", "test")


def _running(fn: str, bn_param, key: str, C: int, x, mode: str):
    """bn_param[key] as a (C,) array of x's dtype (zeros if absent)."""
    r = v.running_stat(fn, "bn_param", bn_param, key, x, C, "C", used=mode == "test")
    if r is None:
        return get_xp(x).zeros(C, dtype=x.dtype)
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
    eps = v.eps(fn, "bn_param", bn_param)
    momentum = v.momentum(fn, "bn_param", bn_param)
    running_mean = _running(fn, bn_param, "running_mean", C, x, mode)
    running_var = _running(fn, bn_param, "running_var", C, x, mode)
    if mode == "train" and N * H * W < 2:
        raise ValueError(f"{fn}: train mode needs N*H*W >= 2 values per channel for a "
                         f"variance; x has shape {tuple(x.shape)}")
    xc = xp.empty_like(x)
    out = xp.empty_like(x)
    mean = running_mean if mode == "test" else xp.empty(C, dtype=x.dtype)
    var = running_var if mode == "test" else xp.empty(C, dtype=x.dtype)
    inv_std = xp.empty(C, dtype=x.dtype)

    def part(_, c):  # the channels c, start to end: no other channel is read
        if mode == "train":
            mean[c] = _channel_sums(x[:, c]) / (N * H * W)
        xp.subtract(x[:, c], mean[c, None, None], out=xc[:, c])
        if mode == "train":
            var[c] = xp.einsum("nchw,nchw->c", xc[:, c], xc[:, c]) / (N * H * W)
        # finite even where a float32 variance overflowed (see norm.stable_inv_std)
        inv_std[c] = stable_inv_std(xc[:, c], var[c], eps, (0, 2, 3))
        xp.multiply(xc[:, c], (gamma[c] * inv_std[c])[:, None, None], out=out[:, c])
        out[:, c] += beta[c, None, None]

    run_parts(part, batch_parts(C, x, work=x.size, min_part=1))
    if mode == "train":
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    return out, (mode, xc, gamma, inv_std)


def _channel_sums(x):
    """x (N, C, H, W) summed over (N, H, W) as BLAS matrix-vector products: (C,)."""
    xp = get_xp(x)
    N, C, H, W = x.shape
    ones = xp.ones(H * W, dtype=x.dtype)
    return xp.ones(N, dtype=x.dtype) @ (x.reshape(N, C, H * W) @ ones)


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
    M = N * H * W
    dx = xp.empty_like(xc)
    dgamma = xp.empty(C, dtype=xc.dtype)
    dbeta = xp.empty(C, dtype=xc.dtype)

    def part(_, c):  # the channels c, start to end
        d, xcc, dxc = dout[:, c], xc[:, c], dx[:, c]
        dbeta[c] = _channel_sums(d)
        dgamma[c] = xp.einsum("nchw,nchw->c", d, xcc) * inv_std[c]  # sum dout * xhat
        k1 = gamma[c] * inv_std[c]
        if mode == "train":  # dx = k1 * dout + k2 * xc + k3
            xp.multiply(xcc, (-k1 * inv_std[c] * dgamma[c] / M)[:, None, None], out=dxc)
            dxc += (-k1 * dbeta[c] / M)[:, None, None]
            dxc += d * k1[:, None, None]  # (per-example temporaries measured no faster)
        else:
            xp.multiply(d, k1[:, None, None], out=dxc)

    run_parts(part, batch_parts(C, dout, work=dout.size, min_part=1))
    return dx, dgamma, dbeta


@forward_layer
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
    get_xp(x, gamma, beta)
    v.same_dtype(fn, x=x, gamma=gamma, beta=beta)
    G = v.integer(fn, "G", G, 1)
    if C % G:
        raise ValueError(f"{fn}: G must be a positive divisor of C = {C} (x of shape "
                         f"{tuple(x.shape)}); got {G!r}")
    if not isinstance(gn_param, dict):
        raise TypeError(f"{fn}: gn_param must be a dict; got {type(gn_param).__name__}")
    eps = v.eps(fn, "gn_param", gn_param)
    M = (C // G) * H * W  # values per group
    if M < 2:
        raise ValueError(f"{fn}: each group needs at least 2 values for a variance; "
                         f"C // G * H * W = {M} for x of shape {tuple(x.shape)}, G = {G}")
    xhat, inv_std = normalize_last_axis(x.reshape(N, G, M), eps)  # (N, G, M), (N, G, 1)
    xhat = xhat.reshape(N, C, H, W)
    out = xhat * gamma
    out += beta
    return out, (xhat, gamma, inv_std, G)


@backward_of("spatial_groupnorm_forward")
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


# The tagged cache and the dout checks of layers/_cache.py, applied here rather than as
# decorators so that the bodies above (being reworked for speed) merge without conflicts.
spatial_batchnorm_forward = forward_layer(spatial_batchnorm_forward)
spatial_batchnorm_backward = backward_of("spatial_batchnorm_forward")(spatial_batchnorm_backward)
