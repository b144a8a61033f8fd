"""Update rules and the Solver. Knows models only by their contract (params, loss)."""

__all__: list[str] = []
