# lib.sh: what the benchmark scripts share (sourced, not run): the best of
# several wall-clock timings, peak memory, and goals.
#   best N CMD...  the best of N wall-clock seconds of CMD (stdout discarded)
#   best3 CMD...   the same, N = 3
#   peak CMD...    CMD's peak RSS in kB, as /usr/bin/time -v reports it
#   verdict EXPR   PASS if the awk expression EXPR holds, else FAIL
# The scripts run in their work directory: time.out and time.v land there.
best() {
	n=$1 best=
	shift
	for i in $(seq "$n"); do
		/usr/bin/time -f %e -o time.out "$@" >/dev/null
		t=$(tail -1 time.out)
		best=$(echo "$t ${best:-$t}" | awk '{print ($1 < $2) ? $1 : $2}')
	done
	echo "$best"
}
best3() { best 3 "$@"; }
peak() {
	/usr/bin/time -v "$@" >/dev/null 2>time.v
	sed -n 's/.*Maximum resident set size (kbytes): //p' time.v
}
verdict() { awk "BEGIN { print ($1) ? \"PASS\" : \"FAIL\" }"; }
