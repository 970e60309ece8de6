"""libpipellm.so end to end, as users meet it: programs under LD_PRELOAD (through ./pipellm run and
directly), a Python ctypes host, and a JVM under -agentpath, all on simgpu. Each case checks the
bytes, the exit code, stderr and the statistics of both PipeLLM (PIPELLM_STATS) and simgpu
(SIMGPU_STATS). Usage: shim_e2e_test.py REPO_ROOT BUILD_DIR. Ends with "N passed, N failed"."""
import glob
import json
import os
import subprocess
import sys
import tempfile

ROOT, BUILD = sys.argv[1], sys.argv[2]
BIN, LIB = os.path.join(BUILD, "bin"), os.path.join(BUILD, "lib")
SHIM = os.path.join(LIB, "libpipellm.so")
SIMGPU = os.path.join(LIB, "simgpu")
PIPELLM = os.path.join(ROOT, "pipellm")
TESTS = os.path.join(ROOT, "native-shim", "test")
results = {"passed": 0, "failed": 0}


def java_home():
    for home in [os.environ.get("JAVA_HOME", "")] + sorted(glob.glob("/usr/lib/jvm/*")):
        try:
            with open(os.path.join(home, "release")) as f:
                for line in f:
                    if line.startswith('JAVA_VERSION="') and int(line[14:].split(".")[0].rstrip('"')) >= 25:
                        return home
        except (OSError, ValueError):
            pass
    raise SystemExit("shim_e2e_test: no JDK >= 25 found (JAVA_HOME, /usr/lib/jvm/*)")


JAVA_HOME = java_home()


def run(cmd, env_extra=None, timeout=120):
    env = dict(os.environ)
    for k in [k for k in env if k.startswith("PIPELLM_") or k.startswith("SIMGPU_")]:
        del env[k]
    env.update(env_extra or {})
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def stats_files():
    d = tempfile.mkdtemp(prefix="pipellm-e2e-")
    return os.path.join(d, "pipellm.json"), os.path.join(d, "simgpu.json")


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def case(name, fn):
    try:
        problems = fn()
    except Exception as e:  # a crash of the harness is a failed case, with its reason
        problems = [f"{type(e).__name__}: {e}"]
    if problems:
        results["failed"] += 1
        print(f"FAIL {name}")
        for p in problems:
            print(f"  {p}")
    else:
        results["passed"] += 1
        print(f"ok   {name}")
    sys.stdout.flush()


def expect(problems, cond, what):
    if not cond:
        problems.append(what)


def prog_under(mode, cc="on", extra=None):
    """prog_shim through the launcher: ./pipellm run --sim --cc CC --mode MODE."""
    pl, sg = stats_files()
    env = {"PIPELLM_STATS": pl, "SIMGPU_STATS": sg, "JAVA_HOME": JAVA_HOME}
    env.update(extra or {})
    rc, out, err = run([PIPELLM, "run", "--sim", "--cc", cc, "--mode", mode, "--", os.path.join(BIN, "prog_shim")], env)
    return rc, out, err, load(pl), load(sg)


def copies_made(out):
    for line in out.splitlines():
        if line.startswith("copies "):
            return int(line.split()[1])
    return -1


def passthrough_counts_without_touching_crypto():
    p = []
    rc, out, err, pl, sg = prog_under("passthrough")
    expect(p, rc == 0 and "round trips: ok" in out, f"program failed: rc {rc} {out[-200:]} {err[-300:]}")
    expect(p, pl is not None, "no PIPELLM_STATS file")
    if pl and sg:
        expect(p, pl["intercepted_copies"] == copies_made(out), f"intercepted {pl['intercepted_copies']} of {copies_made(out)} copies")
        expect(p, pl["h2d_messages"] == sg["h2d_messages"], f"h2d messages {pl['h2d_messages']} vs simgpu {sg['h2d_messages']}")
        expect(p, pl["d2h_messages"] == sg["d2h_messages"], f"d2h messages {pl['d2h_messages']} vs simgpu {sg['d2h_messages']}")
        expect(p, pl["agent_encrypted_messages"] == 0 and pl["agent_decrypted_messages"] == 0, "passthrough did crypto")
    return p


