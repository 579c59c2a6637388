"""Daily sales forecasts by store and category with intervals and a backtest (``model``,
``service``), Chinese holidays as regressors (``chinese_days``), the rows kept for the
dashboard (``models``). Imports nothing heavy: ``patron.metadata`` reaches ``models``
through it."""
