# ruff: noqa: F403, F405, E731  (the notebooks star-import layers and name lambdas)
"""The check cells of the public CS231n notebooks, re-created against layerkit.

Each function below replays one notebook's check cells in order, exactly as the notebook
runs them (its inputs, its seeds, its hard-coded expected arrays, the bound it states in
a comment or in the text above the cell), with only the imports changed:
``from cs231n.layers import *`` -> ``from layers import *`` and so on. Nothing here comes
from layerkit's own output. The cells rely on numpy's global random state the way the
notebooks do (``np.random.seed(231)`` and then unseeded draws, also across cells), so a
notebook is replayed as one function, cell after cell.

Where the numbers come from (all public; the cells are the same in every year of the
range unless noted):

- FCN: ``assignment2/FullyConnectedNets.ipynb``, the 2018-2020 version (it still holds
  the layer, TwoLayerNet and update-rule cells); a completed copy exported to Markdown
  (Python 3.5 outputs). The FullyConnectedNet cell and its bounds also from the 2021
  notebook (AgainstEntropy/CS231n-assignment2021, assignment2/FullyConnectedNets.ipynb),
  which prints the same ``Initial loss:  2.3004790897684924`` for reg = 0.
- BN: ``assignment2/BatchNormalization.ipynb`` of 2019
  (0809zheng/CS231n-assignment2019, completed; batchnorm and FC-with-batchnorm cells) and
  the 2019 copy published by github.com/ctttt1119/cs231n (blog post of 2020-03-12;
  layernorm cells).
- DO: ``assignment2/Dropout.ipynb`` of 2019 (ctttt1119, 2020-03-13): the ``dropout=``
  keyword of 2018-2020.
- CNN: ``assignment2/ConvolutionalNetworks.ipynb`` of 2019 (ctttt1119, 2020-03-22),
  including the spatial batchnorm cell with ``gamma = np.asarray([3, 4, 5])``.
- RNN: ``assignment3/RNN_Captioning.ipynb``, the 2018-2020 version (seeded with 231; a
  completed copy exported to .py with the text translated; bounds as stated there).
- LSTM: ``assignment3/LSTM_Captioning.ipynb`` of 2019 (ctttt1119, 2020-04-03).

Reading of the stated bounds: "less than X" is ``< X``; "around X", "on the order of X
(or less)" and "between A~X" are ``< 10 X`` (the notebooks' own printed values sit at X,
not below it). A value the notebook prints from a seeded run (a loss, a mean) is compared
to the printed digits. Cells that need CIFAR-10 or COCO (training, overfitting, sampling,
the kitten/puppy image cell) are not replayed: nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradcheck import eval_numerical_gradient, eval_numerical_gradient_array
from layers import *  # the notebooks: from cs231n.layers import *
from nets import CaptioningRNN, FullyConnectedNet, ThreeLayerConvNet, TwoLayerNet
from optim import adam, rmsprop, sgd_momentum


def rel_error(x, y):
    """The notebooks' own definition (their setup cell)."""
    return np.max(np.abs(x - y) / (np.maximum(1e-8, np.abs(x) + np.abs(y))))


@dataclass
class Check:
    """One printed number (or array) of a cell and what the notebook says it must be."""
    notebook: str
    name: str
    value: object
    kind: str  # "below": value < bound; "near": |value - expected| <= tol elementwise
    target: object
    tol: float = 0.0

    def ok(self) -> bool:
        v = np.asarray(self.value, dtype=np.float64)
        if not np.all(np.isfinite(v)):
            return False
        if self.kind == "below":
            return bool(np.all(v < self.target))
        return bool(np.all(np.abs(v - np.asarray(self.target, dtype=np.float64)) <= self.tol))

    def describe(self) -> str:
        rel = "<" if self.kind == "below" else f"within {self.tol:g} of"
        return f"{self.notebook}: {self.name} = {self.value!r}, needs {rel} {self.target!r}"


