/* Canonical form: RFC 8785 numbers, key order, string escapes. */
#include "record.h"
#include "tap.h"

#include <stdlib.h>

static void
num(double d, const char *want)
{
	char buf[40];
	canon_double(d, buf);
	is_str(buf, want, "number %.17g formats as %s", d, want);
}

static void
canon(const char *in, const char *want)
{
	json_error_t e;
	json_t *j = json_loads(in, 0, &e);
	char *s = j ? canon_dump(j, NULL, NULL, NULL) : NULL;
	is_str(s, want, "canonical form of %s", in);
	free(s);
	json_decref(j);
}

int
main(void)
{
	char buf[40];

	/* values from RFC 8785 appendix B and ECMAScript's Number.toString */
	num(0.0, "0");
	num(-0.0, "0");
	num(1.0, "1");
	num(-1.5, "-1.5");
	num(1e21, "1e+21");
	num(1e20, "100000000000000000000");
	num(123456789012345680000.0, "123456789012345680000");
	num(1e-7, "1e-7");
	num(0.000001, "0.000001");
	num(5e-324, "5e-324");
	num(1.7976931348623157e308, "1.7976931348623157e+308");
	num(0.1, "0.1");
	num(1.0 / 3, "0.3333333333333333");
	num(9007199254740992.0, "9007199254740992");
	num(295147905179352830000.0, "295147905179352830000");
	num(4.50, "4.5");
	num(2e-3, "0.002");
	num(0.000033333333333333335, "0.000033333333333333335");
	ok(canon_double(0.0 / 0.0, buf) < 0, "NaN is refused");

	canon("{\"b\":1,\"a\":[true,false,null],\"c\":{\"z\":\"\\u0001\",\"y\":\"\\n\\\"\\\\/\"}}",
	    "{\"a\":[true,false,null],\"b\":1,\"c\":{\"y\":\"\\n\\\"\\\\/\",\"z\":\"\\u0001\"}}");
	/* RFC 8785 3.2.3: sort by UTF-16 code units: U+10000 (D800 DC00)
	 * sorts before U+E000 although its UTF-8 is larger */
	canon("{\"\\ue000\":1,\"\\ud800\\udc00\":2,\"a\":3}",
	    "{\"a\":3,\"\xf0\x90\x80\x80\":2,\"\xee\x80\x80\":1}");
	canon("{\"n\":1.5e3,\"m\":-0.0}", "{\"m\":0,\"n\":1500}");
	return done_testing();
}
