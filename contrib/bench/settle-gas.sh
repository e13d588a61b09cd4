#!/bin/sh
# settle-gas.sh: gas to settle a job on chain with 10, 1,000 and 100,000
# devices (every device mapped to its own address: one Merkle leaf each),
# gas per claim, and the wall time of dml-settle --rpc from the report to
# the settled receipt, on a private ganache chain.
#
#   contrib/bench/settle-gas.sh            (about a minute)
#   SIZES="10 1000" contrib/bench/settle-gas.sh
#
# Needs contrib/ethereum/install. Inputs live under contrib/bench/work/gas.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
eth=$top/contrib/ethereum
work=$here/work/gas
SIZES=${SIZES:-10 1000 100000}
PKGS=$("$top/contrib/install-deps" --pkg-config)

make -C "$top" -s lib/libdml.a bin/dml-settle bin/dml-keygen bin/dml-job \
	tests/helpers/rec-sign
PATH=$top/bin:$PATH
rm -rf "$work"
mkdir -p "$work"
cd "$work"
${CC:-cc} -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -O2 $(for d in "$top"/lib/*/; do printf -- "-I%s " "$d"; done) \
	$(pkg-config --cflags $PKGS) -o payees "$here/settle_gas_payees.c" \
	"$top/lib/libdml.a" $(pkg-config --libs $PKGS) -lpthread -lm
"$eth/compile" build 2>/dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pid=$("$eth/start" chain "$port")
trap '"$eth/stop" "$pid"' EXIT
export DML_ETH_RPC=http://127.0.0.1:$port DML_IPFS_REPO=$work/ipfs
ethkey() { printf '{"secret":"%s","type":"dml.eth.secretkey","v":1}\n' $2 >$1; chmod 600 $1; }
ethkey deployer.eth 4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d
ethkey customer.eth 6cbed15c793ce57650b9877cf6fa156fbef513c4e6134f022a85b1ffdd59b2a1
field() { sed -n "s/.*\"$1\":\"*\\([^\",]*\\)\"*[,}].*/\\1/p"; }
hex() { sed -n 's/.*"key":"\([0-9a-f]*\)".*/\1/p' "$1"; }
dml-settle deploy -K deployer.eth --contracts build --supply 100000000000 >dep
export DML_ETH_ESCROW=$(field escrow <dep)
dml-settle transfer -K deployer.eth --amount 10000000000 \
	--to 0xFFcf8FDEE72ac11b5c542428B35EEF5769C409f0 >/dev/null
for k in cust rep fed devel; do dml-keygen -o $k.key >$k.pub; done
for k in rep fed devel; do dml-keygen --eth -o $k.eth --payee $k.key; done >nodes.book
echo '{"type":"dml.stored","v":1,"cid":"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku","size":0,"name":"report.json"}' >stored.json

printf '%-10s %12s %14s %12s %12s\n' devices settle_gas settle_ms claim_gas proof_len
for n in $SIZES; do
	./payees $n seed$n 3>dev$n.book | sort >dev$n.keys
	cat nodes.book dev$n.book >book$n
	dml-job -k cust.key -t stats --data toy --features 4 --classes 3 \
		--min-devices 3 --budget $((10 * n + 1000)) --per-device 10 \
		--developer-fee 100 --node-fee federated=30 --node-fee report=20 \
		--created 2026-01-01T00:00:00Z --deadline 2099-01-02T00:00:00Z \
		--nonce gas$n -o job$n.json
	id=$(dml-job --id job$n.json)
	awk -v job=$id -v rep=$(hex rep.pub) -v fed=$(hex fed.pub) \
	    -v dev=$(hex devel.pub) -v n=$n 'BEGIN {
		printf "{\"type\":\"dml.contributions\",\"v\":1,\"job\":\"%s\",\"devices\":[", job }
	{ printf "%s\"%s\"", (NR > 1 ? "," : ""), $1 }
	END { printf "],\"nodes\":{\"report\":\"%s\",\"federated\":[{\"key\":\"%s\",\"devices\":%d}]},\"developer\":\"%s\"}\n", rep, fed, n, dev }' \
		dev$n.keys | "$top/tests/helpers/rec-sign" rep.key >contrib$n.json
	dml-settle deposit -K customer.eth --job job$n.json >/dev/null
	t0=$(date +%s%N)
	dml-settle -K deployer.eth -P book$n --job job$n.json --stored stored.json \
		--contributions contrib$n.json >settle$n.out
	t1=$(date +%s%N)
	gas=$(tail -1 settle$n.out | field gas_used)
	dml-settle claim -K customer.eth --payouts settle$n.out --index $((n / 2)) >claim$n.out
	cgas=$(tail -1 claim$n.out | field gas_used)
	plen=$(head -1 claim$n.out | jq '.proof | length')
	printf '%-10s %12s %14s %12s %12s\n' $n $gas $(( (t1 - t0) / 1000000 )) $cgas $plen
done
