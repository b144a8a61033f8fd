"""nets.autograd: every Tensor operation against numerical gradients (property-based,
broadcasting included), accumulation, a reused node (diamond), no_grad, and ``apply`` on
every registered layer equal to the layer's own backward."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck.numeric import eval_numerical_gradient_array, rel_error
from gradcheck.registry import REGISTRY
from gradcheck.strategies import generic_arrays
from layers import affine_backward, affine_forward, relu_backward, relu_forward, softmax_loss
from layers.backend import to_numpy, to_xp
from nets.autograd import Tensor, apply, apply_loss, is_grad_enabled, no_grad


def numeric_grads(f, arrays, dout):
    """d sum(f(*arrays) * dout) / d arrays, by centred differences on raw arrays."""
    out = []
    for i, a in enumerate(arrays):
        def g(_, i=i):
            return f(*[Tensor(b) for b in arrays]).data
        out.append(eval_numerical_gradient_array(g, a, dout))
    return out


def check_op(f, *arrays, seed=0, tol=1e-7):
    """f's backward (through Tensors) against numerical gradients for a random dout."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    leaves = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = f(*leaves)
    dout = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(dout)
    for k, (t, num) in enumerate(zip(leaves, numeric_grads(f, arrays, dout))):
        assert t.grad.shape == t.shape, f"input {k}: grad shape {t.grad.shape} != {t.shape}"
        assert rel_error(t.grad, num) < tol, f"input {k}: rel error {rel_error(t.grad, num)}"


@st.composite
def broadcast_pair(draw, max_dims=3):
    """Two shapes that broadcast: b drops leading axes of a and/or has 1s where a does not
    (and a may have 1s where b does not)."""
    a = draw(st.lists(st.integers(1, 3), min_size=0, max_size=max_dims))
    drop = draw(st.integers(0, len(a)))
    b = list(a[drop:])
    for i in range(len(b)):
        if draw(st.booleans()):
            b[i] = 1
    a = list(a)
    for i in range(len(a) - len(b), len(a)):
        if b[i - len(a) + len(b)] != 1 and draw(st.integers(0, 4)) == 0:
            a[i] = 1
    if draw(st.booleans()):
        a, b = b, a
    x = draw(generic_arrays(tuple(a), salt=1))
    y = draw(generic_arrays(tuple(b), low=0.5, high=2.0, salt=2))  # away from 0: divisor
    return x, y


BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b,
          "mul": lambda a, b: a * b, "div": lambda a, b: a / b}


@pytest.mark.parametrize("op", sorted(BINARY))
@given(pair=broadcast_pair())
def test_binary_ops_broadcast_and_sum_over_broadcast_axes(op, pair):
    check_op(BINARY[op], *pair)


@pytest.mark.parametrize("op", ["radd", "rsub", "rmul", "rdiv"])
@given(pair=broadcast_pair())
def test_reflected_ops_with_a_constant_array_and_number(op, pair):
    x, c = pair
    f = {"radd": lambda t: c + t + 2.0, "rsub": lambda t: c - t - 1.5,
         "rmul": lambda t: c * t * 3.0, "rdiv": lambda t: c / (t * t + 1.0) / 2.0}[op]
    check_op(f, x)


@st.composite
def matmul_shapes(draw):
    n, k, m = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    batch = draw(st.lists(st.integers(1, 2), max_size=2))
    kind = draw(st.sampled_from(["mm", "vm", "mv", "vv", "batched", "broadcast"]))
    a, b = {"mm": ((n, k), (k, m)), "vm": ((k,), (k, m)), "mv": ((n, k), (k,)),
            "vv": ((k,), (k,)), "batched": ((*batch, n, k), (*batch, k, m)),
            "broadcast": ((*batch, n, k), (k, m))}[kind]
    return draw(generic_arrays(a, salt=1)), draw(generic_arrays(b, salt=2))


@given(pair=matmul_shapes())
def test_matmul_including_vectors_and_batch_broadcasting(pair):
    check_op(lambda a, b: a @ b, *pair)


UNARY = {
    "neg": (lambda t: -t, {}),
    "pow2": (lambda t: t ** 2, {}),
    "pow3.5": (lambda t: t ** 3.5, {"signed": False}),
    "exp": (lambda t: t.exp(), {}),
    "log": (lambda t: t.log(), {"signed": False}),
    "tanh": (lambda t: t.tanh(), {}),
    "abs": (lambda t: t.abs(), {}),  # generic values stay >= 0.1 from the kink
}


