"""A Python host that reaches the GPU only through a handle: libcudart.so.13 loaded with ctypes
(RTLD_LOCAL), cudaMemcpy and cudaMemcpyAsync called through that handle, so no preloaded definition
of them is ever called by the program. Beside it the host does crypto of its own: AES-256-GCM through
libcrypto (ctypes) and a TLS 1.3 connection (AES-256-GCM) over a socket pair.

Usage: ctypes_driver_evp.py CERT KEY [cuda] [driver=LIBRARY]
Prints the host's ciphertexts and tags in hex (a run without PipeLLM is the reference), "tls ok",
with `cuda` "copies ok", with `driver=` the lines of evp_scenarios.c run from LIBRARY (a library the
shim takes for the driver's: its AES-256-GCM is the only thing that can start the agent), and "jvm:
yes" or "jvm: no" (libjvm mapped in this process). Exit 1 on a failed check."""
import ctypes
import os
import socket
import ssl
import sys
import threading

CERT, KEY = sys.argv[1], sys.argv[2]
WITH_CUDA = "cuda" in sys.argv[3:]
DRIVER = [a.split("=", 1)[1] for a in sys.argv[3:] if a.startswith("driver=")]
ok = True


def fail(what):
    global ok
    ok = False
    print("FAIL " + what)


def own_gcm(crypto, key, iv, data, aad):
    """EVP_EncryptInit_ex/Update/Final_ex/GET_TAG, as a host's own AES-256-GCM: ciphertext + tag."""
    c = crypto
    c.EVP_CIPHER_CTX_new.restype = ctypes.c_void_p
    c.EVP_aes_256_gcm.restype = ctypes.c_void_p
    c.EVP_EncryptInit_ex.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    c.EVP_EncryptUpdate.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.c_char_p,
                                    ctypes.c_int]
    c.EVP_EncryptFinal_ex.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
    c.EVP_CIPHER_CTX_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
    c.EVP_CIPHER_CTX_free.argtypes = [ctypes.c_void_p]
    ctx = c.EVP_CIPHER_CTX_new()
    out = ctypes.create_string_buffer(len(data) + 16)
    tag = ctypes.create_string_buffer(16)
    n = ctypes.c_int()
    good = c.EVP_EncryptInit_ex(ctx, c.EVP_aes_256_gcm(), None, key, iv) == 1
    good = good and c.EVP_EncryptUpdate(ctx, None, ctypes.byref(n), aad, len(aad)) == 1
    good = good and c.EVP_EncryptUpdate(ctx, out, ctypes.byref(n), data, len(data)) == 1
    total = n.value
    good = good and c.EVP_EncryptFinal_ex(ctx, ctypes.byref(out, total), ctypes.byref(n)) == 1
    good = good and c.EVP_CIPHER_CTX_ctrl(ctx, 0x10, 16, tag) == 1   # EVP_CTRL_GCM_GET_TAG
    c.EVP_CIPHER_CTX_free(ctx)
    if not good:
        fail("own AES-256-GCM")
    return out.raw[:total + n.value].hex() + " " + tag.raw.hex()


def tls_round_trip():
    a, b = socket.socketpair()
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(CERT, KEY)
    server.minimum_version = ssl.TLSVersion.TLSv1_3
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    got = {}

    def serve():
        s = server.wrap_socket(a, server_side=True)
        got["request"] = s.recv(1 << 16)
        s.sendall(got["request"][::-1])
        got["cipher"] = s.cipher()[0]

    t = threading.Thread(target=serve)
    t.start()
    c = client.wrap_socket(b)
    payload = bytes(range(256)) * 64
    c.sendall(payload)
    reply = b""
    while len(reply) < len(payload):
        reply += c.recv(1 << 16)
    t.join()
    if got.get("request") != payload or reply != payload[::-1] or got.get("cipher") != "TLS_AES_256_GCM_SHA384":
        fail(f"TLS round trip ({got.get('cipher')})")
    else:
        print("tls ok")


def copies():
    rt = ctypes.CDLL("libcudart.so.13", mode=os.RTLD_LOCAL | os.RTLD_NOW)
    rt.cudaMalloc.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t]
    rt.cudaMemcpy.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    rt.cudaMemcpyAsync.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_void_p]
    rt.cudaStreamCreate.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    rt.cudaStreamSynchronize.argtypes = [ctypes.c_void_p]
    rt.cudaFree.argtypes = [ctypes.c_void_p]
    H2D, D2H = 1, 2
    n = 2 * (1 << 20) + 13
    src = (ctypes.c_ubyte * n)()
    for i in range(0, n, 997):
        src[i] = (i * 7) % 251
    d, s = ctypes.c_void_p(), ctypes.c_void_p()
    good = rt.cudaMalloc(ctypes.byref(d), n) == 0 and rt.cudaStreamCreate(ctypes.byref(s)) == 0
    for async_copy in (False, True):
        dst = (ctypes.c_ubyte * n)()
        if async_copy:
            good = good and rt.cudaMemcpyAsync(d, ctypes.addressof(src), n, H2D, s) == 0
            good = good and rt.cudaMemcpyAsync(ctypes.addressof(dst), d, n, D2H, s) == 0
            good = good and rt.cudaStreamSynchronize(s) == 0
        else:
            good = good and rt.cudaMemcpy(d, ctypes.addressof(src), n, H2D) == 0
            good = good and rt.cudaMemcpy(ctypes.addressof(dst), d, n, D2H) == 0
        good = good and bytes(dst) == bytes(src)
    good = good and rt.cudaFree(d) == 0
    if good:
        print("copies ok")
    else:
        fail("copies through the libcudart handle")


crypto = ctypes.CDLL("libcrypto.so.3", mode=os.RTLD_LOCAL | os.RTLD_NOW)
key, iv = bytes(range(32)), bytes(range(100, 112))
print("gcm", own_gcm(crypto, key, iv, b"the host's own plaintext " * 40, b"header"))
tls_round_trip()
if WITH_CUDA:
    copies()
    # the host's crypto again, now that the agent runs beside it
    print("gcm", own_gcm(crypto, key[::-1], iv, bytes(4096), b""))
    tls_round_trip()
if DRIVER:
    libc = ctypes.CDLL(None)
    libc.fdopen.restype = ctypes.c_void_p
    libc.fdopen.argtypes = [ctypes.c_int, ctypes.c_char_p]
    libc.fflush.argtypes = [ctypes.c_void_p]
    out = libc.fdopen(os.dup(1), b"w")
    scenarios = ctypes.CDLL(DRIVER[0], mode=os.RTLD_LOCAL | os.RTLD_NOW)
    scenarios.evp_scenarios_run.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    sys.stdout.flush()
    failed = scenarios.evp_scenarios_run(out, None)
    libc.fflush(out)
    if failed:
        fail(f"{failed} scenarios of {DRIVER[0]}")
with open("/proc/self/maps") as f:
    print("jvm: " + ("yes" if "libjvm.so" in f.read() else "no"))
sys.exit(0 if ok else 1)
