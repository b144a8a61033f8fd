"""Transformer pieces: GELU, the causal mask, a learned positional embedding, and the
pre-norm transformer block (GPT-2's), composed from the kit's layernorm, multi-head
attention, temporal affine and dropout layers.

    a = layernorm(x; ln1_gamma, ln1_beta)                      eps 1e-5, per position
    x = x + dropout(MHA(a, a, a; Wq ... bo, mask))             (dropout on the weights too)
    b = layernorm(x; ln2_gamma, ln2_beta)
    x = x + dropout(gelu(b @ W_ff1 + b_ff1) @ W_ff2 + b_ff2)

Cross-attention (queries from one sequence, keys and values from another) is
``multihead_attention_forward(query, memory, memory, params, num_heads)`` itself.
"""

from __future__ import annotations

import math

from . import validate as val
from ._threads import batch_parts, run_parts
from .attention import MHA_KEYS, multihead_attention_backward, multihead_attention_forward
from ._cache import backward_of, forward_layer
from .backend import default_rng, get_backend, get_xp
from .core import dropout_backward, dropout_forward
from .norm import layernorm_backward, layernorm_forward
from .temporal import temporal_affine_backward, temporal_affine_forward

_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715


@forward_layer
def gelu_forward(x):
    """Forward pass of GELU in the tanh form of GPT-2 (Hendrycks & Gimpel 2016):

        out = 0.5 x (1 + tanh(u)),   u = sqrt(2/pi) (x + 0.044715 x^3)

    computed as x * s with s = 0.5 (1 + tanh(u)) = 1 / (1 + exp(-2u)): the same number,
    without the cancellation of 1 + tanh(u) for u << 0, where float32 would lose every
    digit of the (tiny) output and gradient.

    Inputs:
    - x: float array of any shape

    Returns a tuple of:
    - out: same shape and dtype as x
    - cache: what gelu_backward needs (x, s and exp(-2u))
    """
    val.array("gelu_forward", "x", x, what="(any shape)")
    xp = get_xp(x)
    e = x * x  # -2u, then exp(-2u), in one buffer
    e *= _GELU_A
    e += 1.0
    e *= x
    e *= -2.0 * _GELU_C
    xp.minimum(e, 80.0, out=e)  # exp(80) < float32's max; s there is < 1e-34 anyway
    xp.exp(e, out=e)
    s = e + 1.0
    xp.reciprocal(s, out=s)  # s = sigmoid(2u), accurate on both sides
    return x * s, (x, s, e)


@backward_of("gelu_forward")
def gelu_backward(dout, cache):
    """Backward pass of the tanh GELU: with s = sigmoid(2u) and e = exp(-2u),

        d(x s)/dx = s + x * 2 s (1 - s) * du/dx,   s (1 - s) = e s^2,
        du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2)

    (e s^2 is accurate for both signs of u; 1 - tanh(u)^2 would cancel.)

    Inputs:
    - dout: upstream gradient, the shape of x
    - cache: from gelu_forward

    Returns:
    - dx: the shape of x
    """
    x, s, e = cache  # (dout's shape and dtype are checked by backward_of)
    dx = x * x  # 2 du/dx, times x e s^2, plus s, times dout
    dx *= 3.0 * _GELU_A
    dx += 1.0
    dx *= 2.0 * _GELU_C
    dx *= x
    dx *= s  # before e: e can be ~1e34 where s is ~1e-35
    dx *= e
    dx *= s
    dx += s
    dx *= dout
    return dx


def causal_mask(T, xp=None):
    """The mask of a decoder's self-attention: position t attends to positions <= t.

    Inputs:
    - T: number of positions (int >= 1)
    - xp: array module (default: the chosen backend)

    Returns:
    - mask: (T, T) bool, mask[s, t] = (t <= s); broadcasts over (N, h, T, T)
    """
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"causal_mask: T must be an int >= 1; got {T!r}")
    xp = xp or get_backend()
    return xp.tril(xp.ones((T, T), dtype=bool))