def sync_runs_every_message_through_the_agent():
    p = []
    rc, out, err, pl, sg = prog_under("sync")
    expect(p, rc == 0 and "round trips: ok" in out, f"program failed: rc {rc} {out[-200:]} {err[-300:]}")
    if pl and sg:
        expect(p, sg["h2d_messages"] > 0 and pl["agent_encrypted_messages"] == sg["h2d_messages"],
               f"agent encrypted {pl['agent_encrypted_messages']} of {sg['h2d_messages']} H2D messages")
        expect(p, pl["agent_decrypted_messages"] == sg["d2h_messages"],
               f"agent decrypted {pl['agent_decrypted_messages']} of {sg['d2h_messages']} D2H messages")
        expect(p, pl["slow_path_messages"] == sg["h2d_messages"] + sg["d2h_messages"], "slow path count")
        expect(p, pl["fallbacks"] == 0 and sg["tag_failures"] == 0, "fallbacks or tag failures")
    else:
        p.append("missing statistics")
    return p


def sync_with_cc_off_sees_copies_and_no_messages():
    p = []
    rc, out, err, pl, sg = prog_under("sync", cc="off")
    expect(p, rc == 0 and "round trips: ok" in out, f"program failed: rc {rc} {err[-300:]}")
    if pl:
        expect(p, pl["intercepted_copies"] == copies_made(out), "copies not intercepted")
        expect(p, pl["h2d_messages"] == 0 and pl["agent_encrypted_messages"] == 0, "messages without CC")
    else:
        p.append("missing statistics")
    return p


def mode_off_loads_nothing():
    p = []
    rc, out, err, pl, sg = prog_under("off")
    expect(p, rc == 0 and "round trips: ok" in out, f"program failed: rc {rc}")
    expect(p, pl is None, "mode off wrote PipeLLM statistics")
    expect(p, "pipellm:" not in err, f"mode off printed: {err[-200:]}")
    return p


def no_jdk_degrades_to_openssl_with_one_line():
    p = []
    env = {"LD_PRELOAD": SHIM, "LD_LIBRARY_PATH": SIMGPU, "PIPELLM_MODE": "sync", "PIPELLM_JAVA_HOME": "/nonexistent-jdk"}
    rc, out, err = run([os.path.join(BIN, "prog_shim")], env)
    expect(p, rc == 0 and "round trips: ok" in out, f"program failed without a JDK: rc {rc} {err[-300:]}")
    lines = [l for l in err.splitlines() if l.startswith("pipellm:")]
    expect(p, 1 <= len(lines) <= 2 and any("JDK" in l for l in lines), f"expected one clear line, got {lines}")
    return p


def fail_closed_refuses_copies_when_the_agent_is_missing():
    p = []
    env = {"LD_PRELOAD": SHIM, "LD_LIBRARY_PATH": SIMGPU, "PIPELLM_MODE": "sync", "PIPELLM_JAVA_HOME": "/nonexistent-jdk",
           "PIPELLM_FAIL_CLOSED": "1", "EXPECT_REFUSAL": "1"}
    rc, out, err = run([os.path.join(BIN, "prog_shim")], env)
    expect(p, rc == 0 and "cudaErrorNotPermitted" in out, f"copy not refused: rc {rc} {out} {err[-300:]}")
    return p


def bad_option_is_named_and_the_program_still_runs():
    p = []
    env = {"LD_PRELOAD": SHIM, "LD_LIBRARY_PATH": SIMGPU, "PIPELLM_MODE": "turbo"}
    rc, out, err = run([os.path.join(BIN, "prog_shim")], env)
    expect(p, rc == 0 and "round trips: ok" in out, f"program failed: rc {rc}")
    expect(p, "PIPELLM_MODE" in err and "off, passthrough, sync" in err, f"stderr: {err[-300:]}")
    return p


def injected_agent_fault_falls_back_to_openssl_for_that_message():
    p = []
    rc, out, err, pl, sg = prog_under("sync", extra={"PIPELLM_INJECT_FAULT": "evp_update:3"})
    expect(p, rc == 0 and "round trips: ok" in out, f"wrong bytes or failure after a fault: rc {rc} {err[-300:]}")
    if pl and sg:
        expect(p, pl["fallbacks"] == 1, f"fallbacks {pl['fallbacks']}")
        expect(p, sg["tag_failures"] == 0, "the CE saw a bad message")
    else:
        p.append("missing statistics")
    errors = [l for l in err.splitlines() if "pipellm:" in l and "agent error" in l]
    expect(p, len(errors) == 1, f"expected one line about the agent error: {err[-400:]}")
    return p


def tampering_is_still_refused_in_sync_mode():
    p = []
    env = {"LD_PRELOAD": f"{BIN}/libtamper_flip.so:{SHIM}", "LD_LIBRARY_PATH": SIMGPU, "PIPELLM_MODE": "sync",
           "PIPELLM_JAVA_HOME": JAVA_HOME, "SIMGPU_CC_CHUNK_BYTES": "65536"}
    rc, out, err = run([os.path.join(BIN, "prog_tamper"), "h2d"], env)
    expect(p, rc == 0 and "failed authentication" in err, f"tampering not refused: rc {rc} {out[-300:]} {err[-300:]}")
    return p


