#!/usr/bin/env python3
"""Runs a GoogleTest binary for scripts/gpu-check and goes on past a test that ends the process
or leaves the GPU unusable, so that one bad test costs its own result, not the rest of a device
run's tests.

  scripts/gtest_resume.py BINARY FILTER [ARGS...]

The binary's output is printed as it comes. Where the process dies (a signal, an abort, an exit
without GoogleTest's summary), the tests it had not started run again in a new process, the
dead one left out and named. Where a test's output names an error that leaves the CUDA context
unusable (an illegal address, a launch failure: every later CUDA call in that process fails),
the tests that ran after it in that process run again in a new one. At most 10 new processes.
Exit status 0 when every test passed or was skipped, 1 otherwise (also when a run was resumed).
Not for ctest's runs (one process a test there)."""
import re
import subprocess
import sys

# CUDA errors after which a process's context is unusable (the CUDA Runtime API's "sticky"
# errors), as cudaGetErrorString and cudaGetErrorName write them.
STICKY = re.compile(r"illegal memory access|cudaErrorIllegalAddress|unspecified launch failure|"
                    r"cudaErrorLaunchFailure|misaligned address|cudaErrorMisalignedAddress|"
                    r"illegal instruction|cudaErrorIllegalInstruction|hardware stack error|"
                    r"cudaErrorHardwareStackError|cudaErrorInvalidPc|invalid program counter")
RUN = re.compile(r"^\[ RUN      \] (\S+)")
END = re.compile(r"^\[ +(OK|FAILED|SKIPPED) +\] (\S+) \(")
MAX_RESTARTS = 10


def listed(binary, filt, args):
    """The tests the filter selects, in the binary's order (--gtest_list_tests)."""
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
    return names


def run_once(binary, filt, args):
    """One process: (its exit status, tests started in order, the first test that hit a sticky
    error or None, whether GoogleTest printed its summary)."""
    started, current, sticky, summary = [], None, None, False
    with subprocess.Popen([binary, f"--gtest_filter={filt}", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace") as p:
        for line in p.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            m = RUN.match(line)
            if m:
                current = m.group(1)
                started.append(current)
            elif END.match(line):
                current = None
            elif line.startswith("[==========]") and "ran." in line:
                summary = True
            if current and sticky is None and STICKY.search(line):
                sticky = current
    return p.returncode, started, sticky, summary


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    binary, filt, args = argv[1], argv[2], argv[3:]
    todo = listed(binary, filt, args)
    ok = True
    for restart in range(MAX_RESTARTS + 1):
        rc, started, sticky, summary = run_once(binary, filt if restart == 0 else ":".join(todo), args)
        ok = ok and rc == 0
        died = rc < 0 or rc >= 128 or not summary
        if sticky is not None:
            # The tests after it ran on a context that no longer works: theirs are not results.
            rest = started[started.index(sticky) + 1:]
            todo = rest + [t for t in todo if t not in started]
            why = f"{sticky} left the CUDA context unusable"
        elif died and started:
            todo = [t for t in todo if t not in started]
            why = f"the process ended in {started[-1]} (status {rc})"
        else:
            return 0 if ok else 1
        if not todo:
            print(f"gtest_resume: {why}; no test left to run")
            return 1
        if restart == MAX_RESTARTS:
            break
        print(f"gtest_resume: {why}; the {len(todo)} tests after it run again in a new process")
    print(f"gtest_resume: {MAX_RESTARTS} new processes; {len(todo)} tests not run: {' '.join(todo)}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
