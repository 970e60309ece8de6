#!/usr/bin/env bash
# End to end through the launcher, as users meet it: unmodified programs (nvcc -cudart shared, a
# Python ctypes host with RTLD_LOCAL) under `pipellm run --sim`, exit codes, LD_PRELOAD, bad options;
# every command's --help and usage errors; doctor with fake JDKs and a fake nvidia-smi; replay's CLI.
# Usage: launcher_test.sh REPO_ROOT BIN_DIR. Ends with "N passed, N failed".
set -u
root=$1 bin=$2
pipellm="$root/pipellm"
passed=0 failed=0
out=$(mktemp) err=$(mktemp) tmp=$(mktemp -d)
trap 'rm -rf "$out" "$err" "$tmp"' EXIT
# The caller's choices must not change what these tests expect; tests that need them set them.
unset PIPELLM_MODE PIPELLM_SUMMARY PIPELLM_JAVA_HOME

# shellcheck source=check.sh
source "$root/native-shim/test/check.sh"

fake_java() {  # fake_java DIR MAJOR: DIR/java answers -XshowSettings as a Java MAJOR would
    mkdir -p "$1"
    printf '#!/bin/sh\necho "    java.specification.version = %s" >&2\n' "$2" >"$1/java"
    chmod +x "$1/java"
}

# Fixtures: an old JDK (release file, bin/java, libjvm.so), java binaries on PATH, nvidia-smi.
mkdir -p "$tmp/jdk17/lib/server"
echo 'JAVA_VERSION="17.0.2"' >"$tmp/jdk17/release"
: >"$tmp/jdk17/lib/server/libjvm.so"
fake_java "$tmp/jdk17/bin" 17
fake_java "$tmp/old-java" 17
fake_java "$tmp/new-java" 25
mkdir -p "$tmp/smi"
cat >"$tmp/smi/nvidia-smi" <<'EOF'
#!/bin/sh
# -L lists a GPU; conf-compute -f prints $FAKE_CC, or fails as a driver without CC support does.
case "$1" in
    -L) echo "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-fake)" ;;
    conf-compute) [ -n "${FAKE_CC:-}" ] || { echo "Invalid combination of input arguments."; exit 2; }; echo "$FAKE_CC" ;;
esac
EOF
chmod +x "$tmp/smi/nvidia-smi"
jdk=$("$pipellm" doctor | sed -n 's/^JDK  *\(\/[^ ]*\) (.*/\1/p')
ln -s "$jdk" "$tmp/my-jdk"
version=$(sed -n 's:^  <version>\(.*\)</version>$:\1:p' "$root/pom.xml" | head -n 1)

check nvcc_binary_runs_on_simgpu_cc_on 0 "round trip: ok" "" -- "$pipellm" run --sim -- "$bin/prog_nvcc_roundtrip"
check nvcc_binary_runs_on_simgpu_cc_off 0 "round trip: ok" "" -- "$pipellm" run --sim --cc off -- "$bin/prog_nvcc_roundtrip"
check python_ctypes_rtld_local_host 0 "8 passed, 0 failed" "" -- "$pipellm" run --sim -- python3 "$root/native-shim/test/ctypes_rtld_local.py"
check exit_code_passes_through 7 "" "" -- "$pipellm" run --sim -- sh -c 'exit 7'
check cc_is_on_by_default 0 "^on$" "" -- "$pipellm" run --sim -- sh -c 'echo "$SIMGPU_CC"'
check cc_off_is_passed 0 "^off$" "" -- "$pipellm" run --sim --cc off -- sh -c 'echo "$SIMGPU_CC"'
check caller_ld_preload_is_kept 0 "^$bin/libtamper_count.so$" "" -- \
    env LD_PRELOAD="$bin/libtamper_count.so" "$pipellm" run --sim --mode off -- sh -c 'echo "$LD_PRELOAD"'
check preloaded_interposer_reaches_the_driver_of_an_nvcc_binary 4 "" "failed authentication" -- \
    env LD_PRELOAD="$bin/libtamper_flip.so" "$pipellm" run --sim -- "$bin/prog_nvcc_roundtrip"
