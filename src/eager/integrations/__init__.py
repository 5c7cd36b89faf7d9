"""Integrations with agent frameworks and tool servers (each imported lazily; an extra installs it).

``eager.integrations.smolagents``: ``EagerModel`` and ``EagerExecutor`` for smolagents'
``CodeAgent`` (``pip install 'eager[smolagents]'``).

``eager.integrations.mcp``: ``McpToolset``, the tools of an MCP server as Eager tools
(``pip install 'eager[mcp]'``).
"""

__all__: list[str] = []
