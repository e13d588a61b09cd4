// ready.cjs URL SECONDS [PID]: wait until the node at URL answers
// eth_blockNumber (exit 0), or SECONDS pass, or PID dies (exit 1).
const [url, secs, pid] = [process.argv[2], Number(process.argv[3] || 0), process.argv[4]];
const end = Date.now() + secs * 1000;
async function once() {
    try {
        const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" },
            body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] }) });
        const j = await r.json();
        return typeof j.result === "string";
    } catch (e) { return false; }
}
(async () => {
    for (;;) {
        if (await once()) { console.log("ready"); process.exit(0); }
        if (pid) { try { process.kill(Number(pid), 0); } catch (e) { process.exit(1); } }
        if (Date.now() >= end) process.exit(1);
        await new Promise((r) => setTimeout(r, 100));
    }
})();
