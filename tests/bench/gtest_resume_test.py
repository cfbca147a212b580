#!/usr/bin/python3
"""scripts/gtest_resume.py against a stand-in GoogleTest binary (a small Python script written
here that lists its tests, honours --gtest_filter and prints GoogleTest's lines): all passing
(one process; a disabled test listed, not counted), a test that ends the process (the tests
after it run in a new one, the dead one left out), a suite whose set-up ends it (left out
whole), a failed test that leaves the CUDA context unusable (the tests after it run again),
one that only prints such an error's words and passes (no new process), and each case's exit
status, processes and closing line."""
import json
import os
import stat
import subprocess
import sys
import tempfile

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "gtest_resume.py")

# FAKE_BAD is {test: "crash" | "sticky" | "fail"}; each start is logged to FAKE_LOG with its
# filter. After a "sticky" test every later test in the process fails (as CUDA calls would).
FAKE = r'''#!/usr/bin/python3
import fnmatch, json, os, sys
tests = ["A.One", "A.Two", "A.DISABLED_Six", "B.Three", "P/C.Four/0", "P/C.Four/1", "D.Five"]
filt = next(a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--gtest_filter="))
pos, _, neg = filt.partition("-")
sel = [t for t in tests if any(fnmatch.fnmatch(t, p) for p in (pos or "*").split(":"))
       and not any(fnmatch.fnmatch(t, p) for p in neg.split(":") if p)]
if "--gtest_list_tests" in sys.argv:  # disabled tests listed too, as GoogleTest lists them
    suite = None
    for t in sel:
        s, name = t.split(".")
        if s != suite:
            print(s + ".")
            suite = s
        print("  " + name + ("  # GetParam() = 0" if s.startswith("P/") else ""))
    sys.exit(0)
sel = [t for t in sel if "DISABLED_" not in t]
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(json.dumps(filt) + "\n")
bad = json.loads(os.environ.get("FAKE_BAD", "{}"))
broken, failed, suite = False, [], None
print(f"[==========] Running {len(sel)} tests from 1 test suite.", flush=True)
if bad.get("GLOBAL") == "crash":  # the global environment's set-up ends the process
    os._exit(134)
for t in sel:
    s = t.split(".")[0]
    if s != suite:
        if suite:
            print(f"[----------] 1 tests from {suite} (1 ms total)", flush=True)
        suite = s
        print(f"[----------] 1 tests from {s}", flush=True)
        if bad.get(s) == "crash":  # its SetUpTestSuite ends the process
            os._exit(134)
    print(f"[ RUN      ] {t}", flush=True)
    what = "fail" if broken else bad.get(t)
    if what == "crash":
        os._exit(-6 & 0xff)
    if what in ("sticky", "noisy"):  # noisy: prints a sticky error's words, and passes
        print("error: an illegal memory access was encountered", flush=True)
        broken = what == "sticky"
    if what and what != "noisy":
        failed.append(t)
        where = ", where GetParam() = 0" if t.startswith("P/") else ""
        print(f"[  FAILED  ] {t}{where} (1 ms)", flush=True)
    else:
        print(f"[       OK ] {t} (1 ms)", flush=True)
print(f"[----------] 1 tests from {suite} (1 ms total)", flush=True)
print(f"[==========] {len(sel)} tests from 1 test suite ran. (5 ms total)")
print(f"[  PASSED  ] {len(sel) - len(failed)} tests.")
for t in failed:
    print(f"[  FAILED  ] {t}")
sys.exit(1 if failed else 0)
'''


def case(d, bad, filt="*"):
    """(exit status, output, the filters of the processes started)."""
    log = os.path.join(d, f"log{len(os.listdir(d))}")
    env = dict(os.environ, FAKE_LOG=log, FAKE_BAD=json.dumps(bad))
    r = subprocess.run([sys.executable, SCRIPT, os.path.join(d, "fake"), filt], env=env,
                       stdout=subprocess.PIPE, text=True)
    with open(log) as f:
        return r.returncode, r.stdout, [json.loads(line) for line in f]


