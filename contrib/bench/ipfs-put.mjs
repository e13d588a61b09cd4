// ipfs-put.mjs FILE [discard|memory|fs:DIR]: the CID of FILE as npm's
// ipfs-unixfs-importer computes it with the settings of
// `ipfs add --cid-version=1 --raw-leaves`: 262144-byte chunks, raw leaves,
// a balanced DAG of at most 174 links, a one-chunk file as its leaf.
// Blocks go to blockstore-core's BlackHoleBlockstore (discard, the
// default: hashing and encoding only, like dml-ipfs-put --only-hash), its
// MemoryBlockstore, or blockstore-fs's FsBlockstore in DIR (one file per
// block, as dml-ipfs-put stores them). Prints "CID SECONDS" (the import
// alone, the file streamed from disk in 1 MiB reads).
import { createReadStream } from 'node:fs';
import { importer } from 'ipfs-unixfs-importer';
import { fixedSize } from 'ipfs-unixfs-importer/chunker';
import { balanced } from 'ipfs-unixfs-importer/layout';
import { BlackHoleBlockstore } from 'blockstore-core/black-hole';
import { MemoryBlockstore } from 'blockstore-core/memory';

const [file, store = 'discard'] = process.argv.slice(2);
if (!file || !(['memory', 'discard'].includes(store) || store.startsWith('fs:'))) {
	console.error('usage: ipfs-put.mjs FILE [discard|memory|fs:DIR]');
	process.exit(2);
}
let blockstore;
if (store === 'memory') {
	blockstore = new MemoryBlockstore();
} else if (store === 'discard') {
	blockstore = new BlackHoleBlockstore();
} else {
	const { FsBlockstore } = await import('blockstore-fs');
	blockstore = new FsBlockstore(store.slice(3));
	await blockstore.open();
}
const t0 = process.hrtime.bigint();
let root;
for await (const entry of importer(
	[{ content: createReadStream(file, { highWaterMark: 1 << 20 }) }],
	blockstore,
	{
		cidVersion: 1,
		rawLeaves: true,
		reduceSingleLeafToSelf: true,
		chunker: fixedSize({ chunkSize: 262144 }),
		layout: balanced({ maxChildrenPerNode: 174 }),
	})) {
	root = entry.cid;
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
if (blockstore.close)
	await blockstore.close();
console.log(`${root.toString()} ${secs.toFixed(3)}`);
