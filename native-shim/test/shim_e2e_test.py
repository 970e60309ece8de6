"""libpipellm.so end to end, as users meet it: programs under LD_PRELOAD (through ./pipellm run and
directly), a Python ctypes host, and a JVM under -agentpath, all on simgpu. Each case checks the
bytes, the exit code, stderr and the statistics of both PipeLLM (PIPELLM_STATS) and simgpu
(SIMGPU_STATS). Usage: shim_e2e_test.py REPO_ROOT BUILD_DIR. Ends with "N passed, N failed"."""
import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from e2e_support import Cases, clean_env, expect, java_home, old_jdk, load_json

ROOT, BUILD = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
BIN, LIB = os.path.join(BUILD, "bin"), os.path.join(BUILD, "lib")
SHIM = os.path.join(LIB, "libpipellm.so")
SIMGPU = os.path.join(LIB, "simgpu")
PIPELLM = os.path.join(ROOT, "pipellm")
TESTS = os.path.join(ROOT, "native-shim", "test")


JAVA_HOME = java_home("shim_e2e_test")


def run(cmd, env_extra=None, timeout=120):
    p = subprocess.run(cmd, env=clean_env(env_extra), capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def stats_files():
    d = tempfile.mkdtemp(prefix="pipellm-e2e-")
    return os.path.join(d, "pipellm.json"), os.path.join(d, "simgpu.json")


load = load_json


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


AGENT_FROM_THE_START = {"PIPELLM_COLD_START": "agent"}


def sync_runs_every_message_through_the_agent():
    p = []
    rc, out, err, pl, sg = prog_under("sync", extra=AGENT_FROM_THE_START)
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
    # C hands every mode but off to the agent, which refuses an unknown one in one line naming it.
    env = {"LD_PRELOAD": SHIM, "LD_LIBRARY_PATH": SIMGPU, "PIPELLM_MODE": "turbo", "PIPELLM_JAVA_HOME": JAVA_HOME}
    rc, out, err = run([os.path.join(BIN, "prog_shim")], env)
    expect(p, rc == 0 and "round trips: ok" in out, f"program failed: rc {rc}")
    named = [l for l in err.splitlines() if "PIPELLM_MODE" in l and "'turbo'" in l and "passthrough" in l]
    expect(p, len(named) == 1, f"stderr: {err[-300:]}")
    return p


def injected_agent_fault_falls_back_to_openssl_for_that_message():
    p = []
    rc, out, err, pl, sg = prog_under("sync", extra={"PIPELLM_INJECT_FAULT": "evp_update:3", **AGENT_FROM_THE_START})
    expect(p, rc == 0 and "round trips: ok" in out, f"wrong bytes or failure after a fault: rc {rc} {err[-300:]}")
    if pl and sg:
        expect(p, pl["fallbacks"] == 1, f"fallbacks {pl['fallbacks']}")
        expect(p, sg["tag_failures"] == 0, "the CE saw a bad message")
    else:
        p.append("missing statistics")
    errors = [l for l in err.splitlines() if "pipellm:" in l and "agent error in" in l]
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
    env = {"PIPELLM_STATS": pl, "SIMGPU_STATS": sg, "JAVA_HOME": JAVA_HOME, **AGENT_FROM_THE_START}
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
    rc, out, err = run([java, f"-agentpath:{SHIM}=mode=sync,cold_start=agent,stats={pl}", "--enable-native-access=ALL-UNNAMED",
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
           "SIMGPU_CC": "on", "SIMGPU_STATS": sg, **AGENT_FROM_THE_START}
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


def sync_leaves_messages_to_openssl_until_the_agent_is_warm():
    p = []
    rc, out, err, pl, sg = prog_under("sync")
    expect(p, rc == 0 and "round trips: ok" in out, f"program failed: rc {rc} {err[-300:]}")
    if pl and sg:
        handled = pl["agent_encrypted_messages"] + pl["agent_decrypted_messages"] + pl["cold_start_messages"]
        expect(p, handled == sg["h2d_messages"] + sg["d2h_messages"] > 0,
               f"agent {pl['agent_encrypted_messages']}+{pl['agent_decrypted_messages']} + cold {pl['cold_start_messages']}"
               f" of {sg['h2d_messages']}+{sg['d2h_messages']} messages")
        expect(p, pl["fallbacks"] == 0 and sg["tag_failures"] == 0, "fallbacks or tag failures")
    else:
        p.append("missing statistics")
    return p


def fallback_replay_keeps_the_earlier_updates_of_a_message():
    # a 2D copy: one EVP update per row. OpenSSL's init calls EVP_CIPHER_CTX_reset through its PLT;
    # the replay must not take that for the driver's own reset.
    p = []
    for fault in ["evp_update:2", "evp_update:5", "evp_final:1"]:
        rc, out, err, pl, sg = prog_under("sync", extra={"PIPELLM_INJECT_FAULT": fault, "PROG_SHIM_ONLY_2D": "1",
                                                         **AGENT_FROM_THE_START})
        expect(p, rc == 0 and "round trips: ok" in out, f"{fault}: wrong bytes or failure: rc {rc} {err[-300:]}")
        expect(p, pl is not None and pl["fallbacks"] == 1 and pl["refused_messages"] == 0, f"{fault}: stats {pl}")
        expect(p, sg is not None and sg["poisoned"] == 0 and sg["tag_failures"] == 0, f"{fault}: the CE saw {sg}")
    return p


def scenarios(lib, env_extra):
    pl, sg = stats_files()
    env = {"LD_LIBRARY_PATH": SIMGPU, "SIMGPU_CC": "on", "SIMGPU_STATS": sg, "PIPELLM_STATS": pl}
    env.update(env_extra)
    rc, out, err = run([os.path.join(BIN, "prog_evp_scenarios"), os.path.join(BIN, lib)], env)
    return rc, out, err, load(pl), load(sg)


SHIM_SYNC = {"LD_PRELOAD": SHIM, "PIPELLM_MODE": "sync", "PIPELLM_JAVA_HOME": JAVA_HOME}


def hosts_own_gcm_gets_exactly_openssls_behaviour():
    p = []
    lib = "libevp_host_scenarios.so"
    rc0, ref, err0, _, _ = scenarios(lib, {})
    expect(p, rc0 == 0 and ref.endswith("copies ok\n"), f"reference run failed: rc {rc0} {ref[-300:]} {err0[-300:]}")
    for name, extra in [("sync", {**SHIM_SYNC, **AGENT_FROM_THE_START}),
                        ("sync with a fault on every agent update", {**SHIM_SYNC, **AGENT_FROM_THE_START,
                                                                     "PIPELLM_INJECT_FAULT": "evp_update:1"}),
                        ("passthrough", {**SHIM_SYNC, "PIPELLM_MODE": "passthrough"})]:
        rc, out, err, pl, sg = scenarios(lib, extra)
        expect(p, rc == 0 and out == ref, f"{name}: the host's crypto changed (rc {rc}):\n{out}\nvs\n{ref}\n{err[-300:]}")
        expect(p, pl is not None and sg is not None and pl["h2d_messages"] == sg["h2d_messages"]
               and pl["d2h_messages"] == sg["d2h_messages"], f"{name}: the agent saw more than the driver's messages:"
               f" {pl and pl['h2d_messages']} vs simgpu {sg and sg['h2d_messages']}")
    return p


def driver_calls_the_agent_does_not_emulate_are_handed_over():
    p = []
    lib = "libnvidia-pkcs11-pipellm-test.so"   # the shim takes it for NVIDIA's PKCS#11 library
    rc0, ref, err0, _, _ = scenarios(lib, {})
    rc, out, err, pl, sg = scenarios(lib, {**SHIM_SYNC, **AGENT_FROM_THE_START})
    expect(p, rc0 == 0 and rc == 0 and out == ref, f"rc {rc0}/{rc}: OpenSSL's answers changed:\n{out}\nvs\n{ref}\n{err[-400:]}")
    if pl and sg:
        expect(p, pl["agent_encrypted_messages"] > sg["h2d_messages"], f"the agent did not take the library's messages: {pl}")
        expect(p, pl["handed_over_messages"] >= 3 and pl["refused_messages"] == 0 and pl["agent_errors"] == 0,
               f"hand-overs {pl['handed_over_messages']}, refused {pl['refused_messages']}")
    else:
        p.append("missing statistics")
    return p


def fail_closed_holds_whatever_else_is_wrong():
    p = []
    for bad in [{"PIPELLM_MODE": "bogus", "PIPELLM_FAIL_CLOSED": "1"}, {"PIPELLM_LOG": "loud", "PIPELLM_FAIL_CLOSED": "1"},
                {"PIPELLM_FAIL_CLOSED": "maybe", "PIPELLM_MODE": "sync"},
                {"PIPELLM_WORKERS": "0", "PIPELLM_FAIL_CLOSED": "true", "PIPELLM_MODE": "sync"}]:
        env = {"LD_PRELOAD": SHIM, "LD_LIBRARY_PATH": SIMGPU, "PIPELLM_JAVA_HOME": JAVA_HOME, "EXPECT_REFUSAL": "1", **bad}
        rc, out, err = run([os.path.join(BIN, "prog_shim")], env)
        expect(p, rc == 0 and "cudaErrorNotPermitted" in out, f"{bad}: copy not refused: rc {rc} {out} {err[-300:]}")
        named = [k for k in bad if k != "PIPELLM_FAIL_CLOSED" or bad[k] == "maybe"][0]
        expect(p, named in err and "refusing copies (fail-closed)" in err, f"{bad}: stderr {err[-400:]}")
    return p


def unknown_variable_is_named_with_the_closest_key():
    p = []
    env = {**SHIM_SYNC, "LD_LIBRARY_PATH": SIMGPU, "PIPELLM_WROKERS": "2"}
    rc, out, err = run([os.path.join(BIN, "prog_shim")], env)
    expect(p, rc == 0 and "round trips: ok" in out, f"program failed: rc {rc} {err[-300:]}")
    lines = [l for l in err.splitlines() if "PIPELLM_WROKERS" in l]
    expect(p, len(lines) == 1 and "did you mean PIPELLM_WORKERS?" in lines[0], f"stderr: {err[-300:]}")
    return p


def java(home, args, env_extra=None, cwd=None, timeout=180):
    env = clean_env({"LD_LIBRARY_PATH": SIMGPU, "SIMGPU_CC": "on", **(env_extra or {})})
    p = subprocess.run([os.path.join(home, "bin", "java")] + args, env=env, capture_output=True, text=True,
                       timeout=timeout, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def agentpath_validates_and_logs_at_jvm_start():
    p = []
    rc, out, err = java(JAVA_HOME, [f"-agentpath:{SHIM}=mode=sync,wrokers=2", "-version"])
    expect(p, rc == 0 and "unknown agent option 'wrokers' (did you mean workers?)" in err, f"rc {rc}: {err[-400:]}")
    rc, out, err = java(JAVA_HOME, [f"-agentpath:{SHIM}=mode=sync,workers=0", "-version"])
    expect(p, rc == 0 and "workers='0' is not valid" in err and "running without PipeLLM" in err, f"rc {rc}: {err[-400:]}")
    rc, out, err = java(JAVA_HOME, [f"-agentpath:{SHIM}=mode=sync,log=info", "-version"])
    expect(p, rc == 0 and "agent loaded" in err, f"nothing logged before the first CUDA call: {err[-400:]}")
    return p


def agentpath_on_an_old_jdk_names_the_version():
    p = []
    home, major = old_jdk()
    if not home:
        return ["no JDK older than 25 in /usr/lib/jvm (this machine kind has OpenJDK 17 as its default java)"]
    rc, out, err = java(home, [f"-agentpath:{SHIM}=mode=sync", "-version"])
    lines = [l for l in err.splitlines() if l.startswith("pipellm:")]
    expect(p, rc == 0 and len(lines) == 1 and f"Java {major}" in lines[0] and "needs Java >= 25" in lines[0],
           f"rc {rc}: {lines} {err[-300:]}")
    return p


def jvm_ends_cleanly_however_main_ends():
    p = []
    app = os.path.join(TESTS, "CudaFfmApp.java")
    for role in ["agentpath", "preload"]:
        for end, want in [(["return"], 0), (["exit-in-flight", "3"], 3)]:
            cwd = tempfile.mkdtemp(prefix="pipellm-cwd-")
            pl = os.path.join(cwd, "pipellm.json")
            if role == "agentpath":
                args, extra = [f"-agentpath:{SHIM}=mode=sync,cold_start=agent,stats={pl}"], {}
            else:
                args, extra = [], {"LD_PRELOAD": SHIM, "PIPELLM_MODE": "sync", "PIPELLM_COLD_START": "agent",
                                   "PIPELLM_STATS": pl}
            rc, out, err = java(JAVA_HOME, args + ["--enable-native-access=ALL-UNNAMED", app] + end, extra, cwd=cwd)
            what = f"{role} {' '.join(end)}"
            expect(p, rc == want and "round trip: ok" in out, f"{what}: rc {rc} (wanted {want}) {out[-200:]} {err[-600:]}")
            expect(p, not glob.glob(os.path.join(cwd, "hs_err*")), f"{what}: the JVM wrote a fatal-error report")
            expect(p, err.strip() == "", f"{what}: printed {err[-400:]}")
            st = load(pl)
            expect(p, st is not None and st["intercepted_copies"] >= 2, f"{what}: statistics {st}")
    return p


def short_lived_threads_leave_no_context_behind():
    # each thread's EVP context is freed by simgpu's thread-exit destructor, where the shim makes no
    # upcall: the agent must neither crash nor run out of context states (CtxTableTest: eviction)
    p = []
    rc, out, err, pl, sg = prog_under("sync", extra={"PROG_SHIM_THREADS": "1100", **AGENT_FROM_THE_START})
    expect(p, rc == 0 and "round trips: ok" in out, f"program failed: rc {rc} {err[-400:]}")
    if pl and sg:
        expect(p, pl["agent_encrypted_messages"] == sg["h2d_messages"], f"agent {pl['agent_encrypted_messages']} of"
               f" {sg['h2d_messages']}")
        expect(p, pl["untracked_contexts"] == 0 and pl["agent_errors"] == 0, f"stats {pl}")
    else:
        p.append("missing statistics")
    return p


def statistics_survive_sigterm():
    p = []
    pl, sg = stats_files()
    env = clean_env({**SHIM_SYNC, "LD_LIBRARY_PATH": SIMGPU, "SIMGPU_CC": "on", "PIPELLM_STATS": pl,
                     "PIPELLM_STATS_INTERVAL_MS": "100", "PROG_SHIM_SLEEP": "60"})
    proc = subprocess.Popen([os.path.join(BIN, "prog_shim")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        out = proc.stdout.readline() + proc.stdout.readline()   # "copies N", "round trips: ok": then it sleeps
        deadline = time.time() + 30
        while time.time() < deadline and (load(pl) or {}).get("intercepted_copies") != copies_made(out):
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    expect(p, proc.returncode == -signal.SIGTERM, f"rc {proc.returncode}: SIGTERM must still end the process")
    st = load(pl)
    expect(p, "round trips: ok" in out and st is not None and st["intercepted_copies"] == copies_made(out) > 0,
           f"statistics after SIGTERM: {st}, output {out!r}")
    return p


def one_summary_line_at_exit():
    p = []
    rc, out, err, pl, sg = prog_under("sync", extra={"PIPELLM_SUMMARY": "1"})
    lines = [l for l in err.splitlines() if l.startswith("pipellm: summary:")]
    expect(p, rc == 0 and len(lines) == 1, f"rc {rc}, summary lines {lines}: {err[-300:]}")
    if lines and sg:
        want = f"{sg['h2d_messages']} H2D + {sg['d2h_messages']} D2H messages"
        expect(p, "mode sync" in lines[0] and want in lines[0] and "statistics in" in lines[0], f"{lines[0]} vs {want}")
    rc, out, err, pl, sg = prog_under("sync", extra={"PIPELLM_SUMMARY": "1", "PIPELLM_LOG": "off"})
    expect(p, rc == 0 and "summary" not in err, f"log=off still printed: {err[-300:]}")
    rc, out, err = java(JAVA_HOME, [f"-agentpath:{SHIM}=mode=passthrough,log=info", "--enable-native-access=ALL-UNNAMED",
                                    os.path.join(TESTS, "CudaFfmApp.java")])
    expect(p, rc == 0 and "pipellm: summary: mode passthrough, 2 copies" in err, f"-agentpath at info: {err[-400:]}")
    return p


def tls_cert():
    """A throw-away self-signed P-256 certificate for the TLS connection of ctypes_driver_evp.py."""
    d = tempfile.mkdtemp(prefix="pipellm-tls-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=pipellm-test", "-days", "2", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def driver_evp(args, env_extra):
    pl, sg = stats_files()
    env = {"LD_LIBRARY_PATH": SIMGPU, "SIMGPU_CC": "on", "SIMGPU_STATS": sg, "PIPELLM_STATS": pl, **env_extra}
    rc, out, err = run([sys.executable, os.path.join(TESTS, "ctypes_driver_evp.py")] + args, env, timeout=180)
    return rc, out, err, load(pl), load(sg)


def without_jvm_line(out):
    return [l for l in out.splitlines() if not l.startswith("jvm: ")]


def ctypes_handle_copies_are_intercepted_and_encrypted_by_the_agent():
    # cudaMemcpy/cudaMemcpyAsync through an RTLD_LOCAL handle (dlsym hands out the shim's wrappers):
    # every copy reported, every H2D message the agent's; the host's own GCM and TLS stay OpenSSL's
    p = []
    cert, key = tls_cert()
    rc0, ref, err0, _, _ = driver_evp([cert, key, "cuda"], {})
    expect(p, rc0 == 0 and "copies ok" in ref and "jvm: no" in ref, f"reference run: rc {rc0} {ref[-300:]} {err0[-300:]}")
    rc, out, err, pl, sg = driver_evp([cert, key, "cuda"], {**SHIM_SYNC, **AGENT_FROM_THE_START})
    expect(p, rc == 0 and "copies ok" in out and "tls ok" in out, f"rc {rc}: {out[-300:]} {err[-400:]}")
    expect(p, without_jvm_line(out) == without_jvm_line(ref), f"the host's crypto changed:\n{out}\nvs\n{ref}")
    if pl and sg:
        expect(p, pl["intercepted_copies"] == 4, f"intercepted {pl['intercepted_copies']} of 4 copies")
        expect(p, sg["h2d_messages"] > 0 and pl["agent_encrypted_messages"] == sg["h2d_messages"] == pl["h2d_messages"],
               f"agent encrypted {pl['agent_encrypted_messages']} of {sg['h2d_messages']} H2D messages (saw {pl['h2d_messages']})")
        expect(p, pl["agent_decrypted_messages"] == sg["d2h_messages"], f"agent decrypted {pl['agent_decrypted_messages']}"
               f" of {sg['d2h_messages']} D2H messages")
        expect(p, pl["fallbacks"] == 0 and sg["tag_failures"] == 0 and sg["poisoned"] == 0, f"stats {pl} {sg}")
    else:
        p.append(f"missing statistics: {pl} {sg}")
    return p


def the_drivers_first_gcm_init_starts_the_agent():
    # no CUDA call at all: only AES-256-GCM from a library the shim takes for NVIDIA's PKCS#11 one;
    # the host's own GCM and TLS in the same process stay OpenSSL's
    p = []
    cert, key = tls_cert()
    args = [cert, key, "driver=" + os.path.join(BIN, "libnvidia-pkcs11-pipellm-test.so")]
    rc0, ref, err0, _, _ = driver_evp(args, {})
    expect(p, rc0 == 0 and "plain" in ref and "jvm: no" in ref, f"reference run: rc {rc0} {ref[-300:]} {err0[-300:]}")
    for mode in ["sync", "pipellm"]:
        rc, out, err, pl, sg = driver_evp(args, {**SHIM_SYNC, "PIPELLM_MODE": mode, **AGENT_FROM_THE_START})
        expect(p, rc == 0 and without_jvm_line(out) == without_jvm_line(ref),
               f"{mode}: OpenSSL's answers changed (rc {rc}):\n{out}\nvs\n{ref}\n{err[-300:]}")
        expect(p, "jvm: yes" in out, f"{mode}: no agent started")
        expect(p, pl is not None and pl["agent_encrypted_messages"] > 0 and pl["intercepted_copies"] == 0
               and pl["agent_errors"] == 0, f"{mode}: the agent did not take the driver library's messages: {pl}")
    return p


def dlsym_in_a_cuda_handle_gives_the_shims_wrappers_and_nothing_else():
    p = []
    prog = os.path.join(BIN, "prog_dlsym")
    rc, out, err = run([prog], {"LD_LIBRARY_PATH": SIMGPU, "SIMGPU_CC": "on"})
    expect(p, rc == 0 and "dlsym: ok" in out, f"without the shim: rc {rc} {out[-300:]} {err[-600:]}")
    for mode in ["sync", "passthrough", "pipellm"]:
        pl, sg = stats_files()
        rc, out, err = run([prog], {**SHIM_SYNC, "PIPELLM_MODE": mode, "PROG_DLSYM_SHIM": "1", "LD_LIBRARY_PATH": SIMGPU,
                                    "SIMGPU_CC": "on", "PIPELLM_STATS": pl, "SIMGPU_STATS": sg, **AGENT_FROM_THE_START})
        expect(p, rc == 0 and "dlsym: ok" in out, f"{mode}: rc {rc} {out[-300:]} {err[-600:]}")
        st, sgs = load(pl), load(sg)
        if st and sgs:
            expect(p, st["intercepted_copies"] == copies_made(out) == 6, f"{mode}: intercepted {st['intercepted_copies']}")
            if mode == "sync":
                expect(p, st["agent_encrypted_messages"] == sgs["h2d_messages"] > 0, f"{mode}: {st} {sgs}")
            expect(p, sgs["tag_failures"] == 0 and st["fallbacks"] == 0, f"{mode}: {st} {sgs}")
        else:
            p.append(f"{mode}: missing statistics {st} {sgs}")
    return p


DRIVER_PROGRAMS = [("prog_driver", ["direct"], "driver: ok", "PROG_DRIVER_SHIM"),
                   ("prog_driver", ["procs"], "driver: ok", "PROG_DRIVER_SHIM"),
                   ("prog_mixed", [], "mixed: ok", "PROG_MIXED_SHIM")]


def driver_api_programs_are_bytes_exact_in_every_mode():
    # the driver API alone (exports, or entry points from cuGetProcAddress), and runtime and driver
    # copies mixed on one device: every copy reported once, every message the agent's in sync
    p = []
    for prog, args, ok_line, shim_var in DRIVER_PROGRAMS:
        for mode in ["off", "passthrough", "sync", "pipellm"]:
            what = f"{prog} {' '.join(args)} in {mode}"
            pl, sg = stats_files()
            env = {"PIPELLM_STATS": pl, "SIMGPU_STATS": sg, "JAVA_HOME": JAVA_HOME, **AGENT_FROM_THE_START}
            if mode != "off":
                env[shim_var] = "1"
            rc, out, err = run([PIPELLM, "run", "--sim", "--mode", mode, "--", os.path.join(BIN, prog)] + args, env)
            expect(p, rc == 0 and ok_line in out, f"{what}: rc {rc} {out[-300:]} {err[-600:]}")
            st, sgs = load(pl), load(sg)
            if not sgs:
                p.append(f"{what}: no simgpu statistics")
                continue
            expect(p, sgs["tag_failures"] == 0 and sgs["poisoned"] == 0 and sgs["h2d_messages"] > 0, f"{what}: simgpu {sgs}")
            if mode == "off":
                expect(p, st is None, f"{what}: statistics without PipeLLM")
                continue
            if not st:
                p.append(f"{what}: no PipeLLM statistics")
                continue
            expect(p, st["intercepted_copies"] == copies_made(out) > 0,
                   f"{what}: intercepted {st['intercepted_copies']} of {copies_made(out)} copies")
            expect(p, st["h2d_messages"] == sgs["h2d_messages"] and st["d2h_messages"] == sgs["d2h_messages"],
                   f"{what}: messages {st['h2d_messages']}/{st['d2h_messages']} vs simgpu {sgs['h2d_messages']}/{sgs['d2h_messages']}")
            if mode == "sync":
                expect(p, st["agent_encrypted_messages"] == sgs["h2d_messages"]
                       and st["agent_decrypted_messages"] == sgs["d2h_messages"], f"{what}: agent {st}")
            expect(p, st["fallbacks"] == 0 and st["agent_errors"] == 0, f"{what}: {st}")
    return p


def host_register_is_emulated_only_when_asked_and_needed():
    # CC refuses cudaHostRegister/cuMemHostRegister (801); host_register=emulate makes it bookkeeping
    p = []
    prog = os.path.join(BIN, "prog_host_register")
    for name, cc, mode, extra, expect_as in [
            ("emulate, CC on", "on", "sync", {"PIPELLM_HOST_REGISTER": "emulate"}, "emulate"),
            ("emulate, pipellm mode", "on", "pipellm", {"PIPELLM_HOST_REGISTER": "emulate"}, "emulate"),
            ("default, CC on", "on", "sync", {}, "refuse"),
            ("off explicitly", "on", "sync", {"PIPELLM_HOST_REGISTER": "off"}, "refuse"),
            ("emulate in mode off", "on", "off", {"PIPELLM_HOST_REGISTER": "emulate"}, "refuse"),
            ("emulate, CC off: the real registration", "off", "sync", {"PIPELLM_HOST_REGISTER": "emulate"}, "native")]:
        pl, sg = stats_files()
        env = {"PIPELLM_STATS": pl, "SIMGPU_STATS": sg, "JAVA_HOME": JAVA_HOME, "PROG_HR": expect_as,
               **AGENT_FROM_THE_START, **extra}
        rc, out, err = run([PIPELLM, "run", "--sim", "--cc", cc, "--mode", mode, "--", prog], env)
        expect(p, rc == 0 and "host register: ok" in out, f"{name}: rc {rc} {out[-300:]} {err[-600:]}")
        st, sgs = load(pl), load(sg)
        expect(p, sgs is not None and sgs["tag_failures"] == 0 and sgs["poisoned"] == 0, f"{name}: simgpu {sgs}")
        if mode != "off" and st and sgs:
            expect(p, st["intercepted_copies"] == copies_made(out) > 0, f"{name}: intercepted {st['intercepted_copies']}")
            if mode == "sync" and cc == "on":
                expect(p, st["agent_encrypted_messages"] == sgs["h2d_messages"] > 0, f"{name}: {st}")
        elif mode != "off":
            p.append(f"{name}: missing statistics")
    # a value the shim does not know: one line naming it, and the real driver's answers
    env = {"LD_PRELOAD": SHIM, "LD_LIBRARY_PATH": SIMGPU, "SIMGPU_CC": "on", "PIPELLM_MODE": "sync",
           "PIPELLM_JAVA_HOME": JAVA_HOME, "PIPELLM_HOST_REGISTER": "yes", "PROG_HR": "refuse"}
    rc, out, err = run([prog], env)
    expect(p, rc == 0 and "host register: ok" in out, f"bad value: rc {rc} {out[-300:]} {err[-300:]}")
    expect(p, "PIPELLM_HOST_REGISTER" in err and "off, emulate" in err, f"bad value not named: {err[-300:]}")
    return p


def jcuda_weights_streaming_under_agentpath_in_every_mode():
    # JCuda's driver bindings (jars copied by the native module's build into lib/jcuda): the JNI
    # library calls libcuda through its PLT, which the shim's driver hooks see under -agentpath
    p = []
    jars = sorted(glob.glob(os.path.join(LIB, "jcuda", "*.jar")))
    if len(jars) != 2:
        return [f"JCuda jars missing in {os.path.join(LIB, 'jcuda')}: {jars} (built by ./mvnw install)"]
    app = os.path.join(TESTS, "JCudaWeightsApp.java")
    for cc, mode in [("on", "off"), ("on", "passthrough"), ("on", "sync"), ("on", "pipellm"), ("off", "sync")]:
        what = f"CC {cc}, mode {mode}"
        cwd = tempfile.mkdtemp(prefix="pipellm-jcuda-")
        pl, sg = os.path.join(cwd, "pipellm.json"), os.path.join(cwd, "simgpu.json")
        # pipellm: write tracking by uffd asked for explicitly (Java writes the pinned staging buffer
        # before every copy: each slot made for it is stale, and must never be committed)
        opts = ",validate=uffd,log=info,governor=off,worker_sched=normal" if mode == "pipellm" else ""
        agent = [] if mode == "off" else [f"-agentpath:{SHIM}=mode={mode},cold_start=agent,stats={pl}{opts}"]
        rc, out, err = java(JAVA_HOME, agent + ["--enable-native-access=ALL-UNNAMED", "-cp", ":".join(jars), app],
                            {"SIMGPU_CC": cc, "SIMGPU_STATS": sg}, cwd=cwd)
        expect(p, rc == 0 and "weights: ok" in out and "npes 200000" in out, f"{what}: rc {rc} {out[-300:]} {err[-600:]}")
        expect(p, not glob.glob(os.path.join(cwd, "hs_err*")), f"{what}: the JVM wrote a fatal-error report")
        if mode == "pipellm":
            expect(p, "pipellm: validation: uffd" in err, f"{what}: uffd not chosen under -agentpath: {err[-600:]}")
        st, sgs = load(pl), load(sg)
        if not sgs:
            p.append(f"{what}: no simgpu statistics")
            continue
        expect(p, sgs["tag_failures"] == 0 and sgs["poisoned"] == 0, f"{what}: simgpu {sgs}")
        if mode == "off":
            continue
        if not st:
            p.append(f"{what}: no PipeLLM statistics")
            continue
        expect(p, st["intercepted_copies"] == copies_made(out) > 0, f"{what}: intercepted {st['intercepted_copies']}"
               f" of {copies_made(out)}")
        if mode == "sync" and cc == "on":
            expect(p, st["agent_encrypted_messages"] == sgs["h2d_messages"] > 0
                   and st["agent_decrypted_messages"] == sgs["d2h_messages"], f"{what}: {st} {sgs}")
        if cc == "off":
            expect(p, st["h2d_messages"] == 0, f"{what}: messages without CC")
    return p


def jcuda_under_validate_mprotect_in_both_roles():
    """validate=mprotect: preloaded into a Java host (joined JVM), its SIGSEGV handler runs ahead of
    HotSpot's and chains to it: the Java writes into the write-protected staging buffer are ours,
    200k implicit null checks are HotSpot's; under -agentpath its interposers are not first, so the
    probe refuses and the agent compares."""
    p = []
    jars = sorted(glob.glob(os.path.join(LIB, "jcuda", "*.jar")))
    if len(jars) != 2:
        return [f"JCuda jars missing in {os.path.join(LIB, 'jcuda')}: {jars} (built by ./mvnw install)"]
    app = os.path.join(TESTS, "JCudaWeightsApp.java")
    opts = "mode=pipellm,validate=mprotect,log=info,cold_start=agent,governor=off,worker_sched=normal"
    for role, want in [("preload", "pipellm: validation: mprotect"),
                       ("agentpath", "pipellm: validation: compare (validate=mprotect is not available here")]:
        cwd = tempfile.mkdtemp(prefix="pipellm-jcuda-mp-")
        if role == "preload":
            args, extra = [], {"LD_PRELOAD": SHIM, **{f"PIPELLM_{kv.split('=')[0].upper()}": kv.split("=")[1]
                                                    for kv in opts.split(",")}}
        else:
            args, extra = [f"-agentpath:{SHIM}={opts}"], {}
        rc, out, err = java(JAVA_HOME, args + ["--enable-native-access=ALL-UNNAMED", "-cp", ":".join(jars), app],
                            {"SIMGPU_CC": "on", **extra}, cwd=cwd)
        expect(p, rc == 0 and "weights: ok" in out and "npes 200000" in out, f"{role}: rc {rc} {out[-300:]} {err[-600:]}")
        expect(p, want in err, f"{role}: want {want!r}: {err[-600:]}")
        expect(p, not glob.glob(os.path.join(cwd, "hs_err*")), f"{role}: the JVM wrote a fatal-error report")
    return p


def hosts_own_gcm_and_tls_start_no_jvm():
    p = []
    cert, key = tls_cert()
    rc0, ref, err0, _, _ = driver_evp([cert, key], {})
    expect(p, rc0 == 0 and "tls ok" in ref, f"reference run: rc {rc0} {ref[-300:]} {err0[-300:]}")
    for mode in ["sync", "pipellm"]:
        rc, out, err, pl, sg = driver_evp([cert, key], {**SHIM_SYNC, "PIPELLM_MODE": mode, **AGENT_FROM_THE_START})
        expect(p, rc == 0 and out == ref, f"{mode}: the host's crypto changed (rc {rc}):\n{out}\nvs\n{ref}\n{err[-300:]}")
        expect(p, "jvm: no" in out and pl is None, f"{mode}: a JVM started for the host's own crypto (stats {pl})")
        expect(p, "pipellm:" not in err, f"{mode}: printed {err[-300:]}")
    return p


cases = Cases()
ONLY = [n for n in os.environ.get("SHIM_E2E_ONLY", "").split(",") if n]   # a developer's subset, by name
for name, fn in list(globals().items()):
    if ONLY and name not in ONLY:
        continue
    if callable(fn) and getattr(fn, "__module__", None) == "__main__" and name not in (
            "run", "stats_files", "load", "prog_under", "copies_made", "scenarios", "java", "tls_cert",
            "driver_evp", "without_jvm_line"):
        cases.case(name, fn)
cases.finish()
