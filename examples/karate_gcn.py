"""Semi-supervised node classification with a graph convolutional network (Kipf & Welling
2017) on Zachary's karate club: two labelled members, one per faction, and the graph.

    pip install -e '.[graph]'          # networkx, which ships the karate club
    python examples/karate_gcn.py [--out runs/examples/karate_gcn] [--seeds 1]

The club (34 members, 78 friendships) split in two after a dispute between the
instructor, Mr. Hi (node 0), and the officer (node 33); networkx stores each member's
side in the ``club`` attribute. The GCN sees every node's place in the graph (featureless
nodes: X is the identity) and only the labels of nodes 0 and 33; it prints its accuracy
on the other 32 and writes
- graph.png: the club drawn with each member coloured by the predicted faction (true
  faction as the outline, the two labelled nodes as squares);
- embedding.png: each member's hidden representation (the 32 hidden units of the first
  graph convolution, projected on their first two principal components), coloured by
  the true faction.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from layers import normalize_adjacency  # noqa: E402
from nets import GCN  # noqa: E402
from optim import adam  # noqa: E402

FACTIONS = ("Mr. Hi", "Officer")
COLORS = ("tab:blue", "tab:orange")


def karate():
    """(graph, adjacency (34, 34) float32 0/1, labels (34,) int64: 0 Mr. Hi, 1 Officer)."""
    try:
        import networkx as nx
    except ImportError:
        raise SystemExit("karate_gcn.py needs networkx: pip install -e '.[graph]'") from None
    G = nx.karate_club_graph()
    A = nx.to_numpy_array(G, nodelist=range(len(G)), weight=None, dtype=np.float32)
    y = np.array([FACTIONS.index(G.nodes[i]["club"]) for i in range(len(G))], np.int64)
    return G, A, y


def train_gcn(A, y, labelled=(0, 33), hidden=32, iters=200, lr=1e-2, reg=5e-4, seed=0):
    """A two-layer GCN trained by full-batch Adam on the labels of ``labelled`` only.

    Returns (model, X, seconds): X is the identity features the model was trained on."""
    N = A.shape[0]
    model = GCN(normalize_adjacency(A), input_dim=N, hidden_dim=hidden,
                num_classes=int(y.max()) + 1, reg=reg, seed=seed)
    X = np.eye(N, dtype=np.float32)  # featureless: each node is its own one-hot
    y_seen = np.full(N, -1, np.int64)  # -1: the training never sees this label
    y_seen[list(labelled)] = y[list(labelled)]
    configs = {k: {"learning_rate": lr} for k in model.params}
    start = time.perf_counter()
    for _ in range(iters):
        _, grads = model.loss(X, y_seen)
        for k in model.params:
            model.params[k], configs[k] = adam(model.params[k], grads[k], configs[k])
    return model, X, time.perf_counter() - start


def pca2(H):
    """The rows of H (N, K) projected on their first two principal components: (N, 2)."""
    Hc = H - H.mean(axis=0)
    _, _, Vt = np.linalg.svd(Hc, full_matrices=False)
    return Hc @ Vt[:2].T


def draw(G, y, pred, labelled, path):
    import networkx as nx

    pos = nx.spring_layout(G, seed=7)
    fig, ax = plt.subplots(figsize=(7, 5.5))
    nx.draw_networkx_edges(G, pos, ax=ax, alpha=0.3)
    for shape, nodes in (("o", [i for i in G if i not in labelled]), ("s", list(labelled))):
        nx.draw_networkx_nodes(G, pos, nodelist=nodes, node_shape=shape, ax=ax,
                               node_size=380 if shape == "o" else 480,
                               node_color=[COLORS[pred[i]] for i in nodes],
                               edgecolors=[COLORS[y[i]] for i in nodes], linewidths=2.5)
    nx.draw_networkx_labels(G, pos, ax=ax, font_size=8)
    wrong = [i for i in G if pred[i] != y[i]]
    for f, c in zip(FACTIONS, COLORS):
        ax.scatter([], [], color=c, s=80, label=f"predicted {f}")
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    ax.set_title(f"GCN on the karate club: squares labelled, fill = prediction, ring = "
                 f"truth\nwrong: {wrong or 'none'}", fontsize=10)
    ax.axis("off")
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def draw_embedding(Z, y, labelled, path, title):
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for c, (f, color) in enumerate(zip(FACTIONS, COLORS)):
        m = y == c
        ax.scatter(Z[m, 0], Z[m, 1], color=color, s=40, label=f"{f} (true)")
    for i in range(len(y)):
        ax.annotate(str(i), Z[i], fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.scatter(Z[list(labelled), 0], Z[list(labelled), 1], s=160, facecolors="none",
               edgecolors="k", label="labelled")
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper center")
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/examples/karate_gcn", help="folder for the PNGs")
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--iters", type=int, default=200, help="full-batch Adam steps")
    ap.add_argument("--seed", type=int, default=0, help="initial weights of the drawn run")
    ap.add_argument("--seeds", type=int, default=1,
                    help="also train this many seeds (seed, seed+1, ...) and print the spread")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    G, A, y = karate()
    labelled = (0, 33)
    other = np.setdiff1d(np.arange(len(y)), labelled)
    accs = []
    for s in range(args.seed, args.seed + max(args.seeds, 1)):
        model, X, seconds = train_gcn(A, y, labelled, args.hidden, args.iters, seed=s)
        pred = np.asarray(model.loss(X)).argmax(axis=1)
        accs.append(float(np.mean(pred[other] == y[other])))
        if s == args.seed:
            first = (model, X, pred, seconds)
    model, X, pred, seconds = first
    print(f"accuracy on the {len(other)} unlabelled members: {accs[0]:.3f} "
          f"({int(round(accs[0] * len(other)))}/{len(other)}; misclassified: "
          f"{[int(i) for i in other[pred[other] != y[other]]]}; {args.iters} Adam steps, "
          f"{seconds:.2f} s)")
    if len(accs) > 1:
        print(f"over {len(accs)} seeds: mean {np.mean(accs):.3f}, min {min(accs):.3f}, "
              f"max {max(accs):.3f}")
    draw(G, y, pred, labelled, os.path.join(args.out, "graph.png"))
    Z = pca2(np.asarray(model.embed(X), np.float64))
    draw_embedding(Z, y, labelled, os.path.join(args.out, "embedding.png"),
                   f"hidden layer ({args.hidden} units) of the trained GCN, first two "
                   "principal components")
    print(f"wrote {args.out}/graph.png and {args.out}/embedding.png")


if __name__ == "__main__":
    main()
