// ready.cjs URL SECONDS [PID]: wait until a node answers POST
// URL/api/v0/version; exit 0 when it does, 1 when SECONDS pass first or
// when process PID (the daemon being started) has exited. Prints the
// version.
'use strict';
const [url, secs, pid] = process.argv.slice(2);
function alive() {
	if (!pid)
		return true;
	try {
		process.kill(Number(pid), 0);
		return true;
	} catch (e) {
		return false;
	}
}
const end = Date.now() + 1000 * Number(secs || 30);
async function poll() {
	for (;;) {
		if (!alive())
			return 1;
		try {
			const r = await fetch(`${url}/api/v0/version`, {
				method: 'POST', signal: AbortSignal.timeout(2000) });
			if (r.ok) {
				const v = await r.json();
				console.log(v.Version || 'unknown');
				return 0;
			}
		} catch (e) { /* not listening yet */ }
		if (Date.now() > end || !alive())
			return 1;
		await new Promise((res) => setTimeout(res, 100));
	}
}
poll().then((rc) => process.exit(rc));
