/*
 * cudaMemcpy*, cudaMemset*: argument checks with the runtime's error codes, direction from the
 * kind (or from the pointers for cudaMemcpyDefault, as UVA allows), then one op on the stream.
 * Synchronous semantics as on real hardware: with CC off, an async copy returns at once only when
 * its host side is pinned; with CC on every host<->device copy is host-synchronous because the
 * calling thread does the driver's crypto.
 */
#include "simgpu_internal.h"

#include <stdint.h>
#include <string.h>

size_t simgpu_copy_bytes(const simgpu_copy *c) { return c->width * c->height; }

static void region_move(const simgpu_copy *c, size_t off, size_t len, char *buf, int gather) {
    const char *src_base = c->src;
    char *dst_base = c->dst;
    size_t pitch = gather ? c->spitch : c->dpitch;
    while (len) {
        size_t row = off / c->width, col = off % c->width;
        size_t n = c->width - col < len ? c->width - col : len;
        if (gather) memcpy(buf, src_base + row * pitch + col, n);
        else memcpy(dst_base + row * pitch + col, buf, n);
        buf += n;
        off += n;
        len -= n;
    }
}

void simgpu_gather(const simgpu_copy *c, int from_src, size_t off, size_t len, char *out) {
    if (from_src) {
        region_move(c, off, len, out, 1);
        return;
    }
    /* gathering from the destination region (D2H CE reading device memory laid out as dst) */
    simgpu_copy d = *c;
    d.src = c->dst;
    d.spitch = c->dpitch;
    region_move(&d, off, len, out, 1);
}

void simgpu_scatter(const simgpu_copy *c, size_t off, size_t len, const char *in) {
    region_move(c, off, len, (char *)in, 0);
}

void simgpu_copy_execute_plain(const simgpu_copy *c) {
    if (c->height == 1 || (c->dpitch == c->width && c->spitch == c->width)) {
        memmove(c->dst, c->src, c->width * c->height);
        return;
    }
    for (size_t r = 0; r < c->height; r++) memmove(c->dst + r * c->dpitch, c->src + r * c->spitch, c->width);
}

static size_t extent(size_t pitch, size_t width, size_t height) { return pitch * (height - 1) + width; }

static cudaError_t classify(void *dst, const void *src, enum cudaMemcpyKind kind, int *dir) {
    if ((int)kind < 0 || kind > cudaMemcpyDefault) return cudaErrorInvalidMemcpyDirection;
    int d = simgpu_is_device_ptr(dst), s = simgpu_is_device_ptr(src);
    int actual = s ? (d ? DIR_D2D : DIR_D2H) : (d ? DIR_H2D : DIR_H2H);
    if (kind != cudaMemcpyDefault && (int)kind != actual) return cudaErrorInvalidValue;
    *dir = actual;
    return cudaSuccess;
}

static cudaError_t validate(const simgpu_copy *c) {
    size_t dext = extent(c->dpitch, c->width, c->height), sext = extent(c->spitch, c->width, c->height);
    if (simgpu_is_device_ptr(c->dst) && !simgpu_device_range_valid(c->dst, dext)) return cudaErrorInvalidValue;
    if (simgpu_is_device_ptr(c->src) && !simgpu_device_range_valid(c->src, sext)) return cudaErrorInvalidValue;
    return cudaSuccess;
}

static void count_copy(const simgpu_copy *c) {
    size_t n = simgpu_copy_bytes(c);
    switch (c->dir) {
    case DIR_H2D: simgpu_count(ST_H2D_COPIES, 1); simgpu_count(ST_H2D_BYTES, n); break;
    case DIR_D2H: simgpu_count(ST_D2H_COPIES, 1); simgpu_count(ST_D2H_BYTES, n); break;
    case DIR_D2D: simgpu_count(ST_D2D_COPIES, 1); simgpu_count(ST_D2D_BYTES, n); break;
    default: break;
    }
}

