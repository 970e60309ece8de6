#!/usr/bin/env bash
# The bench module's commands through the launcher: ./pipellm trace play|generate|stats and
# ./pipellm bench workloads (a tiny end-to-end run), their usage errors (one line naming the
# argument and the accepted values). Run by TraceCliTest after the module's classes and the C player
# are built. Usage: trace_cli_test.sh REPO_ROOT. Ends with "N passed, N failed".
set -u
root=$1
pipellm="$root/pipellm"
passed=0 failed=0
out=$(mktemp) err=$(mktemp) tmp=$(mktemp -d)
trap 'rm -rf "$out" "$err" "$tmp"' EXIT
unset PIPELLM_MODE PIPELLM_SUMMARY PIPELLM_TRACE

# shellcheck source=../../native-shim/test/check.sh
source "$root/native-shim/test/check.sh"

# trace: play, generate, stats (bench module); usage errors are one line naming the argument
check trace_without_a_subcommand_lists_them 2 "" "^pipellm: trace: no subcommand given \(accepted: play, " -- "$pipellm" trace
check unknown_trace_subcommand_lists_them 2 "" "^pipellm: trace: unknown subcommand 'frob' \(accepted: play, " -- \
    "$pipellm" trace frob
check help_of_trace_play 0 "^usage: \./pipellm trace play FILE" "" -- "$pipellm" trace play --help
check trace_play_needs_a_file 2 "" "^pipellm: trace play: no trace file given" -- "$pipellm" trace play
check trace_play_refuses_an_unknown_option 2 "" "^pipellm: trace play: unknown option '--fast' \(accepted: --mode" -- \
    "$pipellm" trace play --fast x.pltrace
check trace_play_refuses_a_bad_mode 2 "" "^pipellm: trace play: --mode 'turbo' is not valid: accepted values are: off, " -- \
    "$pipellm" trace play --mode turbo x.pltrace
check trace_play_refuses_a_bad_cc 2 "" "^pipellm: trace play: --cc 'maybe' is not valid: expected on or off$" -- \
    "$pipellm" trace play --cc maybe x.pltrace
check trace_play_names_a_missing_file 2 "" "^pipellm: trace play: '$tmp/none.pltrace': no such file$" -- \
    "$pipellm" trace play "$tmp/none.pltrace"
printf 'not a trace' >"$tmp/bad.pltrace"
check trace_play_names_a_bad_file 2 "" "^trace play: $tmp/bad.pltrace: truncated header" -- \
    "$pipellm" trace play --cc off --mode off "$tmp/bad.pltrace"
check trace_stats_names_a_bad_file 2 "" "^$tmp/bad.pltrace: truncated header" -- "$pipellm" trace stats "$tmp/bad.pltrace"
check trace_generate_lists_the_workloads 2 "" "^bench: unknown workload 'gpt5' \(accepted: flexgen-opt13b, flexgen-opt30b, " -- \
    "$pipellm" trace generate gpt5 --out "$tmp/x.pltrace"
check trace_generate_then_stats 0 "h2d_copies=115 " "" -- sh -c \
    "'$pipellm' trace generate tiny --out '$tmp/tiny.pltrace' >/dev/null && '$pipellm' trace stats '$tmp/tiny.pltrace'"
check bench_workloads_refuses_an_unknown_mode 2 "" "^bench workloads: unknown mode 'fast' \(accepted: nocc, off, sync, pipellm\)$" -- \
    "$pipellm" bench workloads --modes nocc,fast
check bench_workloads_refuses_a_bad_repeat_count 2 "" "^bench workloads: --repeats '0' is not valid" -- \
    "$pipellm" bench workloads --repeats 0
check trace_record_needs_out 2 "" "^pipellm: trace record: --out FILE is required$" -- "$pipellm" trace record -- true
check trace_record_refuses_mode_off 2 "" "^pipellm: trace record: --mode off runs without the agent" -- \
    "$pipellm" trace record --out "$tmp/r.pltrace" --mode off -- true
check trace_record_refuses_an_unknown_option 2 "" "^pipellm: trace record: unknown option '--fast' \(accepted: --out FILE" -- \
    "$pipellm" trace record --fast -- true
check trace_record_refuses_a_missing_directory 2 "" "^pipellm: trace='/nonexistent-dir/r.pltrace' is not valid \(PIPELLM_TRACE" -- \
    "$pipellm" trace record --out /nonexistent-dir/r.pltrace --sim -- true
check trace_record_writes_a_trace 0 "records=[0-9]+ h2d_copies=[1-9]" "" -- sh -c \
    "'$pipellm' trace record --out '$tmp/r.pltrace' --sim -- '$root/build/native/bin/prog_weights' 2 65536 2 1 >/dev/null 2>&1 && '$pipellm' trace stats '$tmp/r.pltrace'"
check trace_play_replays_and_verifies 0 "^trace_play verify=ok" "" -- "$pipellm" trace play "$tmp/tiny.pltrace" --mode sync
check trace_play_refuses_bad_loops 2 "" "^pipellm: trace play: --loops 'x' is not valid" -- \
    "$pipellm" trace play --loops=x "$tmp/tiny.pltrace"
