"""The process exits while other threads are in the middle of CC copies (prog_exit_in_flight), many
times over: plain on simgpu, and under libpipellm.so (LD_PRELOAD, PIPELLM_MODE=sync and
=passthrough, with a JVM the shim starts in the process). Every run must end with the exit code the
program chose, print nothing on stdout or stderr, and leave no JVM fatal-error file (hs_err_pid*.log)
behind; in the join variant an exit handler joins the copiers, which must unwind instead of hanging
the exit. The exit is a race with the copies, so each case repeats it; two runs go at a time,
which also loads both cores. Usage: exit_in_flight_test.py BUILD_DIR. Ends with "N passed, N failed"."""
import concurrent.futures
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

from e2e_support import clean_env, java_home

BUILD = os.path.abspath(sys.argv[1])
PROG = os.path.join(BUILD, "bin", "prog_exit_in_flight")
SHIM = os.path.join(BUILD, "lib", "libpipellm.so")
SIMGPU = os.path.join(BUILD, "lib", "simgpu")
PLAIN_RUNS = 10       # per variant and direction: ~0.2 s each
SHIM_RUNS = 1         # per mode, variant and direction: ~2.5 s each (a JVM starts in each)
JOIN_RUNS = 2         # 5 s each
TIMEOUT_S = 120       # a run that hangs at exit fails instead of blocking the suite
EXIT_CODES = (7, 0, 42, 125, 1)   # 0 included: a clean exit must stay clean


def base_env():
    return clean_env({"LD_LIBRARY_PATH": SIMGPU, "SIMGPU_CC": "on"}, drop=("LD_PRELOAD",))


def shim_env(mode, jdk):
    env = base_env()
    env.update({"LD_PRELOAD": SHIM, "PIPELLM_MODE": mode, "PIPELLM_JAVA_HOME": jdk})
    return env


def run_once(env, variant, direction, code, threads, stats):
    """Runs the program once in a fresh working directory; returns the problems found."""
    what = f"{variant} {direction} {code} {threads}"
    cwd = tempfile.mkdtemp(prefix="pipellm-exit-")
    env = dict(env)
    stats_path = os.path.join(cwd, "simgpu.json")
    if stats:
        env["SIMGPU_STATS"] = stats_path
    problems = []
    try:
        p = subprocess.Popen([PROG, variant, direction, str(code), str(threads)], env=env, cwd=cwd,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = p.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            return [f"{what}: still running after {TIMEOUT_S} s (hung at exit)"]
        if p.returncode != code:
            problems.append(f"{what}: exit code {p.returncode}, expected {code}")
        if out:
            problems.append(f"{what}: stdout: {out[-300:]!r}")
        if err:
            problems.append(f"{what}: stderr: {err[-600:]!r}")
        crash_files = glob.glob(os.path.join(cwd, "hs_err_pid*.log")) + glob.glob(f"/tmp/hs_err_pid{p.pid}.log")
        if crash_files:
            with open(crash_files[0], errors="replace") as f:
                head = "".join(f.readlines()[:12])
            problems.append(f"{what}: JVM fatal-error file {os.path.basename(crash_files[0])}:\n{head}")
        if stats and p.returncode == code:
            problems += stats_problems(what, stats_path)
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    return problems


def stats_problems(what, path):
    """The SIMGPU_STATS file, written at exit while copies were running, is whole and counts them."""
    try:
        with open(path) as f:
            s = json.load(f)
    except (OSError, ValueError) as e:
        return [f"{what}: SIMGPU_STATS file unreadable: {e}"]
    if s.get("h2d_copies", 0) + s.get("d2h_copies", 0) == 0:
        return [f"{what}: SIMGPU_STATS counts no copies: {s}"]
    return []


def cases(jdk):
    """(name, env, (variant, direction), runs) for every combination."""
    out = []
    for variant in ("exit", "return", "thread"):
        for direction in ("h2d", "d2h", "both"):
            out.append((f"plain {variant} {direction}", base_env(), (variant, direction), PLAIN_RUNS))
    cc_off = base_env()
    cc_off["SIMGPU_CC"] = "off"
    out.append(("plain cc-off exit both", cc_off, ("exit", "both"), PLAIN_RUNS))
    for mode in ("sync", "passthrough"):
        for variant in ("exit", "return", "thread"):
            for direction in ("h2d", "d2h", "both"):
                out.append((f"shim {mode} {variant} {direction}", shim_env(mode, jdk), (variant, direction), SHIM_RUNS))
    # An exit handler joins the copiers: they unwind once simgpu gives up waiting for the process
    # to end (5 s), so these runs are few; first in the list so that they overlap the others.
    out.insert(0, ("plain join both", base_env(), ("join", "both"), JOIN_RUNS))
    out.insert(0, ("shim sync join both", shim_env("sync", jdk), ("join", "both"), 1))
    return out


def run_case(numbered):
    """Runs one case `runs` times, with exit codes, copier counts and the statistics file varying
    from run to run and from case to case."""
    k, (name, env, (variant, direction), runs) = numbered
    problems = []
    try:
        for i in range(k, k + runs):
            problems += run_once(env, variant, direction, EXIT_CODES[i % len(EXIT_CODES)], 1 + i % 4, i % 2 == 0)
    except Exception as e:  # a crash of the harness is a failed case, with its reason
        problems.append(f"{type(e).__name__}: {e}")
    return name, runs, problems


def main():
    for path in (PROG, SHIM, SIMGPU):
        if not os.path.exists(path):
            raise SystemExit(f"exit_in_flight_test: {path} is missing (build first)")
    jdk = java_home("exit_in_flight_test")
    passed = failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for name, runs, problems in pool.map(run_case, enumerate(cases(jdk))):
            if problems:
                failed += 1
                print(f"FAIL {name} ({len(problems)} problems in {runs} runs)")
                for p in problems[:4]:
                    print("  " + p.replace("\n", "\n  "))
            else:
                passed += 1
                print(f"ok   {name} ({runs} runs)")
            sys.stdout.flush()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
