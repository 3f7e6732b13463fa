/**
 * The lab's port forwarder for `khw lab up --as-vagrant` (what VirtualBox's NAT port forwarding does for a
 * Vagrant VM): `node forward.cjs <port>=<address>:<port> …` listens on 127.0.0.1:<port> for each pair
 * and pipes every connection to the host's sshd. Written into the lab state dir like the mirror.
 */
export const FORWARD_SCRIPT = `"use strict";
const net = require("node:net");
const servers = [];
let pending = 0;
for (const spec of process.argv.slice(2)) {
  const m = /^(\\d+)=([\\d.]+):(\\d+)$/.exec(spec);
  if (!m) {
    console.error("forward: bad argument " + spec);
    process.exit(2);
  }
  const [, listen, host, port] = m;
  const server = net.createServer((client) => {
    const upstream = net.connect({ host, port: Number(port) });
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close);
    upstream.on("error", close);
  });
  server.on("error", (err) => {
    console.error("forward: 127.0.0.1:" + listen + ": " + err.message);
    process.exit(2);
  });
  pending++;
  server.listen(Number(listen), "127.0.0.1", () => {
    if (--pending === 0) console.log("forward: listening on " + process.argv.slice(2).join(" "));
  });
  servers.push(server);
}
process.on("SIGTERM", () => {
  for (const s of servers) s.close();
  process.exit(0);
});
`;
