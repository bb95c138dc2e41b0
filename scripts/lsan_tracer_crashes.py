#!/usr/bin/env python3
"""Which failed tests of a ctest JUnit file failed only by LeakSanitizer's own crash at exit.

LeakSanitizer stops the process's threads with a tracer task before it scans memory at exit; that tracer
sometimes dies of SIGSEGV ("Tracer caught signal 11 ... LeakSanitizer has encountered a fatal error"),
after the test itself passed and with no report of ours (google/sanitizers#1353, open: intermittent,
seen on many CI hosts). Such a failure says nothing about our code, and a rerun of that test settles it.

    lsan_tracer_crashes.py JUNIT.xml

Prints, one per line, the failed tests whose output is such a crash and nothing else (the test passed, no
sanitizer report), and exits 0 when every failure is one; exits 1 naming the first real failure otherwise.
"""
import argparse
import sys
import xml.etree.ElementTree as ET

CRASH = ("Tracer caught signal", "LeakSanitizer has encountered a fatal error")
REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer: detected", "runtime error:",
           "[  FAILED  ]", "SUMMARY: ")


def tracer_only(output: str) -> bool:
    if not all(c in output for c in CRASH):
        return False
    if any(r in output for r in REPORTS):
        return False
    # A GoogleTest case must have run to its end; a fuzz-input replay prints no gtest banner.
    return "[  PASSED  ]" in output or "[==========]" not in output


def main(argv):
    ap = argparse.ArgumentParser(prog="lsan_tracer_crashes.py", description=__doc__.split("\n\n")[0],
                                 epilog="scripts/test-sanitized reruns the tests it prints, once.")
    ap.add_argument("junit", help="the file of `ctest --output-junit`")
    path = ap.parse_args(argv[1:]).junit
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        sys.exit(f"{path}: cannot read the ctest JUnit file: {e}")
    crashed = []
    for case in root.iter("testcase"):
        if case.get("status") != "fail":
            continue
        out = "".join(e.text or "" for e in case.iter("system-out"))
        if not tracer_only(out):
            print(f"{case.get('name')}: a real failure, not LeakSanitizer's tracer crash", file=sys.stderr)
            return 1
        crashed.append(case.get("name"))
    print("\n".join(crashed))
    return 0 if crashed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
