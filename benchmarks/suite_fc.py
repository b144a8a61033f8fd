"""Fully connected layers against PyTorch CPU on the same shapes (float32 by default).

    python -m benchmarks.harness fc [--rounds 5] [--threads 2] [--only NAME]

Workloads:
- affine_relu: affine_relu_forward/backward, (256, 3072) @ (3072, 1024) + b, then relu;
  torch: relu(addmm(b, x, w)) with x, w, b requiring grad.
- batchnorm: batchnorm_forward (train mode) + batchnorm_backward_alt on (256, 1024);
  torch: F.batch_norm(training=True) with running statistics.
- softmax_loss: softmax_loss on (4096, 1000) scores (the loss and its gradient in one
  call); torch: F.cross_entropy forward and backward.
- batchnorm_backward: the two layerkit backwards on the same cache, alt against the
  staged one (the reference), backward alone and forward+backward.

Every fwd+bwd call computes all gradients fresh (torch's .grad fields are reset, so no
accumulation pass is timed), from a fixed upstream gradient made in setup.
"""

from __future__ import annotations

from benchmarks.harness import Workload

N_AFF, D_AFF, M_AFF = 256, 3072, 1024
N_BN, D_BN = 256, 1024
N_SM, C_SM = 4096, 1000


def _np_arrays(dtype, *shapes, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _torch_tensors(dtype, *shapes, seed=0, grad=()):
    """The same values as _np_arrays, as torch tensors; indices in ``grad`` require grad."""
    import torch

    arrays = _np_arrays(dtype, *shapes, seed=seed)
    out = [torch.from_numpy(a) for a in arrays]
    for i in grad:
        out[i].requires_grad_(True)
    return out


def _clear(*tensors):
    for t in tensors:
        t.grad = None


# --- affine + relu --------------------------------------------------------------------


def affine_relu_layerkit(dtype):
    from layers import affine_relu_backward, affine_relu_forward

    x, w, b, dout = _np_arrays(dtype, (N_AFF, D_AFF), (D_AFF, M_AFF), (M_AFF,),
                               (N_AFF, M_AFF))
    w *= 0.02  # keep about half the units active

    def fwd_bwd():
        _, cache = affine_relu_forward(x, w, b)
        return affine_relu_backward(dout, cache)

    return {"fwd": lambda: affine_relu_forward(x, w, b), "fwd+bwd": fwd_bwd}


def affine_relu_torch(dtype):
    import torch

    x, w, b, dout = _torch_tensors(dtype, (N_AFF, D_AFF), (D_AFF, M_AFF), (M_AFF,),
                                   (N_AFF, M_AFF), grad=(0, 1, 2))
    with torch.no_grad():
        w *= 0.02

    def fwd():
        return torch.relu(torch.addmm(b, x, w))

    def fwd_bwd():
        _clear(x, w, b)
        torch.relu(torch.addmm(b, x, w)).backward(dout)

    return {"fwd": fwd, "fwd+bwd": fwd_bwd}


# --- batchnorm ------------------------------------------------------------------------


def _bn_layerkit(dtype, backward_name):
    import layers

    backward = getattr(layers, backward_name)
    x, gamma, beta, dout = _np_arrays(dtype, (N_BN, D_BN), (D_BN,), (D_BN,), (N_BN, D_BN))
    param = {"mode": "train"}

    def fwd():
        return layers.batchnorm_forward(x, gamma, beta, param)

    def fwd_bwd():
        _, cache = layers.batchnorm_forward(x, gamma, beta, param)
        return backward(dout, cache)

    _, cache = fwd()
    return {"fwd": fwd, "bwd": lambda: backward(dout, cache), "fwd+bwd": fwd_bwd}


def batchnorm_layerkit(dtype):
    ops = _bn_layerkit(dtype, "batchnorm_backward_alt")
    del ops["bwd"]
    return ops


def batchnorm_torch(dtype):
    import torch
    import torch.nn.functional as F

    x, gamma, beta, dout = _torch_tensors(dtype, (N_BN, D_BN), (D_BN,), (D_BN,),
                                          (N_BN, D_BN), grad=(0, 1, 2))
    rm, rv = torch.zeros(D_BN, dtype=x.dtype), torch.ones(D_BN, dtype=x.dtype)

    def fwd():
        return F.batch_norm(x, rm, rv, gamma, beta, training=True, momentum=0.1, eps=1e-5)

    def fwd_bwd():
        _clear(x, gamma, beta)
        fwd().backward(dout)

    return {"fwd": fwd, "fwd+bwd": fwd_bwd}


# --- softmax loss ---------------------------------------------------------------------


def softmax_layerkit(dtype):
    import numpy as np

    from layers import softmax_loss

    (x,) = _np_arrays(dtype, (N_SM, C_SM))
    y = np.random.default_rng(1).integers(0, C_SM, N_SM)
    return {"fwd+bwd": lambda: softmax_loss(x, y)}


def softmax_torch(dtype):
    import numpy as np
    import torch
    import torch.nn.functional as F

    (x,) = _torch_tensors(dtype, (N_SM, C_SM), grad=(0,))
    y = torch.from_numpy(np.random.default_rng(1).integers(0, C_SM, N_SM))

    def fwd_bwd():
        _clear(x)
        F.cross_entropy(x, y).backward()

    return {"fwd+bwd": fwd_bwd}


WORKLOADS = [
    Workload(
        name="affine_relu", shape=f"N={N_AFF} D={D_AFF} M={M_AFF}",
        flops=2 * N_AFF * D_AFF * M_AFF,
        sides={"layerkit": affine_relu_layerkit, "torch": affine_relu_torch},
        reference="torch", note="goal: fwd+bwd <= 1.05x torch",
    ),
    Workload(
        name="batchnorm", shape=f"({N_BN}, {D_BN}) train",
        sides={"layerkit": batchnorm_layerkit, "torch": batchnorm_torch},
        reference="torch", note="layerkit backward: batchnorm_backward_alt; goal <= 2.5x",
    ),
    Workload(
        name="softmax_loss", shape=f"({N_SM}, {C_SM})",
        sides={"layerkit": softmax_layerkit, "torch": softmax_torch},
        reference="torch", note="goal: fwd+bwd <= 2.0x torch",
    ),
    Workload(
        name="batchnorm_backward", shape=f"({N_BN}, {D_BN}) train",
        sides={"alt": lambda dt: _bn_layerkit(dt, "batchnorm_backward_alt"),
               "staged": lambda dt: _bn_layerkit(dt, "batchnorm_backward")},
        reference="staged", note="batchnorm_backward_alt vs batchnorm_backward",
    ),
]