@forward_layer
def positional_embedding_forward(x, W_pos):
    """Add a learned position vector to every position: out[n, t] = x[n, t] + W_pos[t].

    Inputs:
    - x: (N, T, E) float, e.g. token embeddings
    - W_pos: (max_len, E) learned position table, T <= max_len

    Returns a tuple of:
    - out: (N, T, E)
    - cache: what positional_embedding_backward needs
    """
    fn = "positional_embedding_forward"
    val.array(fn, "x", x, ndim=3, what="(N, T, E)")
    W_pos = val.float_param(fn, "W_pos", W_pos, x, ndim=2, what="(max_len, E)")
    get_xp(x, W_pos)
    val.same_dtype(fn, x=x, W_pos=W_pos)
    N, T, E = x.shape
    if W_pos.shape[1] != E or W_pos.shape[0] < T:
        raise ValueError(f"{fn}: W_pos must have shape (max_len, E) with max_len >= T = {T} "
                         f"and E = {E} from x; got {tuple(W_pos.shape)}")
    return x + W_pos[:T], W_pos.shape


@backward_of("positional_embedding_forward")
def positional_embedding_backward(dout, cache):
    """Backward pass of positional_embedding_forward.

    Inputs:
    - dout: (N, T, E) upstream gradient
    - cache: from positional_embedding_forward

    Returns a tuple of:
    - dx: (N, T, E), dout itself (the layer adds a constant to x)
    - dW_pos: (max_len, E), the sum of dout over the batch in its first T rows, 0 below
    """
    max_len, E = cache  # (dout's shape and dtype are checked by backward_of)
    xp = get_xp(dout)
    T = dout.shape[1]
    dW = xp.zeros((max_len, E), dtype=dout.dtype)
    dW[:T] = dout.sum(axis=0)
    return dout, dW


# --- the block --------------------------------------------------------------------------

BLOCK_KEYS = ("ln1_gamma", "ln1_beta", *MHA_KEYS, "ln2_gamma", "ln2_beta",
              "W_ff1", "b_ff1", "W_ff2", "b_ff2")

_LN = {"eps": 1e-5}

# each param's axes: E the model width, F the feed-forward width
_BLOCK_AXES = {"ln1_gamma": "E", "ln1_beta": "E",
               **{k: "EE" if k[0] == "W" else "E" for k in MHA_KEYS},
               "ln2_gamma": "E", "ln2_beta": "E", "W_ff1": "EF", "b_ff1": "F",
               "W_ff2": "FE", "b_ff2": "E"}


def _block_params(fn, x, params, num_heads):
    """The block's params checked against x (N, T, E), integer arrays cast to x's dtype (a
    new dict; the caller's is left alone), and num_heads as an int dividing E."""
    val.keys(fn, "params", params, BLOCK_KEYS)
    E = x.shape[2]
    W_ff1 = val.float_param(fn, "params['W_ff1']", params["W_ff1"], x, ndim=2,
                            what="(E, F)")
    size = {"E": E, "F": W_ff1.shape[1]}
    out = {}
    for k, axes in _BLOCK_AXES.items():
        what = "(" + ", ".join(axes) + (",)" if len(axes) == 1 else ")")
        p = val.float_param(fn, f"params[{k!r}]", params[k], x, ndim=len(axes), what=what)
        val.shape(fn, f"params[{k!r}]", p, tuple(size[a] for a in axes),
                  f"{what} with E = {E} from x, F = {size['F']} from params['W_ff1']")
        out[k] = p
    get_xp(x, *out.values())
    val.same_dtype(fn, x=x, **out)
    num_heads = val.integer(fn, "num_heads", num_heads, 1)
    if E % num_heads:
        raise ValueError(f"{fn}: num_heads must be a positive int dividing E = {E}; got "
                         f"{num_heads}")
    return out, num_heads


