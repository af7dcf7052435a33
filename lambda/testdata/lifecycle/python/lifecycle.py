"""The lifecycle test function for the python runtime; node/index.mjs is the
same in JavaScript. The event says what it does, as for the Go test function:
{"action": "echo" | "sleep" | "fail" | "crash" | "alloc" | "log" | "async",
...}."""

import asyncio
import logging
import os
import time

invocations = 0
hoard = []
logger = logging.getLogger()


def handler(event, context):
    global invocations
    invocations += 1
    reply = {
        "pid": os.getpid(),
        "invocations": invocations,
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
    action = event.get("action", "echo")
    if action == "echo":
        print("echo %s" % event.get("text"))
        return dict(reply, echo=event.get("text"))
    if action == "sleep":
        time.sleep(event["ms"] / 1000)
        return reply
    if action == "fail":
        raise RuntimeError("failing on purpose: %s" % event.get("text"))
    if action == "crash":
        print("crashing on purpose")
        os._exit(3)
    if action == "alloc":
        for _ in range(event["mb"]):
            hoard.append(b"\x01" * (1 << 20))
        return reply
    if action == "log":
        logger.warning(event.get("text"))
        return reply
    if action == "async":
        return _async_reply(reply)
    raise ValueError("unknown action %s" % action)


async def _async_reply(reply):
    await asyncio.sleep(0.02)
    return dict(reply, **{"async": True})
