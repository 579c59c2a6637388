"""Helpers of the web tests: a signed-in console client (console.py), an API client with a key (api.py)."""