def _check_block_mask(fn, x, mask, num_heads):
    """A bool mask broadcastable to the scores (N, h, T, T), T from x (checked here so the
    error names x, not the attention inside)."""
    if mask is None:
        return
    N, T, _ = x.shape
    scores = (N, num_heads, T, T)
    shape = tuple(getattr(mask, "shape", ()))
    ok = len(shape) <= 4 and all(m in (1, s) for m, s in zip(shape[::-1], scores[::-1]))
    if not ok:
        raise ValueError(f"{fn}: mask of shape {shape} does not broadcast to the scores "
                         f"(N, h, T, T) = {scores} (N, T from x of shape {tuple(x.shape)})")


def _dropouts(fn, dropout_param):
    """Three dropout_params (attention weights, attention branch, feed-forward branch) from
    the block's one, or Nones. An int seed becomes one Generator shared by the three, so
    their masks differ and the block stays a fixed function of its seed."""
    if dropout_param is None:
        return None, None, None
    val.keys(fn, "dropout_param", dropout_param, ("p", "mode"))
    if dropout_param["mode"] == "test" or dropout_param["p"] == 1:
        return None, None, None
    sub = dict(dropout_param, seed=default_rng(dropout_param.get("seed")))
    return sub, sub, sub


def layernorm_seq(x, gamma, beta):
    """layernorm_forward (eps 1e-5, the block's) over the last axis of a sequence batch
    x (N, T, E); gamma, beta (E,). Returns (out (N, T, E), cache). Shared by the nets
    built from blocks (final layernorms, the encoder-decoder's decoder blocks)."""
    N, T, E = x.shape
    out, cache = layernorm_forward(x.reshape(N * T, E), gamma, beta, _LN)
    return out.reshape(N, T, E), cache


def layernorm_seq_backward(dout, cache):
    """Backward of layernorm_seq: dout (N, T, E) -> dx (N, T, E), dgamma, dbeta (E,)."""
    N, T, E = dout.shape
    dx, dgamma, dbeta = layernorm_backward(dout.reshape(N * T, E), cache)
    return dx.reshape(N, T, E), dgamma, dbeta


def _maybe_dropout(x, dropout_param):
    return (x, None) if dropout_param is None else dropout_forward(x, dropout_param)


def _maybe_dropout_backward(dout, cache):
    return dout if cache is None else dropout_backward(dout, cache)


@forward_layer
def transformer_block_forward(x, params, num_heads, mask=None, dropout_param=None):
    """Forward pass of a pre-norm transformer block (GPT-2's; see the module doc).

    Inputs:
    - x: (N, T, E) float
    - params: dict with ln1_gamma, ln1_beta (E,); Wq, Wk, Wv, Wo (E, E) and bq, bk, bv,
      bo (E,) as multihead_attention_forward; ln2_gamma, ln2_beta (E,); W_ff1 (E, F),
      b_ff1 (F,), W_ff2 (F, E), b_ff2 (E,)
    - num_heads: h, dividing E
    - mask: optional bool array broadcastable to (N, h, T, T), True = attend (a decoder
      passes causal_mask(T))
    - dropout_param: optional dict of dropout_forward (p = keep probability, mode, seed),
      applied to the attention weights and to both residual branches before the add

    Without dropout, a large batch (N T F >= 2**20) is split over the cores the process
    may use, one Python thread each with BLAS pinned to one thread (``layers._threads``;
    ``layers.set_threads(n)`` forces n parts, ``set_threads(1)`` turns it off): numpy's
    elementwise passes then use every core too. The result is the same up to rounding.

    Returns a tuple of:
    - out: (N, T, E)
    - cache: what transformer_block_backward needs
    """
    fn = "transformer_block_forward"
    val.array(fn, "x", x, ndim=3, what="(N, T, E)")
    params, num_heads = _block_params(fn, x, params, num_heads)
    _check_block_mask(fn, x, mask, num_heads)
    drops = _dropouts(fn, dropout_param)
    N, T, _ = x.shape
    # The automatic mode splits from N T F of 2**20 (work counted as N T F / 2 against
    # AUTO_WORK): below that the hand-off costs what the second core saves (2 cores,
    # fwd+bwd: N T F = 2**19 +3 %, 2**20 -15 %, 2**21 -21 %; benchmarks/README.md).
    work = N * T * params["W_ff1"].shape[1] // 2
    parts = batch_parts(N, x, work=work) if drops[0] is None else [slice(0, N)]
    if len(parts) == 1:
        out, cache = _block_forward(x, params, num_heads, mask, drops)
        return out, (cache,)
    per_example = mask is not None and mask.ndim == 4 and mask.shape[0] == N

    def run(k, part):
        return _block_forward(x[part], params, num_heads,
                              mask[part] if per_example else mask, drops)

    results = run_parts(run, parts)
    out = get_xp(x).concatenate([r[0] for r in results])
    return out, tuple(r[1] for r in results)


