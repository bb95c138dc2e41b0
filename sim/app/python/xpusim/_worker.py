"""A local sweep worker: reads one point (a JSON line) from stdin, runs it with xpusim.sweeps.run_point
and writes its result (a JSON line) to the original stdout; one simulation at a time, until stdin ends.
It dies with the sweep that started it (PR_SET_PDEATHSIG), so a killed sweep leaves no workers behind."""
import ctypes
import json
import os
import signal
import sys


def _die_with_parent(parent):
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the sweep died before prctl took effect
        os._exit(1)


def main():
    parent = os.getppid()
    _die_with_parent(parent)
    # Results travel on a private copy of stdout; anything the simulator prints goes to stderr.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    from .sweeps import run_point
    for line in sys.stdin:
        if line.strip():
            out.write(json.dumps(run_point(json.loads(line))) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
