"""Analytics on per-customer summaries: RFM, lifecycle, cohorts, lifetime value, churn."""
