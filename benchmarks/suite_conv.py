"""Conv / pool / spatial batchnorm workloads for benchmarks/harness.py.

    python -m benchmarks.harness conv --rounds 5 --threads 2

Sides: "layerkit" (the fast layers, default settings: a large call splits its batch over
Python threads, BLAS pinned to one thread each, see ``layers._threads``),
"layerkit_nosplit" (the same with ``layers.set_threads(1)``: one Python thread, BLAS on
all its threads), "torch" (torch.nn.functional on the same shapes and threads, autograd
recording, x gets a gradient as in CS231n) and, on the small cases, "naive" (the loop
references). Each op callable does exactly one forward, or one forward + backward,
on inputs made once in setup.
"""

from __future__ import annotations

import numpy as np

from benchmarks.harness import Workload

CONV = {  # name: (N, C, H, W, F, K, stride, pad)
    "conv_c3_k3": (64, 3, 32, 32, 32, 3, 1, 1),
    "conv_c32_k3": (64, 32, 16, 16, 64, 3, 1, 1),
    "conv_c3_k7": (50, 3, 32, 32, 32, 7, 1, 3),
    "conv_cs231n": (100, 3, 31, 31, 25, 3, 2, 1),  # CS231n's fast-vs-naive test layer
}
POOL_SHAPE = (64, 32, 32, 32)
BN_SHAPE = (64, 32, 32, 32)


def _out_side(H, K, stride, pad):
    return (H + 2 * pad - K) // stride + 1


