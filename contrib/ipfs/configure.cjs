// configure.cjs CONFIG PORT: make a js-ipfs repo's config fit a private,
// offline test node: no swarm listeners, no bootstrap peers, no MDNS, no
// delegates, no gateway nor gRPC listener, the RPC API on 127.0.0.1:PORT.
'use strict';
const fs = require('fs');
const [file, port] = process.argv.slice(2);
if (!file || !/^[0-9]+$/.test(port || '')) {
	console.error('usage: configure.cjs CONFIG PORT');
	process.exit(2);
}
const c = JSON.parse(fs.readFileSync(file, 'utf8'));
c.Addresses = c.Addresses || {};
c.Addresses.Swarm = [];
c.Addresses.Announce = [];
c.Addresses.Delegates = [];
c.Addresses.API = `/ip4/127.0.0.1/tcp/${port}`;
c.Addresses.Gateway = [];
delete c.Addresses.RPC;	// no key, no gRPC server ([] makes it throw)
c.Bootstrap = [];
c.Discovery = c.Discovery || {};
c.Discovery.MDNS = Object.assign(c.Discovery.MDNS || {}, { Enabled: false });
c.Discovery.webRTCStar = Object.assign(c.Discovery.webRTCStar || {}, { Enabled: false });
c.Pubsub = Object.assign(c.Pubsub || {}, { Enabled: false });
c.Routing = Object.assign(c.Routing || {}, { Type: 'none' });
const tmp = `${file}.tmp`;
fs.writeFileSync(tmp, JSON.stringify(c, null, 2) + '\n');
fs.renameSync(tmp, file);
