#!/bin/sh
# device.sh JOB MODEL ROUND NODEPUB DEVDIR OUTDIR
# One device's turn: run the job on its own data, encrypt its values to the
# customer's Paillier key when the job asks for it, and seal the result to
# its federated node. With ASSIGNED set, MODEL is the distributing node's
# sealed algorithm and DEVDIR/assignment the device's dml.assignment. A device that declines (no consent, criteria not met)
# leaves a .declined file instead; nothing of its data leaves it.
set -u
job=$1 model=$2 round=$3 node=$4 dev=$5 out=$6
name=$(basename "$dev")
if dml-run -j "$job" -k "$dev/key" -D "$dev" ${model:+-m "$model"} \
	${ASSIGNED:+-a "$dev/assignment"} \
	--round "$round" --seed "${SEED:-1}" -o "$out/$name.result" 2>/dev/null; then
	if grep -q '"encryption":' "$job"; then	# values to the customer's key
		dml-encrypt --scheme paillier -j "$job" -k "$dev/key" "$out/$name.result" |
			dml-encrypt -r "$node" -k "$dev/key" -o "$out/$name.sealed"
	else
		dml-encrypt -r "$node" -k "$dev/key" -o "$out/$name.sealed" "$out/$name.result"
	fi
	rm -f "$out/$name.result"
else
	mv "$out/$name.result" "$out/$name.declined" 2>/dev/null || :
fi
