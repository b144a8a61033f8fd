"""Scaled dot-product attention, multi-head attention, and sinusoidal positions.

    attention(q, k, v) = softmax(q k^T / sqrt(d)) v        over the last two axes

Masked positions (mask False) get probability 0; a query row whose keys are all masked
attends to nothing and outputs 0 (instead of the NaN a plain -inf softmax would give).
Optional dropout on the attention weights (as in "Attention is all you need" and GPT-2):
the dropped weights multiply v, and the softmax backward uses the undropped ones.
"""

from __future__ import annotations

import math

from . import _validate as val
from ._cache import backward_of, forward_layer
from .backend import get_backend, get_xp
from .core import dropout_backward, dropout_forward


def _check_mask(fn, mask, score_shape):
    if mask is None:
        return None
    xp = get_xp(mask)
    if not hasattr(mask, "dtype") or mask.dtype != xp.bool_:
        raise TypeError(f"{fn}: mask must be a bool array (True = attend); "
                        f"got {getattr(mask, 'dtype', type(mask).__name__)}")
    try:
        xp.broadcast_shapes(mask.shape, score_shape)
    except ValueError:
        raise ValueError(f"{fn}: mask of shape {tuple(mask.shape)} does not broadcast to the "
                         f"score shape (..., S, T) = {tuple(score_shape)} (S from q, T from "
                         "k)") from None
    return mask


def attention_forward(q, k, v, mask=None, dropout_param=None):
    """Forward pass of scaled dot-product attention.

    Inputs:
    - q: (..., S, d) queries; any leading batch/head axes
    - k: (..., T, d) keys, leading axes broadcastable with q's
    - v: (..., T, dv) values
    - mask: optional bool array broadcastable to (..., S, T); True = attend
    - dropout_param: optional dict of dropout_forward (p = keep probability, mode, seed),
      applied to the attention weights (..., S, T) before they multiply v

    Returns a tuple of:
    - out: (..., S, dv)
    - cache: what attention_backward needs
    """
    fn = "attention_forward"
    val.array(fn, "q", q, min_ndim=2, what="(..., S, d)")
    k = val.float_param(fn, "k", k, q, what="(..., T, d)")
    v = val.float_param(fn, "v", v, q, what="(..., T, dv)")
    for name, a in (("k", k), ("v", v)):
        if a.ndim < 2:
            val.array(fn, name, a, min_ndim=2, what="(..., T, d)")
    xp = get_xp(q, k, v, mask)
    val.same_dtype(fn, q=q, k=k, v=v)
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(f"{fn}: k must have shape (..., T, d) with d = {q.shape[-1]} (q's "
                         f"last axis); got {tuple(k.shape)}")
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(f"{fn}: v must have shape (..., T, dv) with T = {k.shape[-2]} (k's "
                         f"rows); got {tuple(v.shape)}")
    try:
        xp.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(f"{fn}: the leading (batch, head) axes of q {tuple(q.shape)}, "
                         f"k {tuple(k.shape)} and v {tuple(v.shape)} do not broadcast "
                         "together") from None
    scale = 1.0 / math.sqrt(q.shape[-1])
    # The scores are computed transposed, (..., T, S): the softmax then reduces over a
    # non-contiguous axis, which numpy vectorises across S (a max over the short
    # contiguous last axis costs ~2.5x more); the matmuls take the transposes for free.
    qs = q * scale  # (..., S, d); scaling q is cheaper than scaling the scores
    probs = k @ xp.swapaxes(qs, -1, -2)  # (..., T, S) scores, softmaxed in place below
    S, T = qs.shape[-2], k.shape[-2]
    mask = _check_mask(fn, mask, probs.shape[:-2] + (S, T))
    if mask is not None:
        xp.copyto(probs, -xp.inf, where=~xp.swapaxes(mask, -1, -2))
    top = probs.max(axis=-2, keepdims=True)  # (..., 1, S)
    top = xp.where(xp.isfinite(top), top, 0)  # all-masked rows: avoid -inf - -inf
    probs -= top
    xp.exp(probs, out=probs)
    sums = probs.sum(axis=-2, keepdims=True)
    probs /= xp.where(sums > 0, sums, 1)  # all-masked rows stay 0
    dropped, drop_cache = probs, None
    if dropout_param is not None:
        dropped, drop_cache = dropout_forward(probs, dropout_param)
    out = xp.swapaxes(dropped, -1, -2) @ v  # (..., S, dv)
    return out, (qs, k, v, probs, scale, dropped, drop_cache)


