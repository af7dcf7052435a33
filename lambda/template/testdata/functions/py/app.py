"""The Python function of the template tests: says who it is and what its
environment holds."""

import os
import sys


def handler(event, context):
    return {
        "runtime": "python%d.%d" % sys.version_info[:2],
        "function": context.function_name,
        "memory": context.memory_limit_in_mb,
        "stage": os.environ.get("STAGE"),
        "shared": os.environ.get("SHARED"),
        "event": event,
    }
