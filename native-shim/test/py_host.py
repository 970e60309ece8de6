"""A Python host like vLLM's: a library that calls libcudart through its PLT is loaded with ctypes
(RTLD_LOCAL). Run under LD_PRELOAD=libpipellm.so. Checks the copy works, Ctrl-C still raises
KeyboardInterrupt after the JVM started, and a fork()ed child keeps working (CUDA is unusable in a
child of an initialised parent, as with the real runtime, but the child must neither hang nor crash).
Usage: py_host.py LIBUSERCOPY"""
import ctypes
import os
import signal
import sys
import time

lib = ctypes.CDLL(sys.argv[1])           # RTLD_LOCAL, as ctypes and PyTorch extensions load
lib.user_round_trip.argtypes = [ctypes.c_size_t]
rc = lib.user_round_trip(3 * (1 << 20) + 5)
print("round trip", rc)
if rc != 0:
    sys.exit(1)

try:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(2)
    print("no KeyboardInterrupt")
    sys.exit(1)
except KeyboardInterrupt:
    print("keyboard interrupt ok")

pid = os.fork()
if pid == 0:
    r = lib.user_round_trip(4096)           # 0, or cudaErrorInitializationError (3) from the runtime
    os._exit(0 if r in (0, 3) else 10 + r)
deadline = time.time() + 30
while True:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    if time.time() > deadline:
        os.kill(pid, signal.SIGKILL)
        print("forked child hung")
        sys.exit(1)
    time.sleep(0.05)
print("child exit", os.waitstatus_to_exitcode(status))
sys.exit(0 if os.waitstatus_to_exitcode(status) == 0 else 1)
