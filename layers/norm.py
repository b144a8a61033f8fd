"""Feature normalisation over a batch (batchnorm) or over the features (layernorm).

Both layers compute xhat = (x - mean) / sqrt(var + eps) and return gamma * xhat + beta;
they differ in the axis: batchnorm normalises each feature over the N examples of the
batch (axis 0), layernorm each example over its D features (axis 1). Variances are the
biased ones (divide by N, resp. D), as in the CS231n assignments and PyTorch's training
mode. With eps > 0, a constant feature gives xhat = 0 and finite gradients.
"""

from __future__ import annotations

from . import validate as v
from ._cache import backward_of, forward_layer
from .backend import get_xp, numpy


def _check_affine_params(fn: str, x, gamma, beta):
    """x (N, D) float, gamma and beta (D,) of x's dtype and backend; returns gamma and
    beta, integer ones cast to x's dtype (the CS231n integer-parameter rule)."""
    v.array(fn, "x", x, ndim=2, what="(N, D)")
    gamma = v.float_param(fn, "gamma", gamma, x, ndim=1, what="(D,)")
    beta = v.float_param(fn, "beta", beta, x, ndim=1, what="(D,)")
    get_xp(x, gamma, beta)
    D = x.shape[1]
    if gamma.shape[0] != D or beta.shape[0] != D:  # the messages are built only on error
        v.shape(fn, "gamma", gamma, (D,), f"(D,) with D = {D} from x")
        v.shape(fn, "beta", beta, (D,), f"(D,) with D = {D} from x")
    if not (x.dtype == gamma.dtype == beta.dtype):
        v.same_dtype(fn, x=x, gamma=gamma, beta=beta)
    return gamma, beta


def _column_sums(a):
    """sum over axis 0 of a (N, D) array as a BLAS matrix-vector product: it reads ``a``
    with all of BLAS's threads, faster than ``a.sum(axis=0)`` (benchmarks/README.md,
    "Design measurements")."""
    xp = get_xp(a)
    return xp.ones(a.shape[0], dtype=a.dtype) @ a  # (D,)


# --- batchnorm ------------------------------------------------------------------------

# numpy applies a (D,) operand broadcast over an (N, D) array one row at a time; with
# fewer than about 8192 elements per row the per-row overhead makes such an op ~1.5x slower
# than a same-shape one (float32 (256, 1024): 55 us against 36 us for x - v). Batchnorm's
# per-column arithmetic therefore runs on a C-contiguous (N, D) array viewed as
# (N / k, k * D), with the (D,) vectors tiled k times: the same elementwise operations,
# on k times fewer rows.
_WIDE_ROW = 8192


