#!/bin/sh
# run_tamper.sh PROG SCENARIO INTERPOSER [EXPECTED_STDERR]: runs PROG SCENARIO with INTERPOSER
# preloaded; passes when PROG passes and, if given, stderr contains EXPECTED_STDERR.
prog=$1 scenario=$2 lib=$3 expect=$4
err=$(mktemp)
LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}" "$prog" "$scenario" 2>"$err"
rc=$?
cat "$err" >&2
if [ -n "$expect" ] && ! grep -q "$expect" "$err"; then
    echo "stderr lacks: $expect"
    rc=1
fi
rm -f "$err"
exit $rc
