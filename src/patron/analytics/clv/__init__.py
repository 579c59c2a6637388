"""Customer lifetime value: BG/NBD, Pareto/NBD and Gamma-Gamma on per-customer summaries.

Typical use: ``summarise_transactions`` → ``fit_bgnbd`` (or ``fit_paretonbd``) and
``fit_gamma_gamma`` → ``holdout_report`` to check the fit → ``customer_lifetime_value``.
Every fit result carries plain-English ``warnings``; read them before the numbers.
"""

from __future__ import annotations

from patron.analytics.clv._common import Histories, PurchaseModel
from patron.analytics.clv._fitting import FitResult
from patron.analytics.clv.bgnbd import BgNbd, fit_bgnbd
from patron.analytics.clv.exceptions import ModelFitError
from patron.analytics.clv.gammagamma import GammaGamma, fit_gamma_gamma
from patron.analytics.clv.paretonbd import ParetoNbd, fit_paretonbd
from patron.analytics.clv.summary import CustomerSummary, summarise_transactions
from patron.analytics.clv.validation import HoldoutBucket, HoldoutReport, holdout_report
from patron.analytics.clv.value import LifetimeValue, customer_lifetime_value, round_to_fen

__all__ = [
    "BgNbd",
    "CustomerSummary",
    "FitResult",
    "GammaGamma",
    "Histories",
    "HoldoutBucket",
    "HoldoutReport",
    "LifetimeValue",
    "ModelFitError",
    "ParetoNbd",
    "PurchaseModel",
    "customer_lifetime_value",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_paretonbd",
    "holdout_report",
    "round_to_fen",
    "summarise_transactions",
]