with tempfile.TemporaryDirectory() as d:
    fake = os.path.join(d, "fake")
    with open(fake, "w") as f:
        f.write(FAKE)
    os.chmod(fake, os.stat(fake).st_mode | stat.S_IXUSR)

    rc, out, runs = case(d, {})
    assert rc == 0 and len(runs) == 1 and out.count("[       OK ]") == 6, (rc, runs, out)
    assert out.rstrip().endswith("gtest_resume: fake: 6 passed, 0 skipped"), out  # the disabled one not counted

    rc, out, runs = case(d, {"A.Two": "fail"}, "-D.*")
    assert rc == 1 and runs == ["-D.*"] and "D.Five" not in out, (rc, runs, out)

    # The process ends in B.Three: the tests after it (parameterised names included) run in a
    # new process, B.Three left out; the exit status says a test failed to finish.
    rc, out, runs = case(d, {"B.Three": "crash"})
    assert rc == 1, rc
    assert runs == ["*", "P/C.Four/0:P/C.Four/1:D.Five"], runs
    assert "gtest_resume: the process ended in B.Three" in out, out
    assert out.count("[       OK ] P/C.Four/0") == 1 and "[       OK ] D.Five" in out, out

    # A.Two leaves the context unusable: the four tests after it fail in that process and run
    # again in a new one, where they pass; A.Two is not run again.
    rc, out, runs = case(d, {"A.Two": "sticky"})
    assert rc == 1, rc
    assert runs == ["*", "B.Three:P/C.Four/0:P/C.Four/1:D.Five"], runs
    assert "gtest_resume: A.Two left the CUDA context unusable; the 4 tests after it" in out, out
    assert out.count("[       OK ] D.Five") == 1, out

    # Two crashes: a new process after each, every other test run once.
    rc, out, runs = case(d, {"A.One": "crash", "P/C.Four/1": "crash"})
    assert rc == 1 and len(runs) == 3, (rc, runs)
    assert runs[2] == "D.Five" and out.count("[       OK ]") == 4, (runs, out)
    assert out.rstrip().endswith("gtest_resume: fake: 4 passed, 0 skipped, 2 ended the process: A.One P/C.Four/1"), out

    # A suite whose set-up ends the process: the suite left out whole, named; the rest run.
    rc, out, runs = case(d, {"P/C": "crash"})
    assert rc == 1 and runs == ["*", "D.Five"], (rc, runs)
    assert "gtest_resume: the process ended in P/C's set-up or tear-down" in out, out
    assert "2 ended the process: P/C.Four/0 P/C.Four/1" in out and "[       OK ] D.Five" in out, out

    # A failed parameterised test whose output named a sticky error: its line goes on after the
    # name (", where GetParam() = 0"), and the tests after it run again.
    rc, out, runs = case(d, {"P/C.Four/0": "sticky"})
    assert runs == ["*", "P/C.Four/1:D.Five"], runs
    assert out.rstrip().endswith("5 passed, 0 skipped, 1 failed: P/C.Four/0"), out

    # A test that prints a sticky error's words and passes: no new process.
    rc, out, runs = case(d, {"A.One": "noisy"})
    assert rc == 0 and len(runs) == 1, (rc, runs)

    # The process ends outside any test, every time: no way on, every test named as not run.
    rc, out, runs = case(d, {"A": "crash"}, "A.*")
    assert rc == 1 and len(runs) == 1 and "not run: A.One A.Two" not in out, (rc, runs, out)
    assert "2 ended the process: A.One A.Two" in out, out

    # The process ends before any suite: no way on, every test named as not run.
    rc, out, runs = case(d, {"GLOBAL": "crash"})
    assert rc == 1 and len(runs) == 1 and "ended outside any test (status 134); no way on" in out, (rc, out)
    assert out.rstrip().endswith("0 passed, 0 skipped, 6 not run: A.One A.Two B.Three P/C.Four/0 P/C.Four/1 "
                                 "D.Five"), out

print("gtest_resume: every case as expected")
