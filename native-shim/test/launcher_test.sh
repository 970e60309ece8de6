#!/usr/bin/env bash
# End to end through the launcher, as users meet it: unmodified programs (nvcc -cudart shared, a
# Python ctypes host with RTLD_LOCAL) under `pipellm run --sim`, exit codes, LD_PRELOAD, bad options.
# Usage: launcher_test.sh REPO_ROOT BIN_DIR. Ends with "N passed, N failed".
set -u
root=$1 bin=$2
pipellm="$root/pipellm"
passed=0 failed=0
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

check() {  # check NAME EXPECTED_RC [STDOUT_REGEX [STDERR_REGEX]] -- CMD...
    local name=$1 want=$2 outre=${3:-} errre=${4:-}
    shift 4
    [[ ${1:-} == -- ]] && shift
    "$@" >"$out" 2>"$err"
    local rc=$? ok=1
    [[ $rc -eq $want ]] || ok=0
    [[ -z "$outre" ]] || grep -Eq -e "$outre" "$out" || ok=0
    [[ -z "$errre" ]] || grep -Eq -e "$errre" "$err" || ok=0
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

check nvcc_binary_runs_on_simgpu_cc_on 0 "round trip: ok" "" -- "$pipellm" run --sim -- "$bin/prog_nvcc_roundtrip"
check nvcc_binary_runs_on_simgpu_cc_off 0 "round trip: ok" "" -- "$pipellm" run --sim --cc off -- "$bin/prog_nvcc_roundtrip"
check python_ctypes_rtld_local_host 0 "8 passed, 0 failed" "" -- "$pipellm" run --sim -- python3 "$root/native-shim/test/ctypes_rtld_local.py"
check exit_code_passes_through 7 "" "" -- "$pipellm" run --sim -- sh -c 'exit 7'
check cc_is_on_by_default 0 "^on$" "" -- "$pipellm" run --sim -- sh -c 'echo "$SIMGPU_CC"'
check cc_off_is_passed 0 "^off$" "" -- "$pipellm" run --sim --cc off -- sh -c 'echo "$SIMGPU_CC"'
check caller_ld_preload_is_kept 0 "^$bin/libtamper_count.so$" "" -- \
    env LD_PRELOAD="$bin/libtamper_count.so" "$pipellm" run --sim -- sh -c 'echo "$LD_PRELOAD"'
check preloaded_interposer_reaches_the_driver_of_an_nvcc_binary 4 "" "failed authentication" -- \
    env LD_PRELOAD="$bin/libtamper_flip.so" "$pipellm" run --sim -- "$bin/prog_nvcc_roundtrip"
check malformed_simgpu_variable_is_named 1 "no device" "SIMGPU_PCIE_GBPS='fast' is not valid" -- \
    env SIMGPU_PCIE_GBPS=fast "$pipellm" run --sim -- "$bin/prog_nvcc_roundtrip"
check bad_cc_value_is_refused 2 "" "--cc 'maybe' is not valid: expected on or off" -- "$pipellm" run --sim --cc maybe -- true
check unknown_mode_lists_accepted_values 2 "" "accepted values are: off, passthrough, sync" -- "$pipellm" run --sim --mode turbo -- true
check cc_without_sim_is_refused 2 "" "needs --sim" -- "$pipellm" run --cc on -- true
check missing_command_is_refused 2 "" "no command given" -- "$pipellm" run --sim --
check doctor_reports_the_machine 0 "^JDK .*(25|2[6-9]|[3-9][0-9])" "" -- "$pipellm" doctor

echo "$passed passed, $failed failed"
((failed == 0))
