"""The seed's first experiment in Python: state at module level survives from
one invocation to the next in the same execution environment, but a
background thread that counts seconds only runs while the environment is not
frozen.

Each invocation reports two clocks, both in whole seconds since this module
was imported:
  calculated: from time.time(), the wall clock, which never stops;
  background: how many one-second sleeps the background thread has finished.
On AWS Lambda, and under `thaw lambda`, background stays far behind
calculated, because between invocations the process gets no CPU. A sleep that
fell due while the process was frozen ends at the thaw, so the thread counts
at most one second per thaw, not the seconds it missed.
"""

import threading
import time

start_time = time.time()
num_seconds_elapsed = 0


def _count_seconds():
    global num_seconds_elapsed
    while True:
        time.sleep(1)
        num_seconds_elapsed += 1


threading.Thread(target=_count_seconds, name="background-seconds", daemon=True).start()


def lambda_handler(event, context):
    calculated = int(time.time() - start_time)
    background = num_seconds_elapsed
    print("Calculated: %d seconds, Background Task: %d seconds" % (calculated, background))
    return {"calculated": calculated, "background": background}