def _rows_joined(N: int, D: int, *arrays) -> int:
    """k, the number of consecutive rows to view as one: the smallest divisor of N with
    k * D >= 8192 (searched up to 4x the least such k), or 1 when there is none or an
    array is not C-contiguous (its reshape would copy)."""
    k0 = -(-_WIDE_ROW // D)
    if k0 <= 1 or not all(a.flags.c_contiguous for a in arrays):
        return 1
    for k in range(k0, min(N, 4 * k0) + 1):
        if N % k == 0:
            return k
    return 1


def _wide(a, k: int):
    """(N, D) viewed as (N / k, k * D)."""
    return a if k == 1 else a.reshape(a.shape[0] // k, k * a.shape[1])


def _tiled(vec, k: int):
    """A (D,) vector repeated k times, to broadcast over _wide rows."""
    return vec if k == 1 else get_xp(vec).tile(vec, k)



@forward_layer
def batchnorm_forward(x, gamma, beta, bn_param):
    """Forward pass of batch normalisation.

    Train mode normalises each feature with the batch mean and the biased batch variance,
    and writes new running statistics into ``bn_param`` (new arrays; the old ones are
    left as they were):

        running_mean = momentum * running_mean + (1 - momentum) * batch_mean
        running_var  = momentum * running_var  + (1 - momentum) * batch_var

    Test mode normalises with the running statistics instead.

    Inputs:
    - x: (N, D) float array
    - gamma: (D,) scale
    - beta: (D,) shift
    - bn_param: dict with keys
      - mode: 'train' or 'test' (required)
      - eps: added to the variance, > 0; default 1e-5
      - momentum: default 0.9
      - running_mean, running_var: (D,); zeros of x's dtype when absent (as CS231n)

    Returns a tuple of:
    - out: (N, D), x's dtype
    - cache: what batchnorm_backward and batchnorm_backward_alt need (the centred x,
      1 / std, gamma and the mode)
    """
    fn = "batchnorm_forward"
    gamma, beta = _check_affine_params(fn, x, gamma, beta)
    v.keys(fn, "bn_param", bn_param, ("mode",))
    mode = v.choice(fn, "bn_param['mode']", bn_param["mode"], ("train", "test"))
    eps = v.eps(fn, "bn_param", bn_param)
    momentum = v.momentum(fn, "bn_param", bn_param)
    xp = get_xp(x, gamma, beta)
    N, D = x.shape
    running_mean = v.running_stat(fn, "bn_param", bn_param, "running_mean", x, D, "D")
    running_var = v.running_stat(fn, "bn_param", bn_param, "running_var", x, D, "D",
                                 used=mode == "test")
    if running_mean is None:
        running_mean = xp.zeros(D, dtype=x.dtype)
    if running_var is None:
        running_var = xp.zeros(D, dtype=x.dtype)
    if mode == "train":
        v.nonempty(fn, "x", x, "train mode needs a batch mean and variance; use mode 'test' "
                   "(the running statistics) for an empty batch")

    k = _rows_joined(N, D, x)
    if mode == "train":
        mean = _column_sums(x) / N  # (D,)
        xc = (_wide(x, k) - _tiled(mean, k)).reshape(N, D)  # (N, D), centred
        var = xp.einsum("nd,nd->d", xc, xc) / N  # (D,), biased; no (N, D) temporary
        inv_std = stable_inv_std(xc, var, eps, 0)  # (D,); finite where var overflowed
        # kept in x's dtype, so a float64 call (a gradient check) cannot leave float64
        # statistics behind for later float32 calls, nor the reverse
        bn_param["running_mean"] = (momentum * running_mean
                                    + (1.0 - momentum) * mean).astype(x.dtype, copy=False)
        bn_param["running_var"] = (momentum * running_var
                                   + (1.0 - momentum) * var).astype(x.dtype, copy=False)
    else:
        mean = running_mean.astype(x.dtype, copy=False)
        xc = (_wide(x, k) - _tiled(mean, k)).reshape(N, D)
        inv_std = 1.0 / xp.sqrt(running_var.astype(x.dtype, copy=False) + eps)
    # out = gamma * xhat + beta with xhat = xc * inv_std, in two passes over (N, D)
    out = _wide(xc, k) * _tiled(gamma * inv_std, k)
    out += _tiled(beta, k)
    return out.reshape(N, D), (xc, inv_std, gamma, mode)


def _batchnorm_test_backward(dout, xc, inv_std, gamma):
    """In test mode the statistics are constants: the layer is affine in x."""
    dbeta = _column_sums(dout)
    dgamma = get_xp(dout).einsum("nd,nd->d", dout, xc) * inv_std
    return dout * (gamma * inv_std), dgamma, dbeta


@backward_of("batchnorm_forward")
def batchnorm_backward(dout, cache):
    """Backward pass of batch normalisation, stage by stage through the computation graph
    mean -> centre -> variance -> 1/std -> xhat -> gamma * xhat + beta.

    Inputs:
    - dout: (N, D) upstream gradient
    - cache: from batchnorm_forward

    Returns a tuple of:
    - dx: (N, D)
    - dgamma: (D,)
    - dbeta: (D,)
    """
    xc, inv_std, gamma, mode = cache
    v.shape("batchnorm_backward", "dout", dout, xc.shape, "(N, D), the shape of x")
    if mode == "test":
        return _batchnorm_test_backward(dout, xc, inv_std, gamma)
    N = xc.shape[0]
    xhat = xc * inv_std  # (N, D)
    dbeta = dout.sum(axis=0)  # (D,)
    dgamma = (dout * xhat).sum(axis=0)  # (D,)
    dxhat = dout * gamma  # (N, D)
    dxc = dxhat * inv_std  # (N, D), the path through xc directly
    dinv_std = (dxhat * xc).sum(axis=0)  # (D,)
    dstd = -dinv_std * inv_std * inv_std  # (D,); inv_std = 1 / std
    dvar = 0.5 * dstd * inv_std  # (D,); std = sqrt(var + eps)
    dxc += (2.0 / N) * xc * dvar  # var = mean(xc ** 2)
    dmean = -dxc.sum(axis=0)  # (D,); xc = x - mean
    dx = dxc + dmean / N  # mean = sum(x) / N
    return dx, dgamma, dbeta


@backward_of("batchnorm_forward")
def batchnorm_backward_alt(dout, cache):
    """Backward pass of batch normalisation in one simplified expression (same result as
    batchnorm_backward, fewer passes over the data):

        dx = gamma / (N * std) * (N * dout - sum_n dout - xhat * sum_n (dout * xhat))

    where the two sums are dbeta and dgamma.

    Inputs:
    - dout: (N, D) upstream gradient
    - cache: from batchnorm_forward

    Returns a tuple of:
    - dx: (N, D)
    - dgamma: (D,)
    - dbeta: (D,)
    """
    xc, inv_std, gamma, mode = cache
    v.shape("batchnorm_backward_alt", "dout", dout, xc.shape, "(N, D), the shape of x")
    if mode == "test":
        return _batchnorm_test_backward(dout, xc, inv_std, gamma)
    xp = get_xp(dout)
    N, D = xc.shape
    dbeta = _column_sums(dout)  # (D,)
    dgamma = xp.einsum("nd,nd->d", dout, xc) * inv_std  # (D,) = sum_n dout * xhat
    # the formula with xhat = xc * inv_std folded into a per-column factor of xc
    k = _rows_joined(N, D, xc, dout)
    dx = _wide(xc, k) * _tiled(dgamma * inv_std / -N, k)  # (N / k, k * D)
    dx += _wide(dout, k)
    dx -= _tiled(dbeta / N, k)
    dx *= _tiled(gamma * inv_std, k)
    return dx.reshape(N, D), dgamma, dbeta


# --- layernorm ------------------------------------------------------------------------


def stable_inv_std(xc, var, eps: float, axes):
    """1 / sqrt(var + eps) for var = mean(xc ** 2) over ``axes`` (var's shape: xc's with
    those axes reduced, or kept as 1s).

    Finite inputs give a finite, correct result even where the variance overflowed (float32
    values beyond ~1e19 square to inf): for those statistics it is recomputed on xc scaled
    by its largest magnitude s, as (1 / sqrt(var(xc / s) + eps / s^2)) / s. On numpy one
    check of ``var`` skips that work when nothing overflowed; on a device the check would
    be a host sync every call, so both are computed there and picked per statistic (the
    same result, no read-back).
    """
    xp = get_xp(xc)
    plain = 1.0 / xp.sqrt(var + eps)
    if xp is numpy and (numpy.isfinite(var).all() or not numpy.isfinite(xc).all()):
        return plain
    finite = xp.isfinite(var)
    s = xp.abs(xc).max(axis=axes, keepdims=True)  # > 0 where var overflowed
    s = xp.where(finite.reshape(s.shape), 1, s)  # 1 where var is fine (then r == plain)
    xs = xc / s
    var_s = (xs * xs).mean(axis=axes, keepdims=True)
    r = 1.0 / xp.sqrt(var_s + eps / s / s) / s  # (eps / s / s: no overflow in s * s)
    return xp.where(finite, plain, r.reshape(var.shape))


def normalize_last_axis(x, eps: float):
    """xhat = (x - mean) / sqrt(var + eps) over the last axis (biased variance), and
    inv_std of shape (..., 1); finite for finite x (see ``stable_inv_std``)."""
    xp = get_xp(x)
    xhat = x - x.mean(axis=-1, keepdims=True)  # centred; normalised in place below
    var = xp.einsum("...d,...d->...", xhat, xhat)[..., None] / x.shape[-1]  # (..., 1)
    r = stable_inv_std(xhat, var, eps, -1)
    xhat *= r
    return xhat, r


@forward_layer
def layernorm_forward(x, gamma, beta, ln_param):
    """Forward pass of layer normalisation: each example (row) is normalised over its D
    features with its own mean and biased variance; no running statistics, so train and
    test mode are the same.

    Inputs:
    - x: (N, D) float array
    - gamma: (D,) scale
    - beta: (D,) shift
    - ln_param: dict with optional key eps (> 0, default 1e-5); other keys are ignored

    Returns a tuple of:
    - out: (N, D), x's dtype
    - cache: what layernorm_backward needs
    """
    fn = "layernorm_forward"
    gamma, beta = _check_affine_params(fn, x, gamma, beta)
    if not isinstance(ln_param, dict):
        raise TypeError(f"{fn}: ln_param must be a dict; got {type(ln_param).__name__}")
    eps = v.eps(fn, "ln_param", ln_param)
    xhat, inv_std = normalize_last_axis(x, eps)  # (N, D), (N, 1)
    out = xhat * gamma
    out += beta
    return out, (xhat, inv_std, gamma)


@backward_of("layernorm_forward")
def layernorm_backward(dout, cache):
    """Backward pass of layer normalisation (batchnorm's simplified formula with the roles
    of the axes swapped: the sums run over the D features of each example).

    Inputs:
    - dout: (N, D) upstream gradient
    - cache: from layernorm_forward

    Returns a tuple of:
    - dx: (N, D)
    - dgamma: (D,)
    - dbeta: (D,)
    """
    xhat, inv_std, gamma = cache
    v.shape("layernorm_backward", "dout", dout, xhat.shape, "(N, D), the shape of x")
    xp = get_xp(dout)
    D = xhat.shape[1]
    dbeta = _column_sums(dout)  # (D,)
    dgamma = xp.einsum("nd,nd->d", dout, xhat)  # (D,)
    dxhat = dout * gamma  # (N, D)
    s1 = dxhat.sum(axis=1, keepdims=True)  # (N, 1)
    s2 = xp.einsum("nd,nd->n", dxhat, xhat)[:, None]  # (N, 1)
    dx = xhat * (s2 / -D)  # (N, D)
    dx += dxhat
    dx -= s1 / D
    dx *= inv_std
    return dx, dgamma, dbeta
