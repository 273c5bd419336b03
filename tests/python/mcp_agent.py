"""A coding agent's view of NorthStar through MCP: the official `mcp` Python client connects to
the server's /mcp with a read key, lists the tools and calls each one. Prints one JSON line per
call: {"tool": name, "is_error": bool, "text": the first text content}, after a line with the
tools' names and descriptions.

    python mcp_agent.py <base-url> <read-key> <run-id> <span-id>
"""

import asyncio
import json
import sys

import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client


async def main(base: str, key: str, run_id: str, span_id: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with streamable_http_client(f"{base}/mcp", http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = await session.list_tools()
                print(json.dumps({"tools": {t.name: t.description for t in tools.tools}}), flush=True)
                calls = [
                    ("search_runs", {"status": "ok", "limit": 5}),
                    ("search_runs", {"model": "gpt-4o-mini"}),
                    ("get_run_context", {"run_id": run_id}),
                    ("get_run_context", {"run_id": run_id, "max_bytes": 1000}),
                    ("get_span", {"span_id": span_id}),
                    ("list_sessions", {}),
                    ("get_metrics", {"group_by": "model"}),
                    ("add_score", {"run_id": run_id, "name": "mcp-review", "value": 1, "data_type": "boolean"}),
                    ("get_run_context", {"run_id": "00000000-0000-0000-0000-000000000000"}),
                    ("search_runs", {"status": "sleeping"}),
                ]
                for name, arguments in calls:
                    result = await session.call_tool(name, arguments)
                    text = next((c.text for c in result.content if getattr(c, "type", "") == "text"), "")
                    print(json.dumps({"tool": name, "is_error": bool(result.is_error), "text": text}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
