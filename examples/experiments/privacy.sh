#!/bin/sh
# privacy.sh: accuracy against epsilon. Federated training of a softmax
# model on Fashion-MNIST with user-level differential privacy (DP-FedAvg
# with the toolchain): each round every device of the population takes
# part with probability Q (Poisson sampling, what the accountant assumes),
# runs dml-run, clips its update with dml-privacy clip; the node sums the
# results with dml-aggregate, adds central Gaussian noise with
# dml-privacy noise, accounts the round with dml-privacy account (which
# refuses a round past the budget), and dml-refine applies the sum.
# One run per noise multiplier in ZS, plus one without DP; the results
# go to $OUT/privacy/:
#   privacy.tsv   noise, epsilon (delta DELTA), rounds, final accuracy
#   privacy.svg   accuracy against epsilon
#   z-Z/          every record of the run with noise multiplier Z
# Settings come from the environment; the defaults run in about three
# minutes on one core.
set -eu
: "${OUT:=out}" "${DEVICES:=1000}" "${LIMIT:=30000}" "${Q:=0.1}"
: "${ROUNDS:=30}" "${EPOCHS:=1}" "${BATCH:=10}" "${LR:=0.1}" "${ETA:=1}"
: "${CLIP:=10}" "${ZS:=0.5 1 2 4 8 16}" "${DELTA:=1e-5}"
: "${BUDGET:=1000}" "${SEED:=1}" "${JOBS:=2}"
export OPENBLAS_NUM_THREADS=1
W=$OUT/privacy
rm -rf "$W"
mkdir -p "$W"

dml-split --devices "$DEVICES" -o "$W/devices" --limit "$LIMIT" --seed "$SEED" \
	--consent-rate 1 >"$W/split.json"
for d in "$W"/devices/dev-*; do
	dml-keygen --seed "$SEED" --name "$(basename "$d")" -o "$d/key" >/dev/null
done
dml-keygen --seed "$SEED" --name customer -o "$W/customer.key" >/dev/null
dml-keygen --seed "$SEED" --name node -o "$W/node.key" >/dev/null
dml-refine --init 784,10 --seed "$SEED" -o "$W/model-0.json"

# run NAME [DP-OPTIONS...]: one training, its final accuracy on stdout
run() {
	name=$1
	shift
	R=$W/$name
	mkdir -p "$R"
	dml-job -k "$W/customer.key" -t train --data fashion-mnist \
		-m "$W/model-0.json" --rounds "$ROUNDS" --epochs "$EPOCHS" \
		--batch "$BATCH" --lr "$LR" --min-devices 1 --max-delta 1e4 \
		--budget 0 --created 2026-01-01T00:00:00Z --nonce "$name" \
		"$@" -o "$R/job.json"
	cp "$W/model-0.json" "$R/model-0.json"
	r=0
	while [ "$r" -lt "$ROUNDS" ]; do
		# Poisson sampling: each device joins with probability Q
		ls -d "$W"/devices/dev-* | awk -v q="$Q" -v s="$SEED$r" \
			'BEGIN { srand(s) } rand() < q' >"$R/sample-$r"
		xargs -P "$JOBS" -I{} sh -c '
			d=$1 R=$2 r=$3 dp=$4
			out=$R/round-$r-$(basename "$d").res
			if [ "$dp" = 1 ]; then
				dml-run -j "$R/job.json" -k "$d/key" -D "$d" \
					-m "$R/model-$r.json" --round "$r" --seed "$5" |
				dml-privacy clip -j "$R/job.json" -k "$d/key" \
					--seed "$5" >"$out"
			else
				dml-run -j "$R/job.json" -k "$d/key" -D "$d" \
					-m "$R/model-$r.json" --round "$r" --seed "$5" \
					>"$out"
			fi' _ {} "$R" "$r" "$DP" "$SEED" <"$R/sample-$r"
		cat "$R"/round-$r-*.res >"$R/round-$r.res"
		rm -f "$R"/round-$r-*.res
		dml-aggregate -j "$R/job.json" -k "$W/node.key" --round "$r" \
			"$R/round-$r.res" >"$R/round-$r.sum"
		if [ "$DP" = 1 ]; then
			dml-privacy noise -j "$R/job.json" -k "$W/node.key" \
				--seed "$SEED" "$R/round-$r.sum" >"$R/round-$r.agg"
			if ! dml-privacy account -j "$R/job.json" -k "$W/node.key" \
				--spent "$R/spent.ndjson" "$R/round-$r.agg" \
				>/dev/null 2>"$R/refused"; then
				cat "$R/refused" >&2
				break
			fi
		else
			grep '"type":"dml.aggregate"' "$R/round-$r.sum" \
				>"$R/round-$r.agg"
		fi
		dml-refine -m "$R/model-$r.json" --lr "$ETA" \
			-o "$R/model-$((r + 1)).json" "$R/round-$r.agg"
		r=$((r + 1))
	done
	dml-eval -m "$R/model-$r.json" --round "$r" >"$R/metrics.json"
	acc=$(sed 's/.*"accuracy":\([^,]*\),.*/\1/' "$R/metrics.json")
	if [ "$DP" = 1 ]; then
		eps=$(tail -n 1 "$R/spent.ndjson" |
			sed 's/.*"epsilon":\([^,]*\),.*/\1/')
	else
		eps=inf
	fi
	printf '%s\t%s\t%s\t%s\n' "$name" "$eps" "$r" "$acc"
}

