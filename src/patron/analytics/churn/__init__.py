"""Churn risk with reasons, early warning, and P(alive)/CLV per customer (issue 5, items 4-5).

- ``features``: the feature registry (signals, their SQL over the analytics store, reasons);
- ``model``: calibrated logistic regression with per-customer contributions;
- ``scoring.score_churn(con, as_of=..., params=...)``: the pipeline step on the analytics
  store, returning a ``ChurnResult`` (model report + one row per customer);
- ``result``: ``ChurnParams`` (the step's thresholds) and ``ChurnResult`` (its rows and
  their reasons as the write-back stores them);
- ``service``: ``record_risk`` (scores, alerts and report into the operational database)
  and the readers (``at_risk_list``, ``risk_for_customer``, ``get_model_report``);
- ``reasons``: zh-CN and English texts of reasons and actions.

This module imports nothing heavy: ``patron.metadata`` imports ``churn.models`` through it,
and scikit-learn loads only when a score is computed.
"""
