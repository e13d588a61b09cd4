/* amount: token amounts as decimal strings (see amount.h). */
#include "amount.h"

#include <string.h>

int
amount_ok(const char *s)
{
	size_t n = strlen(s);
	return n && n <= 78 && strspn(s, "0123456789") == n &&
	    !(s[0] == '0' && n > 1);
}

int
amount_cmp(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	int c;

	if (na != nb)
		return na < nb ? -1 : 1;
	c = strcmp(a, b);
	return (c > 0) - (c < 0);
}
