"""LK040: a Worker run by hand; another library's Worker is not livekit's."""

import asyncio

from livekit.agents import JobContext, Worker, WorkerOptions  # expect: LK040


class Pool:
    Worker = object


async def entrypoint(ctx: JobContext) -> None: ...


async def main() -> None:
    worker = Worker(WorkerOptions(entrypoint_fnc=entrypoint))  # expect: LK001 LK040
    await worker.run()
    Pool.Worker()


asyncio.run(main())
