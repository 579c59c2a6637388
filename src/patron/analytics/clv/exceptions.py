"""Errors of the lifetime-value models; they carry their facts (docs/architecture.md, Errors and messages)."""

from __future__ import annotations

from typing import Any

from patron.core.errors import PatronError


class ModelFitError(PatronError):
    """A model could not be fitted to finite parameters (not a mere slow convergence).

    Raised only when nothing usable came out of the optimiser; a fit that stopped short of
    the convergence test is returned with ``converged=False`` and a warning instead.
    """

    code = "model_fit_failed"

    def __init__(self, model: str, message: str, **facts: Any) -> None:
        super().__init__(f"{model}: {message}", model=model, **facts)
        self.model = model
