"""Property test of PipeLLM's invariants (ARCHITECTURE.md section 6) on simgpu: prog_pipeline_mix, a
seeded random mix of LLM-serving copy patterns that checks every byte it reads back, runs under
`./pipellm run --sim --cc on --mode MODE` for many seeds and variants, and each run is checked
against simgpu's statistics, simgpu's ledger of H2D messages (no IV exposed for two ciphertexts)
and the agent's statistics. Plus fault injection, steady weight streaming, tampering, and
self-checks of the checkers.

Usage: pipeline_property_test.py REPO_ROOT BUILD_DIR. Ends with "N passed, N failed".
  PIPELINE_PROPERTY_MODE   the mode under test: pipellm (default), sync, passthrough, off. The checks
                           of the speculative pipeline (its statistics keys, the fault points, the
                           fast-path share of steady streaming) apply only to pipellm.
  PIPELINE_PROPERTY_SEEDS  the mix seeds to run instead of the table: "3", "1,5,9" or "100-199"
                           (a seed outside the table takes the variant of table row seed % rows)
  PIPELINE_PROPERTY_KEEP   1: keep every run's folder (statistics, ledger, output) and print it
  PIPELINE_PROPERTY_SKIP   comma-separated parts of case names: those cases are not run (printed as skip)
Features this harness uses before they exist in a build (SIMGPU_LEDGER, SIMGPU_H2D_CHANNELS, the
agent's new fault points) are detected: what a build lacks is reported as a note and not checked,
except in pipellm mode, where a refused fault point fails its case."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from e2e_support import Cases, clean_env, expect, java_home, load_json

ROOT, BUILD = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
BIN, LIB = os.path.join(BUILD, "bin"), os.path.join(BUILD, "lib")
PIPELLM = os.path.join(ROOT, "pipellm")
TESTS = os.path.join(ROOT, "native-shim", "test")
PROG = os.path.join(BIN, "prog_pipeline_mix")
MODE = os.environ.get("PIPELINE_PROPERTY_MODE", "pipellm")
PIPELINE = MODE == "pipellm"          # the speculative pipeline: its own statistics and fault points
AGENT = MODE != "off"                 # an agent runs and writes PIPELLM_STATS
CRYPTO = MODE in ("sync", "pipellm")  # the agent does the driver's AES-GCM (passthrough only counts)
KEEP = os.environ.get("PIPELINE_PROPERTY_KEEP") == "1"
JAVA_HOME = java_home("pipeline_property_test")

OK_LINE = re.compile(r"^mix seed=\d+ ops=\d+ verified_bytes=\d+ ok$", re.M)
PIPELINE_KEYS = ["fast_path_messages", "slow_path_messages", "nop_messages", "relinquished_slots", "stale_slots",
                 "pre_encrypted_bytes", "wasted_encrypted_bytes", "commit_ns", "slow_path_ns"]
# cold_start=agent: the agent does the driver's messages from the first one (else, in sync mode, OpenSSL
# may do them all while the agent warms up, and the agent's path would not be tested)
AGENT_FROM_THE_START = {"PIPELLM_COLD_START": "agent"}
# pipellm: the program first streams its layers until the agent reports this many fast-path messages
# (prog_pipeline_mix --warm-up-fast, reading PIPELLM_STATS rewritten every 50 ms), so that what
# follows runs on a warm pipeline and not before the pipeline has started.
WARM_FAST = 8
WARM_ARGS = ["--warm-up-fast", str(WARM_FAST)] if PIPELINE else []
WARM_ENV = {"PIPELLM_STATS_INTERVAL_MS": "50"}
WEIGHTS = os.path.join(BIN, "prog_weights")


def simgpu_knows(variable):
    """Whether this build's simgpu reads `variable` (its name is in the library's strings)."""
    try:
        with open(os.path.join(LIB, "simgpu", "libcudart.so.13"), "rb") as f:
            return variable.encode() in f.read()
    except OSError:
        return False


LEDGER_BUILT = simgpu_knows("SIMGPU_LEDGER")
CHANNELS_BUILT = simgpu_knows("SIMGPU_H2D_CHANNELS")


load = load_json


class Run:
    """One program run under the launcher, with its statistics and ledger."""

    def __init__(self, cmd, extra, mode, timeout):
        self.dir = tempfile.mkdtemp(prefix="pipellm-prop-")
        self.ledger = os.path.join(self.dir, "ledger.txt")
        pl, sg = os.path.join(self.dir, "pipellm.json"), os.path.join(self.dir, "simgpu.json")
        env = {"JAVA_HOME": JAVA_HOME, "PIPELLM_STATS": pl, "SIMGPU_STATS": sg, "SIMGPU_LEDGER": self.ledger,
               "SIMGPU_VERIFY": "full", **extra}
        self.extra = extra
        start = time.monotonic()
        p = subprocess.run([PIPELLM, "run", "--sim", "--cc", "on", "--mode", mode, "--"] + cmd, env=clean_env(env),
                           capture_output=True, text=True, timeout=timeout)
        self.seconds = time.monotonic() - start
        self.rc, self.out, self.err = p.returncode, p.stdout, p.stderr
        self.pl, self.sg = load(pl), load(sg)
        with open(os.path.join(self.dir, "output.txt"), "w") as f:
            f.write(f"{' '.join(cmd)}\n{extra}\nrc {self.rc}\n--- stdout\n{self.out}--- stderr\n{self.err}")

    def ok_line(self):
        m = OK_LINE.search(self.out)
        return m.group(0) if m else None

    def prog_counts(self):
        """(h2d_copies, h2d_bytes) as the program counted them."""
        m = re.search(r"^mix h2d_copies=(\d+) h2d_bytes=(\d+)$", self.out, re.M)
        return (int(m.group(1)), int(m.group(2))) if m else (None, None)

    def tail(self):
        return f"rc {self.rc}; stdout: {self.out[-400:]!r}; stderr: {self.err[-600:]!r}; files in {self.dir}"

    def done(self, problems=()):
        """Removes the run's folder, unless PIPELINE_PROPERTY_KEEP=1 or the case has problems."""
        if KEEP or problems:
            print(f"  kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def run_prog(args, extra=None, mode=MODE, timeout=240):
    return Run([PROG] + args, dict(extra or {}), mode, timeout)


# ---- the ledger checker ----

HEX24, HEX16 = re.compile(r"^[0-9a-fA-F]{24}$"), re.compile(r"^[0-9a-fA-F]{16}$")


def ledger_problems(lines, h2d_messages=None, h2d_bytes=None):
    """Problems of a ledger (lines `h2d <channel-id> <chan_ctr> <iv: 24 hex> <len> <hash: 16 hex>`): an
    IV of a channel with two different ciphertext hashes (an IV exposed twice), an IV of a channel seen
    twice at all, malformed lines, and (when given) a line count other than simgpu's h2d_messages or a
    byte total other than its h2d_bytes. Returns (problems, number of h2d lines, set of channel ids)."""
    problems, seen, count, total, channels = [], {}, 0, 0, set()
    for no, line in enumerate(lines, 1):
        f = line.split()
        if f and (f[0] == "d2h" or f[0].startswith("#")):   # other record kinds, comments: not H2D messages
            continue
        if len(f) != 6 or f[0] != "h2d" or not HEX24.match(f[3]) or not HEX16.match(f[5]) \
                or not f[2].isdigit() or not f[4].isdigit():
            problems.append(f"ledger line {no} malformed: {line.rstrip()!r}")
            continue
        count += 1
        total += int(f[4])
        channels.add(f[1])
        key, digest = (f[1], f[3].lower()), f[5].lower()
        if key in seen:
            first_no, first_digest = seen[key]
            if first_digest != digest:
                problems.append(f"IV exposed for two ciphertexts: channel {f[1]} IV {f[3]} on ledger lines {first_no}"
                                f" (hash {first_digest}) and {no} (hash {digest})")
            else:
                problems.append(f"IV used twice: channel {f[1]} IV {f[3]} on ledger lines {first_no} and {no}"
                                f" (same ciphertext)")
        else:
            seen[key] = (no, digest)
    if h2d_messages is not None and count != h2d_messages:
        problems.append(f"ledger has {count} H2D lines, simgpu counted {h2d_messages} H2D messages")
    if h2d_bytes is not None and total != h2d_bytes:
        problems.append(f"ledger lengths add up to {total} bytes, simgpu counted {h2d_bytes} H2D bytes")
    if len(problems) > 8:
        problems = problems[:8] + [f"... and {len(problems) - 8} more ledger problems"]
    return problems, count, channels


def read_ledger(path):
    with open(path) as f:
        return f.read().splitlines()


# ---- the invariants of one run ----

def check_run(r, p, fault=False, key_rotation=False, iv_rotation=False, per_stream=False, cold_agent=True, mode=MODE):
    """Appends to p what is wrong with run r, made in `mode`. fault: a fault was injected (fallbacks allowed)."""
    pipeline, agent = mode == "pipellm", mode != "off"
    ok = r.ok_line()
    expect(p, r.rc == 0 and ok is not None, f"program failed: {r.tail()}")
    sg, pl = r.sg, r.pl
    if sg is None:
        p.append(f"no SIMGPU_STATS file: {r.tail()}")
        return
    expect(p, sg["tag_failures"] == 0, f"simgpu: {sg['tag_failures']} tag failures: {r.tail()}")
    expect(p, sg["poisoned"] == 0, f"simgpu: context poisoned: {r.tail()}")
    expect(p, sg["unverified_messages"] == 0 and sg["verified_messages"] == sg["h2d_messages"] + sg["d2h_messages"],
           f"simgpu did not verify every message: {sg}")
    copies, nbytes = r.prog_counts()
    if copies is not None:
        if pipeline:   # NOPs are real copies the agent adds
            expect(p, sg["h2d_copies"] >= copies and sg["h2d_bytes"] >= nbytes,
                   f"simgpu saw fewer H2D copies/bytes ({sg['h2d_copies']}/{sg['h2d_bytes']}) than the program made"
                   f" ({copies}/{nbytes})")
        else:
            expect(p, (sg["h2d_copies"], sg["h2d_bytes"]) == (copies, nbytes),
                   f"simgpu saw {sg['h2d_copies']} H2D copies / {sg['h2d_bytes']} bytes, the program made"
                   f" {copies} / {nbytes}")
    if key_rotation:
        expect(p, sg["key_rotations"] >= 1, "the key never rotated: the variant did not test a rotation")
    if iv_rotation:
        expect(p, sg["iv_rotations"] >= 1, "the IVs never rotated: the variant did not test a rotation")
    if LEDGER_BUILT:
        if not os.path.exists(r.ledger) or os.path.getsize(r.ledger) == 0:
            p.append(f"no ledger, or an empty one, at {r.ledger}")
        else:
            problems, _, channels = ledger_problems(read_ledger(r.ledger), sg["h2d_messages"], sg["h2d_bytes"])
            p.extend(problems)
            if per_stream and CHANNELS_BUILT:
                expect(p, len(channels) >= 2, f"SIMGPU_H2D_CHANNELS=per-stream but the ledger names channels {channels}")
    if not agent:
        return
    if pl is None:
        p.append(f"no PIPELLM_STATS file: {r.tail()}")
        return
    expect(p, pl["agent_errors"] == 0, f"agent_errors {pl['agent_errors']}")
    expect(p, pl["tag_failures"] == 0 and pl["refused_messages"] == 0,
           f"agent tag_failures {pl['tag_failures']}, refused {pl['refused_messages']}")
    expect(p, fault or pl["fallbacks"] == 0, f"fallbacks {pl['fallbacks']} without an injected fault")
    expect(p, pl["h2d_messages"] == sg["h2d_messages"] and pl["d2h_messages"] == sg["d2h_messages"],
           f"agent saw {pl['h2d_messages']}+{pl['d2h_messages']} messages, simgpu {sg['h2d_messages']}+{sg['d2h_messages']}")
    if mode == "sync":
        expect(p, pl["fast_path_messages"] == 0, f"sync mode served {pl['fast_path_messages']} messages from slots")
        if cold_agent and not fault:
            expect(p, pl["agent_encrypted_messages"] == sg["h2d_messages"],
                   f"agent encrypted {pl['agent_encrypted_messages']} of {sg['h2d_messages']} H2D messages")
    if pipeline:
        missing = [k for k in PIPELINE_KEYS if k not in pl]
        expect(p, not missing, f"pipellm statistics lack {missing}")
        if not missing:
            expect(p, pl["fast_path_messages"] <= sg["h2d_messages"], "more fast-path messages than H2D messages")
            expect(p, pl["wasted_encrypted_bytes"] <= pl["pre_encrypted_bytes"],
                   f"wasted {pl['wasted_encrypted_bytes']} > pre-encrypted {pl['pre_encrypted_bytes']} bytes")


def record(r):
    """One line for the log: time, messages and, for the pipeline, its counters."""
    sg, pl = r.sg or {}, r.pl or {}
    line = f"  {r.seconds:.1f} s, {sg.get('h2d_messages')} H2D / {sg.get('d2h_messages')} D2H messages"
    if sg.get("key_rotations") or sg.get("iv_rotations"):
        line += f", {sg.get('key_rotations')} key / {sg.get('iv_rotations')} IV rotations"
    if PIPELINE and pl:
        line += ", " + " ".join(f"{k.replace('_messages', '').replace('_slots', '')}={pl.get(k)}"
                                for k in ["fast_path_messages", "slow_path_messages", "nop_messages",
                                          "relinquished_slots", "stale_slots"])
        line += f" pre_encrypted={pl.get('pre_encrypted_bytes')} wasted={pl.get('wasted_encrypted_bytes')}"
    print(line)


# ---- the mix seeds: (seed, program arguments, environment, what the variant tests) ----

K64 = {"SIMGPU_CC_CHUNK_BYTES": "64k"}
PER_STREAM = {"SIMGPU_H2D_CHANNELS": "per-stream"}
TWO = ["--threads", "2"]
SEEDS = [
    (1, [], {}, "1 MiB chunks"),
    (2, [], K64, "64 KiB chunks"),
    (3, TWO, {}, "two threads"),
    (4, [], PER_STREAM, "per-stream channels"),
    (5, [], {"SIMGPU_KEY_ROTATION_BYTES": "48M"}, "key rotation"),
    (6, TWO, {**PER_STREAM, **K64}, "two threads, per-stream channels, 64 KiB chunks"),
    (7, [], {"PIPELLM_COLD_START": "openssl"}, "cold start on OpenSSL"),
    (8, TWO, {"SIMGPU_KEY_ROTATION_BYTES": "24M", "SIMGPU_CC_CHUNK_BYTES": "256k"}, "two threads, key rotation"),
    (9, [], {"SIMGPU_IV_ROTATION_MESSAGES": "50"}, "IV rotation"),
    (10, [], {**K64, "SIMGPU_KEY_ROTATION_BYTES": "8M"}, "64 KiB chunks, frequent key rotation"),
    (11, TWO, {**PER_STREAM, "SIMGPU_KEY_ROTATION_BYTES": "32M"}, "two threads, per-stream channels, key rotation"),
    (12, [], {"SIMGPU_BOUNCE_POOL_BYTES": "2M"}, "two bounce buffers"),
    (13, ["--layer-min", "4k", "--layer-max", "96k"], {"SIMGPU_CC_CHUNK_BYTES": "16k"}, "small layers, 16 KiB chunks"),
    (14, TWO, K64, "two threads, 64 KiB chunks"),
    (15, [], {**K64, **PER_STREAM, "SIMGPU_IV_ROTATION_MESSAGES": "200"}, "per-stream channels, IV rotation"),
    (16, TWO, {"PIPELLM_COLD_START": "openssl", **K64}, "two threads, cold start on OpenSSL"),
]


def variant_flags(env):
    return {"key_rotation": "SIMGPU_KEY_ROTATION_BYTES" in env, "iv_rotation": "SIMGPU_IV_ROTATION_MESSAGES" in env,
            "per_stream": env.get("SIMGPU_H2D_CHANNELS") == "per-stream",
            "cold_agent": env.get("PIPELLM_COLD_START", "agent") == "agent"}


def seeds_to_run():
    spec = os.environ.get("PIPELINE_PROPERTY_SEEDS", "").strip()
    if not spec:
        return SEEDS
    table = {s[0]: s for s in SEEDS}
    out = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        for seed in range(int(lo), int(hi or lo) + 1):
            row = table.get(seed) or SEEDS[seed % len(SEEDS)]
            out.append((seed, row[1], row[2], row[3]))
    return out


def mix_case(seed, args, env, what):
    def fn():
        p = []
        r = run_prog(["--seed", str(seed)] + WARM_ARGS + args, {**AGENT_FROM_THE_START, **WARM_ENV, **env})
        check_run(r, p, **variant_flags(env))
        if PIPELINE:
            expect(p, "no " not in (re.search(r"^mix warm-up: .*$", r.out, re.M) or [""])[0],
                   f"the pipeline never served a message during the warm-up: {r.tail()}")
        record(r)
        r.done(p)
        return p
    return fn


# ---- fault injection: the same seed must give the same verified result ----

FAULT_SEED, FAULT_ARGS = 1, ["--seed", "1"]
# worker_death runs with two workers and the warm-up: the seed's random copies alone are too short and too
# unpredictable for the planner to make a slot (its commit record keeps it shallow), and the surviving
# worker must serve the warm-up's steady layers.
FAULTS = [{"PIPELLM_INJECT_FAULT": "worker_death:1", "PIPELLM_WORKERS": "2"}, {"PIPELLM_INJECT_FAULT": "worker_slow:20"},
          {"PIPELLM_INJECT_FAULT": "self_test:1"}, {"PIPELLM_MEMORY_BUDGET": "2m"}, {"PIPELLM_MEMORY_BUDGET": "1m"},
          {"PIPELLM_WORKERS": "1"}]
# what each fault must visibly have done in pipellm mode (a fault that never fired tests nothing)
FAULT_EFFECT = {"worker_death:1": ("worker_errors", 1, 1), "self_test:1": ("planned_slots", 0, 0),
                "1m": ("planned_slots", 0, 0), "2m": ("planned_slots", 1, None)}
_baseline = {}


def baseline():
    """The fault seed without a fault, in the mode under test: (ok line, program counts)."""
    if not _baseline:
        r = run_prog(FAULT_ARGS, AGENT_FROM_THE_START)
        p = []
        check_run(r, p)
        _baseline.update(ok=r.ok_line(), counts=r.prog_counts(), problems=p, sg=r.sg)
        r.done(p)
    return _baseline


def refused_option(r, fault):
    """The launcher's refusal of an option value this build's agent does not know (exit status 2)."""
    key = next(iter(fault)).removeprefix("PIPELLM_").lower()
    return r.rc == 2 and f"{key}=" in r.err and "is not valid" in r.err


def fault_case(fault):
    def fn():
        p = []
        base = baseline()
        if base["problems"]:
            return ["the run without a fault failed:"] + base["problems"]
        warm = PIPELINE and next(iter(fault.values())) in ("worker_death:1", "worker_slow:20", "2m", "1")
        r = run_prog(FAULT_ARGS + (WARM_ARGS if warm else []), {**AGENT_FROM_THE_START, **WARM_ENV, **fault})
        if refused_option(r, fault) and not PIPELINE:
            print(f"  note: this build's agent refuses {fault} (not run): {r.err.strip().splitlines()[0]}")
            r.done(p)
            return p
        check_run(r, p, fault="PIPELLM_INJECT_FAULT" in fault)
        effect = FAULT_EFFECT.get(next(iter(fault.values())))
        if PIPELINE and effect and r.pl:
            key, lo, hi = effect
            expect(p, r.pl[key] >= lo and (hi is None or r.pl[key] <= hi),
                   f"{fault}: {key} is {r.pl[key]}, want {lo}..{hi if hi is not None else ''}: did the fault act?")
        if not warm:   # a warm-up streams for as long as the pipeline takes: other counts, same checks
            expect(p, r.ok_line() == base["ok"] and r.prog_counts() == base["counts"],
                   f"results differ from the run without the fault: {r.ok_line()} {r.prog_counts()} vs {base['ok']}"
                   f" {base['counts']}")
        if r.sg and base["sg"] and not PIPELINE:
            expect(p, r.sg["h2d_messages"] == base["sg"]["h2d_messages"],
                   f"{r.sg['h2d_messages']} H2D messages vs {base['sg']['h2d_messages']} without the fault")
        record(r)
        r.done(p)
        return p
    return fn


def same_results_as_vanilla_cc():
    """Invariants 4 and 5: the run under the mode reads back what the run without PipeLLM reads back."""
    p = []
    base = baseline()
    r = run_prog(FAULT_ARGS, {}, mode="off")
    check_run(r, p, mode="off")
    expect(p, r.rc == 0 and r.ok_line() == base["ok"] and r.prog_counts() == base["counts"],
           f"--mode off: {r.ok_line()} {r.prog_counts()}, --mode {MODE}: {base['ok']} {base['counts']}")
    if r.sg and base["sg"]:
        same = ["h2d_copies", "h2d_bytes", "h2d_messages"] if not PIPELINE else []
        for k in same + ["d2h_copies", "d2h_bytes", "d2h_messages"]:
            expect(p, r.sg[k] == base["sg"][k], f"simgpu {k}: {base['sg'][k]} under --mode {MODE}, {r.sg[k]} without PipeLLM")
    r.done(p)
    return p


# ---- steady weight streaming: after warm-up, the pipeline serves (almost) every message ----

def weights_run(args, extra):
    """prog_weights (steady weight streaming with modelled compute, optionally with small copies)."""
    return Run([WEIGHTS] + [str(a) for a in args], {**WARM_ENV, **extra}, MODE, 240)


def weights_problems(r):
    p = []
    expect(p, r.rc == 0 and "weights ok" in r.out, f"prog_weights failed: {r.tail()}")
    if r.sg is None or r.pl is None:
        return p + [f"statistics missing: {r.tail()}"]
    expect(p, r.sg["tag_failures"] == 0 and r.sg["poisoned"] == 0, f"simgpu: tag failures or poisoned: {r.tail()}")
    expect(p, r.pl["agent_errors"] == 0, f"agent_errors {r.pl['agent_errors']}")
    if LEDGER_BUILT:
        problems, _, _ = ledger_problems(read_ledger(r.ledger), r.sg["h2d_messages"], r.sg["h2d_bytes"])
        p.extend(problems)
    return p


def measured(r):
    m = re.search(r"^weights measured fast=(-?\d+) h2d=(-?\d+) nop=(-?\d+)$", r.out, re.M)
    return tuple(int(x) for x in m.groups()) if m else None


# Compute-bound weight streaming: 4 layers of 1 MiB, 800 us of modelled compute after each, 1,200 cycles
# measured, so the
# encrypt workers have the CPU the app's thread leaves while it waits (as in offloaded inference).
# The pipeline's threads run as ordinary threads here (worker_sched=normal): with the default
# SCHED_IDLE they only get what this 2-core machine's other work leaves, which the test cannot control.
STEADY = [4, 1 << 20, 1200, 0, 800]
# governor=off: here the agent's own inline AES-GCM (warm) is cheaper for the app's thread than a
# commit's compare and copy (docs/benchmarks.md), so the governor would rightly pause pre-encryption;
# this case is about the fast path itself.
STEADY_ENV = {"PROG_WEIGHTS_WARM_UP_FAST": "400", "PIPELLM_WORKER_SCHED": "normal", "PIPELLM_GOVERNOR": "off",
              "SIMGPU_VERIFY": "sampled:16"}


def steady_weight_streaming():
    """After warm-up, most (>= 60%) of the H2D messages of a steady weight-streaming program are fast-path."""
    if not PIPELINE:
        print("  note: only meaningful in pipellm mode")
        return []
    r = weights_run(STEADY, STEADY_ENV)
    p = weights_problems(r)
    got = measured(r)
    expect(p, got is not None, f"no measured line: {r.tail()}")
    if got:
        fast, h2d, nop = got
        print(f"  after warm-up: {fast} of {h2d} H2D messages on the fast path ({nop} NOPs)")
        # 96-99.5% on a quiet 2-core VM; now and then a run loses a burst of late slots (a pipeline
        # thread descheduled for a few ms: 77.7% seen once in ~15 runs, on a quiet machine). The exact
        # share is a benchmark figure (./pipellm bench pipeline), not a test's: this case asserts that
        # steady streaming is served from slots, which a broken fast path (0-10%) fails by far.
        expect(p, h2d >= 4800 and fast >= 0.6 * h2d, f"only {fast} of {h2d} H2D messages from slots (want >= 60%);"
               f" pipeline_pauses {r.pl and r.pl.get('pipeline_pauses')}")
    record(r)
    r.done(p)
    return p


# ---- validation: every kind of CPU write between encryption and commit, once per validate mode ----

VALIDATE_PROG = os.path.join(BIN, "prog_validate")
VALIDATE_ENV = {**AGENT_FROM_THE_START, "PIPELLM_WORKER_SCHED": "normal", "PIPELLM_GOVERNOR": "off",
                "PIPELLM_LOG": "info"}


def writes_are_never_committed_stale(validate, extra=None, expect_tracking=None):
    """prog_validate writes a layer's source (this thread, another thread, during encryption, read(2)
    from a pipe, memcpy in a signal handler) before each of its copies and reads every copy back: no
    stale commit, every write succeeds; the chosen validation is the one expected and did the work."""
    def fn():
        p = []
        r = Run([VALIDATE_PROG, "40"], {**VALIDATE_ENV, "PIPELLM_VALIDATE": validate, **(extra or {})}, MODE, 240)
        expect(p, r.rc == 0 and re.search(r"^validate cycles=40 writes=36 ok$", r.out, re.M),
               f"prog_validate failed: {r.tail()}")
        if PIPELINE:
            tracking = expect_tracking if expect_tracking is not None else validate in ("uffd", "auto", "mprotect")
            want = ("mprotect" if validate == "mprotect" else "uffd") if tracking else "compare"
            chosen = re.search(r"pipellm: validation: (\w+)", r.err)
            expect(p, chosen and chosen.group(1) == want, f"validation chosen: {chosen and chosen.group(0)!r}; want {want}")
            pl = r.pl or {}
            fast, tracked, snap = (pl.get(k, 0) for k in ("fast_path_messages", "tracked_slots", "snapshot_bytes"))
            print(f"  {validate}: {fast} fast-path messages, {tracked} tracked slots, {snap} snapshot bytes,"
                  f" {pl.get('stale_slots')} stale slots, {pl.get('diverged_messages')} diverged, {pl.get('page_scans')} scans")
            expect(p, fast > 0, f"no message came from a slot: the writes tested nothing: {pl}")
            if tracking:
                expect(p, tracked > 0 and snap == 0, f"uffd: slots not tracked or snapshots kept: {pl}")
            else:
                expect(p, tracked == 0 and snap > 0, f"compare: tracked slots or no snapshots: {pl}")
        r.done(p)
        return p
    return fn


def nops_reach_ready_slots(per_stream):
    """Unpredictable small copies make the slack policy leave spare IVs; NOPs burn them to reach ready
    slots (per-context). With one H2D channel per stream the agent's NOP stream is another channel: the
    first NOP's init shows another key, padding stops there, and nothing else changes."""
    def fn():
        if not PIPELINE:
            print("  note: only meaningful in pipellm mode")
            return []
        env = {"PROG_WEIGHTS_WARM_UP_FAST": "5", "PIPELLM_WORKER_SCHED": "normal", "PIPELLM_GOVERNOR": "off",
               "SIMGPU_VERIFY": "sampled:16"}
        if per_stream:
            env["SIMGPU_H2D_CHANNELS"] = "per-stream"
        r = weights_run([4, 1 << 20, 300, 7, 800], env)
        p = weights_problems(r)
        if r.pl:
            print(f"  nop={r.pl['nop_messages']} unreachable={r.pl['nop_unreachable_channels']}"
                  f" fast={r.pl['fast_path_messages']} of {r.sg and r.sg['h2d_messages']} H2D messages")
            if per_stream:
                expect(p, r.pl["nop_unreachable_channels"] == 1 and r.pl["nop_messages"] <= 2,
                       f"per-stream: {r.pl['nop_unreachable_channels']} unreachable channels, {r.pl['nop_messages']} NOPs")
            else:
                expect(p, r.pl["nop_unreachable_channels"] == 0 and r.pl["nop_messages"] > 0
                       and r.pl["fast_path_messages"] > 0,
                       f"per-context: {r.pl['nop_messages']} NOPs, {r.pl['fast_path_messages']} fast-path messages")
        r.done(p)
        return p
    return fn


# ---- tampering still fails loudly under the mode, and in the same way ----

FAILURE_LINE = re.compile(r"simgpu: (?:H2D|D2H) message \d+ \(\d+ bytes\) failed authentication")


def tamper_run(scenario, lib, want, mode):
    return Run([os.path.join(TESTS, "run_tamper.sh"), os.path.join(BIN, "prog_tamper"), scenario,
                os.path.join(BIN, f"libtamper_{lib}.so"), want],
               {**AGENT_FROM_THE_START, "SIMGPU_CC_CHUNK_BYTES": "65536"}, mode, 120)


def tamper_case(scenario, lib, want, through_agent):
    """run_tamper.sh's scenario under ./pipellm run --mode MODE (run_tamper.sh puts the interposer first
    on LD_PRELOAD, before the shim the launcher preloads): prog_tamper must pass (the interposer acted,
    the context is poisoned, no unauthenticated byte reached device memory) and simgpu must reject the
    same message as without PipeLLM (a reference run with --mode off): the tampered one, not one that
    PipeLLM itself broke. through_agent: the agent must have handled messages (flip acts after the
    agent's update, d2h before the agent's decrypt); the iv and skip interposers do not tail-call the
    real init, so the shim takes their contexts for the host's own crypto and PipeLLM passes them by."""
    def fn():
        p = []
        ref = tamper_run(scenario, lib, want, "off")
        r = tamper_run(scenario, lib, want, MODE)
        want_lines, got_lines = FAILURE_LINE.findall(ref.err), FAILURE_LINE.findall(r.err)
        expect(p, ref.rc == 0 and want_lines, f"the reference run without PipeLLM failed: {ref.tail()}")
        expect(p, r.rc == 0 and want in r.err, f"tampering not refused loudly: {r.tail()}")
        expect(p, got_lines == want_lines, f"a different failure than without PipeLLM: {got_lines} vs {want_lines}"
               f" (prog_tamper rc {r.rc}: {r.err[-300:]!r})")
        if CRYPTO and through_agent:
            pl = r.pl
            done = pl and (pl["agent_encrypted_messages"] + pl["agent_decrypted_messages"] + pl["fast_path_messages"])
            expect(p, bool(done), f"the agent handled no message: the tampering did not meet PipeLLM ({pl})")
        ref.done(p)
        r.done(p)
        return p
    return fn


# ---- the checkers themselves ----

def synthetic_ledger(n=40, channels=2):
    lines = []
    for i in range(n):
        c = i % channels
        iv = (i // channels + 1).to_bytes(4, "little") + c.to_bytes(8, "little")
        lines.append(f"h2d {c} {i // channels + 1} {iv.hex()} 65536 {(0x9e3779b97f4a7c15 * (i + 1)) % 2**64:016x}")
    return lines


def corruptions(lines):
    """(what, corrupted copy, expected problem fragment) for a valid ledger."""
    a, b = 1, len(lines) - 2
    fa, fb = lines[a].split(), lines[b].split()
    reuse = list(lines)
    reuse[b] = " ".join(fb[:1] + [fa[1]] + fb[2:3] + [fa[3]] + fb[4:])   # b takes a's channel and IV
    same = list(lines) + [lines[a]]
    torn = list(lines)
    torn[b] = lines[b][: len(lines[b]) // 2]
    longer = list(lines)
    longer[a] = " ".join(fa[:4] + [str(int(fa[4]) + 1)] + fa[5:])
    return [("an IV of one channel with two hashes", reuse, "IV exposed for two ciphertexts"),
            ("a line repeated", same, "IV used twice"),
            ("a torn line", torn, "malformed"),
            ("a line missing", lines[:-1], "H2D lines, simgpu counted"),
            ("a length changed", longer, "lengths add up to")]


def check_corruptions(p, lines, messages, nbytes, where):
    problems, count, _ = ledger_problems(lines, messages, nbytes)
    expect(p, not problems and count == messages, f"{where}: the valid ledger was flagged: {problems}")
    for what, bad, fragment in corruptions(lines):
        problems, _, _ = ledger_problems(bad, messages, nbytes)
        expect(p, any(fragment in x for x in problems), f"{where}: {what} was not flagged ({problems})")


def ledger_checker_flags_a_broken_ledger():
    p = []
    lines = synthetic_ledger()
    check_corruptions(p, lines, len(lines), 65536 * len(lines), "synthetic ledger")
    if not LEDGER_BUILT:
        print("  note: this build's simgpu has no SIMGPU_LEDGER: only the synthetic ledger was checked")
        return p
    r = run_prog(["--seed", "21", "--ops", "8"], {**AGENT_FROM_THE_START, **K64})
    expect(p, r.rc == 0 and r.sg is not None and os.path.exists(r.ledger), f"run for a real ledger failed: {r.tail()}")
    if not p:
        real = os.path.join(r.dir, "ledger-copy.txt")
        shutil.copy(r.ledger, real)   # corrupt a copy, never the file simgpu wrote
        check_corruptions(p, read_ledger(real), r.sg["h2d_messages"], r.sg["h2d_bytes"], "real ledger")
    r.done(p)
    return p


def program_flags_a_wrong_expected_image():
    p = []
    r = run_prog(["--seed", "22", "--ops", "6", "--break-expected"], AGENT_FROM_THE_START)
    expect(p, r.rc == 1 and "MISMATCH" in r.out and r.ok_line() is None, f"a wrong expected byte was not caught: {r.tail()}")
    r.done(p)
    return p


def main():
    print(f"mode under test: {MODE}; simgpu ledger: {'yes' if LEDGER_BUILT else 'not in this build (not checked)'};"
          f" per-stream channels: {'yes' if CHANNELS_BUILT else 'not in this build (those seeds run per-context)'}")
    sys.stdout.flush()
    start = time.monotonic()
    cases = Cases()
    skip = [x.strip() for x in os.environ.get("PIPELINE_PROPERTY_SKIP", "").split(",") if x.strip()]
    run_case = cases.case

    def case(name, fn):
        if any(x in name for x in skip):
            print(f"skip {name}")
        else:
            run_case(name, fn)
    cases.case = case
    cases.case("ledger checker flags a broken ledger", ledger_checker_flags_a_broken_ledger)
    cases.case("program flags a wrong expected image", program_flags_a_wrong_expected_image)
    for seed, args, env, what in seeds_to_run():
        cases.case(f"mix seed {seed}: {what}", mix_case(seed, args, env, what))
    cases.case(f"seed {FAULT_SEED} gives the same results as without PipeLLM", same_results_as_vanilla_cc)
    for fault in FAULTS:
        k, v = next(iter(fault.items()))
        cases.case(f"seed {FAULT_SEED} with {k}={v}: same results, clean channel", fault_case(fault))
    cases.case("steady weight streaming is served from slots", steady_weight_streaming)
    for validate in ("uffd", "mprotect", "compare", "auto"):
        cases.case(f"writes between encryption and commit are never committed (validate={validate})",
                   writes_are_never_committed_stale(validate))
    cases.case("validate=auto without uffd (injected) falls back to compare",
               writes_are_never_committed_stale("auto", {"PIPELLM_INJECT_FAULT": "no_uffd:1"}, expect_tracking=False))
    cases.case("validate=uffd without uffd (injected) falls back to compare",
               writes_are_never_committed_stale("uffd", {"PIPELLM_INJECT_FAULT": "no_uffd:1"}, expect_tracking=False))
    cases.case("NOPs reach ready slots (per-context channel)", nops_reach_ready_slots(False))
    cases.case("a NOP on another channel stops padding (per-stream channels)", nops_reach_ready_slots(True))
    for scenario, lib, want, through_agent in [("h2d", "flip", "failed authentication", True),
                                               ("h2d", "iv", "failed authentication", False),
                                               ("h2d", "skip", "failed authentication", False),
                                               ("d2h", "d2h", "D2H message 0", True)]:
        cases.case(f"tampering ({lib}) still fails loudly", tamper_case(scenario, lib, want, through_agent))
    print(f"{time.monotonic() - start:.0f} s in all")
    cases.finish()


main()
