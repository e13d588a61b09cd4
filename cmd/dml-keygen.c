/* dml-keygen: make an identity (Ed25519; X25519 for sealed boxes derived
 * from it), or with --paillier a Paillier key pair, and print its public
 * key record. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "eth.h"
#include "paillier.h"
#include "record.h"
#include "sign.h"
#include "util.h"

static const char usage[] =
"usage: dml-keygen -o FILE [--name NAME] [--seed TEXT]\n"
"       dml-keygen --paillier [--bits 2048|3072] -o FILE [--name NAME]\n"
"                  [--seed TEXT]\n"
"       dml-keygen --eth -o FILE [--payee KEY] [--name NAME] [--seed TEXT]\n"
"       dml-keygen -p FILE\n"
"Make a new identity: the secret key goes to FILE (created, mode 0600, never\n"
"overwritten) and its dml.pubkey record to stdout. With --paillier, make a\n"
"Paillier key pair instead (for jobs whose results only the customer may\n"
"read) and print its dml.paillier.pubkey record. With --eth, make a\n"
"secp256k1 key for the Ethereum back end of dml-settle and print its\n"
"dml.eth.address record (with --payee KEY: a dml.eth.payee record, the\n"
"address signed by the identity KEY, for the settlement address book).\n"
"  -o, --output FILE   secret key file to create\n"
"  -p, --public FILE   print the dml.pubkey record of an existing key\n"
"      --name NAME     a label carried in the public key record (the old\n"
"                      spelling -n still works, with a warning)\n"
"      --paillier      a Paillier key pair (secret: dml.paillier.secretkey)\n"
"      --eth           a secp256k1 key (secret: dml.eth.secretkey)\n"
"      --payee KEY     with --eth: bind the address to the Ed25519 identity\n"
"                      KEY (its secret key file) in a signed dml.eth.payee\n"
"      --bits B        Paillier modulus size: 2048 (112-bit security, the\n"
"                      default) or 3072 (128-bit)\n"
"      --seed TEXT     derive the key from TEXT and NAME (test and demo\n"
"                      identities only: anyone who knows TEXT has the key)\n"
"  -h, --help          this help\n"
"      --version       print the version\n";

enum { O_NAME = CLI_ID_BASE, O_PAILLIER, O_ETH, O_PAYEE, O_BITS };

/* --seed is a text here, not a number: a demo identity's passphrase. */
static const cli_opt opts[] = {
	CLI_OUTPUT, CLI_SEEDOPT,
	{"public", 'p', 1, 0, NULL, 0, NULL},
	{"name", 0, 1, O_NAME, NULL, 'n', NULL},
	{"paillier", 0, 0, O_PAILLIER, NULL, 0, NULL},
	{"eth", 0, 0, O_ETH, NULL, 0, NULL},
	{"payee", 0, 1, O_PAYEE, NULL, 0, NULL},
	{"bits", 0, 1, O_BITS, NULL, 0, NULL},
	CLI_END};

/* BLAKE2b-256 keyed by the text, over the name: a seed for test and demo
 * keys. */
static unsigned char *
seed_of(const char *name, const char *text)
{
	unsigned char *seed = sodium_malloc(32);

	if (!seed)
		dml_die(DML_EXIT_USAGE, "out of secure memory");
	crypto_generichash(seed, 32, (const unsigned char *)(name ? name : ""),
	    name ? strlen(name) : 0, (const unsigned char *)text,
	    strlen(text) > 64 ? 64 : strlen(text));
	return seed;
}

/* Does a key file hold a Paillier secret key? (Its type is near the end;
 * the file is read into memory that is wiped.) */
static int
paillier_file(const char *path)
{
	enum { CAP = 1 << 16 };
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;
	int yes;

	if (!f)
		return 0;
	if (!(buf = sodium_malloc(CAP)))
		dml_die(DML_EXIT_USAGE, "out of secure memory");
	setvbuf(f, NULL, _IONBF, 0);
	n = fread(buf, 1, CAP - 1, f);
	fclose(f);
	buf[n] = 0;
	yes = strstr(buf, "\"type\":\"dml.paillier.secretkey\"") != NULL;
	sodium_free(buf);
	return yes;
}

