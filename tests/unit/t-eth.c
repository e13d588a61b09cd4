/* eth: addresses of known keys (secret 1; ganache's first deterministic
 * account), EIP-55 vectors, key files, a signed EIP-1559 transaction that
 * recovers to its sender, and the ABI examples of the Solidity docs. */
#include "eth.h"
#include "dmltest.h"
#include "util.h"

#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char *
hexs(const unsigned char *p, size_t n)
{
	static char s[2048];

	for (size_t i = 0; i < n && i < 1000; i++)
		sprintf(s + 2 * i, "%02x", p[i]);
	s[2 * n] = 0;
	return s;
}

static void
address_of_secret(const char *sk, const char *want)
{
	unsigned char s[32];
	char a[43];
	eth_key k;

	eth_unhex(sk, s, 32);
	ok(eth_key_new(&k, s) == 0, "key from secret %.8s...", sk);
	eth_address_str(k.addr, a);
	is_str(a, want, "its address");
	eth_key_free(&k);
}

/* EIP-55 checksummed addresses. */
static void
addresses(void)
{
	static const char *eip55[] = {
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
		"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
		"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
	};
	unsigned char a[20], zero[32] = {0};
	char s[43];
	eth_key k;

	address_of_secret("0000000000000000000000000000000000000000000000000000000000000001",
	    "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
	address_of_secret("4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d",
	    "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1");
	ok(eth_key_new(&k, zero) < 0, "the zero secret is refused");
	for (int i = 0; i < 4; i++) {
		ok(eth_address_parse(eip55[i], a) == 0, "EIP-55 %s parses", eip55[i]);
		eth_address_str(a, s);
		is_str(s, eip55[i], "and prints back");
	}
	ok(eth_address_parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", a) < 0,
	    "a wrong checksum is refused: %s", dml_errmsg());
	ok(eth_address_parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", a) == 0,
	    "all lower case needs no checksum");
	ok(eth_address_parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea", a) < 0,
	    "a short address is refused");
}

/* Key files: 0600, never overwritten, load gives the same address. */
static void
key_files(void)
{
	char path[] = "/tmp/t-eth-XXXXXX", *f;
	struct stat st;
	eth_key k, k2;

	ok(mkdtemp(path) != NULL, "temporary directory");
	f = xasprintf("%s/eth.key", path);
	ok(eth_key_new(&k, NULL) == 0, "random key");
	ok(eth_key_save(f, &k) == 0, "saved");
	ok(stat(f, &st) == 0 && (st.st_mode & 0777) == 0600, "mode 0600");
	ok(eth_key_save(f, &k) < 0, "not overwritten: %s", dml_errmsg());
	ok(eth_key_load(f, &k2) == 0 && memcmp(k.addr, k2.addr, 20) == 0,
	    "loads to the same address");
	eth_key_free(&k2);
	unlink(f);
	rmdir(path);
	free(f);
	eth_key_free(&k);
}

/* A transaction: deterministic (RFC 6979), recovers to its sender. */
static void
transaction(void)
{
	unsigned char h[32], h2[32], addr[20];
	rlp_buf raw, raw2;
	eth_key k;
	eth_tx t;

	eth_unhex("4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d", h, 32);
	eth_key_new(&k, h);
	eth_tx_init(&t);
	t.chain_id = 1337;
	t.nonce = 7;
	t.gas = 21000;
	mpz_set_ui(t.tip, 1000000000);
	mpz_set_ui(t.max_fee, 3000000000u);
	mpz_set_str(t.value, "1000000000000000000", 10);
	eth_address_parse("0xFFcf8FDEE72ac11b5c542428B35EEF5769C409f0", t.to);
	rlp_init(&raw);
	rlp_init(&raw2);
	ok(eth_tx_sign(&t, &k, &raw, h) == 0, "signed");
	eth_tx_sign(&t, &k, &raw2, h2);
	ok(raw.n == raw2.n && memcmp(raw.p, raw2.p, raw.n) == 0 &&
	    memcmp(h, h2, 32) == 0, "signing is deterministic");
	ok(raw.p[0] == 0x02, "type 2 envelope");
	ok(raw.n > 67 && raw.p[raw.n - 66] == 0xa0 && raw.p[raw.n - 33] == 0xa0 &&
	    raw.p[raw.n - 67] <= 1, "ends with y, r, s (%s)",
	    hexs(raw.p + raw.n - 67, 1));
	eth_tx_sighash(&t, h2);
	ok(eth_recover(h2, raw.p[raw.n - 67], raw.p + raw.n - 65,
	    raw.p + raw.n - 32, addr) == 0 && memcmp(addr, k.addr, 20) == 0,
	    "the signature recovers to the sender");
	t.chain_id = 1;
	eth_tx_sighash(&t, h);
	ok(memcmp(h, h2, 32) != 0, "the chain id is signed");
	rlp_free(&raw);
	rlp_free(&raw2);
	eth_tx_clear(&t);
	eth_key_free(&k);
}

/* ABI: the Solidity docs' baz(uint32,bool) and sam(bytes,bool,uint256[]),
 * return words. */
static void
abi_examples(void)
{
	unsigned char w[3][32];
	eth_abi abi;
	mpz_t z;

	eth_abi_init(&abi, "baz(uint32,bool)", 2);
	eth_abi_u64(&abi, 69);
	eth_abi_u64(&abi, 1);
	eth_abi_end(&abi);
	is_str(hexs(abi.p, abi.n), "cdcd77c0"
	    "0000000000000000000000000000000000000000000000000000000000000045"
	    "0000000000000000000000000000000000000000000000000000000000000001",
	    "baz(69, true)");
	eth_abi_free(&abi);
	memset(w, 0, sizeof w);
	w[0][31] = 1, w[1][31] = 2, w[2][31] = 3;
	eth_abi_init(&abi, "sam(bytes,bool,uint256[])", 3);
	eth_abi_string(&abi, "dave");
	eth_abi_u64(&abi, 1);
	eth_abi_words(&abi, (const unsigned char (*)[32])w, 3);
	eth_abi_end(&abi);
	is_str(hexs(abi.p, abi.n), "a5643bf2"
	    "0000000000000000000000000000000000000000000000000000000000000060"
	    "0000000000000000000000000000000000000000000000000000000000000001"
	    "00000000000000000000000000000000000000000000000000000000000000a0"
	    "0000000000000000000000000000000000000000000000000000000000000004"
	    "6461766500000000000000000000000000000000000000000000000000000000"
	    "0000000000000000000000000000000000000000000000000000000000000003"
	    "0000000000000000000000000000000000000000000000000000000000000001"
	    "0000000000000000000000000000000000000000000000000000000000000002"
	    "0000000000000000000000000000000000000000000000000000000000000003",
	    "sam(\"dave\", true, [1,2,3])");
	eth_abi_free(&abi);
	mpz_init(z);
	eth_ret_mpz(w[0], 96, 2, z);
	ok(mpz_cmp_ui(z, 3) == 0, "return word 2");
	ok(eth_ret_mpz(w[0], 96, 3, z) < 0, "return word out of range");
	mpz_clear(z);
}

int
main(void)
{
	test_random();
	if (sodium_init() < 0)
		return 1;
	addresses();
	key_files();
	transaction();
	abi_examples();
	ok(eth_rpc_open("ftp://x") == NULL, "non-HTTP URL refused: %s", dml_errmsg());
	{
		eth_rpc *r = eth_rpc_open("http://127.0.0.1:1");
		ok(r && eth_chain_id(r) == 0 && strstr(dml_errmsg(),
		    "cannot reach the node"), "unreachable node: %s", dml_errmsg());
		eth_rpc_close(r);
	}
	return done_testing();
}