@pytest.mark.parametrize("op", sorted(UNARY))
@given(data=st.data())
def test_elementwise_unary_ops(op, data):
    f, kw = UNARY[op]
    shape = data.draw(st.lists(st.integers(1, 3), max_size=3))
    check_op(f, data.draw(generic_arrays(tuple(shape), **kw)))


@st.composite
def array_and_axes(draw):
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    axis = draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1),
                          st.sets(st.integers(0, len(shape) - 1)).map(tuple)))
    return draw(generic_arrays(shape)), axis, draw(st.booleans())


@pytest.mark.parametrize("op", ["sum", "mean"])
@given(case=array_and_axes())
def test_reductions_over_any_axes(op, case):
    x, axis, keepdims = case
    check_op(lambda t: getattr(t, op)(axis=axis, keepdims=keepdims), x)


@given(data=st.data())
def test_reshape_and_transpose(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    x = data.draw(generic_arrays(shape))
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    check_op(lambda t: t.reshape(-1), x)
    check_op(lambda t: t.reshape(tuple(reversed(shape))) * 2.0, x)
    check_op(lambda t: t.transpose(*perm), x)
    check_op(lambda t: t.T, x)


@given(data=st.data())
def test_indexing_basic_and_advanced_with_repeats(data):
    x = data.draw(generic_arrays((4, 3)))
    rows = np.array(data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=6)))
    check_op(lambda t: t[1:3], x)
    check_op(lambda t: t[:, 2], x)
    check_op(lambda t: t[..., None, ::2], x)
    check_op(lambda t: t[rows], x)  # repeated rows accumulate
    check_op(lambda t: t[rows, rows % 3], x)
    check_op(lambda t: t[x > 0], x)


def test_repeated_index_gradient_counts_each_use():
    x = Tensor(np.arange(3.0), requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]


def test_gradients_accumulate_over_two_backward_calls():
    rng = np.random.default_rng(0)
    w = Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    x = rng.standard_normal((4, 3))
    (Tensor(x) @ w).sum().backward()
    first = w.grad
    (Tensor(x) @ w * 2.0).sum().backward()
    np.testing.assert_allclose(w.grad, 3 * first, rtol=1e-14)
    assert first is not w.grad and np.array_equal(first, x.sum(0)[:, None] * np.ones(2))


def test_diamond_graph_reusing_an_intermediate_node():
    # h feeds u directly and through v = h * h, and the output twice (gelu-like shape):
    # h's gradient must be complete before it flows on to w.
    rng = np.random.default_rng(1)
    x, w0 = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))

    def f(w):
        h = Tensor(x) @ w
        v = h * h
        return (h + v * h * 0.5) * (v + 1.0).tanh() + h

    check_op(f, w0)
    w = Tensor(w0, requires_grad=True)
    h = Tensor(x) @ w
    (h * h).sum().backward()  # d/dw sum((xw)^2) = 2 x^T (x w)
    np.testing.assert_allclose(w.grad, 2 * x.T @ (x @ w0), rtol=1e-12)


def test_long_chain_needs_no_recursion():
    t = w = Tensor(np.ones(2), requires_grad=True)
    for _ in range(5000):
        t = t * 1.0001
    t.sum().backward()
    np.testing.assert_allclose(w.grad, 1.0001 ** 5000, rtol=1e-9)


def test_no_grad_records_nothing_and_restores():
    w = Tensor(np.ones(3), requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        y = (w * 2.0).sum()
        z = apply(relu_forward, relu_backward, w)
    assert is_grad_enabled()
    assert not y.requires_grad and y.is_leaf and not z.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_only_leaves_get_grads_and_constants_none():
    x = Tensor(np.ones((2, 2)))
    w = Tensor(np.ones((2, 2)), requires_grad=True)
    h = x @ w
    (h * h).sum().backward()
    assert x.grad is None and h.grad is None and w.grad is not None


def test_backward_errors_name_the_problem():
    w = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match="one-element"):
        (w * 2.0).backward()
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        (w * 2.0).backward(np.ones(4))
    with pytest.raises(TypeError, match="floating-point"):
        Tensor(np.arange(3), requires_grad=True)
    with pytest.raises(TypeError, match="exponent"):
        w ** w


def test_ops_keep_float32():
    w = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    y = ((w * 2.0 + 1.0) / 3.0 - w).mean() ** 2
    y.backward()
    assert y.dtype == np.float32 and w.grad.dtype == np.float32


def test_operations_never_write_into_their_arrays():
    a = np.random.default_rng(0).standard_normal((3, 3))
    keep = a.copy()
    w = Tensor(a, requires_grad=True)
    ((w @ w + w[0] * w).sum() + w.T.reshape(-1)[2]).backward()
    w2 = Tensor(a, requires_grad=True)
    apply(affine_forward, affine_backward, w2, w2, w2[0]).sum().backward()
    assert np.array_equal(a, keep)


