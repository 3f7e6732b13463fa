/**
 * The lab mirror: a small static HTTP server (GET/HEAD, no directory listings) run as its own
 * detached Node process: `node mirror.cjs <dir> <host> <port>`. Written into the lab state dir at
 * `labUp`, so it works the same from the sources and from the published package.
 */
export const MIRROR_SCRIPT = `"use strict";
const http = require("node:http");
const fs = require("node:fs");
const path = require("node:path");
const [root, host, port] = process.argv.slice(2);
const base = path.resolve(root);
const server = http.createServer((req, res) => {
  const done = (code, text) => {
    res.writeHead(code, { "content-type": "text/plain; charset=utf-8" });
    res.end(req.method === "HEAD" ? undefined : text + "\\n");
  };
  if (req.method !== "GET" && req.method !== "HEAD") return done(405, "method not allowed");
  let rel;
  try {
    rel = decodeURIComponent(new URL(req.url, "http://mirror").pathname);
  } catch {
    return done(400, "bad path");
  }
  const file = path.resolve(base, "." + path.posix.normalize("/" + rel));
  if (file !== base && !file.startsWith(base + path.sep)) return done(403, "outside the mirror");
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) return done(404, "not found: " + rel);
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": st.size });
    if (req.method === "HEAD") return res.end();
    fs.createReadStream(file).on("error", () => res.destroy()).pipe(res);
  });
});
server.on("error", (err) => {
  console.error("mirror: " + err.message);
  process.exit(2);
});
server.listen(Number(port), host, () => console.log("mirror: serving " + base + " on http://" + host + ":" + port));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
`;