def python_ctypes_host_is_intercepted_keeps_ctrl_c_and_forks():
    p = []
    pl, sg = stats_files()
    env = {"PIPELLM_STATS": pl, "SIMGPU_STATS": sg, "JAVA_HOME": JAVA_HOME}
    rc, out, err = run([PIPELLM, "run", "--sim", "--mode", "sync", "--", sys.executable,
                        os.path.join(TESTS, "py_host.py"), os.path.join(BIN, "libuser_copy.so")], env)
    expect(p, rc == 0, f"python host failed: rc {rc} {out[-300:]} {err[-300:]}")
    expect(p, "keyboard interrupt ok" in out, "Ctrl-C did not raise KeyboardInterrupt")
    st = load(pl)
    expect(p, st is not None and st["intercepted_copies"] >= 2 and st["agent_encrypted_messages"] >= 3,
           f"not intercepted: {st}")
    return p


def jvm_with_ffm_bindings_under_agentpath():
    p = []
    pl, sg = stats_files()
    env = {"LD_LIBRARY_PATH": SIMGPU, "SIMGPU_CC": "on", "SIMGPU_STATS": sg}
    java = os.path.join(JAVA_HOME, "bin", "java")
    rc, out, err = run([java, f"-agentpath:{SHIM}=mode=sync,stats={pl}", "--enable-native-access=ALL-UNNAMED",
                        os.path.join(TESTS, "CudaFfmApp.java")], env, timeout=180)
    expect(p, rc == 0 and "round trip: ok" in out, f"jvm failed: rc {rc} {out[-300:]} {err[-500:]}")
    st, sgs = load(pl), load(sg)
    if st and sgs:
        expect(p, st["intercepted_copies"] == 2, f"intercepted {st['intercepted_copies']}")
        expect(p, st["agent_encrypted_messages"] == sgs["h2d_messages"] > 0, f"{st} vs {sgs}")
    else:
        p.append(f"missing statistics {st} {sgs}")
    return p


def preloaded_into_a_java_process_joins_its_jvm():
    p = []
    pl, sg = stats_files()
    env = {"LD_PRELOAD": SHIM, "PIPELLM_MODE": "sync", "PIPELLM_STATS": pl, "LD_LIBRARY_PATH": SIMGPU,
           "SIMGPU_CC": "on", "SIMGPU_STATS": sg}
    rc, out, err = run([os.path.join(JAVA_HOME, "bin", "java"), "--enable-native-access=ALL-UNNAMED",
                        os.path.join(TESTS, "CudaFfmApp.java")], env, timeout=180)
    expect(p, rc == 0 and "round trip: ok" in out, f"jvm failed: rc {rc} {out[-300:]} {err[-500:]}")
    st, sgs = load(pl), load(sg)
    expect(p, st is not None and sgs is not None and st["agent_encrypted_messages"] == sgs["h2d_messages"] > 0,
           f"not through the joined agent: {st} {sgs}")
    return p


def passthrough_with_cc_off_counts_copies():
    p = []
    rc, out, err, pl, sg = prog_under("passthrough", cc="off")
    expect(p, rc == 0 and "round trips: ok" in out, f"program failed: rc {rc} {err[-300:]}")
    expect(p, pl is not None and pl["intercepted_copies"] == copies_made(out) and pl["h2d_messages"] == 0, f"stats {pl}")
    return p


def host_sigsegv_handler_installed_after_the_jvm_is_chained():
    p = []
    env = {"LD_PRELOAD": f"{JAVA_HOME}/lib/libjsig.so:{SHIM}", "LD_LIBRARY_PATH": SIMGPU, "PIPELLM_MODE": "sync",
           "PIPELLM_JAVA_HOME": JAVA_HOME, "SIMGPU_CC": "on",
           "JAVA_TOOL_OPTIONS": "-XX:+UnlockDiagnosticVMOptions -XX:GuaranteedSafepointInterval=1"}
    rc, out, err = run([os.path.join(BIN, "prog_sigsegv")], env)
    expect(p, rc == 0 and "host handler untouched" in out, f"rc {rc} {out[-200:]} {err[-300:]}")
    return p


for name, fn in list(globals().items()):
    if callable(fn) and fn.__module__ == "__main__" and name not in (
            "java_home", "run", "stats_files", "load", "case", "expect", "prog_under", "copies_made"):
        case(name, fn)

print(f"{results['passed']} passed, {results['failed']} failed")
sys.exit(1 if results["failed"] else 0)