static int
paillier_main(const char *out, const char *pub, const char *name,
    const char *seedtext, int bits)
{
	paillier_sk *sk;
	json_t *r;

	paillier_secure_memory();
	if (pub) {
		if (!(sk = paillier_sk_load(pub)))
			dml_fail(DML_EXIT_REJECT);
	} else {
		paillier_drbg *d = NULL;
		if (seedtext) {
			unsigned char *seed = seed_of(name, seedtext);
			d = sodium_malloc(sizeof *d);
			if (!d)
				dml_die(DML_EXIT_USAGE, "out of secure memory");
			paillier_drbg_init(d, seed);
			sodium_free(seed);
		}
		sk = paillier_keygen(bits, d ? &d->rng : NULL);
		if (d)
			sodium_free(d);
		if (!sk)
			dml_fail(DML_EXIT_USAGE);
		if (paillier_sk_save(out, sk) < 0) {
			paillier_sk_free(sk);
			dml_fail(DML_EXIT_USAGE);
		}
	}
	r = paillier_pk_record(&sk->pk, name);
	paillier_sk_free(sk);
	rec_print_final(r);
	return 0;
}

/* Does a key file hold an Ethereum key? */
static int
eth_file(const char *path)
{
	char buf[512];
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	return strstr(buf, "\"type\":\"dml.eth.secretkey\"") != NULL;
}

static int
eth_main(const char *out, const char *pub, const char *name,
    const char *seedtext, const char *payee)
{
	char addr[43];
	eth_key k;
	json_t *r;

	if (pub) {
		if (eth_key_load(pub, &k) < 0)
			dml_fail(DML_EXIT_REJECT);
	} else {
		unsigned char *seed = seedtext ? seed_of(name, seedtext) : NULL;
		int rc = eth_key_new(&k, seed);
		if (seed)
			sodium_free(seed);
		if (rc < 0)
			dml_fail(DML_EXIT_USAGE);
		if (eth_key_save(out, &k) < 0) {
			eth_key_free(&k);
			dml_fail(DML_EXIT_USAGE);
		}
	}
	eth_address_str(k.addr, addr);
	eth_key_free(&k);
	r = rec_new(payee ? "dml.eth.payee" : "dml.eth.address");
	json_object_set_new(r, "address", json_string(addr));
	if (name)
		json_object_set_new(r, "name", json_string(name));
	if (payee) {
		dml_key id;
		if (key_load(payee, &id) < 0)
			dml_fail(DML_EXIT_USAGE);
		if (rec_sign(r, &id) < 0)
			dml_fail(DML_EXIT_USAGE);
		key_free(&id);
	}
	rec_print_final(r);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *out = NULL, *pub = NULL, *name = NULL, *seedtext = NULL,
		   *payee = NULL;
	unsigned char *seed = NULL;
	dml_key k;
	json_t *r;
	int o, paillier = 0, eth = 0;
	long bits = PAILLIER_BITS;
	cli c;

	cli_init(&c, argc, argv, opts, usage, NULL);
	while ((o = cli_next(&c)) != -1) {
		switch (o) {
		case 'o': out = c.arg; break;
		case 'p': pub = c.arg; break;
		case O_NAME: name = c.arg; break;
		case CLI_SEED: seedtext = c.arg; break;
		case O_PAILLIER: paillier = 1; break;
		case O_ETH: eth = 1; break;
		case O_PAYEE: payee = c.arg; break;
		case O_BITS:
			if (dml_parse_long(c.arg, 0, 1 << 16, &bits) < 0 ||
			    paillier_kappa((int)bits) < 0)
				cli_opt_error(&c, "2048 or 3072");
			break;
		}
	}
	cli_max_operands(&c, 0);
	if (!out == !pub)
		cli_usage_error("give exactly one of -o FILE or -p FILE");
	if (bits != PAILLIER_BITS && !paillier)
		cli_usage_error("--bits is for --paillier keys");
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	if (payee && !eth)
		cli_usage_error("--payee is for --eth keys");
	if (eth && paillier)
		cli_usage_error("give one of --eth and --paillier");
	if (eth || (pub && eth_file(pub)))
		return eth_main(out, pub, name, seedtext, payee);
	if (paillier || (pub && paillier_file(pub)))
		return paillier_main(out, pub, name, seedtext, (int)bits);
	if (pub) {
		if (key_load(pub, &k) < 0)
			dml_fail(DML_EXIT_REJECT);
	} else {
		if (seedtext)
			seed = seed_of(name, seedtext);
		if (key_generate(&k, seed) < 0)
			dml_fail(DML_EXIT_USAGE);
		if (seed)
			sodium_free(seed);
		if (key_save(out, &k) < 0) {
			key_free(&k);
			dml_fail(DML_EXIT_USAGE);
		}
	}
	r = key_pubrecord(k.pk, name);
	key_free(&k);
	rec_print_final(r);
	return 0;
}
