from livekit.agents import AgentSession, mcp


def make() -> AgentSession:
    return AgentSession(
        mcp_servers=[mcp.MCPServerHTTP(url="http://localhost:8000/sse")],  # expect: LK016
    )
