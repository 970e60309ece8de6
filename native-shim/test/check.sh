# Sourced by the command-line tests (launcher_test.sh, bench's trace_cli_test.sh): one check per command
# run, "ok NAME" or "FAIL NAME" with the tail of its output. The caller sets passed=0 failed=0 and the
# files $out and $err, and ends with: echo "$passed passed, $failed failed".

matches() {  # matches FILE REGEX: a line of FILE matches REGEX; !REGEX: no line does
    if [[ $2 == '!'* ]]; then ! grep -Eq -e "${2#!}" "$1"; else grep -Eq -e "$2" "$1"; fi
}

check() {  # check NAME EXPECTED_RC [STDOUT_REGEX [STDERR_REGEX]] -- CMD...; exit 2 (usage error): one stderr line
    local name=$1 want=$2 outre=${3:-} errre=${4:-}
    shift 4
    [[ ${1:-} == -- ]] && shift
    "$@" >"$out" 2>"$err"
    local rc=$? ok=1
    [[ $rc -eq $want ]] || ok=0
    [[ -z "$outre" ]] || matches "$out" "$outre" || ok=0
    [[ -z "$errre" ]] || matches "$err" "$errre" || ok=0
    [[ $want -ne 2 || $(wc -l <"$err") -eq 1 ]] || ok=0
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
