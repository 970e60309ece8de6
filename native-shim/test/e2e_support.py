"""What the end-to-end harnesses share (shim_e2e_test.py, signals_test.py, exit_in_flight_test.py):
finding the JDKs, a clean environment for the programs they run, and the case runner whose output
ends with "N passed, N failed"."""
import glob
import json
import os
import sys

MIN_JAVA = 25


def jdk_major(home):
    """The feature version in HOME/release (JAVA_VERSION="25.0.1" gives 25), or 0."""
    try:
        with open(os.path.join(home, "release")) as f:
            for line in f:
                if line.startswith("JAVA_VERSION="):
                    return int(line.split("=", 1)[1].strip().strip('"').split(".")[0])
    except (OSError, ValueError):
        pass
    return 0


def java_home(who):
    """A JDK >= 25, as the shim needs: JAVA_HOME first, then /usr/lib/jvm/*."""
    for home in [os.environ.get("JAVA_HOME", "")] + sorted(glob.glob("/usr/lib/jvm/*")):
        if home and jdk_major(home) >= MIN_JAVA:
            return home
    raise SystemExit(f"{who}: no JDK >= {MIN_JAVA} found (JAVA_HOME, /usr/lib/jvm/*)")


def old_jdk():
    """(home, major) of a JDK older than 25 in /usr/lib/jvm, or (None, 0)."""
    for home in sorted(glob.glob("/usr/lib/jvm/*")):
        major = jdk_major(home)
        if 0 < major < MIN_JAVA and os.path.exists(os.path.join(home, "bin", "java")):
            return home, major
    return None, 0


def clean_env(extra=None, drop=()):
    """This process's environment without PipeLLM's and simgpu's variables (and `drop`), plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELLM_", "SIMGPU_")) and k not in drop}
    env.update(extra or {})
    return env


class Cases:
    """Runs cases (functions returning a list of problems) and counts them."""

    def __init__(self):
        self.passed = self.failed = 0

    def case(self, name, fn):
        try:
            problems = fn()
        except Exception as e:  # a crash of the harness is a failed case, with its reason
            problems = [f"{type(e).__name__}: {e}"]
        if problems:
            self.failed += 1
            print(f"FAIL {name}")
            for p in problems:
                print(f"  {p}")
        else:
            self.passed += 1
            print(f"ok   {name}")
        sys.stdout.flush()

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)


def load_json(path):
    """A statistics file (PIPELLM_STATS, SIMGPU_STATS) as a dict, or None when absent or unreadable."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def expect(problems, cond, what):
    if not cond:
        problems.append(what)
