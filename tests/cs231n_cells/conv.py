# ruff: noqa: F403, F405, E731  (the notebooks star-import layers and name lambdas)
"""ConvolutionalNetworks.ipynb (sources in the package docstring)."""

from __future__ import annotations

import numpy as np

from gradcheck import eval_numerical_gradient_array
from layers import *  # the notebooks: from cs231n.layers import *
from nets import ThreeLayerConvNet

from ._harness import Check, Notebook, grad_errors, mean_std, rel_error


# --- ConvolutionalNetworks.ipynb ------------------------------------------------------


def convolutional_networks(with_naive_timing_cell: bool = False) -> list[Check]:
    nb = Notebook("ConvolutionalNetworks")

    # Convolution: naive forward pass. "difference should be around e-8"
    x_shape = (2, 3, 4, 4)
    w_shape = (3, 3, 4, 4)
    x = np.linspace(-0.1, 0.5, num=np.prod(x_shape)).reshape(x_shape)
    w = np.linspace(-0.2, 0.3, num=np.prod(w_shape)).reshape(w_shape)
    b = np.linspace(-0.1, 0.2, num=3)
    conv_param = {'stride': 2, 'pad': 1}
    out, _ = conv_forward_naive(x, w, b, conv_param)
    correct_out = np.array([[[[-0.08759809, -0.10987781],
                              [-0.18387192, -0.2109216]],
                             [[0.21027089, 0.21661097],
                              [0.22847626, 0.23004637]],
                             [[0.50813986, 0.54309974],
                              [0.64082444, 0.67101435]]],
                            [[[-0.98053589, -1.03143541],
                              [-1.19128892, -1.24695841]],
                             [[0.69108355, 0.66880383],
                              [0.59480972, 0.56776003]],
                             [[2.36270298, 2.36904306],
                              [2.38090835, 2.38247847]]]])
    nb.below("conv_forward_naive difference", rel_error(out, correct_out), 1e-7)

    # Convolution: naive backward pass. "Your errors should be around e-8 or less."
    np.random.seed(231)
    x = np.random.randn(4, 3, 5, 5)
    w = np.random.randn(2, 3, 3, 3)
    b = np.random.randn(2,)
    dout = np.random.randn(4, 2, 5, 5)
    conv_param = {'stride': 1, 'pad': 1}
    dx_num = eval_numerical_gradient_array(
        lambda x: conv_forward_naive(x, w, b, conv_param)[0], x, dout)
    dw_num = eval_numerical_gradient_array(
        lambda w: conv_forward_naive(x, w, b, conv_param)[0], w, dout)
    db_num = eval_numerical_gradient_array(
        lambda b: conv_forward_naive(x, w, b, conv_param)[0], b, dout)
    out, cache = conv_forward_naive(x, w, b, conv_param)
    dx, dw, db = conv_backward_naive(dout, cache)
    nb.errors_below("conv_backward_naive", {"dx": (dx, dx_num), "dw": (dw, dw_num),
                                            "db": (db, db_num)}, 1e-7)

    # Max-pooling: naive forward. "Difference should be on the order of e-8."
    x_shape = (2, 3, 4, 4)
    x = np.linspace(-0.3, 0.4, num=np.prod(x_shape)).reshape(x_shape)
    pool_param = {'pool_width': 2, 'pool_height': 2, 'stride': 2}
    out, _ = max_pool_forward_naive(x, pool_param)
    correct_out = np.array([[[[-0.26315789, -0.24842105],
                              [-0.20421053, -0.18947368]],
                             [[-0.14526316, -0.13052632],
                              [-0.08631579, -0.07157895]],
                             [[-0.02736842, -0.01263158],
                              [0.03157895, 0.04631579]]],
                            [[[0.09052632, 0.10526316],
                              [0.14947368, 0.16421053]],
                             [[0.20842105, 0.22315789],
                              [0.26736842, 0.28210526]],
                             [[0.32631579, 0.34105263],
                              [0.38526316, 0.4]]]])
    nb.below("max_pool_forward_naive difference", rel_error(out, correct_out), 1e-7)

    # Max-pooling: naive backward. "Your error should be on the order of e-12"
    np.random.seed(231)
    x = np.random.randn(3, 2, 8, 8)
    dout = np.random.randn(3, 2, 4, 4)
    pool_param = {'pool_height': 2, 'pool_width': 2, 'stride': 2}
    dx_num = eval_numerical_gradient_array(
        lambda x: max_pool_forward_naive(x, pool_param)[0], x, dout)
    out, cache = max_pool_forward_naive(x, pool_param)
    dx = max_pool_backward_naive(dout, cache)
    nb.below("max_pool_backward_naive dx error", rel_error(dx, dx_num), 1e-11)

    # Fast layers vs naive (the timing cell; ~10 s of naive convolution here, so only
    # when asked). "Rel errors should be around e-9 or less"
    if with_naive_timing_cell:
        np.random.seed(231)
        x = np.random.randn(100, 3, 31, 31)
        w = np.random.randn(25, 3, 3, 3)
        b = np.random.randn(25,)
        dout = np.random.randn(100, 25, 16, 16)
        conv_param = {'stride': 2, 'pad': 1}
        out_naive, cache_naive = conv_forward_naive(x, w, b, conv_param)
        out_fast, cache_fast = conv_forward_fast(x, w, b, conv_param)
        nb.below("conv_forward_fast Difference", rel_error(out_naive, out_fast), 1e-8)
        dx_naive, dw_naive, db_naive = conv_backward_naive(dout, cache_naive)
        dx_fast, dw_fast, db_fast = conv_backward_fast(dout, cache_fast)
        nb.errors_below("conv_backward_fast", {"dx": (dx_naive, dx_fast),
                                               "dw": (dw_naive, dw_fast),
                                               "db": (db_naive, db_fast)}, 1e-8)
    else:  # the cell draws these from the global state: keep the later cells' stream
        np.random.seed(231)
        for shape in [(100, 3, 31, 31), (25, 3, 3, 3), (25,), (100, 25, 16, 16)]:
            np.random.randn(*shape)

    # "Relative errors should be close to 0.0" (printed 0.0)
    np.random.seed(231)
    x = np.random.randn(100, 3, 32, 32)
    dout = np.random.randn(100, 3, 16, 16)
    pool_param = {'pool_height': 2, 'pool_width': 2, 'stride': 2}
    out_naive, cache_naive = max_pool_forward_naive(x, pool_param)
    out_fast, cache_fast = max_pool_forward_fast(x, pool_param)
    nb.below("max_pool_forward_fast difference", rel_error(out_naive, out_fast), 1e-12)
    dx_naive = max_pool_backward_naive(dout, cache_naive)
    dx_fast = max_pool_backward_fast(dout, cache_fast)
    nb.below("max_pool_backward_fast dx difference", rel_error(dx_naive, dx_fast), 1e-12)

    # Convolutional "sandwich" layers. "Relative errors should be around e-8 or less"
    np.random.seed(231)
    x = np.random.randn(2, 3, 16, 16)
    w = np.random.randn(3, 3, 3, 3)
    b = np.random.randn(3,)
    dout = np.random.randn(2, 3, 8, 8)
    conv_param = {'stride': 1, 'pad': 1}
    pool_param = {'pool_height': 2, 'pool_width': 2, 'stride': 2}
    out, cache = conv_relu_pool_forward(x, w, b, conv_param, pool_param)
    dx, dw, db = conv_relu_pool_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(
        lambda x: conv_relu_pool_forward(x, w, b, conv_param, pool_param)[0], x, dout)
    dw_num = eval_numerical_gradient_array(
        lambda w: conv_relu_pool_forward(x, w, b, conv_param, pool_param)[0], w, dout)
    db_num = eval_numerical_gradient_array(
        lambda b: conv_relu_pool_forward(x, w, b, conv_param, pool_param)[0], b, dout)
    nb.errors_below("conv_relu_pool", {"dx": (dx_num, dx), "dw": (dw_num, dw),
                                       "db": (db_num, db)}, 1e-7)

    np.random.seed(231)
    x = np.random.randn(2, 3, 8, 8)
    w = np.random.randn(3, 3, 3, 3)
    b = np.random.randn(3,)
    dout = np.random.randn(2, 3, 8, 8)
    conv_param = {'stride': 1, 'pad': 1}
    out, cache = conv_relu_forward(x, w, b, conv_param)
    dx, dw, db = conv_relu_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(
        lambda x: conv_relu_forward(x, w, b, conv_param)[0], x, dout)
    dw_num = eval_numerical_gradient_array(
        lambda w: conv_relu_forward(x, w, b, conv_param)[0], w, dout)
    db_num = eval_numerical_gradient_array(
        lambda b: conv_relu_forward(x, w, b, conv_param)[0], b, dout)
    nb.errors_below("conv_relu", {"dx": (dx_num, dx), "dw": (dw_num, dw),
                                  "db": (db_num, db)}, 1e-7)

    # Three-layer ConvNet, sanity check loss (unseeded; the state the cells above left):
    # "we expect the loss for random weights (and no regularization) to be about log(C)
    # ... When we add regularization the loss should go up slightly." Printed 2019:
    # 2.302586071243987 and 2.508255638232932.
    model = ThreeLayerConvNet()
    N = 50
    X = np.random.randn(N, 3, 32, 32)
    y = np.random.randint(10, size=N)
    loss, grads = model.loss(X, y)
    nb.near("ThreeLayerConvNet Initial loss (no regularization)", loss, np.log(10), 1e-3)
    model.reg = 0.5
    loss_reg, grads = model.loss(X, y)
    nb.below("ThreeLayerConvNet no-reg loss minus reg loss (goes up)", loss - loss_reg, 0.0)

    # Gradient check. "correct implementations may have relative errors up to the order
    # of e-2"
    num_inputs = 2
    input_dim = (3, 16, 16)
    num_classes = 10
    np.random.seed(231)
    X = np.random.randn(num_inputs, *input_dim)
    y = np.random.randint(num_classes, size=num_inputs)
    model = ThreeLayerConvNet(num_filters=3, filter_size=3,
                              input_dim=input_dim, hidden_dim=7,
                              dtype=np.float64)
    grad_errors(nb, "ThreeLayerConvNet", model, X, y, lambda name: 1e-1, h=1e-6)

    # Spatial batch normalization: forward, with the integer gamma and beta of the cell.
    printed = 1e-8
    np.random.seed(231)
    N, C, H, W = 2, 3, 4, 5
    x = 4 * np.random.randn(N, C, H, W) + 10
    mean_std(nb, "before spatial batchnorm", x, (0, 2, 3),
              [9.33463814, 8.90909116, 9.11056338], [3.61447857, 3.19347686, 3.5168142], 1e-6)
    gamma, beta = np.ones(C), np.zeros(C)
    bn_param = {'mode': 'train'}
    out, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    nb.near("after spatial batchnorm Shape", out.shape, x.shape, 0)
    mean_std(nb, "after spatial batchnorm", out, (0, 2, 3), [0.0, 0.0, 0.0],
              [0.99999962, 0.99999951, 0.9999996], printed)
    gamma, beta = np.asarray([3, 4, 5]), np.asarray([6, 7, 8])
    out, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    mean_std(nb, "after spatial batchnorm (nontrivial gamma, beta)", out, (0, 2, 3),
              [6.0, 7.0, 8.0], [2.99999885, 3.99999804, 4.99999798], printed)

    # Spatial batchnorm test-time forward pass: printed 2019 numbers.
    np.random.seed(231)
    N, C, H, W = 10, 4, 11, 12
    bn_param = {'mode': 'train'}
    gamma = np.ones(C)
    beta = np.zeros(C)
    for _t in range(50):
        x = 2.3 * np.random.randn(N, C, H, W) + 13
        spatial_batchnorm_forward(x, gamma, beta, bn_param)
    bn_param['mode'] = 'test'
    x = 2.3 * np.random.randn(N, C, H, W) + 13
    a_norm, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    mean_std(nb, "after spatial batchnorm (test-time)", a_norm, (0, 2, 3),
              [-0.08034406, 0.07562881, 0.05716371, 0.04378383],
              [0.96718744, 1.0299714, 1.02887624, 1.00585577], printed)

    # Spatial batchnorm backward. "You should expect errors of magnitudes between
    # 1e-12~1e-06"
    np.random.seed(231)
    N, C, H, W = 2, 3, 4, 5
    x = 5 * np.random.randn(N, C, H, W) + 12
    gamma = np.random.randn(C)
    beta = np.random.randn(C)
    dout = np.random.randn(N, C, H, W)
    bn_param = {'mode': 'train'}
    fx = lambda x: spatial_batchnorm_forward(x, gamma, beta, bn_param)[0]
    fg = lambda a: spatial_batchnorm_forward(x, gamma, beta, bn_param)[0]
    fb = lambda b: spatial_batchnorm_forward(x, gamma, beta, bn_param)[0]
    dx_num = eval_numerical_gradient_array(fx, x, dout)
    da_num = eval_numerical_gradient_array(fg, gamma, dout)
    db_num = eval_numerical_gradient_array(fb, beta, dout)
    _, cache = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    dx, dgamma, dbeta = spatial_batchnorm_backward(dout, cache)
    nb.errors_below("spatial_batchnorm_backward", {"dx": (dx_num, dx),
                                                   "dgamma": (da_num, dgamma),
                                                   "dbeta": (db_num, dbeta)}, 1e-5)

    # Group normalization: forward ("Means should be close to zero and stds close to
    # one"); the printed 2019 numbers.
    np.random.seed(231)
    N, C, H, W = 2, 6, 4, 5
    G = 2
    x = 4 * np.random.randn(N, C, H, W) + 10
    x_g = x.reshape((N * G, -1))
    mean_std(nb, "before spatial groupnorm", x_g, 1,
              [9.72505327, 8.51114185, 8.9147544, 9.43448077],
              [3.67070958, 3.09892597, 4.27043622, 3.97521327], 1e-6)
    gamma, beta = np.ones((1, C, 1, 1)), np.zeros((1, C, 1, 1))
    bn_param = {'mode': 'train'}
    out, _ = spatial_groupnorm_forward(x, gamma, beta, G, bn_param)
    out_g = out.reshape((N * G, -1))
    # The stds this copy prints (0.99999834 ...) are its own implementation's: eps = 1e-5
    # over a group variance of about 13 gives 1 - 4e-7. The cell's stated expectation is
    # the check: means close to zero, stds close to one (to eps's effect, 1e-5).
    mean_std(nb, "after spatial groupnorm", out_g, 1, [0.0, 0.0, 0.0, 0.0],
              [1.0, 1.0, 1.0, 1.0], 1e-5)

    # Spatial groupnorm backward. "You should expect errors of magnitudes between
    # 1e-12~1e-07"
    np.random.seed(231)
    N, C, H, W = 2, 6, 4, 5
    G = 2
    x = 5 * np.random.randn(N, C, H, W) + 12
    gamma = np.random.randn(1, C, 1, 1)
    beta = np.random.randn(1, C, 1, 1)
    dout = np.random.randn(N, C, H, W)
    gn_param = {}
    fx = lambda x: spatial_groupnorm_forward(x, gamma, beta, G, gn_param)[0]
    fg = lambda a: spatial_groupnorm_forward(x, gamma, beta, G, gn_param)[0]
    fb = lambda b: spatial_groupnorm_forward(x, gamma, beta, G, gn_param)[0]
    dx_num = eval_numerical_gradient_array(fx, x, dout)
    da_num = eval_numerical_gradient_array(fg, gamma, dout)
    db_num = eval_numerical_gradient_array(fb, beta, dout)
    _, cache = spatial_groupnorm_forward(x, gamma, beta, G, gn_param)
    dx, dgamma, dbeta = spatial_groupnorm_backward(dout, cache)
    nb.errors_below("spatial_groupnorm_backward", {"dx": (dx_num, dx),
                                                   "dgamma": (da_num, dgamma),
                                                   "dbeta": (db_num, dbeta)}, 1e-6)
    return nb.checks
