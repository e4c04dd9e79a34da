"""Playground mode's web side: the start-up (startup.py) and the page with its API (api.py)."""
