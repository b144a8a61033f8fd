"""Layers over sequences (N, T, ...): word embedding, temporal affine, temporal softmax loss."""

from __future__ import annotations

from . import _validate as v
from ._cache import backward_of, forward_layer
from .backend import get_xp, scatter_add, softmax


@forward_layer
def word_embedding_forward(x, W):
    """Look up the vector of every token: out[n, t] = W[x[n, t]].

    Inputs:
    - x: (N, T) integer token ids, each in [0, V)
    - W: (V, D) word vectors

    Returns a tuple of:
    - out: (N, T, D), W's dtype
    - cache: what word_embedding_backward needs
    """
    fn = "word_embedding_forward"
    v.array(fn, "W", W, ndim=2, what="(V, D)")
    v.integer_array(fn, "x", x, high=W.shape[0], high_name="V", what="(N, T) token ids")
    v.shape(fn, "x", x, (None, None), "(N, T) token ids")
    get_xp(x, W)
    return W[x], (x, W.shape, W.dtype)


@backward_of("word_embedding_forward")
def word_embedding_backward(dout, cache):
    """Backward pass of the word embedding: rows of dout summed into the rows they came from.

    A token that occurs several times gets the sum of all its gradients (a scatter-add;
    ``dW[x] += dout`` would keep only one of them).

    Inputs:
    - dout: (N, T, D) upstream gradient
    - cache: from word_embedding_forward

    Returns:
    - dW: (V, D)
    """
    x, (V, D), dtype = cache
    xp = get_xp(dout, x)
    return scatter_add(xp.zeros((V, D), dtype=dout.dtype), x.reshape(-1), dout.reshape(-1, D))


@forward_layer
def temporal_affine_forward(x, w, b):
    """The same affine map at every time step: out[n, t] = x[n, t] @ w + b.

    Inputs:
    - x: (N, T, D) inputs
    - w: (D, M) weights
    - b: (M,) biases

    Returns a tuple of:
    - out: (N, T, M)
    - cache: what temporal_affine_backward needs
    """
    fn = "temporal_affine_forward"
    v.array(fn, "x", x, ndim=3, what="(N, T, D)")
    w = v.float_param(fn, "w", w, x, ndim=2, what="(D, M)")
    b = v.float_param(fn, "b", b, x, ndim=1, what="(M,)")
    get_xp(x, w, b)
    v.same_dtype(fn, x=x, w=w, b=b)
    N, T, D = x.shape
    v.shape(fn, "w", w, (D, None), f"(D, M) with D = {D} from x")
    v.shape(fn, "b", b, (w.shape[1],), "(M,) to match w")
    out = (x.reshape(N * T, D) @ w).reshape(N, T, w.shape[1])  # (N, T, M); N may be 0
    out += b
    return out, (x, w)


@backward_of("temporal_affine_forward")
def temporal_affine_backward(dout, cache):
    """Backward pass of temporal_affine_forward.

    Inputs:
    - dout: (N, T, M) upstream gradient
    - cache: from temporal_affine_forward

    Returns a tuple of:
    - dx: (N, T, D)
    - dw: (D, M)
    - db: (M,)
    """
    x, w = cache
    N, T, D = x.shape
    d2 = dout.reshape(N * T, w.shape[1])  # (NT, M)
    dx = (d2 @ w.T).reshape(N, T, D)
    return dx, x.reshape(N * T, D).T @ d2, d2.sum(axis=0)


def temporal_softmax_loss(x, y, mask, verbose=False):
    """Softmax loss at every time step where mask is set; summed over time, divided by N.

    loss = -(1/N) sum_{n, t} mask[n, t] * log softmax(x[n, t])[y[n, t]]   (as CS231n)

    Inputs:
    - x: (N, T, V) scores over a vocabulary of size V
    - y: (N, T) integer targets in [0, V) (checked even where masked out)
    - mask: (N, T) bool (True = this step counts); a 0/1 or weight array of numbers is
      also accepted and used as per-step weights
    - verbose: as CS231n's, prints the shape of the flattened gradient

    Returns a tuple of:
    - loss: scalar (0-d array of x's dtype)
    - dx: (N, T, V) gradient of the loss with respect to x
    """
    fn = "temporal_softmax_loss"
    v.array(fn, "x", x, ndim=3, what="(N, T, V) scores")
    v.nonempty(fn, "x", x, "the loss is divided by N, the number of sequences")
    N, T, V = x.shape
    v.integer_array(fn, "y", y, shape=(N, T), high=V, high_name="V",
                    what=f"(N, T) targets, N, T and V from x of shape {(N, T, V)}")
    v.array(fn, "mask", mask, floating=False, what="(N, T)")
    v.shape(fn, "mask", mask, (N, T), "(N, T), like y")
    xp = get_xp(x, y, mask)
    if mask.dtype.kind not in "biuf":  # bool, integers, floats; not complex or objects
        raise TypeError(f"{fn}: mask must be a bool (or real 0/1 weight) array (N, T); got "
                        f"dtype {mask.dtype}")
    w = mask.reshape(N * T, 1).astype(x.dtype)  # (NT, 1) per-step weights
    flat = x.reshape(N * T, V)
    rows = xp.arange(N * T)
    yf = y.reshape(-1)
    probs, lse = softmax(flat, axis=1, with_logsumexp=True)  # (NT, V), (NT, 1)
    nll = lse[:, 0] - flat[rows, yf]  # (NT,)
    inv_n = x.dtype.type(1.0 / N)
    loss = (nll * w[:, 0]).sum() * inv_n
    probs[rows, yf] -= 1
    probs *= w * inv_n
    if verbose:
        print("dx_flat: ", probs.shape)
    return loss, probs.reshape(N, T, V)
