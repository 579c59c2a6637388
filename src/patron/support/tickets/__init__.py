"""Tickets: complaints, returns, exchanges, repairs, enquiries and suggestions, through a
workflow with SLA clocks (docs/support.md)."""
