/* CIDs: known vectors from ipfs add --cid-version=1 --raw-leaves. */
#include "cid.h"
#include "tap.h"

#include <sodium.h>
#include <stdlib.h>

int
main(void)
{
	char s[CID_MAXSTR];
	cid c;

	if (sodium_init() < 0)
		return 1;
	cid_of_bytes("", 0, s);
	is_str(s, "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
	    "CID of the empty file");
	cid_of_bytes("hello\n", 6, s);
	is_str(s, "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am",
	    "CID of hello\\n");
	ok(cid_parse(&c, s) == 0 && cid_codec(&c) == CID_RAW, "parse it back");
	char s2[CID_MAXSTR];
	cid_str(&c, s2);
	is_str(s2, s, "parse and print round trip");
	ok(cid_parse(&c, "Qmfoo") < 0, "CIDv0 refused");
	ok(cid_parse(&c, "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6") < 0,
	    "truncated CID refused");
	/* multi-chunk files: CIDs from npm's ipfs-unixfs-importer (cidVersion
	 * 1, rawLeaves) on the same bytes; the second needs a second level */
	{
		size_t sizes[2] = {262145, 174 * 262144 + 1};
		const char *want[2] = {
		    "bafybeigytfmyvqcayqpqzzbp46cnwi3e4ixx5jgvmg67ob63pczfu5nvbm",
		    "bafybeigs5qb55x24hfff3mcdfiw4bd37r7276i7mlquvkoohornjijfz6q"};
		for (int k = 0; k < 2; k++) {
			unsigned char *b = malloc(sizes[k]);
			for (size_t i = 0; i < sizes[k]; i++)
				b[i] = (unsigned char)((i * 131 + (i >> 11)) & 0xff);
			cid_of_bytes(b, sizes[k], s);
			is_str(s, want[k], "CID of %zu patterned bytes", sizes[k]);
			/* fed in odd pieces, the streaming builder agrees */
			cid_file *f = cid_file_new(NULL, NULL);
			for (size_t off = 0; off < sizes[k]; off += 100003)
				cid_file_write(f, b + off, sizes[k] - off < 100003 ?
				    sizes[k] - off : 100003);
			uint64_t sz;
			cid_file_finish(f, &c, &sz);
			cid_str(&c, s2);
			is_str(s2, want[k], "streamed in 100003-byte pieces");
			ok(sz == sizes[k], "size counted");
			free(b);
		}
	}
	return done_testing();
}
