"""Next-basket recommendations per member (``model``), the evaluation protocol and the
frequency baselines (``evaluation``), and the nightly rows kept for the API (``models``,
``service``). Imports nothing heavy: ``patron.metadata`` reaches ``models`` through it."""