def attention_backward(dout, cache):
    """Backward pass of scaled dot-product attention.

    Inputs:
    - dout: (..., S, dv) upstream gradient
    - cache: from attention_forward

    Returns a tuple of:
    - dq: (..., S, d), dk: (..., T, d), dv: (..., T, dv), each summed back over any axis
      that was broadcast in the forward
    """
    qs, k, v, probsT, scale, droppedT, drop_cache = cache  # weights kept as (..., T, S)
    xp = get_xp(dout, probsT)
    out_shape = probsT.shape[:-2] + (probsT.shape[-1], v.shape[-1])
    val.shape("attention_backward", "dout", dout, out_shape, "(..., S, dv)")
    dv = droppedT @ dout  # (..., T, dv)
    dp = v @ xp.swapaxes(dout, -1, -2)  # (..., T, S), d(weights) transposed
    if drop_cache is not None:
        dp = dropout_backward(dp, drop_cache)
    # softmax backward, in place on dp: ds = p * (dp - sum_t(dp * p))
    dp -= xp.einsum("...ts,...ts->...s", dp, probsT)[..., None, :]
    dp *= probsT  # d(scores of qs k^T), transposed
    dq = xp.swapaxes(dp, -1, -2) @ k  # (..., S, d)
    dq *= scale
    dk = dp @ qs  # (..., T, d)
    return _unbroadcast(dq, qs.shape), _unbroadcast(dk, k.shape), _unbroadcast(dv, v.shape)


def _unbroadcast(g, shape):
    """Sum g over the leading axes that broadcasting added to an input of ``shape``."""
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, (gs, s) in enumerate(zip(g.shape, shape)) if s == 1 and gs != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


MHA_KEYS = ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")


def _project(x, W, b):
    """x @ W + b for x (N, L, E) as one (N L, E) @ (E, E) product (numpy runs a 3-D @ 2-D
    product as N small ones: ~1.5x slower here with 2 threads)."""
    N, L, E = x.shape
    y = x.reshape(N * L, E) @ W
    y += b
    return y.reshape(N, L, W.shape[1])


def _project_backward(dy, x, W):
    """Gradients of y = x @ W + b for x (N, L, E): dx, dW, db."""
    E_in, E_out = W.shape
    dy2 = dy.reshape(-1, E_out)  # (N L, E_out), one product each (see _project)
    dx = (dy2 @ W.T).reshape(x.shape)
    dW = x.reshape(-1, E_in).T @ dy2
    return dx, dW, dy2.sum(axis=0)