check malformed_simgpu_variable_is_named 1 "no device" "SIMGPU_PCIE_GBPS='fast' is not valid" -- \
    env SIMGPU_PCIE_GBPS=fast "$pipellm" run --sim -- "$bin/prog_nvcc_roundtrip"
check bad_cc_value_is_refused 2 "" "--cc 'maybe' is not valid: expected on or off" -- "$pipellm" run --sim --cc maybe -- true
# A mode other than off is the agent's to accept (OptionsCheck): one line, naming PIPELLM_MODE and what it accepts.
check unknown_mode_lists_accepted_values 2 "!ran" "^pipellm: mode='turbo' is not valid \(PIPELLM_MODE, .*accepted values: .*passthrough, sync" -- \
    "$pipellm" run --sim --mode turbo -- echo ran
check cc_without_sim_is_refused 2 "" "needs --sim" -- "$pipellm" run --cc on -- true
check missing_command_is_refused 2 "" "no command given" -- "$pipellm" run --sim --
check doctor_reports_the_machine 0 "^JDK .*(25|2[6-9]|[3-9][0-9])" "" -- "$pipellm" doctor

# run: options end at the first argument that is not one; values; help; commands that cannot start
check run_needs_no_double_dash 0 "^on$" "" -- "$pipellm" run --sim sh -c 'echo "$SIMGPU_CC"'
check double_dash_passes_options_to_the_command 0 "^--sim$" "" -- "$pipellm" run --sim -- echo --sim
check options_after_the_command_are_its_own 0 "^--sim --cc off$" "" -- "$pipellm" run --sim echo --sim --cc off
check mode_value_must_not_be_an_option 2 "" "^pipellm: --mode needs a value: off, passthrough, sync or pipellm$" -- \
    "$pipellm" run --mode -- true
check mode_value_must_be_there 2 "" "^pipellm: --mode needs a value: off, passthrough, sync or pipellm$" -- "$pipellm" run --sim --mode
check cc_value_must_be_there 2 "" "^pipellm: --cc needs a value: on or off$" -- "$pipellm" run --sim --cc --mode sync true
check empty_cc_value_is_refused 2 "" "^pipellm: --cc needs a value: on or off$" -- "$pipellm" run --sim --cc= true
check unknown_run_option_is_named 2 "" "^pipellm: run: unknown option '--simm' \(accepted: --sim" -- "$pipellm" run --simm true
check run_help 0 "^usage: \./pipellm run \[--sim\] .*\[--\] CMD" "" -- "$pipellm" run --help
check run_h 0 "^usage: \./pipellm run " "" -- "$pipellm" run --sim -h
check missing_command_exits_127 127 "" "^pipellm: run: command 'no-such-command-pipellm' not found" -- \
    "$pipellm" run --sim no-such-command-pipellm
check missing_command_path_exits_127 127 "" "^pipellm: run: command '$tmp/none' not found$" -- "$pipellm" run -- "$tmp/none"
check not_executable_command_exits_126 126 "" "^pipellm: run: command '$root/README.md' is not executable$" -- \
    "$pipellm" run --sim "$root/README.md"
check directory_as_command_exits_126 126 "" "is not executable" -- "$pipellm" run "$tmp"

# run: the mode comes from --mode, else PIPELLM_MODE, else off
check mode_is_pipellm_by_default 0 "^pipellm .*libpipellm\.so$" "" -- "$pipellm" run --sim sh -c 'echo "$PIPELLM_MODE $LD_PRELOAD"'
check pipellm_mode_variable_is_the_default 0 "^sync .*libpipellm\.so$" "" -- \
    env PIPELLM_MODE=sync "$pipellm" run --sim sh -c 'echo "$PIPELLM_MODE $LD_PRELOAD"'
check mode_option_wins_over_the_variable 0 "^off \[\]$" "" -- \
    env PIPELLM_MODE=sync "$pipellm" run --sim --mode off sh -c 'echo "$PIPELLM_MODE [${LD_PRELOAD:-}]"'