def _block_forward(x, params, num_heads, mask, drops):
    drop_attn, drop_res1, drop_res2 = drops
    a, ln1 = layernorm_seq(x, params["ln1_gamma"], params["ln1_beta"])  # (N, T, E)
    mha_params = {k: params[k] for k in MHA_KEYS}
    att, mha = multihead_attention_forward(a, a, a, mha_params, num_heads, mask, drop_attn)
    att, d1 = _maybe_dropout(att, drop_res1)
    x1 = x + att  # (N, T, E), the residual stream
    b, ln2 = layernorm_seq(x1, params["ln2_gamma"], params["ln2_beta"])
    h, ff1 = temporal_affine_forward(b, params["W_ff1"], params["b_ff1"])  # (N, T, F)
    g, gelu = gelu_forward(h)
    f, ff2 = temporal_affine_forward(g, params["W_ff2"], params["b_ff2"])  # (N, T, E)
    f, d2 = _maybe_dropout(f, drop_res2)
    out = x1 + f
    return out, (ln1, mha, d1, ln2, ff1, gelu, ff2, d2)


@backward_of("transformer_block_forward")
def transformer_block_backward(dout, cache):
    """Backward pass of transformer_block_forward.

    Inputs:
    - dout: (N, T, E) upstream gradient
    - cache: from transformer_block_forward

    Returns a tuple of:
    - dx: (N, T, E)
    - dparams: dict keyed like params
    """
    # (dout's shape and dtype are checked by backward_of; the cache is one part's per
    # thread of the forward's batch split)
    if len(cache) == 1:
        return _block_backward(dout, cache[0])
    sizes = [c[1][0].shape[0] for c in cache]  # each part's N, from MHA's query
    starts = [sum(sizes[:k]) for k in range(len(sizes) + 1)]
    results = run_parts(lambda k, part: _block_backward(dout[part], cache[k]),
                        [slice(a, b) for a, b in zip(starts[:-1], starts[1:])])
    dx = get_xp(dout).concatenate([r[0] for r in results])
    dparams = results[0][1]
    for _, more in results[1:]:
        for k in dparams:
            dparams[k] += more[k]  # our own arrays, from the parts' backwards
    return dx, dparams


def _block_backward(dout, cache):
    ln1, mha, d1, ln2, ff1, gelu, ff2, d2 = cache
    df = _maybe_dropout_backward(dout, d2)
    dg, dW_ff2, db_ff2 = temporal_affine_backward(df, ff2)
    dh = gelu_backward(dg, gelu)
    db, dW_ff1, db_ff1 = temporal_affine_backward(dh, ff1)
    dx1, dln2_gamma, dln2_beta = layernorm_seq_backward(db, ln2)
    dx1 += dout  # the residual path
    datt = _maybe_dropout_backward(dx1, d1)
    dq, dk, dv, dparams = multihead_attention_backward(datt, mha)
    da = dq
    da += dk  # dq is the backward's own array: adding into it writes nothing of ours
    da += dv
    dx, dln1_gamma, dln1_beta = layernorm_seq_backward(da, ln1)
    dx += dx1
    dparams.update(ln1_gamma=dln1_gamma, ln1_beta=dln1_beta, ln2_gamma=dln2_gamma,
                   ln2_beta=dln2_beta, W_ff1=dW_ff1, b_ff1=db_ff1, W_ff2=dW_ff2,
                   b_ff2=db_ff2)
    return dx, {k: dparams[k] for k in BLOCK_KEYS}
