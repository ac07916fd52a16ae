"""A fake OpenAI chat-completions server on loopback (Starlette on hypercorn's trio worker), answering
from a script, so the SDK runs for real over a socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@attrs.define
class FakeOpenAI:
    """Answers /v1/chat/completions from a script: a JSON content string, "HANG" or an HTTP status code."""

    script: list[str | int] = attrs.Factory(list)
    requests: list[dict[str, Any]] = attrs.Factory(list)

    async def completions(self, request: Request) -> Response:
        self.requests.append(await request.json())
        step = self.script.pop(0) if self.script else "HANG"
        if step == "HANG":
            await trio.sleep_forever()
        if isinstance(step, int):
            return JSONResponse({"error": {"message": "boom", "type": "server_error"}}, status_code=step)
        return JSONResponse(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": 1764000000,
                "model": "gpt-4o-mini",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": step, "refusal": None},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
            }
        )


@asynccontextmanager
async def serve_fake_openai() -> AsyncIterator[tuple[FakeOpenAI, str]]:
    """The server and its base URL (`…/v1`), until the block ends."""
    server = FakeOpenAI()
    app = Starlette(routes=[Route("/v1/chat/completions", server.completions, methods=["POST"])])
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.graceful_timeout = 0.1
    config.accesslog = None
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(
            lambda task_status: serve(app, config, shutdown_trigger=stop.wait, task_status=task_status)
        )  # type: ignore[arg-type]
        yield server, f"{binds[0]}/v1"
        stop.set()
        nursery.cancel_scope.deadline = trio.current_time() + 2.0
