"""Settings modules: ``base`` (every environment), ``production`` and ``test``.

All configuration comes from environment variables (12-factor); see ``env.py``.
"""
