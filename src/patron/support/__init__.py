"""After-sales service: business calendars and working time for SLA clocks, and the
analysis of what customers write (segmentation, keywords, topics, sentiment)."""
