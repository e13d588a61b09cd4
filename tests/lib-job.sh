# lib-job.sh: the toy stats job the settlement tests pay out (sourced by
# t2110 and lib-eth.sh after lib.sh; needs cust.key in the trash dir).
# job NAME BUDGET [DEADLINE]: a job file NAME.json, its id in $NAME
job() {
	dml-job -k cust.key -t stats --data toy --features 4 --classes 3 \
		--min-devices 3 --budget $2 --per-device 10 \
		--developer-fee 100 --node-fee federated=30 --node-fee report=20 \
		--node-fee distributing=7 --created 2026-01-01T00:00:00Z \
		--deadline ${3:-2026-01-02T00:00:00Z} --nonce $1 -o $1.json &&
	eval "$1=\$(dml-job --id $1.json)"
}
