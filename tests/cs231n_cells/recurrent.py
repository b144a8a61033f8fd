# ruff: noqa: F403, F405, E731  (the notebooks star-import layers and name lambdas)
"""RNN_Captioning.ipynb and LSTM_Captioning.ipynb (sources in the package docstring)."""

from __future__ import annotations

import numpy as np

from gradcheck import eval_numerical_gradient, eval_numerical_gradient_array
from layers import *  # the notebooks: from cs231n.layers import *
from nets import CaptioningRNN

from ._harness import Check, Notebook, grad_errors, rel_error


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
    grad_errors(nb, "CaptioningRNN rnn", model, features, captions, lambda name: 5e-6,
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
