"""The host's signal dispositions across the JVM that libpipellm.so starts, end to end: a C host
(prog_signals) and a Python host (py_signals.py), each run plain (the reference), under
LD_PRELOAD=libpipellm.so, and under LD_PRELOAD=libjsig.so:libpipellm.so (the launcher's way), on
simgpu in sync mode. Under the shim every case also checks that the agent really started.
Usage: signals_test.py REPO_ROOT BUILD_DIR. Ends with "N passed, N failed"."""
import os
import signal
import subprocess
import sys
import tempfile

from e2e_support import Cases, clean_env, expect, java_home

ROOT, BUILD = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
BIN, LIB = os.path.join(BUILD, "bin"), os.path.join(BUILD, "lib")
SHIM = os.path.join(LIB, "libpipellm.so")
SIMGPU = os.path.join(LIB, "simgpu")
TESTS = os.path.join(ROOT, "native-shim", "test")
PROG = os.path.join(BIN, "prog_signals")
PY_HOST = [sys.executable, os.path.join(TESTS, "py_signals.py"), os.path.join(BIN, "libuser_copy.so")]


JAVA_HOME = java_home("signals_test")
JSIG = os.path.join(JAVA_HOME, "lib", "libjsig.so")
# shim_signals.c's lines for a restore that went wrong.
UNEXPECTED_WARNINGS = ("libjsig did not take back", "could not restore", "cannot find the C library's sigaction")
# How each host runs: no PipeLLM at all, the shim alone, libjsig first then the shim.
WAYS = {
    "plain": None,
    "shim": SHIM,
    "jsig_shim": f"{JSIG}:{SHIM}",
}


def host_env(preload, env_extra=None):
    env = clean_env({"LD_LIBRARY_PATH": SIMGPU, "SIMGPU_CC": "on"}, drop=("LD_PRELOAD", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS"))
    if preload:
        env.update({"LD_PRELOAD": preload, "PIPELLM_MODE": "sync", "PIPELLM_JAVA_HOME": JAVA_HOME,
                    "PIPELLM_LOG": "info", "EXPECT_JVM_THREADS": "1"})
    env.update(env_extra or {})
    return env


def run(cmd, preload, env_extra=None, timeout=120):
    p = subprocess.run(cmd, env=host_env(preload, env_extra), capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def checked(cmd, way, want_rc, want_out, env_extra=None, want_err=""):
    """Runs cmd the given way; the problems found (exit status, expected output, agent started)."""
    p = []
    rc, out, err = run(cmd, WAYS[way], env_extra)
    expect(p, rc == want_rc, f"exit status {rc}, expected {want_rc}")
    expect(p, want_out in out, f"no '{want_out}' in the output")
    expect(p, want_err in err, f"no '{want_err}' on stderr")
    if WAYS[way]:
        expect(p, "pipellm: agent ready" in err, "the agent did not start")
        for warning in UNEXPECTED_WARNINGS:
            expect(p, warning not in err, f"the shim warned: {warning}")
    if p:
        p.append(f"stdout: {out[-600:]!r}")
        p.append(f"stderr: {err[-900:]!r}")
    return p


def c_dispositions(way):
    return lambda: checked([PROG, "dispositions"], way, 0, "dispositions: ok")


def c_sigpipe_kills(way):
    return lambda: checked([PROG, "sigpipe"], way, -signal.SIGPIPE, "")


def c_segv_handler_before(way):
    return lambda: checked([PROG, "segv-before"], way, 42, "host SIGSEGV handler ran")


def py_dispositions(way):
    return lambda: checked(PY_HOST + ["dispositions"], way, 0, "dispositions: ok")


def py_sigpipe_kills(way):
    return lambda: checked(PY_HOST + ["sigpipe"], way, -signal.SIGPIPE, "")


def jfr_keeps_sigusr2(way):
    def fn():
        recording = os.path.join(tempfile.mkdtemp(prefix="pipellm-signals-"), "embedded.jfr")
        return checked([PROG, "jfr"], way, 0, "jfr: ok",
                       {"JAVA_TOOL_OPTIONS": f"-XX:StartFlightRecording:filename={recording}"},
                       "pipellm: JFR runs in the embedded JVM: signal 12 stays the JVM's")

    return fn


def jcmd_cannot_start_jfr_in_the_embedded_jvm():
    """The embedded JVM refuses attach: a JFR.start through jcmd would send SIGUSR2 into the host."""
    p = []
    host = subprocess.Popen(PY_HOST + ["wait"], env=host_env(SHIM), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        ready = host.stdout.readline()
        expect(p, ready.strip() == "ready", f"the host did not get ready: {ready!r}")
        jcmd = subprocess.run([os.path.join(JAVA_HOME, "bin", "jcmd"), str(host.pid), "JFR.start"],
                              capture_output=True, text=True, timeout=120)
        expect(p, jcmd.returncode != 0 and "Started recording" not in jcmd.stdout,
               f"jcmd attached: rc {jcmd.returncode} {jcmd.stdout[-300:]!r}")
        out, err = host.communicate("go\n", timeout=120)
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
    expect(p, host.returncode == 0 and "copies: ok" in out, f"host: rc {host.returncode} {out[-300:]!r} {err[-500:]!r}")
    expect(p, "pipellm: agent ready" in err, "the agent did not start")
    return p


cases = Cases()
case = cases.case
for way in WAYS:
    case(f"c_host_dispositions_are_kept_and_later_handlers_run_{way}", c_dispositions(way))
    case(f"c_host_dies_by_sigpipe_on_a_closed_pipe_{way}", c_sigpipe_kills(way))
    case(f"c_host_sigsegv_handler_from_before_runs_on_a_crash_{way}", c_segv_handler_before(way))
    case(f"python_host_dispositions_are_kept_and_later_handlers_run_{way}", py_dispositions(way))
    case(f"python_host_dies_by_sigpipe_when_it_asks_for_the_default_{way}", py_sigpipe_kills(way))
case("c_host_sigsegv_handler_from_after_the_jvm_is_chained_by_libjsig",
     lambda: checked([PROG, "segv-after"], "jsig_shim", 42, "host SIGSEGV handler ran"))
for way in ("shim", "jsig_shim"):
    case(f"jfr_started_with_the_jvm_keeps_sigusr2_for_its_sampler_{way}", jfr_keeps_sigusr2(way))

case("jcmd_cannot_start_jfr_in_the_embedded_jvm", jcmd_cannot_start_jfr_in_the_embedded_jvm)

cases.finish()
