"""A Python host's signals across the JVM the shim starts on the first copy (run by signals_test.py,
plain and under LD_PRELOAD=libpipellm.so, with and without libjsig first). Python sets SIGPIPE and
SIGXFSZ to SIG_IGN and SIGINT to its own handler at start-up; all of that must stay.
Usage: py_signals.py LIBUSERCOPY dispositions|sigpipe
  dispositions  the kernel's view (/proc/self/status SigIgn, SigCgt) and Python's (signal.getsignal)
                of every signal, before and after the first copy, must match, except the error
                signals the JVM keeps, the C library's own (32, 33) and SIGRTMAX-2 going from default
                to caught (the JDK's I/O wake-up handler); then a SIGUSR2 and a SIGPIPE handler set
                after the copy must run, and Ctrl-C must still raise KeyboardInterrupt.
                Prints "dispositions: ok".
  sigpipe       after the copy, SIGPIPE back to SIG_DFL and a write to a closed pipe: must die by it.
  wait          after the copy prints "ready", waits for a line on stdin (signals_test.py tries
                jcmd JFR.start on this process meanwhile), copies on and prints "copies: ok"."""
import ctypes
import os
import signal
import sys
import time

lib = ctypes.CDLL(sys.argv[1])           # RTLD_LOCAL, as ctypes and PyTorch extensions load
lib.user_round_trip.argtypes = [ctypes.c_size_t]
mode = sys.argv[2]
JVM_KEEPS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGTRAP, 32, 33}
JDK_WAKEUP = 64 - 2                      # __SIGRTMAX - 2 on Linux


def kernel_view():
    masks = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("SigIgn", "SigCgt"):
                masks[key] = int(value, 16)
    return {sig: ("ignored" if masks["SigIgn"] >> (sig - 1) & 1 else
                  "caught" if masks["SigCgt"] >> (sig - 1) & 1 else "default") for sig in range(1, 65)}


def python_view():
    return {int(sig): signal.getsignal(sig) for sig in signal.valid_signals()}


def copy():
    rc = lib.user_round_trip(1 << 20)
    if rc != 0:
        print(f"copy failed: {rc}")
        sys.exit(1)


def run_handlers():
    ran = []
    signal.signal(signal.SIGUSR2, lambda s, f: ran.append("usr2"))
    signal.signal(signal.SIGPIPE, lambda s, f: ran.append("pipe"))
    after = kernel_view()
    problems = [f"the kernel does not hold the handler set for signal {s}: {after[s]}"
                for s in (signal.SIGUSR2, signal.SIGPIPE) if after[s] != "caught"]
    os.kill(os.getpid(), signal.SIGUSR2)
    os.kill(os.getpid(), signal.SIGPIPE)
    deadline = time.time() + 10
    while len(ran) < 2 and time.time() < deadline:
        time.sleep(0.01)
    if sorted(ran) != ["pipe", "usr2"]:
        problems.append(f"handlers set after the JVM ran: {ran}")
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(10)
        problems.append("no KeyboardInterrupt")
    except KeyboardInterrupt:
        pass
    return problems


def dispositions():
    kernel_before, python_before = kernel_view(), python_view()
    copy()
    kernel_after, python_after = kernel_view(), python_view()
    problems = []
    for sig in range(1, 65):
        if sig in JVM_KEEPS or kernel_before[sig] == kernel_after[sig]:
            continue
        if sig == JDK_WAKEUP and (kernel_before[sig], kernel_after[sig]) == ("default", "caught"):
            continue
        problems.append(f"signal {sig}: kernel {kernel_before[sig]} -> {kernel_after[sig]}")
    for sig, handler in python_before.items():
        if sig not in JVM_KEEPS and python_after.get(sig) != handler:
            problems.append(f"signal {sig}: Python handler {handler} -> {python_after.get(sig)}")
    if kernel_after[signal.SIGPIPE] != "ignored":
        problems.append(f"SIGPIPE is {kernel_after[signal.SIGPIPE]}, Python had ignored it")
    problems += run_handlers()
    for p in problems:
        print(p)
    print("dispositions: ok" if not problems else f"{len(problems)} problems")
    return 0 if not problems else 1


def sigpipe():
    copy()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    r, w = os.pipe()
    os.close(r)
    try:
        os.write(w, b"x")
        print("still alive after writing to a closed pipe")
    except BrokenPipeError:
        print("BrokenPipeError instead of SIGPIPE")
    return 1


def wait():
    copy()
    print("ready", flush=True)
    sys.stdin.readline()
    for _ in range(50):
        copy()
    print("copies: ok")
    return 0


sys.exit({"dispositions": dispositions, "sigpipe": sigpipe, "wait": wait}[mode]())