check bad_pipellm_mode_variable_is_named 2 "!ran" "^pipellm: mode='turbo' is not valid \(PIPELLM_MODE, .*accepted values: .*passthrough, sync" -- \
    env PIPELLM_MODE=turbo "$pipellm" run --sim echo ran

# run: the JDK of the caller's PIPELLM_JAVA_HOME, checked
check pipellm_java_home_is_respected 0 "^$tmp/my-jdk $tmp/my-jdk/lib/libjsig\.so:.*libpipellm\.so$" "" -- \
    env PIPELLM_JAVA_HOME="$tmp/my-jdk" "$pipellm" run --sim --mode passthrough sh -c 'echo "$PIPELLM_JAVA_HOME $LD_PRELOAD"'
check old_pipellm_java_home_is_refused 2 "!ran" "^pipellm: PIPELLM_JAVA_HOME='$tmp/jdk17' is Java 17: .*JDK >= 25$" -- \
    env PIPELLM_JAVA_HOME="$tmp/jdk17" "$pipellm" run --sim --mode sync echo ran
check pipellm_java_home_without_a_jdk_is_refused 2 "" "^pipellm: PIPELLM_JAVA_HOME='$tmp' is not a JDK: it has no bin/java" -- \
    env PIPELLM_JAVA_HOME="$tmp" "$pipellm" run --mode passthrough true

# run: PIPELLM_* options are checked before the command starts (mode other than off); the summary is on
check bad_workers_option_stops_before_the_command 2 "!ran" "PIPELLM_WORKERS" -- \
    env PIPELLM_WORKERS=0 "$pipellm" run --sim --mode sync -- echo ran
check bad_fail_closed_option_stops_before_the_command 2 "!ran" "PIPELLM_FAIL_CLOSED" -- \
    env PIPELLM_FAIL_CLOSED=maybe "$pipellm" run --sim --mode passthrough echo ran
check good_options_pass_the_check 0 "^ran$" "" -- env PIPELLM_WORKERS=4 PIPELLM_FAIL_CLOSED=0 "$pipellm" run --sim --mode sync echo ran
check options_are_not_checked_in_mode_off 0 "^ran$" "" -- env PIPELLM_WORKERS=0 "$pipellm" run --sim --mode off echo ran
check options_are_checked_in_the_default_mode 2 "!ran" "PIPELLM_WORKERS" -- env PIPELLM_WORKERS=0 "$pipellm" run --sim echo ran
check summary_is_on_under_pipellm 0 "^1$" "" -- "$pipellm" run --sim --mode passthrough -- sh -c 'echo $PIPELLM_SUMMARY'
check caller_summary_is_kept 0 "^0$" "" -- env PIPELLM_SUMMARY=0 "$pipellm" run --sim --mode passthrough sh -c 'echo $PIPELLM_SUMMARY'
check summary_is_not_set_in_mode_off 0 "^\[unset\]$" "" -- "$pipellm" run --sim --mode off sh -c 'echo "[${PIPELLM_SUMMARY-unset}]"'

# version, help and unknown arguments of every command
check version_option 0 "^pipellm $version$" "" -- "$pipellm" --version
check version_command 0 "^pipellm $version$" "" -- "$pipellm" version
for c in build test run demo doctor version "bench crypto" "bench shim" "bench speculator"; do
    # shellcheck disable=SC2086 # "bench shim" is two words
    check "help_of_${c// /_}" 0 "^usage: \./pipellm $c" "" -- "$pipellm" $c --help
done
check help_h_of_bench_crypto 0 "^usage: \./pipellm bench crypto" "" -- "$pipellm" bench crypto -h
check help_command_of_one_command 0 "^usage: \./pipellm doctor$" "" -- "$pipellm" help doctor
check help_lists_the_optional_double_dash 0 "^  run .*\[--\] CMD" "" -- "$pipellm" help
check unknown_command_is_one_line 2 "" "^pipellm: unknown command 'frob' \(accepted: build," -- "$pipellm" frob
for c in build test demo doctor; do
    check "unknown_argument_of_$c" 2 "" "^pipellm: $c: unknown argument '--frob' \($c takes no arguments but --help\)$" -- \
        "$pipellm" $c --frob