check bench_workloads_refuses_bad_workers 2 "" "^bench workloads: --workers '0' is not valid: expected an integer from 1 to 64" -- \
    "$pipellm" bench workloads --workers 0
check bench_workloads_refuses_a_missing_baseline 2 "" "^bench: --check: baseline '$tmp/none.json': no such file$" -- \
    "$pipellm" bench workloads --check "$tmp/none.json"
check bench_workloads_runs_every_mode 0 "tiny: FlexGen toy OPT" "" -- \
    "$pipellm" bench --workloads tiny --repeats 1 --loops 1 --out-dir "$tmp/bench"
# results.json (Jackson, pretty-printed): the schema's fields, checked with python3's json
json_check() {  # json_check NAME PYTHON-EXPRESSION: the expression over r (the results document) is true
    check "$1" 0 "^ok$" "" -- python3 -c "import json, sys
r = json.load(open(sys.argv[1]))
print('ok' if ($2) else 'not ok: ' + json.dumps(r)[:400])" "$tmp/bench/results.json"
}
json_check bench_workloads_writes_json "r['schema'] == 'pipellm-bench/1' and [x['ratio_to_no_cc'] for x in r['results'] if x['mode'] == 'nocc'] == [1.0]"
json_check bench_workloads_reports_the_bound "all(0 < x['bound_ratio'] <= 1 and 'fraction_of_bound' in x for x in r['results'])"
json_check bench_workloads_calibrates "r['calibration']['memcpy_gbps'] > 0 and r['calibration']['aes_256_gcm_gbps'] > 0 and r['calibration']['workers'] >= 1 and r['calibration']['cores'] >= 1"
json_check bench_workloads_times_the_cpu "all(x['runs'][0]['cpu_s'] > 0 for x in r['results'])"
json_check bench_workloads_json_names_every_mode "[x['mode'] for x in r['results']] == ['nocc', 'off', 'sync', 'pipellm']"
json_check bench_workloads_json_has_machine_and_parameters "all(x['machine']['cores'] >= 1 and x['parameters']['model'] == 'opt-tiny' for x in r['results'])"
json_check bench_workloads_json_has_agent_statistics "all(('agent' in x['runs'][0]) == (x['mode'] in ('sync', 'pipellm')) for x in r['results'])"
check bench_workloads_writes_markdown 0 '^\| tiny \| vanilla CC \| [0-9.e+]+ tokens/s \|' "" -- cat "$tmp/bench/summary.md"
check bench_workloads_writes_a_png_chart 0 "PNG image data, 960 x 540" "" -- file "$tmp/bench/chart.png"
check bench_workloads_writes_an_svg_chart 0 "pipellm" "" -- grep -o "pipellm" "$tmp/bench/chart.svg"
# --check against the run's own results: within tolerance; against a baseline with an impossible ratio: a named failure
python3 -c "import json, sys
r = json.load(open(sys.argv[1]))
for x in r['results']:
    if x['mode'] == 'pipellm': x['ratio_to_no_cc'] = 10.0
json.dump(r, open(sys.argv[2], 'w'))" "$tmp/bench/results.json" "$tmp/high.json"
check bench_check_fails_on_a_regression 1 "^bench check: tiny pipellm: ratio_to_no_cc .* below the baseline's 10.000 by .* tolerance" "" -- \
    "$pipellm" bench --check "$tmp/high.json" --repeats 1 --loops 1 --modes nocc,pipellm --out-dir "$tmp/bench2"
check bench_baseline_needs_two_runs 2 "" "^bench baseline: usage: " -- "$pipellm" bench baseline --out "$tmp/b.json" "$tmp/bench/results.json"
check bench_baseline_records_tolerances 0 "tiny/pipellm/ratio_to_no_cc" "" -- \
    "$pipellm" bench baseline --out "$tmp/b.json" "$tmp/bench/results.json" "$tmp/bench2/results.json"
# a team's own trace: a recorded program replayed by the harness as it is (throughput in replays of its timed loop)
check bench_replays_a_recorded_trace 0 "replays/s" "" -- \
    "$pipellm" bench --workloads "$tmp/r.pltrace" --modes nocc,sync --repeats 1 --loops 1 --out-dir "$tmp/bench3"
check bench_names_a_missing_trace 2 "" "^bench workloads: trace '$tmp/none.pltrace': no such file$" -- \
    "$pipellm" bench --workloads "$tmp/none.pltrace"
check demo_refuses_arguments 2 "" "^pipellm: demo: unknown argument '--frob'" -- "$pipellm" demo --frob
check bench_micro_refuses_an_unknown_option 2 "" "^pipellm: bench --micro: unknown option '--frob' \(accepted: --quick, --out-dir DIR\)$" -- \
    "$pipellm" bench --micro --frob

echo "$passed passed, $failed failed"
((failed == 0))
