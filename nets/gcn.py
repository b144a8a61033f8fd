"""A two-layer graph convolutional network (Kipf & Welling, ICLR 2017) for semi-supervised
node classification: one graph, every node's features go in, the loss covers the
labelled nodes only.

    scores = adj_norm @ relu(adj_norm @ X @ W1 + b1) @ W2 + b2

The graph (its normalised adjacency) belongs to the model, like a weight that is not
trained; ``loss(X, y)`` follows the model contract with X the node features and y the
labels, -1 marking a node whose label the training may not see.
"""

from __future__ import annotations

import numpy as np

from layers import (graph_conv_backward, graph_conv_forward, relu_backward, relu_forward,
                    softmax_loss)
from layers.backend import default_rng, get_xp, is_array, random_normal, to_xp

from .base import Model
from .fc import _positive_int

__all__ = ["GCN"]


class GCN(Model):
    """graph conv - relu - graph conv - softmax over the labelled nodes.

    Params: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,); weights drawn from
    N(0, weight_scale^2) (Glorot-sized, sqrt(2 / (fan_in + fan_out)), when weight_scale
    is None), biases zero. The L2 term 0.5 * reg * sum(W ** 2) covers W1 and W2
    (``Model.regularize``).

    Inputs:
    - adj_norm: (N, N) normalised adjacency (``layers.normalize_adjacency``), kept as
      ``self.adj_norm`` on the default backend and cast to the net's dtype at each call
    - input_dim D, hidden_dim H, num_classes C

    ``loss(X, y)`` (the ``Model`` composition of the methods below):
    - X: (N, D) node features (the identity for a featureless graph)
    - y: (N,) integer labels in [0, C), -1 for a node whose label training may not see;
      or None for the scores (N, C) of every node
    The loss is the mean softmax loss over the labelled nodes; messages from every node
    still flow, so an unlabelled node's features reach the labelled ones' scores.
    """

    def __init__(self, adj_norm, input_dim, hidden_dim=16, num_classes=2, weight_scale=None,
                 reg=0.0, dtype=np.float32, seed=None):
        super().__init__(dtype, reg)
        name = type(self).__name__
        if not is_array(adj_norm) or adj_norm.ndim != 2 or \
                adj_norm.shape[0] != adj_norm.shape[1]:
            got = getattr(adj_norm, "shape", type(adj_norm).__name__)
            raise ValueError(f"{name}: adj_norm must be a square (N, N) array; got {got}")
        D = _positive_int(name, "input_dim", input_dim)
        H = _positive_int(name, "hidden_dim", hidden_dim)
        C = _positive_int(name, "num_classes", num_classes)
        self.adj_norm = to_xp(adj_norm).astype(self.dtype)  # on the default backend
        xp = get_xp(self.adj_norm)
        rng = default_rng(seed)
        for i, (fan_in, fan_out) in enumerate([(D, H), (H, C)], start=1):
            scale = np.sqrt(2.0 / (fan_in + fan_out)) if weight_scale is None else weight_scale
            self.params[f"W{i}"] = random_normal(rng, (fan_in, fan_out), self.dtype, xp,
                                                 scale=float(scale))
            self.params[f"b{i}"] = xp.zeros(fan_out, dtype=self.dtype)

    def to(self, backend=None) -> "GCN":
        """Move the params and the graph to ``backend`` (see ``Model.to``)."""
        super().to(backend)
        self.adj_norm = to_xp(self.adj_norm, backend)
        return self

    def forward(self, X, train: bool):
        """Scores (N, C) of every node and the cache; X (N, D) in the net's dtype."""
        p = self.params
        N = self.adj_norm.shape[0]
        if X.ndim != 2 or X.shape[0] != N:
            raise ValueError(f"{type(self).__name__}.loss: X must be (N, D) features of the "
                             f"N = {N} nodes of the graph; got {tuple(X.shape)}")
        adj = self.adj_norm.astype(self.dtype, copy=False)  # float64 under check_net
        a1, c1 = graph_conv_forward(X, adj, p["W1"], p["b1"])  # (N, H)
        h, c2 = relu_forward(a1)  # (N, H)
        scores, c3 = graph_conv_forward(h, adj, p["W2"], p["b2"])  # (N, C)
        return scores, (h, c1, c2, c3)

    def backward(self, dscores, cache) -> dict:
        """Grads of W1, b1, W2, b2 from dscores (N, C) (the gradient on adj is dropped:
        the graph is fixed)."""
        _, c1, c2, c3 = cache
        grads = {}
        dh, _, grads["W2"], grads["b2"] = graph_conv_backward(dscores, c3)
        _, _, grads["W1"], grads["b1"] = graph_conv_backward(relu_backward(dh, c2), c1)
        return grads

    def data_loss(self, scores, y):
        """The mean softmax loss over the nodes with y >= 0; dscores (N, C) is zero on the
        rows of the others."""
        xp = get_xp(scores)
        N = scores.shape[0]
        if not is_array(y) or y.shape != (N,) or not xp.issubdtype(y.dtype, xp.integer):
            got = getattr(y, "shape", type(y).__name__)
            raise ValueError(f"{type(self).__name__}.loss: y must be (N,) = ({N},) integer "
                             f"labels, -1 for unlabelled nodes; got {got}")
        labelled = xp.flatnonzero(y >= 0)
        if labelled.size == 0:
            raise ValueError(f"{type(self).__name__}.loss: y labels no node (all -1)")
        loss, dsub = softmax_loss(scores[labelled], y[labelled])  # mean over the labelled
        dscores = xp.zeros_like(scores)
        dscores[labelled] = dsub  # our own array; unlabelled rows get no gradient
        return loss, dscores

    def embed(self, X):
        """The hidden representation relu(adj_norm @ X @ W1 + b1): (N, H)."""
        return self.forward(self._input(X), train=False)[1][0]