printf 'noise\tepsilon\trounds\taccuracy\n' >"$W/privacy.tsv"
DP=0 run none | sed 's/^none/0/' | tee -a "$W/privacy.tsv"
for z in $ZS; do
	DP=1 run "z-$z" --dp-clip "$CLIP" --dp-noise "$z" --dp-epsilon "$BUDGET" \
		--dp-delta "$DELTA" --dp-sample-rate "$Q" |
		sed 's/^z-//' | tee -a "$W/privacy.tsv"
done

# accuracy against epsilon (log scale), the run without DP as a line
awk -F '\t' -v clip="$CLIP" -v q="$Q" -v delta="$DELTA" '
NR == 1 { next }
$2 == "inf" { base = $4; next }
{ n++; e[n] = $2; a[n] = $4; z[n] = $1 }
END {
	W = 640; H = 400; L = 60; R = 20; T = 40; B = 50
	lo = log(e[1]); hi = lo
	for (i = 1; i <= n; i++) {
		if (log(e[i]) < lo) lo = log(e[i])
		if (log(e[i]) > hi) hi = log(e[i])
	}
	lo -= 0.3; hi += 0.3
	printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H
	printf "<text x=\"%d\" y=\"20\">accuracy against epsilon (delta %s, q %s, clip %s)</text>\n", L, delta, q, clip
	printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, H - B, W - R, H - B
	printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, T, L, H - B
	for (k = 0; k <= 10; k += 2) {
		y = H - B - k / 10 * (H - B - T)
		printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>\n", L - 5, y + 4, k / 10
	}
	if (base != "") {
		y = H - B - base * (H - B - T)
		printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"gray\" stroke-dasharray=\"4\"/>\n", L, y, W - R, y
		printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"gray\">no DP %.3f</text>\n", W - R, y - 4, base
	}
	for (i = 1; i <= n; i++) {
		x = L + (log(e[i]) - lo) / (hi - lo) * (W - L - R)
		y = H - B - a[i] * (H - B - T)
		if (i > 1) printf "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"steelblue\"/>\n", px, py, x, y
		printf "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"steelblue\"/>\n", x, y
		printf "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">eps %.2g (z %s)</text>\n", x, y - 8, e[i], z[i]
		printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.2g</text>\n", x, H - B + 15, e[i]
		px = x; py = y
	}
	printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">epsilon (log scale)</text>\n", (W + L) / 2, H - 10
	printf "</svg>\n"
}' "$W/privacy.tsv" >"$W/privacy.svg"
