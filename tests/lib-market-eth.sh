# lib-market-eth.sh: what the marketplace tests on a real chain share
# (sourced after lib-eth.sh): the parties, the customer's entry in the
# address book (book2.nd), a zero softmax model (zero.model), the IPFS
# repo, $T0 and $RPC.
#   market_setup TOKENS   deploy the contracts (dep), give the customer
#                         TOKENS, list zero.model at 100 single use (l.json)
#                         and at 60 for a 30-day subscription (l2.json)
parties
# the customer's identity cust.key pays from the ganache account $CUSTOMER
printf '{"address":"%s","type":"dml.eth.payee","v":1}\n' $CUSTOMER |
	$SIGN cust.key >cust.payee
cat book.nd cust.payee >book2.nd
ZEROS=$(head -c 31400 /dev/zero | base64 -w0)
printf '{"act":"relu","arch":"softmax","layers":[784,10],"params":{"data":"%s","dtype":"f32","shape":[7850]},"type":"dml.model","v":1}\n' \
	"$ZEROS" >zero.model
DML_IPFS_REPO=$TRASH/ipfs
export DML_IPFS_REPO
T0=2026-01-01T00:00:00Z
RPC="--rpc $DML_ETH_RPC"

market_setup() {
	dml-settle deploy -K deployer.eth --contracts "$TRASH/build" \
		--supply 10000000 >dep &&
	dml-settle transfer -K deployer.eth --to $CUSTOMER --amount $1 \
		--escrow $(field escrow <dep) >/dev/null &&
	dml-market publish -k devel.key --algorithm zero.model --category vision \
		--price 100 --license single --description "a zero model" \
		--time $T0 >l.json &&
	dml-market publish -k devel.key --algorithm zero.model --category vision \
		--price 60 --license subscription --period 30 --description "rent" \
		--time $T0 >l2.json
}
