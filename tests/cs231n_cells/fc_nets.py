# ruff: noqa: F403, F405, E731  (the notebooks star-import layers and name lambdas)
"""FullyConnectedNets.ipynb and Dropout.ipynb (sources in the package docstring)."""

from __future__ import annotations

import numpy as np

from gradcheck import eval_numerical_gradient, eval_numerical_gradient_array
from layers import *  # the notebooks: from cs231n.layers import *
from nets import FullyConnectedNet, TwoLayerNet
from optim import adam, rmsprop, sgd_momentum

from ._harness import Check, Notebook, grad_errors, rel_error


# --- FullyConnectedNets.ipynb ---------------------------------------------------------


def fully_connected_nets() -> list[Check]:
    nb = Notebook("FullyConnectedNets")

    # Test the affine_forward function. "The error should be around 1e-9."
    num_inputs, input_shape, output_dim = 2, (4, 5, 6), 3
    input_size = num_inputs * np.prod(input_shape)
    weight_size = output_dim * np.prod(input_shape)
    x = np.linspace(-0.1, 0.5, num=input_size).reshape(num_inputs, *input_shape)
    w = np.linspace(-0.2, 0.3, num=weight_size).reshape(np.prod(input_shape), output_dim)
    b = np.linspace(-0.3, 0.1, num=output_dim)
    out, _ = affine_forward(x, w, b)
    correct_out = np.array([[1.49834967, 1.70660132, 1.91485297],
                            [3.25553199, 3.5141327, 3.77273342]])
    nb.below("affine_forward difference", rel_error(out, correct_out), 1e-8)

    # Test the affine_backward function. "The error should be around 1e-10."
    np.random.seed(231)
    x = np.random.randn(10, 2, 3)
    w = np.random.randn(6, 5)
    b = np.random.randn(5)
    dout = np.random.randn(10, 5)
    dx_num = eval_numerical_gradient_array(lambda x: affine_forward(x, w, b)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda w: affine_forward(x, w, b)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda b: affine_forward(x, w, b)[0], b, dout)
    _, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)
    nb.errors_below("affine_backward", {"dx": (dx_num, dx), "dw": (dw_num, dw),
                                        "db": (db_num, db)}, 1e-9)

    # Test the relu_forward function. "The error should be around 5e-8."
    x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)
    out, _ = relu_forward(x)
    correct_out = np.array([[0., 0., 0., 0.],
                            [0., 0., 0.04545455, 0.13636364],
                            [0.22727273, 0.31818182, 0.40909091, 0.5]])
    nb.below("relu_forward difference", rel_error(out, correct_out), 5e-7)

    # relu_backward. "The error should be around 3e-12."
    np.random.seed(231)
    x = np.random.randn(10, 10)
    dout = np.random.randn(*x.shape)
    dx_num = eval_numerical_gradient_array(lambda x: relu_forward(x)[0], x, dout)
    _, cache = relu_forward(x)
    dx = relu_backward(dout, cache)
    nb.below("relu_backward dx error", rel_error(dx_num, dx), 3e-11)

    # "Sandwich" layers: affine_relu (no bound stated in this version; the affine_backward
    # cell's "around 1e-10" applies to the same computation).
    np.random.seed(231)
    x = np.random.randn(2, 3, 4)
    w = np.random.randn(12, 10)
    b = np.random.randn(10)
    dout = np.random.randn(2, 10)
    out, cache = affine_relu_forward(x, w, b)
    dx, dw, db = affine_relu_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(lambda x: affine_relu_forward(x, w, b)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda w: affine_relu_forward(x, w, b)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda b: affine_relu_forward(x, w, b)[0], b, dout)
    nb.errors_below("affine_relu", {"dx": (dx_num, dx), "dw": (dw_num, dw),
                                    "db": (db_num, db)}, 1e-9)

    # Loss layers. "Loss should be around 9 and dx error should be 1e-9";
    # "Loss should be 2.3 and dx error should be 1e-8". The losses are seeded: printed.
    np.random.seed(231)
    num_classes, num_inputs = 10, 50
    x = 0.001 * np.random.randn(num_inputs, num_classes)
    y = np.random.randint(num_classes, size=num_inputs)
    dx_num = eval_numerical_gradient(lambda x: svm_loss(x, y)[0], x, verbose=False)
    loss, dx = svm_loss(x, y)
    nb.near("svm_loss loss", loss, 8.999602749096233, 1e-12)
    nb.below("svm_loss dx error", rel_error(dx_num, dx), 1e-8)
    dx_num = eval_numerical_gradient(lambda x: softmax_loss(x, y)[0], x, verbose=False)
    loss, dx = softmax_loss(x, y)
    nb.near("softmax_loss loss", loss, 2.302545844500738, 1e-12)
    nb.below("softmax_loss dx error", rel_error(dx_num, dx), 1e-7)

    # Two-layer network: the cell's own asserts, then the gradient check (no bound in
    # this version; the FullyConnectedNet cell of the notebook: "around 1e-6 or less").
    np.random.seed(231)
    N, D, H, C = 3, 5, 50, 7
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=N)
    std = 1e-3
    model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=std)
    nb.below("TwoLayerNet W1_std", abs(model.params['W1'].std() - std), std / 10)
    nb.near("TwoLayerNet b1", model.params['b1'], 0.0, 0.0)
    nb.below("TwoLayerNet W2_std", abs(model.params['W2'].std() - std), std / 10)
    nb.near("TwoLayerNet b2", model.params['b2'], 0.0, 0.0)
    model.params['W1'] = np.linspace(-0.7, 0.3, num=D * H).reshape(D, H)
    model.params['b1'] = np.linspace(-0.1, 0.9, num=H)
    model.params['W2'] = np.linspace(-0.3, 0.4, num=H * C).reshape(H, C)
    model.params['b2'] = np.linspace(-0.9, 0.1, num=C)
    X = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
    scores = model.loss(X)
    correct_scores = np.asarray(
        [[11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765,
          16.09215096],
         [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135,
          16.18839143],
         [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506,
          16.2846319]])
    nb.below("TwoLayerNet scores_diff", np.abs(scores - correct_scores).sum(), 1e-6)
    y = np.asarray([0, 5, 1])
    loss, grads = model.loss(X, y)
    nb.near("TwoLayerNet training loss", loss, 3.4702243556, 1e-10)
    model.reg = 1.0
    loss, grads = model.loss(X, y)
    nb.near("TwoLayerNet regularization loss", loss, 26.5948426952, 1e-10)
    for reg in [0.0, 0.7]:
        model.reg = reg
        grad_errors(nb, f"TwoLayerNet reg={reg}", model, X, y, lambda name: 1e-5)

    # Multilayer network. "errors around 1e-6 or less" (2018-2020; 2021: "on the order of
    # e-7 or smaller ... fine to see an error for W2 on the order of e-5 ... reg = 0.0").
    np.random.seed(231)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    printed = {0: 2.3004790897684924, 3.14: 7.052114776533016}
    for reg in [0, 3.14]:
        model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C,
                                  reg=reg, weight_scale=5e-2, dtype=np.float64)
        loss, grads = model.loss(X, y)
        nb.near(f"FullyConnectedNet reg={reg} Initial loss", loss, printed[reg], 1e-12)
        grad_errors(nb, f"FullyConnectedNet reg={reg}", model, X, y,
                     lambda name, reg=reg: 1e-4 if (name == "W2" and reg == 0) else 1e-5)

    # SGD+Momentum. "You should see errors less than 1e-8."
    N, D = 4, 5
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    v = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    config = {'learning_rate': 1e-3, 'velocity': v}
    next_w, _ = sgd_momentum(w, dw, config=config)
    expected_next_w = np.asarray([
        [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
        [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
        [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
        [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096]])
    expected_velocity = np.asarray([
        [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
        [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
        [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
        [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096]])
    nb.below("sgd_momentum next_w error", rel_error(next_w, expected_next_w), 1e-8)
    nb.below("sgd_momentum velocity error",
             rel_error(expected_velocity, config['velocity']), 1e-8)

    # Test RMSProp implementation; you should see errors less than 1e-7
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    cache = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    config = {'learning_rate': 1e-2, 'cache': cache}
    next_w, _ = rmsprop(w, dw, config=config)
    expected_next_w = np.asarray([
        [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
        [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
        [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
        [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619]])
    expected_cache = np.asarray([
        [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
        [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
        [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
        [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926]])
    nb.below("rmsprop next_w error", rel_error(expected_next_w, next_w), 1e-7)
    nb.below("rmsprop cache error", rel_error(expected_cache, config['cache']), 1e-7)

    # Test Adam implementation; you should see errors around 1e-7 or less
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    m = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    v = np.linspace(0.7, 0.5, num=N * D).reshape(N, D)
    config = {'learning_rate': 1e-2, 'm': m, 'v': v, 't': 5}
    next_w, _ = adam(w, dw, config=config)
    expected_next_w = np.asarray([
        [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
        [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
        [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
        [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459]])
    expected_v = np.asarray([
        [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
        [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
        [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
        [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966]])
    expected_m = np.asarray([
        [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
        [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
        [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
        [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85]])
    nb.below("adam next_w error", rel_error(expected_next_w, next_w), 1e-6)
    nb.below("adam v error", rel_error(expected_v, config['v']), 1e-6)
    nb.below("adam m error", rel_error(expected_m, config['m']), 1e-6)
    return nb.checks


# --- Dropout.ipynb --------------------------------------------------------------------


def dropout() -> list[Check]:
    nb = Notebook("Dropout")
    # Dropout forward pass: no seed key, so the masks come from the global state after
    # np.random.seed(231) and x; the printed 2019 numbers.
    np.random.seed(231)
    x = np.random.randn(500, 500) + 10
    printed = {0.25: (10.014059116977283, 0.749784), 0.4: (9.977917658761159, 0.600796),
               0.7: (9.987811912159426, 0.30074)}
    for p in [0.25, 0.4, 0.7]:
        out, _ = dropout_forward(x, {'mode': 'train', 'p': p})
        out_test, _ = dropout_forward(x, {'mode': 'test', 'p': p})
        nb.near(f"p={p} Mean of input", x.mean(), 10.000207878477502, 1e-12)
        nb.near(f"p={p} Mean of train-time output", out.mean(), printed[p][0], 1e-12)
        nb.near(f"p={p} Mean of test-time output", out_test.mean(), 10.000207878477502, 1e-12)
        nb.near(f"p={p} Fraction of train-time output set to zero", (out == 0).mean(),
                printed[p][1], 0.0)
        nb.near(f"p={p} Fraction of test-time output set to zero", (out_test == 0).mean(),
                0.0, 0.0)

    # Dropout backward pass. "Error should be around e-10 or less"
    np.random.seed(231)
    x = np.random.randn(10, 10) + 10
    dout = np.random.randn(*x.shape)
    dropout_param = {'mode': 'train', 'p': 0.2, 'seed': 123}
    out, cache = dropout_forward(x, dropout_param)
    dx = dropout_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(
        lambda xx: dropout_forward(xx, dropout_param)[0], x, dout)
    nb.below("dropout_backward dx relative error", rel_error(dx, dx_num), 1e-9)

    # Fully-connected nets with Dropout, the 2018-2020 keyword. "Relative errors should be
    # around e-6 or less; Note that it's fine if for dropout=1 you have W2 error be on the
    # order of e-5." (An integer seed keeps layerkit's own generator, API.md, so the
    # printed initial losses are not this cell's check.)
    np.random.seed(231)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    for keep in [1, 0.75, 0.5]:
        model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C,
                                  weight_scale=5e-2, dtype=np.float64,
                                  dropout=keep, seed=123)
        grad_errors(nb, f"dropout={keep}", model, X, y,
                     lambda name, keep=keep: 1e-4 if (name == "W2" and keep == 1) else 1e-5)
    return nb.checks
