"""What a gradient check found: one ``InputReport`` per differentiated input, and errors."""

from __future__ import annotations

from dataclasses import dataclass, field


class GradcheckPrecisionWarning(UserWarning):
    """Inputs were not float64: the check upcast them (and says so, once per check)."""


class VacuousCheckWarning(UserWarning):
    """A check that could not have failed: e.g. an input whose gradient is identically 0."""


class GradientCheckError(AssertionError):
    """The analytic gradient disagrees with the numerical one. ``.report`` has the details."""

    def __init__(self, message: str, report: "GradcheckReport | None" = None):
        super().__init__(message)
        self.report = report


class MutationError(GradientCheckError):
    """A forward or backward wrote into an array it was given (input, dout or cache)."""


class NondeterminismError(GradientCheckError):
    """The same call gave different results twice (an unseeded random draw, say)."""


class ContractError(GradientCheckError):
    """A layer broke the call contract: wrong number, shape or dtype of gradients."""


@dataclass
class Offender:
    """One checked element (or fast-mode probe) and how far apart the two gradients were."""

    index: tuple
    analytic: float
    numeric: float
    tolerance: float

    @property
    def error(self) -> float:
        return abs(self.analytic - self.numeric)


@dataclass
class InputReport:
    """The comparison for one input (or one entry of a param dict).

    ``checked`` counts elements in full mode and probes in fast mode; ``kinks`` counts
    points where the function is not differentiable within the step (relu at 0, a tie in
    a max) and the analytic value was accepted because it lies between the one-sided
    derivatives. ``worst`` is the element with the largest error relative to its
    tolerance, indexed in the input's own shape.
    """

    name: str
    shape: tuple
    mode: str  # "full", "sampled" or "fast"
    checked: int = 0
    failed: int = 0
    kinks: int = 0
    step: float = 0.0
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    worst: Offender | None = None
    top: list[Offender] = field(default_factory=list)
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def describe_worst(self) -> str:
        w = self.worst
        if w is None:
            return f"{self.name}: nothing checked"
        where = f"{self.name}[{', '.join(str(i) for i in w.index)}]" if w.index else self.name
        verdict = ">" if w.error > w.tolerance else "<="
        return (f"{where}: analytic {w.analytic:.6g}, numerical {w.numeric:.6g} "
                f"(abs error {w.error:.2e} {verdict} tolerance {w.tolerance:.2e})")


@dataclass
class GradcheckReport:
    """All the inputs of one check. Index it by input name: ``report["dw"]`` or ``report["w"]``."""

    target: str
    seed: int
    mode: str
    inputs: dict[str, InputReport] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> InputReport:
        if name in self.inputs:
            return self.inputs[name]
        if name.startswith("d") and name[1:] in self.inputs:  # report["dw"] works too
            return self.inputs[name[1:]]
        raise KeyError(f"no input named {name!r}; inputs are {list(self.inputs)}")

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.inputs.values())

    @property
    def failed(self) -> list[InputReport]:
        return [r for r in self.inputs.values() if not r.ok]

    def __str__(self) -> str:
        head = f"gradcheck {self.target} (mode {self.mode}, seed {self.seed})"
        cols = ("input", "shape", "checked", "failed", "kinks", "max abs err",
                "max rel err", "worst")
        rows = [cols]
        for r in self.inputs.values():
            worst = ("-" if r.worst is None else
                     f"{list(r.worst.index)} a={r.worst.analytic:.4g} n={r.worst.numeric:.4g}")
            rows.append((r.name, str(tuple(r.shape)), str(r.checked), str(r.failed),
                         str(r.kinks), f"{r.max_abs_error:.2e}", f"{r.max_rel_error:.2e}",
                         worst))
        widths = [max(len(row[i]) for row in rows) for i in range(len(cols))]
        lines = [head] + ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
        lines += [f"note: {n}" for n in self.notes]
        lines += [f"note ({r.name}): {r.note}" for r in self.inputs.values() if r.note]
        return "\n".join(lines)

    def failure_message(self) -> str:
        bad = self.failed
        parts = [f"gradient check failed for {self.target}:"]
        for r in bad:
            parts.append(f"  {r.describe_worst()}; {r.failed} of {r.checked} "
                         f"{'probes' if r.mode == 'fast' else 'elements'} failed")
        return "\n".join(parts) + "\n" + str(self)
