// compile.cjs OUTDIR: compile contracts/*.sol with solc-js 0.8.24 (EVM
// target shanghai, which ganache 7.9.2 runs) and write OUTDIR/NAME.bin
// (creation bytecode, hex) and OUTDIR/NAME.abi for each contract.
// Exits 1 with solc's messages on any error.
const fs = require("fs"), path = require("path");
const solc = require("solc");
const here = __dirname, out = process.argv[2] || path.join(here, "build");
const sources = {};
for (const f of fs.readdirSync(path.join(here, "contracts")).sort())
    if (f.endsWith(".sol"))
        sources[f] = { content: fs.readFileSync(path.join(here, "contracts", f), "utf8") };
const input = {
    language: "Solidity", sources,
    settings: { evmVersion: "shanghai", optimizer: { enabled: true, runs: 200 },
        outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } } },
};
const res = JSON.parse(solc.compile(JSON.stringify(input)));
let bad = false;
for (const e of res.errors || []) {
    process.stderr.write(e.formattedMessage);
    if (e.severity === "error") bad = true;
}
if (bad) process.exit(1);
fs.mkdirSync(out, { recursive: true });
for (const f in res.contracts)
    for (const name in res.contracts[f]) {
        const c = res.contracts[f][name];
        if (!c.evm.bytecode.object) continue;
        fs.writeFileSync(path.join(out, name + ".bin"), c.evm.bytecode.object + "\n");
        fs.writeFileSync(path.join(out, name + ".abi"), JSON.stringify(c.abi) + "\n");
    }
process.stderr.write("compile.cjs: solc " + solc.version() + " -> " + out + "\n");
