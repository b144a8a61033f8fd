"""Graph convolution (Kipf & Welling, ICLR 2017): one layer of a GCN, forward and backward,
and the symmetric normalisation of an adjacency matrix it runs on.

A layer mixes each node's features with its neighbours' through a fixed, normalised
adjacency, then applies a shared linear map: out = adj_norm @ x @ w + b. With
adj_norm = D^-1/2 (A + I) D^-1/2 (``normalize_adjacency``), a node's new feature is a
degree-weighted average over itself and its neighbours, and stacking k layers reaches
k hops.
"""

from __future__ import annotations

from . import validate as v
from ._cache import backward_of, forward_layer
from .backend import get_xp


def normalize_adjacency(adj, add_self_loops: bool = True):
    """The symmetric normalisation of Kipf & Welling: D^-1/2 (A + I) D^-1/2.

    D is the diagonal degree matrix of A + I (row sums). A node with no edge and no self
    loop (degree 0, only when ``add_self_loops`` is False) gets a zero row and column
    instead of a division by zero.

    Inputs:
    - adj: (N, N) float adjacency, non-negative, usually symmetric and 0/1 (weights are
      allowed: the degrees are then weighted degrees)
    - add_self_loops: add the identity before normalising (the renormalisation trick)

    Returns:
    - adj_norm: (N, N), adj's dtype; a new array (adj is not written to)
    """
    fn = "normalize_adjacency"
    v.array(fn, "adj", adj, ndim=2, what="(N, N) adjacency")
    N = adj.shape[0]
    v.shape(fn, "adj", adj, (N, N), "(a square (N, N) adjacency)")
    xp = get_xp(adj)
    if N and float(adj.min()) < 0:
        raise ValueError(f"{fn}: adj must be non-negative (edge weights); got a minimum "
                         f"of {float(adj.min())}")
    a = adj + xp.eye(N, dtype=adj.dtype) if add_self_loops else adj.copy()  # (N, N), ours
    deg = a.sum(axis=1)  # (N,)
    inv_sqrt = xp.zeros_like(deg)
    nz = deg > 0
    inv_sqrt[nz] = 1 / xp.sqrt(deg[nz])  # degree 0: an isolated node stays 0, no inf
    a *= inv_sqrt[:, None]
    a *= inv_sqrt[None, :]
    return a


@forward_layer
def graph_conv_forward(x, adj_norm, w, b):
    """Forward pass of a graph convolution: out = adj_norm @ (x @ w) + b.

    x @ w is taken first: the hidden width M is usually no larger than the input width D
    (featureless graphs use the identity, D = N), so the (N, N) product runs on the
    narrower matrix.

    Inputs:
    - x: (N, D) node features, one row per node
    - adj_norm: (N, N) normalised adjacency (see ``normalize_adjacency``); any real
      matrix works, and the backward gives its gradient too
    - w: (D, M) weights shared by every node
    - b: (M,) biases

    Returns a tuple of:
    - out: (N, M), the dtype of the inputs
    - cache: what graph_conv_backward needs
    """
    fn = "graph_conv_forward"
    v.array(fn, "x", x, ndim=2, what="(N, D) node features")
    adj_norm = v.float_param(fn, "adj_norm", adj_norm, x, ndim=2,
                             what="(N, N) normalised adjacency")
    w = v.float_param(fn, "w", w, x, ndim=2, what="(D, M)")
    b = v.float_param(fn, "b", b, x, ndim=1, what="(M,)")
    get_xp(x, adj_norm, w, b)
    v.same_dtype(fn, x=x, adj_norm=adj_norm, w=w, b=b)
    N, D = x.shape
    v.shape(fn, "adj_norm", adj_norm, (N, N), f"(N, N) with N = {N} nodes, x's rows")
    v.shape(fn, "w", w, (D, None), f"(D, M) with D = {D}, x's columns")
    v.shape(fn, "b", b, (w.shape[1],), "(M,) to match w")
    xw = x @ w  # (N, M)
    out = adj_norm @ xw  # (N, M)
    out += b
    return out, (x, adj_norm, w, xw)


@backward_of("graph_conv_forward")
def graph_conv_backward(dout, cache):
    """Backward pass of the graph convolution.

    Inputs:
    - dout: (N, M) upstream gradient
    - cache: from graph_conv_forward

    Returns a tuple of:
    - dx: (N, D)
    - dadj: (N, N), the gradient on adj_norm (for learnt edge weights; a fixed graph
      ignores it)
    - dw: (D, M)
    - db: (M,)
    """
    x, adj_norm, w, xw = cache  # (dout's shape and dtype are checked by backward_of)
    dxw = adj_norm.T @ dout  # (N, M): the gradient on x @ w
    dx = dxw @ w.T  # (N, D)
    dadj = dout @ xw.T  # (N, N)
    dw = x.T @ dxw  # (D, M)
    db = dout.sum(axis=0)  # (M,)
    return dx, dadj, dw, db
