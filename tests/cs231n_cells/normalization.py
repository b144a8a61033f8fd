# ruff: noqa: F403, F405, E731  (the notebooks star-import layers and name lambdas)
"""BatchNormalization.ipynb (sources in the package docstring)."""

from __future__ import annotations

import numpy as np

from gradcheck import eval_numerical_gradient_array
from layers import *  # the notebooks: from cs231n.layers import *
from nets import FullyConnectedNet

from ._harness import Check, Notebook, grad_errors, mean_std


# --- BatchNormalization.ipynb ---------------------------------------------------------




def batch_normalization() -> list[Check]:
    nb = Notebook("BatchNormalization")
    printed = 1e-8  # numbers printed with 8 decimals: half a unit of the last digit

    # Check the training-time forward pass ("Means should be close to zero and stds close
    # to one"; "Now means should be close to beta and stds close to gamma"): the printed
    # numbers of 2019.
    np.random.seed(231)
    N, D1, D2, D3 = 200, 50, 60, 3
    X = np.random.randn(N, D1)
    W1 = np.random.randn(D1, D2)
    W2 = np.random.randn(D2, D3)
    a = np.maximum(0, X.dot(W1)).dot(W2)
    mean_std(nb, "before batchnorm", a, 0, [-2.3814598, -13.18038246, 1.91780462],
              [27.18502186, 34.21455511, 37.68611762], 1e-6)
    gamma = np.ones((D3,))
    beta = np.zeros((D3,))
    a_norm, _ = batchnorm_forward(a, gamma, beta, {'mode': 'train'})
    mean_std(nb, "after batchnorm (gamma=1, beta=0)", a_norm, 0, [0.0, 0.0, 0.0],
              [0.99999999, 1.0, 1.0], printed)
    gamma = np.asarray([1.0, 2.0, 3.0])
    beta = np.asarray([11.0, 12.0, 13.0])
    a_norm, _ = batchnorm_forward(a, gamma, beta, {'mode': 'train'})
    mean_std(nb, "after batchnorm (gamma=[1 2 3], beta=[11 12 13])", a_norm, 0,
              [11.0, 12.0, 13.0], [0.99999999, 1.99999999, 2.99999999], printed)

    # Check the test-time forward pass (50 training passes warm the running averages up,
    # from CS231n's zero start): the printed 2019 numbers.
    np.random.seed(231)
    N, D1, D2, D3 = 200, 50, 60, 3
    W1 = np.random.randn(D1, D2)
    W2 = np.random.randn(D2, D3)
    bn_param = {'mode': 'train'}
    gamma = np.ones(D3)
    beta = np.zeros(D3)
    for _t in range(50):
        X = np.random.randn(N, D1)
        a = np.maximum(0, X.dot(W1)).dot(W2)
        batchnorm_forward(a, gamma, beta, bn_param)
    bn_param['mode'] = 'test'
    X = np.random.randn(N, D1)
    a = np.maximum(0, X.dot(W1)).dot(W2)
    a_norm, _ = batchnorm_forward(a, gamma, beta, bn_param)
    mean_std(nb, "after batchnorm (test-time)", a_norm, 0,
              [-0.03927354, -0.04349152, -0.10452688], [1.01531428, 1.01238373, 0.97819988],
              printed)

    # Gradient check batchnorm backward pass. "relative errors between 1e-13 and 1e-8"
    np.random.seed(231)
    N, D = 4, 5
    x = 5 * np.random.randn(N, D) + 12
    gamma = np.random.randn(D)
    beta = np.random.randn(D)
    dout = np.random.randn(N, D)
    bn_param = {'mode': 'train'}
    fx = lambda x: batchnorm_forward(x, gamma, beta, bn_param)[0]
    fg = lambda a: batchnorm_forward(x, a, beta, bn_param)[0]
    fb = lambda b: batchnorm_forward(x, gamma, b, bn_param)[0]
    dx_num = eval_numerical_gradient_array(fx, x, dout)
    da_num = eval_numerical_gradient_array(fg, gamma.copy(), dout)
    db_num = eval_numerical_gradient_array(fb, beta.copy(), dout)
    _, cache = batchnorm_forward(x, gamma, beta, bn_param)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    nb.errors_below("batchnorm_backward", {"dx": (dx_num, dx), "dgamma": (da_num, dgamma),
                                           "dbeta": (db_num, dbeta)}, 1e-8)

    # Alternative backward: "Your two implementations should compute nearly identical
    # results" (printed: dx 1.3e-12, dgamma 0.0, dbeta 0.0).
    np.random.seed(231)
    N, D = 100, 500
    x = 5 * np.random.randn(N, D) + 12
    gamma = np.random.randn(D)
    beta = np.random.randn(D)
    dout = np.random.randn(N, D)
    bn_param = {'mode': 'train'}
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    dx1, dgamma1, dbeta1 = batchnorm_backward(dout, cache)
    dx2, dgamma2, dbeta2 = batchnorm_backward_alt(dout, cache)
    nb.errors_below("batchnorm_backward_alt", {"dx": (dx1, dx2), "dgamma": (dgamma1, dgamma2),
                                               "dbeta": (dbeta1, dbeta2)}, 1e-10)

    # Fully connected nets with batch normalization. "You should expect losses between
    # 1e-4~1e-10 for W, losses between 1e-08~1e-10 for b, and losses between 1e-08~1e-09
    # for beta and gammas." Initial losses printed (2019).
    np.random.seed(231)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    printed_loss = {0: 2.2611955101340957, 3.14: 6.996533220108303}
    for reg in [0, 3.14]:
        model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C,
                                  reg=reg, weight_scale=5e-2, dtype=np.float64,
                                  normalization='batchnorm')
        loss, grads = model.loss(X, y)
        nb.near(f"FC batchnorm reg={reg} Initial loss", loss, printed_loss[reg], 1e-12)
        grad_errors(nb, f"FC batchnorm reg={reg}", model, X, y,
                     lambda name: 1e-3 if name.startswith("W") else 1e-7)

    # Layer normalization forward ("Means should be close to zero and stds close to one";
    # "close to beta ... close to gamma"): printed 2019 numbers (ctttt1119).
    np.random.seed(231)
    N, D1, D2, D3 = 4, 50, 60, 3
    X = np.random.randn(N, D1)
    W1 = np.random.randn(D1, D2)
    W2 = np.random.randn(D2, D3)
    a = np.maximum(0, X.dot(W1)).dot(W2)
    mean_std(nb, "before layernorm", a, 1,
              [-59.06673243, -47.60782686, -43.31137368, -26.40991744],
              [10.07429373, 28.39478981, 35.28360729, 4.01831507], 1e-6)
    gamma = np.ones(D3)
    beta = np.zeros(D3)
    a_norm, _ = layernorm_forward(a, gamma, beta, {'mode': 'train'})
    mean_std(nb, "after layernorm (gamma=1, beta=0)", a_norm, 1, [0.0, 0.0, 0.0, 0.0],
              [0.99999995, 0.99999999, 1.0, 0.99999969], printed)
    gamma = np.asarray([3.0, 3.0, 3.0])
    beta = np.asarray([5.0, 5.0, 5.0])
    a_norm, _ = layernorm_forward(a, gamma, beta, {'mode': 'train'})
    mean_std(nb, "after layernorm (gamma=3, beta=5)", a_norm, 1, [5.0, 5.0, 5.0, 5.0],
              [2.99999985, 2.99999998, 2.99999999, 2.99999907], printed)

    # Gradient check layernorm backward. "relative errors between 1e-12 and 1e-8"
    np.random.seed(231)
    N, D = 4, 5
    x = 5 * np.random.randn(N, D) + 12
    gamma = np.random.randn(D)
    beta = np.random.randn(D)
    dout = np.random.randn(N, D)
    ln_param = {}
    fx = lambda x: layernorm_forward(x, gamma, beta, ln_param)[0]
    fg = lambda a: layernorm_forward(x, a, beta, ln_param)[0]
    fb = lambda b: layernorm_forward(x, gamma, b, ln_param)[0]
    dx_num = eval_numerical_gradient_array(fx, x, dout)
    da_num = eval_numerical_gradient_array(fg, gamma.copy(), dout)
    db_num = eval_numerical_gradient_array(fb, beta.copy(), dout)
    _, cache = layernorm_forward(x, gamma, beta, ln_param)
    dx, dgamma, dbeta = layernorm_backward(dout, cache)
    nb.errors_below("layernorm_backward", {"dx": (dx_num, dx), "dgamma": (da_num, dgamma),
                                           "dbeta": (db_num, dbeta)}, 1e-8)
    return nb.checks
