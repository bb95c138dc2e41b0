"""scripts/lsan_tracer_crashes.py lets the sanitized suite rerun a test only when LeakSanitizer's own tracer
crashed at exit after the test passed; a leak, an ASan/UBSan report or a failed assertion is never rerun."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "lsan_tracer_crashes.py")
CRASH = "Tracer caught signal 11: addr=0x7f799af3f000\n==1==LeakSanitizer has encountered a fatal error.\n"
PASSED = "[==========] Running 1 test from 1 test suite.\n[  PASSED  ] 1 test.\n"


def classify(tmp_path, cases):
    body = "".join(f'<testcase name="{n}" status="{s}"><system-out><![CDATA[{o}]]></system-out></testcase>'
                   for n, s, o in cases)
    path = tmp_path / "suite.xml"
    path.write_text(f'<?xml version="1.0"?><testsuite>{body}</testsuite>')
    return subprocess.run([sys.executable, SCRIPT, str(path)], capture_output=True, text=True)


def test_a_passed_test_killed_by_the_tracer_is_named_for_a_rerun(tmp_path):
    r = classify(tmp_path, [("QuantumKeeper.SyncsWhereTheTlmKeeperDoes", "fail", PASSED + CRASH),
                            ("fuzz_replay_preset", "fail", CRASH), ("Other.Ok", "run", PASSED)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["QuantumKeeper.SyncsWhereTheTlmKeeperDoes", "fuzz_replay_preset"]


def test_real_failures_are_never_rerun(tmp_path):
    for out in (PASSED.replace("PASSED", "FAILED") + CRASH,  # the test itself failed
                PASSED + "==1==ERROR: LeakSanitizer: detected memory leaks\n" + CRASH,
                PASSED + "chip.cpp:10:5: runtime error: signed integer overflow\n",
                "[==========] Running 1 test\n" + CRASH):  # died before the end of the test
        r = classify(tmp_path, [("A.Crashed", "fail", PASSED + CRASH), ("B.Real", "fail", out)])
        assert r.returncode == 1 and "B.Real: a real failure" in r.stderr, out


def test_no_failure_or_an_unreadable_file_is_not_a_crash_to_rerun(tmp_path):
    assert classify(tmp_path, [("Other.Ok", "run", PASSED)]).returncode == 1
    r = subprocess.run([sys.executable, SCRIPT, str(tmp_path / "missing.xml")], capture_output=True, text=True)
    assert r.returncode == 1 and "missing.xml: cannot read the ctest JUnit file" in r.stderr
