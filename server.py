
from mcp.server.mcpserver import MCPServer  # mcp 1.x: from mcp.server.fastmcp import FastMCP
from mcp.types import ToolAnnotations

server = MCPServer("demo")

@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
def search(query: str, limit: int = 3) -> list[str]:
    """Search the index."""
    return [f"{query} {i}" for i in range(limit)]

server.run("stdio")