def _conv_arrays(name, dtype):
    N, C, H, W, F, K, s, p = CONV[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = (0.1 * rng.standard_normal((F, C, K, K))).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    OH, OW = _out_side(H, K, s, p), _out_side(W, K, s, p)
    dout = rng.standard_normal((N, F, OH, OW)).astype(dtype)
    return x, w, b, dout, {"stride": s, "pad": p}


def _conv_layerkit(name, naive=False, threads=None):
    def setup(dtype):
        from layers import (conv_backward_fast, conv_backward_naive, conv_forward_fast,
                            conv_forward_naive, set_threads)
        set_threads(threads)  # None: the default (automatic split)
        fwd, bwd = ((conv_forward_naive, conv_backward_naive) if naive
                    else (conv_forward_fast, conv_backward_fast))
        x, w, b, dout, cp = _conv_arrays(name, dtype)

        def fwd_bwd():
            _, cache = fwd(x, w, b, cp)
            return bwd(dout, cache)

        return {"fwd": lambda: fwd(x, w, b, cp), "fwd+bwd": fwd_bwd}
    return setup


def _torch_leaves(torch, *arrays, grad=True):
    return [torch.from_numpy(a).requires_grad_(grad) for a in arrays]


def _conv_torch(name):
    def setup(dtype):
        import torch
        import torch.nn.functional as tf
        x, w, b, dout, cp = _conv_arrays(name, dtype)
        xt, wt, bt = _torch_leaves(torch, x, w, b)
        dt = torch.from_numpy(dout)

        def fwd():
            return tf.conv2d(xt, wt, bt, stride=cp["stride"], padding=cp["pad"])

        def fwd_bwd():
            for t in (xt, wt, bt):
                t.grad = None  # fresh gradients each call, like the numpy side
            fwd().backward(dt)

        return {"fwd": fwd, "fwd+bwd": fwd_bwd}
    return setup


def _pool_arrays(dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(POOL_SHAPE).astype(dtype)
    N, C, H, W = POOL_SHAPE
    dout = rng.standard_normal((N, C, H // 2, W // 2)).astype(dtype)
    return x, dout, {"pool_height": 2, "pool_width": 2, "stride": 2}


def _pool_layerkit(naive=False):
    def setup(dtype):
        from layers import (max_pool_backward_fast, max_pool_backward_naive,
                            max_pool_forward_fast, max_pool_forward_naive)
        fwd, bwd = ((max_pool_forward_naive, max_pool_backward_naive) if naive
                    else (max_pool_forward_fast, max_pool_backward_fast))
        x, dout, pp = _pool_arrays(dtype)

        def fwd_bwd():
            _, cache = fwd(x, pp)
            return bwd(dout, cache)

        return {"fwd": lambda: fwd(x, pp), "fwd+bwd": fwd_bwd}
    return setup


def _pool_torch(dtype):
    import torch
    import torch.nn.functional as tf
    x, dout, _ = _pool_arrays(dtype)
    (xt,) = _torch_leaves(torch, x)
    dt = torch.from_numpy(dout)

    def fwd_bwd():
        xt.grad = None
        tf.max_pool2d(xt, 2, 2).backward(dt)

    return {"fwd": lambda: tf.max_pool2d(xt, 2, 2), "fwd+bwd": fwd_bwd}


def _bn_arrays(dtype):
    rng = np.random.default_rng(2)
    x = (1 + 2 * rng.standard_normal(BN_SHAPE)).astype(dtype)
    C = BN_SHAPE[1]
    gamma = (1 + 0.1 * rng.standard_normal(C)).astype(dtype)
    beta = rng.standard_normal(C).astype(dtype)
    dout = rng.standard_normal(BN_SHAPE).astype(dtype)
    return x, gamma, beta, dout


def _bn_layerkit(dtype):
    from layers import spatial_batchnorm_backward, spatial_batchnorm_forward
    x, gamma, beta, dout = _bn_arrays(dtype)
    C = BN_SHAPE[1]
    bn_param = {"mode": "train", "running_mean": np.zeros(C, dtype),
                "running_var": np.ones(C, dtype)}

    def fwd_bwd():
        _, cache = spatial_batchnorm_forward(x, gamma, beta, bn_param)
        return spatial_batchnorm_backward(dout, cache)

    return {"fwd": lambda: spatial_batchnorm_forward(x, gamma, beta, bn_param),
            "fwd+bwd": fwd_bwd}


def _bn_torch(dtype):
    import torch
    import torch.nn.functional as tf
    x, gamma, beta, dout = _bn_arrays(dtype)
    xt, gt, bt = _torch_leaves(torch, x, gamma, beta)
    C = BN_SHAPE[1]
    rm, rv = torch.zeros(C, dtype=xt.dtype), torch.ones(C, dtype=xt.dtype)  # updated too
    dt = torch.from_numpy(dout)

    def fwd():
        return tf.batch_norm(xt, rm, rv, gt, bt, training=True, momentum=0.1, eps=1e-5)

    def fwd_bwd():
        for t in (xt, gt, bt):
            t.grad = None
        fwd().backward(dt)

    return {"fwd": fwd, "fwd+bwd": fwd_bwd}


def _conv_flops(name):
    N, C, H, W, F, K, s, p = CONV[name]
    return 2.0 * N * F * _out_side(H, K, s, p) * _out_side(W, K, s, p) * C * K * K


def _conv_shape(name):
    N, C, H, W, F, K, s, p = CONV[name]
    return f"x ({N},{C},{H},{W}) w ({F},{C},{K},{K}) stride {s} pad {p}"


WORKLOADS = [
    *[Workload(name=n, shape=_conv_shape(n), flops=_conv_flops(n),
               sides={"layerkit": _conv_layerkit(n),
                      "layerkit_nosplit": _conv_layerkit(n, threads=1),
                      "torch": _conv_torch(n)},
               reference="torch")
      for n in ("conv_c3_k3", "conv_c32_k3", "conv_c3_k7")],
    Workload(name="maxpool_2x2", shape="x (64,32,32,32), 2x2 stride 2",
             sides={"layerkit": _pool_layerkit(), "naive": _pool_layerkit(naive=True),
                    "torch": _pool_torch},
             reference="torch"),
    Workload(name="spatial_batchnorm", shape="x (64,32,32,32), train mode",
             sides={"layerkit": _bn_layerkit, "torch": _bn_torch}, reference="torch"),
    # the small case for the naive loops; the ratio here is naive / fast
    Workload(name="conv_cs231n", shape=_conv_shape("conv_cs231n"),
             flops=_conv_flops("conv_cs231n"),
             sides={"layerkit": _conv_layerkit("conv_cs231n"),
                    "naive": _conv_layerkit("conv_cs231n", naive=True),
                    "torch": _conv_torch("conv_cs231n")},
             reference="layerkit",
             note="reference is the fast layer: the naive ratio is the speed-up"),
]
