"""The four CS231n functions on functions whose gradients are known in closed form."""

import numpy as np
import pytest

from gradcheck import (eval_numerical_gradient, eval_numerical_gradient_array,
                       grad_check_sparse, rel_error)


def test_eval_numerical_gradient_of_cube_sum():
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.1, -0.3]])
    x_before = x.copy()
    grad = eval_numerical_gradient(lambda a: (a ** 3).sum(), x, verbose=False)
    np.testing.assert_allclose(grad, 3 * x_before ** 2, rtol=1e-8)
    assert np.array_equal(x, x_before)  # restored exactly


def test_eval_numerical_gradient_array_of_sin():
    x = np.linspace(-2, 2, 7).reshape(7, 1)
    df = np.random.default_rng(0).standard_normal((7, 1))
    before = x.copy()
    grad = eval_numerical_gradient_array(np.sin, x, df)
    np.testing.assert_allclose(grad, np.cos(before) * df, rtol=1e-8, atol=1e-12)
    assert np.array_equal(x, before)


def test_eval_numerical_gradient_array_copes_with_views():
    x = np.arange(4.0)
    grad = eval_numerical_gradient_array(lambda a: a, x, np.ones(4))  # f returns x itself
    np.testing.assert_allclose(grad, np.ones(4))


def test_restores_even_when_f_raises():
    x = np.array([1.0, 2.0])

    def boom(a):
        if a[0] != 1.0:
            raise RuntimeError("boom")
        return a.sum()

    with pytest.raises(RuntimeError):
        eval_numerical_gradient(boom, x, verbose=False)
    assert np.array_equal(x, [1.0, 2.0])


def test_verbose_prints_each_index(capsys):
    eval_numerical_gradient(lambda a: (a ** 2).sum(), np.array([1.0, 2.0]))
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("(0,)")


def test_grad_check_sparse_on_cube(capsys):
    x = np.random.default_rng(1).standard_normal((4, 5))
    before = x.copy()
    errs = grad_check_sparse(lambda a: (a ** 3).sum(), x, 3 * x ** 2, num_checks=6, seed=0)
    assert len(errs) == 6 and max(errs) < 1e-7
    assert np.array_equal(x, before)
    assert capsys.readouterr().out.count("relative error") == 6
    wrong = grad_check_sparse(lambda a: (a ** 3).sum(), x, 2 * x ** 2, num_checks=4, seed=0)
    assert min(wrong) > 0.1


def test_rel_error():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)
    assert rel_error(np.array([0.0]), np.array([1e-10])) == pytest.approx(1e-2)  # 1e-8 floor
