"""Numerical gradient checking: the CS231n functions and one-call checks.

- ``eval_numerical_gradient``, ``eval_numerical_gradient_array``, ``grad_check_sparse``,
  ``rel_error``: the four CS231n functions, call-compatible.
- ``check_module``: the same for a module or any function of Tensors (duck-typed).
- ``check_layer``, ``check_loss``, ``check_net``: float64, random upstream gradient,
  kink-aware, purity-checking comparisons that raise ``GradientCheckError`` naming the
  worst element. ``fast=True`` checks random directions (with bisection on failure).
- ``gradcheck.strategies``: hypothesis strategies for valid, tie-free layer inputs
  (imported on demand: it needs the ``test`` extra).
"""

from .check import check_layer, check_loss, check_net
from .module_check import check_module
from .numeric import (eval_numerical_gradient, eval_numerical_gradient_array,
                      grad_check_sparse, rel_error)
from .report import (ContractError, GradcheckPrecisionWarning, GradcheckReport,
                     GradientCheckError, InputReport, MutationError, NondeterminismError,
                     VacuousCheckWarning)

__all__ = [
    "eval_numerical_gradient", "eval_numerical_gradient_array", "grad_check_sparse",
    "rel_error", "check_layer", "check_loss", "check_net", "check_module", "GradientCheckError",
    "MutationError", "NondeterminismError", "ContractError", "GradcheckReport",
    "InputReport", "GradcheckPrecisionWarning", "VacuousCheckWarning",
]