def _split_heads(x, h):
    N, L, E = x.shape
    return x.reshape(N, L, h, E // h).transpose(0, 2, 1, 3)  # (N, h, L, E/h)


def _merge_heads(x):
    N, h, L, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(N, L, h * d)  # (N, L, E)


def multihead_attention_forward(query, key, value, params, num_heads, mask=None,
                                dropout_param=None):
    """Forward pass of multi-head attention.

    Inputs:
    - query: (N, S, E); key, value: (N, T, E)
    - params: dict with Wq, Wk, Wv, Wo of shape (E, E) and bq, bk, bv, bo of shape (E,),
      each projection applied as x @ W + b
    - num_heads: h, dividing E; head i takes features [i*E/h, (i+1)*E/h)
    - mask: optional bool array broadcastable to (N, h, S, T); True = attend
    - dropout_param: optional dict of dropout_forward, applied to the attention weights
      (N, h, S, T) (see attention_forward)

    Returns a tuple of:
    - out: (N, S, E), the heads concatenated in order, then projected by Wo, bo
    - cache: what multihead_attention_backward needs
    """
    fn = "multihead_attention_forward"
    val.array(fn, "query", query, ndim=3, what="(N, S, E)")
    key = val.float_param(fn, "key", key, query, ndim=3, what="(N, T, E)")
    value = val.float_param(fn, "value", value, query, ndim=3, what="(N, T, E)")
    val.keys(fn, "params", params, MHA_KEYS)
    N, S, E = query.shape
    val.shape(fn, "key", key, (N, None, E), f"(N, T, E) with N, E = {N}, {E} from query")
    val.shape(fn, "value", value, key.shape, "(N, T, E), the shape of key")
    num_heads = val.integer(fn, "num_heads", num_heads, 1)
    if E % num_heads:
        raise ValueError(f"{fn}: num_heads must be a positive int dividing E = {E}; "
                         f"got {num_heads!r}")
    params = {name: val.float_param(fn, f"params[{name!r}]", params[name], query,
                                    ndim=2 if name[0] == "W" else 1) for name in MHA_KEYS}
    for name, p in params.items():
        val.shape(fn, f"params[{name!r}]", p, (E, E) if name[0] == "W" else (E,),
                  f"with E = {E} from query")
    val.same_dtype(fn, query=query, key=key, value=value, **params)
    q = _split_heads(_project(query, params["Wq"], params["bq"]), num_heads)
    k = _split_heads(_project(key, params["Wk"], params["bk"]), num_heads)
    vv = _split_heads(_project(value, params["Wv"], params["bv"]), num_heads)
    heads, attn_cache = attention_forward(q, k, vv, mask, dropout_param)  # (N, h, S, E/h)
    merged = _merge_heads(heads)  # (N, S, E)
    out = _project(merged, params["Wo"], params["bo"])
    return out, (query, key, value, params, num_heads, attn_cache, merged)


def multihead_attention_backward(dout, cache):
    """Backward pass of multi-head attention.

    Inputs:
    - dout: (N, S, E) upstream gradient
    - cache: from multihead_attention_forward

    Returns a tuple of:
    - dquery: (N, S, E), dkey: (N, T, E), dvalue: (N, T, E)
    - dparams: dict keyed like params
    """
    query, key, value, params, h, attn_cache, merged = cache
    val.shape("multihead_attention_backward", "dout", dout, query.shape, "(N, S, E)")
    dmerged, dWo, dbo = _project_backward(dout, merged, params["Wo"])
    N, S, E = dmerged.shape
    dheads = dmerged.reshape(N, S, h, E // h).transpose(0, 2, 1, 3)
    dq, dk, dv = attention_backward(dheads, attn_cache)
    dquery, dWq, dbq = _project_backward(_merge_heads(dq), query, params["Wq"])
    dkey, dWk, dbk = _project_backward(_merge_heads(dk), key, params["Wk"])
    dvalue, dWv, dbv = _project_backward(_merge_heads(dv), value, params["Wv"])
    dparams = {"Wq": dWq, "bq": dbq, "Wk": dWk, "bk": dbk, "Wv": dWv, "bv": dbv,
               "Wo": dWo, "bo": dbo}
    return dquery, dkey, dvalue, dparams


# The tagged caches and the dout checks of layers/_cache.py, applied here rather than as
# decorators so that the bodies above (being reworked for speed) merge without conflicts.
attention_forward = forward_layer(attention_forward)
attention_backward = backward_of("attention_forward")(attention_backward)
multihead_attention_forward = forward_layer(multihead_attention_forward)
multihead_attention_backward = backward_of("multihead_attention_forward")(
    multihead_attention_backward)


def positional_encoding(T, D, dtype="float32", xp=None):
    """The sinusoidal position table of "Attention is all you need" (no gradient).

    PE[t, 2i] = sin(t / 10000^(2i/D)), PE[t, 2i+1] = cos(t / 10000^(2i/D)).

    Inputs:
    - T: number of positions; D: feature size (odd D drops the last cosine column)
    - dtype: of the table; xp: array module (default: the chosen backend)

    Returns:
    - pe: (T, D)
    """
    T = val.integer("positional_encoding", "T", T, 0)
    D = val.integer("positional_encoding", "D", D, 1)
    xp = xp or get_backend()
    t = xp.arange(T, dtype="float64")[:, None]  # (T, 1); built once, then cast
    freqs = xp.exp(-math.log(10000.0) * xp.arange(0, D, 2, dtype="float64") / D)  # (ceil(D/2),)
    pe = xp.zeros((T, D), dtype="float64")
    pe[:, 0::2] = xp.sin(t * freqs)
    pe[:, 1::2] = xp.cos(t * freqs[: D // 2])
    return pe.astype(dtype)
