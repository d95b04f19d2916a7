"""Group commit for signHash: requests that arrive together share one database transaction."""

from __future__ import annotations

import asyncio
from typing import Any

from thaisign.service.core import CscService


class SignBatcher:
    """Group commit for signHash: requests that arrive together share one database transaction.

    The first request starts a drain task; it yields to the event loop once, so requests already
    on the wire are parsed and queued, then runs the queued jobs as one batch
    (:meth:`CscService.run_sign_jobs`) and hands every request its own result.
    """

    def __init__(self, service: CscService, max_batch: int = 64) -> None:
        self.service = service
        self.max_batch = max_batch
        self._queue: list[tuple[Any, asyncio.Future[list[bytes]]]] = []
        self._draining = False

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
                await asyncio.sleep(0)  # one turn of the loop: let waiting requests join
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                try:
                    results: list[Any] = self.service.run_sign_jobs([job for job, _ in batch])
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