static cudaError_t do_copy(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width,
                           size_t height, enum cudaMemcpyKind kind, cudaStream_t h, int async) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    if (width == 0 || height == 0) {
        simgpu_stream *s = simgpu_stream_get(h);
        if (!s) return simgpu_ret(cudaErrorInvalidResourceHandle);
        simgpu_stream_put(s);
        return (int)kind < 0 || kind > cudaMemcpyDefault ? simgpu_ret(cudaErrorInvalidMemcpyDirection) : cudaSuccess;
    }
    if (!dst || !src) return simgpu_ret(cudaErrorInvalidValue);
    if (width > SIZE_MAX / height || (height > 1 && (dpitch > (SIZE_MAX - width) / (height - 1) ||
                                                     spitch > (SIZE_MAX - width) / (height - 1))))
        return simgpu_ret(cudaErrorInvalidValue);   /* sizes that wrap around the address space */
    simgpu_copy c = {(char *)dst, (const char *)src, dpitch, spitch, width, height, DIR_H2H};
    if ((e = classify(dst, src, kind, &c.dir))) return simgpu_ret(e);
    if ((e = validate(&c))) return simgpu_ret(e);
    simgpu_stream *s = simgpu_stream_get(h);
    if (!s) return simgpu_ret(cudaErrorInvalidResourceHandle);
    simgpu_op *op = simgpu_op_new(OP_COPY);
    if (!op) {
        simgpu_stream_put(s);
        return simgpu_ret(cudaErrorMemoryAllocation);
    }
    op->u.copy.c = c;
    count_copy(&c);
    if (g.cfg.cc_on && (c.dir == DIR_H2D || c.dir == DIR_D2H)) {
        op->u.copy.cc = 1;
        uint64_t seq = 0;
        e = c.dir == DIR_H2D ? simgpu_cc_h2d_submit(s, op, &seq) : simgpu_cc_d2h_submit(s, op, &seq);
        if (!e && !async) simgpu_wait_seq(s, seq);
        simgpu_stream_put(s);
        return simgpu_ret(e ? e : simgpu_poisoned());
    }
    int host_pinned = c.dir == DIR_H2D ? simgpu_pinned_range(src, extent(spitch, width, height))
                    : c.dir == DIR_D2H ? simgpu_pinned_range(dst, extent(dpitch, width, height)) : 1;
    int wait = !async || !host_pinned || c.dir == DIR_H2H;
    if (!wait) {
        simgpu_submit(s, op);
    } else if (!simgpu_try_inline(s, op)) {
        uint64_t seq = simgpu_submit(s, op);
        simgpu_wait_seq(s, seq);
    }
    simgpu_stream_put(s);
    return simgpu_ret(simgpu_poisoned());
}

SIMGPU_API cudaError_t cudaMemcpy(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind) {
    return do_copy(dst, count, src, count, count, 1, kind, NULL, 0);
}

SIMGPU_API cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind,
                                       cudaStream_t stream) {
    return do_copy(dst, count, src, count, count, 1, kind, stream, 1);
}

SIMGPU_API cudaError_t cudaMemcpy2D(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width,
                                    size_t height, enum cudaMemcpyKind kind) {
    if (height > 1 && (dpitch < width || spitch < width)) return simgpu_ret(cudaErrorInvalidPitchValue);
    return do_copy(dst, dpitch, src, spitch, width, height, kind, NULL, 0);
}

SIMGPU_API cudaError_t cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width,
                                         size_t height, enum cudaMemcpyKind kind, cudaStream_t stream) {
    if (height > 1 && (dpitch < width || spitch < width)) return simgpu_ret(cudaErrorInvalidPitchValue);
    return do_copy(dst, dpitch, src, spitch, width, height, kind, stream, 1);
}

cudaError_t simgpu_memset(void *devPtr, unsigned value, size_t count, int elem, cudaStream_t h) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    simgpu_stream *s = simgpu_stream_get(h);
    if (!s) return simgpu_ret(cudaErrorInvalidResourceHandle);
    if (count == 0) {
        simgpu_stream_put(s);
        return cudaSuccess;
    }
    if (!devPtr || count > SIZE_MAX / (size_t)elem || ((uintptr_t)devPtr % (uintptr_t)elem)
        || !simgpu_device_range_valid(devPtr, count * (size_t)elem)) {
        simgpu_stream_put(s);
        return simgpu_ret(cudaErrorInvalidValue);
    }
    simgpu_op *op = simgpu_op_new(OP_MEMSET);
    if (!op) {
        simgpu_stream_put(s);
        return simgpu_ret(cudaErrorMemoryAllocation);
    }
    op->u.memset.dst = devPtr;
    op->u.memset.value = value;
    op->u.memset.n = count * (size_t)elem;
    op->u.memset.elem = elem;
    simgpu_submit(s, op);   /* device memsets are asynchronous to the host */
    simgpu_stream_put(s);
    return cudaSuccess;
}

SIMGPU_API cudaError_t cudaMemset(void *devPtr, int value, size_t count) {
    return simgpu_memset(devPtr, (unsigned char)value, count, 1, NULL);
}

SIMGPU_API cudaError_t cudaMemsetAsync(void *devPtr, int value, size_t count, cudaStream_t stream) {
    return simgpu_memset(devPtr, (unsigned char)value, count, 1, stream);
}
