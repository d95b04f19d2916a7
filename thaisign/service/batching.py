"""Group commit for signHash: requests that arrive together share one database transaction."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio.to_thread

from thaisign.service.core import CscService


class SignBatcher:
    """Group commit for signHash: requests that arrive together share one database transaction.

    The first request starts a drain task, which runs the queued jobs as one batch
    (:meth:`CscService.run_sign_jobs`) in a thread and hands every request its own result. One
    batch is in flight per process: while its database round trips and the token's signatures
    run (neither holds the GIL), the event loop goes on reading requests, which form the next
    batch. Under load batches grow by themselves, so the cost per signature falls as the rate
    rises; a lone request waits for nobody.
    """

    def __init__(self, service: CscService, max_batch: int = 64) -> None:
        self.service = service
        self.max_batch = max_batch
        self._queue: list[tuple[Any, asyncio.Future[list[bytes]]]] = []
        self._draining = False
        self._limiter = anyio.CapacityLimiter(1)

    async def submit(self, job: Any) -> list[bytes]:
        future: asyncio.Future[list[bytes]] = asyncio.get_running_loop().create_future()
        self._queue.append((job, future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                await asyncio.sleep(0)  # one turn of the loop: let requests already read join
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                jobs = [job for job, _ in batch]
                try:
                    results: list[Any] = await anyio.to_thread.run_sync(
                        self.service.run_sign_jobs, jobs, limiter=self._limiter
                    )
                except Exception as exc:
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._draining = False
