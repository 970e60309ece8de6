#!/usr/bin/env bash
# Smoke test of the pipeline benchmark's programs, offload and swap, with tiny sizes: each must exit 0
# and print its result and "verify=ok" lines under ./pipellm run --sim, CC on, with --mode off (vanilla
# CC) and --mode sync (the agent does every AES-GCM message); full verification on simgpu's copy
# engine (SIMGPU_VERIFY unset). Also: their verification fails under an interposer that corrupts
# H2D copies; ./pipellm bench pipeline with tiny sizes; usage errors. Usage: offload_swap_smoke_test.sh REPO_ROOT BIN_DIR.
# Ends with "N passed, N failed".
set -u
root=$1 bin=$2
pipellm="$root/pipellm"
passed=0 failed=0
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
# The caller's PipeLLM and simgpu settings must not change what these runs do.
unset PIPELLM_MODE PIPELLM_SUMMARY PIPELLM_STATS $(compgen -v SIMGPU_) || true
export PIPELLM_SUMMARY=0

check() {  # check NAME EXPECTED_RC STDOUT_REGEX... -- CMD...: every STDOUT_REGEX matches a line of stdout
    local name=$1 want=$2 ok=1 res=()
    shift 2
    while [[ $1 != -- ]]; do res+=("$1"); shift; done
    shift
    "$@" >"$out" 2>"$err"
    local rc=$? re
    [[ $rc -eq $want ]] || ok=0
    for re in "${res[@]}"; do grep -Eq -e "$re" "$out" "$err" || ok=0; done
    if ((ok)); then
        echo "ok   $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name (rc $rc, wanted $want)"
        sed 's/^/  out: /' "$out" | tail -5
        sed 's/^/  err: /' "$err" | tail -5
        failed=$((failed + 1))
    fi
}

# offload: 3 layers of 64 KiB, 10 µs compute, 6 steps after 1 warm-up; the last layer read back every
# step and its host weights rewritten every 2nd step (a copy after the change must carry the new bytes).
offload_args=(3 64K 10000 6 1 --verify-every=1 --mutate-every=2)
# swap: 64 KiB blocks, a pool of 16, 10 µs compute, 80 steps after 5: preemption, swap-out and swap-in
# happen (swap_in_blocks > 0), every 2nd swapped-in block is read back whole.
swap_args=(64K 16 10000 80 5 --seqs=8 --full-check-every=2)
for mode in off sync; do
    check "offload, CC on, --mode $mode" 0 '^offload layers=3 layer_bytes=65536 .*wall_s=[0-9.]+ tokens_per_s=' \
        '^offload verify=ok layer_checks=[1-9][0-9]* token_checks=7 mutations=3 ' \
        -- "$pipellm" run --sim --cc on --mode "$mode" -- "$bin/offload" "${offload_args[@]}"
    check "swap, CC on, --mode $mode" 0 '^swap block_bytes=65536 .*wall_s=[0-9.]+ .*swap_in_blocks=[1-9]' \
        '^swap verify=ok slot_checks=[1-9][0-9]* window_checks=[1-9][0-9]* full_checks=[1-9]' \
        -- "$pipellm" run --sim --cc on --mode "$mode" -- "$bin/swap" "${swap_args[@]}"
done
check "offload, CC off" 0 '^offload verify=ok ' -- "$pipellm" run --sim --cc off -- "$bin/offload" "${offload_args[@]}"
check "swap, CC off" 0 '^swap verify=ok ' -- "$pipellm" run --sim --cc off -- "$bin/swap" "${swap_args[@]}"

# Verification must fail when the device receives other bytes than the host holds: under
# libcorrupt_h2d.so (one byte of every large H2D copy flipped while it is copied), exit 1 and a message.
corrupt=(env "LD_PRELOAD=$bin/libcorrupt_h2d.so${LD_PRELOAD:+:$LD_PRELOAD}")
check "offload: a wrong byte on the device fails verification" 1 '^offload: verification failed: layer 2 ' \
    -- "${corrupt[@]}" "$pipellm" run --sim --cc on --mode off -- "$bin/offload" "${offload_args[@]}"
check "swap: a wrong byte on the device fails verification" 1 '^swap: verification failed: a swapped-in block' \
    -- "${corrupt[@]}" "$pipellm" run --sim --cc on --mode off -- "$bin/swap" "${swap_args[@]}"

# ./pipellm bench pipeline, one round of tiny runs: a table per program; exit 1 when a verification fails.
export BENCH_OFFLOAD_ARGS="${offload_args[*]}" BENCH_SWAP_ARGS="${swap_args[*]}"
check "bench pipeline, tiny" 0 '^offload layers=3 layer_bytes=65536 ' '^swap block_bytes=65536 ' \
    '^CC off +[0-9.]+ +[0-9]+% +1\.00x' '^vanilla CC +[0-9.]+ ' '^sync +([0-9.]+ |failed: )' '^pipellm +([0-9.]+ |failed: )' \
    -- "$pipellm" bench pipeline 1
check "bench pipeline: a failed verification is exit 1" 1 '^  offload, vanilla CC: offload: verification failed' \
    'verification failed \(above\)' -- "${corrupt[@]}" "$pipellm" bench pipeline 1
unset BENCH_OFFLOAD_ARGS BENCH_SWAP_ARGS
check "bench pipeline: a bad ROUNDS" 2 "^pipellm: bench pipeline: ROUNDS 'x' is not valid" -- "$pipellm" bench pipeline x

# Usage errors: exit 2, the bad argument named.
sim=("$pipellm" run --sim --cc off --)
check "offload: a bad LAYER_BYTES" 2 "^offload: LAYER_BYTES '8Q' is not valid" -- "${sim[@]}" "$bin/offload" 4 8Q
check "offload: an unknown option" 2 "^offload: unknown option '--fast'" -- "${sim[@]}" "$bin/offload" --fast
check "swap: a bad option value" 2 "^swap: bad value in '--seed=x'" -- "${sim[@]}" "$bin/swap" --seed=x
check "swap: too many arguments" 2 "^swap: unexpected argument '6'" -- "${sim[@]}" "$bin/swap" 64K 16 1 1 1 6
check "offload --help" 0 '^usage: offload ' -- "${sim[@]}" "$bin/offload" --help

echo "$passed passed, $failed failed"
((failed == 0))
