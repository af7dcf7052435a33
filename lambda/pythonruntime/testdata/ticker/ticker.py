"""The seed's experiment: a background thread counts 100 ms ticks, which
advance only while the environment is not frozen."""

import os
import threading
import time

start = time.time()
ticks = 0


def _count():
    global ticks
    while True:
        time.sleep(0.1)
        ticks += 1


threading.Thread(target=_count, daemon=True).start()


def handler(event, context):
    time.sleep(0.15)
    return {"wallMs": (time.time() - start) * 1000, "ticks": ticks, "pid": os.getpid()}
