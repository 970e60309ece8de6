#!/bin/sh
# no_internal_calls_test.sh DEF LIB...: no dynamic relocation of a simgpu library names a function
# that library defines itself (such a reference is an internal call an interposer would see), and
# every function the first library exports is listed in DEF (count_cuda.def), so that the counting
# test covers it. Ends with "N passed, N failed".
def=$1
shift
passed=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

defined_functions() {  # the FUNC symbols LIB defines in its dynamic symbol table, one a line
    readelf --dyn-syms -W "$1" | awk '$4 == "FUNC" && $7 != "UND" { sub(/@.*/, "", $8); print $8 }' | sort -u
}

referenced_symbols() {  # the symbols LIB's dynamic relocations name, one a line
    readelf -r -W "$1" | awk 'NF >= 5 && $1 ~ /^[0-9a-f]+$/ { sub(/@.*/, "", $5); print $5 }' | sort -u
}

result() {  # result NAME FILE_OF_PROBLEMS
    if [ -s "$2" ]; then
        echo "FAIL $1"
        sed 's/^/  /' "$2"
        failed=$((failed + 1))
    else
        echo "ok   $1"
        passed=$((passed + 1))
    fi
}

for lib in "$@"; do
    name=$(basename "$lib")
    defined_functions "$lib" >"$tmp/defined"
    referenced_symbols "$lib" >"$tmp/referenced"
    if [ ! -s "$tmp/defined" ] || [ ! -s "$tmp/referenced" ]; then
        echo "no symbols or relocations read from $lib (readelf missing?)" >"$tmp/problems"
    else
        comm -12 "$tmp/defined" "$tmp/referenced" | sed 's/^/called through the dynamic linker: /' >"$tmp/problems"
    fi
    result "$name calls none of its own exported functions through the dynamic linker" "$tmp/problems"
done

defined_functions "$1" >"$tmp/defined"
# X(ret, name, ...) lines: the name is the second field; XV(name, ...) lines: the first.
{ sed -n 's/^X([^,]*, \([A-Za-z_0-9]*\),.*/\1/p' "$def"; sed -n 's/^XV(\([A-Za-z_0-9]*\),.*/\1/p' "$def"; } | sort -u >"$tmp/listed"
comm -23 "$tmp/defined" "$tmp/listed" | sed 's/^/exported but not in count_cuda.def: /' >"$tmp/problems"
[ -s "$tmp/listed" ] || echo "no names read from $def" >>"$tmp/problems"
result "$(basename "$1") exports only functions the counting test covers" "$tmp/problems"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
