#!/usr/bin/env python3
"""Runs a GoogleTest binary for scripts/gpu-check and goes on past a test that ends the process
or leaves the GPU unusable, so that one bad test costs its own result, not the rest of a device
run's tests.

  scripts/gtest_resume.py BINARY FILTER [ARGS...]

The binary's output is printed as it comes. Where the process dies (a signal, an abort, an exit
without GoogleTest's summary), the tests it had not started run again in a new process, the
dead one left out and named (a suite whose set-up or tear-down ended the process is left out
whole). Where a test fails and its output names an error that leaves the CUDA context unusable
(an illegal address, a launch failure: every later CUDA call in that process fails), the tests
that ran after it in that process run again in a new one. At most 10 new processes. Last, one
line `gtest_resume: BINARY: ...` with each test's last result (passed, failed, skipped, ended
the process, not run), which gpu-check's summary prints. Exit status 0 when every test passed
or was skipped in one process, 1 otherwise. Not for ctest's runs (one process a test there)."""
import os
import re
import sys
import subprocess

# CUDA errors after which a process's context is unusable (the CUDA Runtime API's "sticky"
# errors), as cudaGetErrorString and cudaGetErrorName write them.
STICKY = re.compile(r"illegal memory access|cudaErrorIllegalAddress|unspecified launch failure|"
                    r"cudaErrorLaunchFailure|misaligned address|cudaErrorMisalignedAddress|"
                    r"illegal instruction|cudaErrorIllegalInstruction|hardware stack error|"
                    r"cudaErrorHardwareStackError|cudaErrorInvalidPc|invalid program counter")
RUN = re.compile(r"^\[ RUN      \] (\S+)")
# A parameterised test's line goes on after its name: "Cfg/X.T/0, where GetParam() = ...".
END = re.compile(r"^\[ +(OK|FAILED|SKIPPED) +\] ([^\s,]+)")
SUITE = re.compile(r"^\[----------\] \d+ tests? from (\S+)$")  # a suite's start (its end adds a time)
MAX_RESTARTS = 10


def listed(binary, filt, args):
    """The tests the filter selects, in the binary's order (--gtest_list_tests), without the
    disabled ones (listed, never run)."""
    out = subprocess.run([binary, "--gtest_list_tests", f"--gtest_filter={filt}", *args],
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    names, suite = [], ""
    for line in out.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            suite = line.split("#")[0].strip()
        else:
            names.append(suite + line.split("#")[0].strip())
    return [n for n in names if "DISABLED_" not in n]


class Run:
    """One process's events: tests started in order, each finished test's result, the test
    running or suite open when the output stopped, the first failed test whose output named a
    sticky error, and whether GoogleTest printed its summary."""

    def __init__(self):
        self.started, self.result = [], {}
        self.current = self.suite = self.sticky = None
        self.sticky_text = self.summary = False

    def line(self, line):
        if m := RUN.match(line):
            self.current, self.sticky_text = m.group(1), False
            self.started.append(self.current)
        elif (m := END.match(line)) and self.current == m.group(2):
            self.result[self.current] = m.group(1)
            if m.group(1) == "FAILED" and self.sticky_text and self.sticky is None:
                self.sticky = self.current
            self.current = None
        elif m := SUITE.match(line):
            self.suite = m.group(1)
        elif line.startswith("[----------]") and "total)" in line:
            self.suite = None
        elif line.startswith("[==========]") and "ran." in line:
            self.summary = True
        elif self.current and STICKY.search(line):
            self.sticky_text = True


def run_once(binary, filt, args):
    r = Run()
    with subprocess.Popen([binary, f"--gtest_filter={filt}", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace") as p:
        for line in p.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            r.line(line.rstrip("\n"))
    return p.returncode, r


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    binary, filt, args = argv[1], argv[2], argv[3:]
    tests = listed(binary, filt, args)
    todo = list(tests)
    final = {}  # test -> its last result: OK, FAILED, SKIPPED, or ENDED (the process with it)
    ok = True
    for restart in range(MAX_RESTARTS + 1):
        rc, r = run_once(binary, filt if restart == 0 else ":".join(todo), args)
        final.update(r.result)
        ok = ok and rc == 0 and restart == 0
        left = [t for t in todo if t not in r.started]
        if r.sticky is not None:
            # The tests after it ran on a context that no longer works: theirs are not results.
            rest = r.started[r.started.index(r.sticky) + 1:]
            for t in rest:
                final.pop(t, None)
            todo = rest + left
            why = f"{r.sticky} left the CUDA context unusable"
        elif rc < 0 or rc >= 128 or not r.summary:
            if r.current:
                final[r.current] = "ENDED"
                why = f"the process ended in {r.current} (status {rc})"
            elif r.suite:
                dead = [t for t in left if t.startswith(r.suite + ".")]
                final.update({t: "ENDED" for t in dead})
                left = [t for t in left if t not in dead]
                why = f"the process ended in {r.suite}'s set-up or tear-down (status {rc})"
            else:
                why = f"the process ended outside any test (status {rc})"
            if len(left) == len(todo):  # nothing ran and nothing was left out: no way on
                print(f"gtest_resume: {why}; no way on", flush=True)
                break
            todo = left
        else:
            break
        if not todo:
            break
        if restart == MAX_RESTARTS:
            print(f"gtest_resume: {why}; no new process left ({MAX_RESTARTS} started)", flush=True)
            break
        print(f"gtest_resume: {why}; the {len(todo)} tests after it run again in a new process", flush=True)
    by = {k: sorted(t for t, v in final.items() if v == k) for k in ("OK", "FAILED", "SKIPPED", "ENDED")}
    not_run = [t for t in tests if t not in final]
    words = [f"{len(by['OK'])} passed", f"{len(by['SKIPPED'])} skipped"]
    for k, name in (("FAILED", "failed"), ("ENDED", "ended the process")):
        if by[k]:
            words.append(f"{len(by[k])} {name}: {' '.join(by[k])}")
    if not_run:
        words.append(f"{len(not_run)} not run: {' '.join(not_run)}")
    print(f"gtest_resume: {os.path.basename(binary)}: {', '.join(words)}", flush=True)
    return 0 if ok and not by["FAILED"] and not by["ENDED"] and not not_run else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