done

# bench: a named benchmark; bench shim N is a positive integer
# (`bench` alone runs the workloads: bench/src/test/sh/trace_cli_test.sh tests it)
check unknown_bench_lists_them 2 "" "^pipellm: bench: unknown benchmark 'fast' \(accepted: workloads, micro, copy, crypto, shim, speculator, pipeline, baseline, check\)$" -- \
    "$pipellm" bench fast
check bench_shim_refuses_a_negative_count 2 "" "^pipellm: bench shim: N '-5' is not valid: expected a positive integer" -- \
    "$pipellm" bench shim -5
check bench_shim_refuses_zero 2 "" "N '0' is not valid" -- "$pipellm" bench shim 0
check bench_shim_refuses_a_second_argument 2 "" "^pipellm: bench shim: unexpected argument 'x'" -- "$pipellm" bench shim 10 x

# doctor: too old a java on PATH or in JAVA_HOME; the CC mode that nvidia-smi reports, or why it is unknown
check doctor_warns_about_an_old_java_on_path 0 "^warning: +the java on PATH \($tmp/old-java/java\) is Java 17: .*-agentpath.*JDK >= 25" "" -- \
    env PATH="$tmp/old-java:$PATH" "$pipellm" doctor
check doctor_warns_about_an_old_java_home 0 "^warning: +JAVA_HOME \($tmp/jdk17\) is Java 17: .*JDK >= 25" "" -- \
    env JAVA_HOME="$tmp/jdk17" PATH="$tmp/new-java:$PATH" "$pipellm" doctor
check doctor_is_quiet_about_recent_javas 0 "!^warning:" "" -- env -u JAVA_HOME PATH="$tmp/new-java:$PATH" "$pipellm" doctor
check doctor_shows_the_cc_mode 0 "^CC mode +CC status: ON$" "" -- env FAKE_CC="CC status: ON" PATH="$tmp/smi:$PATH" "$pipellm" doctor
check doctor_survives_a_failing_conf_compute 0 "^CC mode +unknown \(nvidia-smi conf-compute -f exited 2: Invalid combination" "" -- \
    env PATH="$tmp/smi:$PATH" "$pipellm" doctor

# replay: one-line usage errors, the shared directory named by where it came from, --json checked first
check replay_help 0 "^usage: \./pipellm replay" "" -- "$pipellm" replay --help
check replay_points_a_positional_argument_at_workload 2 "" "^replay: unexpected argument 'vllm-swap': .*--workload NAME" -- \
    "$pipellm" replay vllm-swap
check replay_bad_number_is_named 2 "" "^replay: --requests 'abc' is not valid: expected a positive integer$" -- \
    "$pipellm" replay --requests abc
check replay_json_in_a_missing_directory_fails_first 2 "!^done" "^replay: --json '$tmp/none/r.json' is not valid" -- \
    "$pipellm" replay --json "$tmp/none/r.json"
check replay_names_the_shared_variable 2 "" "from environment variable PIPELLM_SHARED_DIR does not exist: $tmp/none" -- \
    env PIPELLM_SHARED_DIR="$tmp/none" "$pipellm" replay --workload vllm-swap-code
check replay_names_the_shared_option 2 "" "from option --shared does not exist: $tmp/none" -- \
    env PIPELLM_SHARED_DIR="$root/.." "$pipellm" replay --workload vllm-swap-code --shared "$tmp/none"
if [[ -d "$root/../shared" ]]; then  # the launcher's default, ../shared beside the checkout, is used...
    check replay_uses_the_default_shared_directory 0 "^vllm-swap-code " "" -- \
        env -u PIPELLM_SHARED_DIR "$pipellm" replay --workload vllm-swap-code --requests 20
else  # ... or named as the default when it is missing
    check replay_names_the_default_shared_directory 2 "" "from the default \.\./shared beside the checkout does not exist" -- \
        env -u PIPELLM_SHARED_DIR "$pipellm" replay --workload vllm-swap-code --requests 20
fi

echo "$passed passed, $failed failed"
((failed == 0))
