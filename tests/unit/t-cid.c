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
	return done_testing();
}