# --- apply: every registered layer, gradients exactly the layer's own ----------------------


def _is_float(a):
    return getattr(a, "dtype", np.dtype(np.int8)).kind == "f"


def _differentiable(a):
    if isinstance(a, dict):
        return bool(a) and all(_is_float(v) for v in a.values())
    return _is_float(a)


def _wrap(a):
    if isinstance(a, dict):
        return {k: Tensor(v, requires_grad=True) for k, v in a.items()}
    return Tensor(a, requires_grad=True)


def _fresh(inputs):
    return [dict(a) if isinstance(a, dict) and not _differentiable(a) else a for a in inputs]


@pytest.mark.parametrize("name", sorted(REGISTRY))
@settings(max_examples=10)  # an identity, not a numerical check: a few shapes suffice
@given(data=st.data())
def test_apply_on_every_registered_layer_equals_its_backward(xp, name, data):
    spec = REGISTRY[name]
    case = data.draw(spec.strategy(np.float64))
    inputs = to_xp(case.inputs, xp)
    slots = [i for i, a in enumerate(inputs) if _differentiable(a)]
    args = [_wrap(a) if i in slots else a for i, a in enumerate(_fresh(inputs))]
    if spec.is_loss:
        _, want = spec.forward(*_fresh(inputs))
        want, douts = [want], None
        out = apply_loss(spec.forward, *args)
        out.backward()
    else:
        res = spec.forward(*_fresh(inputs))
        outs, cache = res[:-1], res[-1]
        douts = list(to_xp(case.dout, xp)) if isinstance(case.dout, tuple) else \
            [to_xp(case.dout, xp)]
        want = spec.backward(*douts, cache)
        want = list(want) if isinstance(want, tuple) else [want]
        out = apply(spec.forward, spec.backward, *args)
        outs_t = out if isinstance(out, tuple) else (out,)
        for o, ref in zip(outs_t, outs):
            assert np.array_equal(to_numpy(o.data), to_numpy(ref))
        # one backward per output, accumulating: the sum of the parts is the whole
        for o, d in zip(outs_t, douts):
            (o * d).sum().backward()
    for i, g in zip(slots, want):
        got = args[i]
        pairs = [(got[k].grad, g[k]) for k in g] if isinstance(g, dict) else [(got.grad, g)]
        for a, b in pairs:
            np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-12, atol=1e-14)


def test_apply_passes_bn_param_through_and_drops_plain_array_gradients():
    from layers import batchnorm_backward, batchnorm_forward
    rng = np.random.default_rng(0)
    x, gamma = rng.standard_normal((5, 3)), Tensor(np.ones(3), requires_grad=True)
    bn_param = {"mode": "train"}
    out = apply(batchnorm_forward, batchnorm_backward, x, gamma, np.zeros(3), bn_param)
    assert "running_mean" in bn_param  # the layer's state arrives in the caller's dict
    (out * Tensor(rng.standard_normal((5, 3)))).sum().backward()
    assert gamma.grad.shape == (3,)


def test_apply_multi_output_unused_output_gets_zero_gradient():
    from layers import lstm_step_backward, lstm_step_forward
    rng = np.random.default_rng(0)
    N, D, H = 2, 3, 4
    arrays = [rng.standard_normal(s) for s in [(N, D), (N, H), (N, H), (D, 4 * H),
                                                (H, 4 * H), (4 * H,)]]
    ts = [Tensor(a, requires_grad=True) for a in arrays]
    h, c = apply(lstm_step_forward, lstm_step_backward, *ts)
    dh = rng.standard_normal((N, H))
    (h * dh).sum().backward()
    *_, cache = lstm_step_forward(*arrays)
    want = lstm_step_backward(dh, np.zeros((N, H)), cache)
    for t, g in zip(ts, want):
        np.testing.assert_allclose(t.grad, g, rtol=1e-13)


def test_apply_loss_and_wrong_backward_arity():
    x = Tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    y = np.array([0, 2, 1, 1])
    loss = apply_loss(softmax_loss, x, y)
    loss.backward()
    np.testing.assert_array_equal(x.grad, softmax_loss(x.data, y)[1])

    def bad_backward(dout, cache):
        return affine_backward(dout, cache)[:2]
    out = apply(affine_forward, bad_backward, x, np.ones((3, 2)), np.zeros(2))
    with pytest.raises(TypeError, match="bad_backward returned 2 gradient"):
        out.sum().backward()
