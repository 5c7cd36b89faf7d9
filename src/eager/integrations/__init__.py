"""Integrations with agent frameworks (each imports its framework lazily; an extra installs it).

``eager.integrations.smolagents``: ``EagerModel`` and ``EagerExecutor`` for smolagents'
``CodeAgent`` (``pip install 'eager[smolagents]'``).
"""

__all__: list[str] = []
