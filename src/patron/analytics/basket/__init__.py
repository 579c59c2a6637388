"""Market baskets: which goods are bought together.

- ``mining``: frequent itemsets and rules X ⇒ {y} with support, confidence, lift, leverage
  and conviction, the same definition and thresholds as the R package arules (numpy Eclat);
- ``definitions.basket_items``: the (order, item) pairs of a period, store and channel from
  the analytics store, as an Ibis expression (DuckDB by default, Spark for a chain);
- ``spark``: the itemsets counted by Spark's FP-growth, the rules derived the same way;
- ``models`` / ``service``: the nightly run's rules kept in the operational database
  (``basket_rule``), read by product for "bought together".

This package imports nothing heavy: ``patron.metadata`` imports ``basket.models`` through
it.
"""
