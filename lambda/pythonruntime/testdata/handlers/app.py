"""Python handlers for thaw's Python runtime tests; _HANDLER=app.<name>."""

import asyncio
import decimal
import logging
import os
import sys

invocations = 0
logger = logging.getLogger("app")


def echo(event, context):
    """Returns the event and what the context says, as the handler sees them."""
    global invocations
    invocations += 1
    print("echo", event)
    client_context = None
    if context.client_context is not None:
        client_context = {"custom": context.client_context.custom, "env": context.client_context.env}
    return {
        "event": event,
        "invocations": invocations,
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "invoked_function_arn": context.invoked_function_arn,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "client_context": client_context,
        "cognito_identity_id": context.identity.cognito_identity_id,
        "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
        "execution_env": os.environ.get("AWS_EXECUTION_ENV"),
        "sys_path_0": sys.path[0],
        "pid": os.getpid(),
    }


def counter(event, context):
    global invocations
    invocations += 1
    return invocations


class ValidationError(Exception):
    pass


def raises(event, context):
    raise ValidationError("bad input: %s" % event.get("field"))


def raises_in_helper(event, context):
    return _helper()


def _helper():
    return {}["missing"]


async def async_raises(event, context):
    await asyncio.sleep(0.01)
    raise ValueError("async boom")


async def async_handler(event, context):
    await asyncio.sleep(0.05)
    return {"async": True, "remaining_ms": context.get_remaining_time_in_millis()}


# loop_ids records the event loop of each async invocation: one loop serves
# them all.
loop_ids = []


async def same_loop(event, context):
    loop_ids.append(id(asyncio.get_running_loop()))
    return {"loops": len(set(loop_ids)), "invocations": len(loop_ids)}


def logs(event, context):
    print("printed line")
    print("two\nlines")
    logger.warning("warned %d", 42)
    logger.info("dropped: the root level is WARNING")
    logging.getLogger().setLevel(logging.INFO)
    logger.info("info after setLevel")
    logging.getLogger().setLevel(logging.WARNING)
    logger.error("an error")
    sys.stderr.write("to stderr\n")
    context.log("via context.log\n")
    return "logged"


def not_serializable(event, context):
    return {"when": object()}


def decimals(event, context):
    return {"int": decimal.Decimal("3"), "float": decimal.Decimal("1.5"), "text": "héllo"}


def returns_bytes(event, context):
    return b"raw bytes"


def returns_none(event, context):
    return None


def exits(event, context):
    sys.exit(3)


not_callable = 42