class Notebook:
    """Collects the checks of one notebook replay."""

    def __init__(self, name: str):
        self.name = name
        self.checks: list[Check] = []

    def below(self, name, value, bound):
        self.checks.append(Check(self.name, name, _plain(value), "below", bound))

    def near(self, name, value, expected, tol):
        self.checks.append(Check(self.name, name, _plain(value), "near", expected, tol))

    def errors_below(self, prefix, pairs, bound):
        """Several '<name> error: rel_error(...)' prints of one cell under one bound."""
        for name, (a, b) in pairs.items():
            self.below(f"{prefix} {name} error", rel_error(a, b), bound)


def _plain(value):
    a = np.asarray(value, dtype=np.float64)
    return float(a) if a.ndim == 0 else a.tolist()


def _grad_errors(nb, prefix, model, X, y, bound_for, h=1e-5):
    """The notebooks' loop: eval_numerical_gradient on every param, rel_error printed."""
    loss, grads = model.loss(X, y)
    for name in sorted(grads):
        f = lambda _: model.loss(X, y)[0]
        grad_num = eval_numerical_gradient(f, model.params[name], verbose=False, h=h)
        nb.below(f"{prefix} {name} relative error", rel_error(grad_num, grads[name]),
                 bound_for(name))
    return loss


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
        _grad_errors(nb, f"TwoLayerNet reg={reg}", model, X, y, lambda name: 1e-5)

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
        _grad_errors(nb, f"FullyConnectedNet reg={reg}", model, X, y,
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


# --- BatchNormalization.ipynb ---------------------------------------------------------


def _mean_std(nb, label, x, axis, means, stds, tol):
    """print_mean_std(x, axis): the notebook prints both with 8 decimals."""
    nb.near(f"{label} means", x.mean(axis=axis), means, tol)
    nb.near(f"{label} stds", x.std(axis=axis), stds, tol)


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
    _mean_std(nb, "before batchnorm", a, 0, [-2.3814598, -13.18038246, 1.91780462],
              [27.18502186, 34.21455511, 37.68611762], 1e-6)
    gamma = np.ones((D3,))
    beta = np.zeros((D3,))
    a_norm, _ = batchnorm_forward(a, gamma, beta, {'mode': 'train'})
    _mean_std(nb, "after batchnorm (gamma=1, beta=0)", a_norm, 0, [0.0, 0.0, 0.0],
              [0.99999999, 1.0, 1.0], printed)
    gamma = np.asarray([1.0, 2.0, 3.0])
    beta = np.asarray([11.0, 12.0, 13.0])
    a_norm, _ = batchnorm_forward(a, gamma, beta, {'mode': 'train'})
    _mean_std(nb, "after batchnorm (gamma=[1 2 3], beta=[11 12 13])", a_norm, 0,
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
    _mean_std(nb, "after batchnorm (test-time)", a_norm, 0,
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
        _grad_errors(nb, f"FC batchnorm reg={reg}", model, X, y,
                     lambda name: 1e-3 if name.startswith("W") else 1e-7)

    # Layer normalization forward ("Means should be close to zero and stds close to one";
    # "close to beta ... close to gamma"): printed 2019 numbers (ctttt1119).
    np.random.seed(231)
    N, D1, D2, D3 = 4, 50, 60, 3
    X = np.random.randn(N, D1)
    W1 = np.random.randn(D1, D2)
    W2 = np.random.randn(D2, D3)
    a = np.maximum(0, X.dot(W1)).dot(W2)
    _mean_std(nb, "before layernorm", a, 1,
              [-59.06673243, -47.60782686, -43.31137368, -26.40991744],
              [10.07429373, 28.39478981, 35.28360729, 4.01831507], 1e-6)
    gamma = np.ones(D3)
    beta = np.zeros(D3)
    a_norm, _ = layernorm_forward(a, gamma, beta, {'mode': 'train'})
    _mean_std(nb, "after layernorm (gamma=1, beta=0)", a_norm, 1, [0.0, 0.0, 0.0, 0.0],
              [0.99999995, 0.99999999, 1.0, 0.99999969], printed)
    gamma = np.asarray([3.0, 3.0, 3.0])
    beta = np.asarray([5.0, 5.0, 5.0])
    a_norm, _ = layernorm_forward(a, gamma, beta, {'mode': 'train'})
    _mean_std(nb, "after layernorm (gamma=3, beta=5)", a_norm, 1, [5.0, 5.0, 5.0, 5.0],
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
        _grad_errors(nb, f"dropout={keep}", model, X, y,
                     lambda name, keep=keep: 1e-4 if (name == "W2" and keep == 1) else 1e-5)
    return nb.checks


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
    _grad_errors(nb, "ThreeLayerConvNet", model, X, y, lambda name: 1e-1, h=1e-6)

    # Spatial batch normalization: forward, with the integer gamma and beta of the cell.
    printed = 1e-8
    np.random.seed(231)
    N, C, H, W = 2, 3, 4, 5
    x = 4 * np.random.randn(N, C, H, W) + 10
    _mean_std(nb, "before spatial batchnorm", x, (0, 2, 3),
              [9.33463814, 8.90909116, 9.11056338], [3.61447857, 3.19347686, 3.5168142], 1e-6)
    gamma, beta = np.ones(C), np.zeros(C)
    bn_param = {'mode': 'train'}
    out, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    nb.near("after spatial batchnorm Shape", out.shape, x.shape, 0)
    _mean_std(nb, "after spatial batchnorm", out, (0, 2, 3), [0.0, 0.0, 0.0],
              [0.99999962, 0.99999951, 0.9999996], printed)
    gamma, beta = np.asarray([3, 4, 5]), np.asarray([6, 7, 8])
    out, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    _mean_std(nb, "after spatial batchnorm (nontrivial gamma, beta)", out, (0, 2, 3),
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
    _mean_std(nb, "after spatial batchnorm (test-time)", a_norm, (0, 2, 3),
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
    _mean_std(nb, "before spatial groupnorm", x_g, 1,
              [9.72505327, 8.51114185, 8.9147544, 9.43448077],
              [3.67070958, 3.09892597, 4.27043622, 3.97521327], 1e-6)
    gamma, beta = np.ones((1, C, 1, 1)), np.zeros((1, C, 1, 1))
    bn_param = {'mode': 'train'}
    out, _ = spatial_groupnorm_forward(x, gamma, beta, G, bn_param)
    out_g = out.reshape((N * G, -1))
    # The stds this copy prints (0.99999834 ...) are its own implementation's: eps = 1e-5
    # over a group variance of about 13 gives 1 - 4e-7. The cell's stated expectation is
    # the check: means close to zero, stds close to one (to eps's effect, 1e-5).
    _mean_std(nb, "after spatial groupnorm", out_g, 1, [0.0, 0.0, 0.0, 0.0],
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


# --- RNN_Captioning.ipynb -------------------------------------------------------------


def rnn_captioning() -> list[Check]:
    nb = Notebook("RNN_Captioning")

    # Vanilla RNN: step forward. "You should see errors less than 1e-8."
    N, D, H = 3, 10, 4
    x = np.linspace(-0.4, 0.7, num=N * D).reshape(N, D)
    prev_h = np.linspace(-0.2, 0.5, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.1, 0.9, num=D * H).reshape(D, H)
    Wh = np.linspace(-0.3, 0.7, num=H * H).reshape(H, H)
    b = np.linspace(-0.2, 0.4, num=H)
    next_h, _ = rnn_step_forward(x, prev_h, Wx, Wh, b)
    expected_next_h = np.asarray([
        [-0.58172089, -0.50182032, -0.41232771, -0.31410098],
        [0.66854692, 0.79562378, 0.87755553, 0.92795967],
        [0.97934501, 0.99144213, 0.99646691, 0.99854353]])
    nb.below("rnn_step_forward next_h error", rel_error(expected_next_h, next_h), 1e-8)

    # Vanilla RNN: step backward. "You should see errors less than 1e-8."
    np.random.seed(231)
    N, D, H = 4, 5, 6
    x = np.random.randn(N, D)
    h = np.random.randn(N, H)
    Wx = np.random.randn(D, H)
    Wh = np.random.randn(H, H)
    b = np.random.randn(H)
    out, cache = rnn_step_forward(x, h, Wx, Wh, b)
    dnext_h = np.random.randn(*out.shape)
    fx = lambda x: rnn_step_forward(x, h, Wx, Wh, b)[0]
    fh = lambda prev_h: rnn_step_forward(x, h, Wx, Wh, b)[0]
    fWx = lambda Wx: rnn_step_forward(x, h, Wx, Wh, b)[0]
    fWh = lambda Wh: rnn_step_forward(x, h, Wx, Wh, b)[0]
    fb = lambda b: rnn_step_forward(x, h, Wx, Wh, b)[0]
    dx_num = eval_numerical_gradient_array(fx, x, dnext_h)
    dprev_h_num = eval_numerical_gradient_array(fh, h, dnext_h)
    dWx_num = eval_numerical_gradient_array(fWx, Wx, dnext_h)
    dWh_num = eval_numerical_gradient_array(fWh, Wh, dnext_h)
    db_num = eval_numerical_gradient_array(fb, b, dnext_h)
    dx, dprev_h, dWx, dWh, db = rnn_step_backward(dnext_h, cache)
    nb.errors_below("rnn_step_backward", {"dx": (dx_num, dx), "dprev_h": (dprev_h_num, dprev_h),
                                          "dWx": (dWx_num, dWx), "dWh": (dWh_num, dWh),
                                          "db": (db_num, db)}, 1e-8)

    # Vanilla RNN: forward. "You should see errors less than 1e-7."
    N, T, D, H = 2, 3, 4, 5
    x = np.linspace(-0.1, 0.3, num=N * T * D).reshape(N, T, D)
    h0 = np.linspace(-0.3, 0.1, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.2, 0.4, num=D * H).reshape(D, H)
    Wh = np.linspace(-0.4, 0.1, num=H * H).reshape(H, H)
    b = np.linspace(-0.7, 0.1, num=H)
    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    expected_h = np.asarray([
        [[-0.42070749, -0.27279261, -0.11074945, 0.05740409, 0.22236251],
         [-0.39525808, -0.22554661, -0.0409454, 0.14649412, 0.32397316],
         [-0.42305111, -0.24223728, -0.04287027, 0.15997045, 0.35014525]],
        [[-0.55857474, -0.39065825, -0.19198182, 0.02378408, 0.23735671],
         [-0.27150199, -0.07088804, 0.13562939, 0.33099728, 0.50158768],
         [-0.51014825, -0.30524429, -0.06755202, 0.17806392, 0.40333043]]])
    nb.below("rnn_forward h error", rel_error(expected_h, h), 1e-7)

    # Vanilla RNN: backward. "You should see errors less than 5e-7."
    np.random.seed(231)
    N, D, T, H = 2, 3, 10, 5
    x = np.random.randn(N, T, D)
    h0 = np.random.randn(N, H)
    Wx = np.random.randn(D, H)
    Wh = np.random.randn(H, H)
    b = np.random.randn(H)
    out, cache = rnn_forward(x, h0, Wx, Wh, b)
    dout = np.random.randn(*out.shape)
    dx, dh0, dWx, dWh, db = rnn_backward(dout, cache)
    fx = lambda x: rnn_forward(x, h0, Wx, Wh, b)[0]
    fh0 = lambda h0: rnn_forward(x, h0, Wx, Wh, b)[0]
    fWx = lambda Wx: rnn_forward(x, h0, Wx, Wh, b)[0]
    fWh = lambda Wh: rnn_forward(x, h0, Wx, Wh, b)[0]
    fb = lambda b: rnn_forward(x, h0, Wx, Wh, b)[0]
    dx_num = eval_numerical_gradient_array(fx, x, dout)
    dh0_num = eval_numerical_gradient_array(fh0, h0, dout)
    dWx_num = eval_numerical_gradient_array(fWx, Wx, dout)
    dWh_num = eval_numerical_gradient_array(fWh, Wh, dout)
    db_num = eval_numerical_gradient_array(fb, b, dout)
    nb.errors_below("rnn_backward", {"dx": (dx_num, dx), "dh0": (dh0_num, dh0),
                                     "dWx": (dWx_num, dWx), "dWh": (dWh_num, dWh),
                                     "db": (db_num, db)}, 5e-7)

    # Word embedding: forward. "You should see error around 1e-8."
    N, T, V, D = 2, 4, 5, 3
    x = np.asarray([[0, 3, 1, 2], [2, 1, 0, 3]])
    W = np.linspace(0, 1, num=V * D).reshape(V, D)
    out, _ = word_embedding_forward(x, W)
    expected_out = np.asarray([
        [[0., 0.07142857, 0.14285714],
         [0.64285714, 0.71428571, 0.78571429],
         [0.21428571, 0.28571429, 0.35714286],
         [0.42857143, 0.5, 0.57142857]],
        [[0.42857143, 0.5, 0.57142857],
         [0.21428571, 0.28571429, 0.35714286],
         [0., 0.07142857, 0.14285714],
         [0.64285714, 0.71428571, 0.78571429]]])
    nb.below("word_embedding_forward out error", rel_error(expected_out, out), 1e-7)

    # Word embedding: backward. "You should see errors less than 1e-11."
    np.random.seed(231)
    N, T, V, D = 50, 3, 5, 6
    x = np.random.randint(V, size=(N, T))
    W = np.random.randn(V, D)
    out, cache = word_embedding_forward(x, W)
    dout = np.random.randn(*out.shape)
    dW = word_embedding_backward(dout, cache)
    f = lambda W: word_embedding_forward(x, W)[0]
    dW_num = eval_numerical_gradient_array(f, W, dout)
    nb.below("word_embedding_backward dW error", rel_error(dW, dW_num), 1e-11)

    # Temporal affine layer. "You should see errors less than 1e-9."
    np.random.seed(231)
    N, T, D, M = 2, 3, 4, 5
    x = np.random.randn(N, T, D)
    w = np.random.randn(D, M)
    b = np.random.randn(M)
    out, cache = temporal_affine_forward(x, w, b)
    dout = np.random.randn(*out.shape)
    fx = lambda x: temporal_affine_forward(x, w, b)[0]
    fw = lambda w: temporal_affine_forward(x, w, b)[0]
    fb = lambda b: temporal_affine_forward(x, w, b)[0]
    dx_num = eval_numerical_gradient_array(fx, x, dout)
    dw_num = eval_numerical_gradient_array(fw, w, dout)
    db_num = eval_numerical_gradient_array(fb, b, dout)
    dx, dw, db = temporal_affine_backward(dout, cache)
    nb.errors_below("temporal_affine_backward", {"dx": (dx_num, dx), "dw": (dw_num, dw),
                                                 "db": (db_num, db)}, 1e-9)

    # Temporal softmax loss: sanity (unseeded, after the cell above) "Should be about
    # 2.3", "about 23", "about 2.3"; then the gradient check, "dx less than 1e-7".
    def check_loss(N, T, V, p):
        x = 0.001 * np.random.randn(N, T, V)
        y = np.random.randint(V, size=(N, T))
        mask = np.random.rand(N, T) <= p
        return temporal_softmax_loss(x, y, mask)[0]

    nb.near("temporal_softmax_loss (100, 1, 10, 1.0)", check_loss(100, 1, 10, 1.0), 2.3, 0.05)
    nb.near("temporal_softmax_loss (100, 10, 10, 1.0)", check_loss(100, 10, 10, 1.0), 23, 0.5)
    nb.near("temporal_softmax_loss (5000, 10, 10, 0.1)", check_loss(5000, 10, 10, 0.1), 2.3,
            0.05)
    N, T, V = 7, 8, 9
    x = np.random.randn(N, T, V)
    y = np.random.randint(V, size=(N, T))
    mask = (np.random.rand(N, T) > 0.5)
    loss, dx = temporal_softmax_loss(x, y, mask, verbose=False)
    dx_num = eval_numerical_gradient(lambda x: temporal_softmax_loss(x, y, mask)[0], x,
                                     verbose=False)
    nb.below("temporal_softmax_loss dx error", rel_error(dx, dx_num), 1e-7)

    # RNN for image captioning: loss with fixed params. "error less than 1e-10"
    N, D, W, H = 10, 20, 30, 40
    word_to_idx = {'<NULL>': 0, 'cat': 2, 'dog': 3}
    V = len(word_to_idx)
    T = 13
    model = CaptioningRNN(word_to_idx, input_dim=D, wordvec_dim=W, hidden_dim=H,
                          cell_type='rnn', dtype=np.float64)
    for k, v in model.params.items():
        model.params[k] = np.linspace(-1.4, 1.3, num=v.size).reshape(*v.shape)
    features = np.linspace(-1.5, 0.3, num=(N * D)).reshape(N, D)
    captions = (np.arange(N * T) % V).reshape(N, T)
    loss, grads = model.loss(features, captions)
    expected_loss = 9.83235591003
    nb.below("CaptioningRNN rnn loss difference", abs(loss - expected_loss), 1e-10)

    # Numeric gradient check of CaptioningRNN. "errors should be less than 5e-6"
    np.random.seed(231)
    batch_size, timesteps, input_dim, wordvec_dim, hidden_dim = 2, 3, 4, 5, 6
    word_to_idx = {'<NULL>': 0, 'cat': 2, 'dog': 3}
    vocab_size = len(word_to_idx)
    captions = np.random.randint(vocab_size, size=(batch_size, timesteps))
    features = np.random.randn(batch_size, input_dim)
    model = CaptioningRNN(word_to_idx, input_dim=input_dim, wordvec_dim=wordvec_dim,
                          hidden_dim=hidden_dim, cell_type='rnn', dtype=np.float64)
    _grad_errors(nb, "CaptioningRNN rnn", model, features, captions, lambda name: 5e-6,
                 h=1e-6)
    return nb.checks


# --- LSTM_Captioning.ipynb ------------------------------------------------------------


def lstm_captioning() -> list[Check]:
    nb = Notebook("LSTM_Captioning")

    # LSTM: step forward. "errors on the order of e-8 or less"
    N, D, H = 3, 4, 5
    x = np.linspace(-0.4, 1.2, num=N * D).reshape(N, D)
    prev_h = np.linspace(-0.3, 0.7, num=N * H).reshape(N, H)
    prev_c = np.linspace(-0.4, 0.9, num=N * H).reshape(N, H)
    Wx = np.linspace(-2.1, 1.3, num=4 * D * H).reshape(D, 4 * H)
    Wh = np.linspace(-0.7, 2.2, num=4 * H * H).reshape(H, 4 * H)
    b = np.linspace(0.3, 0.7, num=4 * H)
    next_h, next_c, cache = lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    expected_next_h = np.asarray([
        [0.24635157, 0.28610883, 0.32240467, 0.35525807, 0.38474904],
        [0.49223563, 0.55611431, 0.61507696, 0.66844003, 0.7159181],
        [0.56735664, 0.66310127, 0.74419266, 0.80889665, 0.858299]])
    expected_next_c = np.asarray([
        [0.32986176, 0.39145139, 0.451556, 0.51014116, 0.56717407],
        [0.66382255, 0.76674007, 0.87195994, 0.97902709, 1.08751345],
        [0.74192008, 0.90592151, 1.07717006, 1.25120233, 1.42395676]])
    nb.below("lstm_step_forward next_h error", rel_error(expected_next_h, next_h), 1e-7)
    nb.below("lstm_step_forward next_c error", rel_error(expected_next_c, next_c), 1e-7)

    # LSTM: step backward. "errors on the order of e-7 or less"
    np.random.seed(231)
    N, D, H = 4, 5, 6
    x = np.random.randn(N, D)
    prev_h = np.random.randn(N, H)
    prev_c = np.random.randn(N, H)
    Wx = np.random.randn(D, 4 * H)
    Wh = np.random.randn(H, 4 * H)
    b = np.random.randn(4 * H)
    next_h, next_c, cache = lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    dnext_h = np.random.randn(*next_h.shape)
    dnext_c = np.random.randn(*next_c.shape)

    def step(i):
        return lambda _: lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)[i]

    num_grad = eval_numerical_gradient_array
    nums = {}
    for name, arr in [("dx", x), ("dh", prev_h), ("dc", prev_c), ("dWx", Wx), ("dWh", Wh),
                      ("db", b)]:
        nums[name] = num_grad(step(0), arr, dnext_h) + num_grad(step(1), arr, dnext_c)
    dx, dh, dc, dWx, dWh, db = lstm_step_backward(dnext_h, dnext_c, cache)
    got = {"dx": dx, "dh": dh, "dc": dc, "dWx": dWx, "dWh": dWh, "db": db}
    nb.errors_below("lstm_step_backward", {k: (nums[k], got[k]) for k in got}, 1e-6)

    # LSTM: forward. "an error on the order of e-7 or less"
    N, D, H, T = 2, 5, 4, 3
    x = np.linspace(-0.4, 0.6, num=N * T * D).reshape(N, T, D)
    h0 = np.linspace(-0.4, 0.8, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.2, 0.9, num=4 * D * H).reshape(D, 4 * H)
    Wh = np.linspace(-0.3, 0.6, num=4 * H * H).reshape(H, 4 * H)
    b = np.linspace(0.2, 0.7, num=4 * H)
    h, cache = lstm_forward(x, h0, Wx, Wh, b)
    expected_h = np.asarray([
        [[0.01764008, 0.01823233, 0.01882671, 0.0194232],
         [0.11287491, 0.12146228, 0.13018446, 0.13902939],
         [0.31358768, 0.33338627, 0.35304453, 0.37250975]],
        [[0.45767879, 0.4761092, 0.4936887, 0.51041945],
         [0.6704845, 0.69350089, 0.71486014, 0.7346449],
         [0.81733511, 0.83677871, 0.85403753, 0.86935314]]])
    nb.below("lstm_forward h error", rel_error(expected_h, h), 1e-6)

    # LSTM: backward. "errors on the order of e-8 or less. (For dWh, it's fine if your
    # error is on the order of e-6 or less)"
    np.random.seed(231)
    N, D, T, H = 2, 3, 10, 6
    x = np.random.randn(N, T, D)
    h0 = np.random.randn(N, H)
    Wx = np.random.randn(D, 4 * H)
    Wh = np.random.randn(H, 4 * H)
    b = np.random.randn(4 * H)
    out, cache = lstm_forward(x, h0, Wx, Wh, b)
    dout = np.random.randn(*out.shape)
    dx, dh0, dWx, dWh, db = lstm_backward(dout, cache)
    fx = lambda x: lstm_forward(x, h0, Wx, Wh, b)[0]
    fh0 = lambda h0: lstm_forward(x, h0, Wx, Wh, b)[0]
    fWx = lambda Wx: lstm_forward(x, h0, Wx, Wh, b)[0]
    fWh = lambda Wh: lstm_forward(x, h0, Wx, Wh, b)[0]
    fb = lambda b: lstm_forward(x, h0, Wx, Wh, b)[0]
    dx_num = eval_numerical_gradient_array(fx, x, dout)
    dh0_num = eval_numerical_gradient_array(fh0, h0, dout)
    dWx_num = eval_numerical_gradient_array(fWx, Wx, dout)
    dWh_num = eval_numerical_gradient_array(fWh, Wh, dout)
    db_num = eval_numerical_gradient_array(fb, b, dout)
    nb.errors_below("lstm_backward", {"dx": (dx_num, dx), "dh0": (dh0_num, dh0),
                                      "dWx": (dWx_num, dWx), "db": (db_num, db)}, 1e-7)
    nb.below("lstm_backward dWh error", rel_error(dWh_num, dWh), 1e-5)

    # LSTM captioning model. "a difference on the order of e-10 or less"
    N, D, W, H = 10, 20, 30, 40
    word_to_idx = {'<NULL>': 0, 'cat': 2, 'dog': 3}
    V = len(word_to_idx)
    T = 13
    model = CaptioningRNN(word_to_idx, input_dim=D, wordvec_dim=W, hidden_dim=H,
                          cell_type='lstm', dtype=np.float64)
    for k, v in model.params.items():
        model.params[k] = np.linspace(-1.4, 1.3, num=v.size).reshape(*v.shape)
    features = np.linspace(-0.5, 1.7, num=N * D).reshape(N, D)
    captions = (np.arange(N * T) % V).reshape(N, T)
    loss, grads = model.loss(features, captions)
    expected_loss = 9.82445935443
    nb.below("CaptioningRNN lstm loss difference", abs(loss - expected_loss), 1e-9)
    return nb.checks


NOTEBOOKS = {
    "FullyConnectedNets": fully_connected_nets,
    "BatchNormalization": batch_normalization,
    "Dropout": dropout,
    "ConvolutionalNetworks": convolutional_networks,
    "RNN_Captioning": rnn_captioning,
    "LSTM_Captioning": lstm_captioning,
}
