"""A Python host that loads libcudart the way PyTorch and ctypes users do: dlopen by soname with
RTLD_LOCAL. Run under `pipellm run --sim`. Checks both sonames, their version nodes' behaviour
(runtime version, CUDA 12 struct layout via cudaGetDeviceProperties_v2) and a byte-exact round trip.
Prints the runner's closing line and exits non-zero on failure."""
import ctypes
import os
import sys

passed = failed = 0


def check(name, cond):
    global passed, failed
    print(("ok   " if cond else "FAIL ") + name)
    if cond:
        passed += 1
    else:
        failed += 1


def load(soname):
    return ctypes.CDLL(soname, mode=os.RTLD_LOCAL | os.RTLD_NOW)


H2D, D2H = 1, 2

for soname, runtime in (("libcudart.so.13", 13000), ("libcudart.so.12", 12080)):
    rt = load(soname)
    v = ctypes.c_int()
    check(f"{soname} runtime version", rt.cudaRuntimeGetVersion(ctypes.byref(v)) == 0 and v.value == runtime)
    props = ctypes.create_string_buffer(4096)
    getter = rt.cudaGetDeviceProperties_v2 if soname.endswith("12") else rt.cudaGetDeviceProperties
    check(f"{soname} device properties", getter(props, 0) == 0 and props.raw[:12] == b"NVIDIA H100 ")
    # totalGlobalMem follows name[256], uuid[16], luid[8], luidDeviceNodeMask and padding: offset 288
    total = ctypes.c_size_t.from_buffer(props, 288).value
    check(f"{soname} totalGlobalMem at its ABI offset", total > (79 << 30))

    n = 3 * (1 << 20) + 7
    src = (ctypes.c_ubyte * n)(*([0] * n))
    for i in range(0, n, 4099):
        src[i] = i % 251
    dst = (ctypes.c_ubyte * n)()
    d = ctypes.c_void_p()
    rt.cudaMalloc.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t]
    rt.cudaMemcpy.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    ok = rt.cudaMalloc(ctypes.byref(d), n) == 0
    ok = ok and rt.cudaMemcpy(d, ctypes.addressof(src), n, H2D) == 0
    ok = ok and rt.cudaMemcpy(ctypes.addressof(dst), d, n, D2H) == 0
    check(f"{soname} round trip", ok and bytes(src) == bytes(dst))

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
