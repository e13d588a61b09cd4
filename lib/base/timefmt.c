/* timefmt: RFC 3339 UTC times (see timefmt.h). */
#include "timefmt.h"
#include "util.h"

#include <string.h>
#include <time.h>

int
timefmt_parse(const char *s, long long *t)
{
	struct tm tm;
	char *end, back[32];

	memset(&tm, 0, sizeof tm);
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end || strlen(s) != 20)
		return dml_error("\"%.40s\" is not an RFC 3339 UTC time "
		    "(YYYY-MM-DDTHH:MM:SSZ)", s);
	*t = (long long)timegm(&tm);
	timefmt_format(*t, back);
	if (strcmp(back, s) != 0)	/* 2026-02-30 and the like */
		return dml_error("\"%.40s\" is not a valid time", s);
	return 0;
}

void
timefmt_format(long long t, char buf[32])
{
	struct tm tm;
	time_t tt = (time_t)t;

	gmtime_r(&tt, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
