"""The two shells around the core: they carry out a plan's effects, one with blocking calls and one
awaiting them. This loop is the only code the SDK writes twice; everything it runs (request
building, retry decisions, error mapping, parsing) is in ``_core``."""

from __future__ import annotations

import asyncio
import time
from typing import TypeVar

import httpx

from billbook.client._core import Plan, Sleep, Steps

T = TypeVar("T")


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


async def _asleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


class SyncLoop:
    """Runs plans over a synchronous httpx client."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def run(self, plan: Plan[T]) -> T:
        with Steps(plan) as steps:
            for effect in steps:
                if isinstance(effect, Sleep):
                    _sleep(effect.seconds)
                    continue
                with steps.sending():
                    steps.reply(self.http.send(effect.build(self.http)))
            return steps.result


class AsyncLoop:
    """Runs plans over an asynchronous httpx client."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def run(self, plan: Plan[T]) -> T:
        with Steps(plan) as steps:
            for effect in steps:
                if isinstance(effect, Sleep):
                    await _asleep(effect.seconds)
                    continue
                with steps.sending():
                    steps.reply(await self.http.send(effect.build(self.http)))
            return steps.result
