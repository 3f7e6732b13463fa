import { createReadStream } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve, sep } from "node:path";

export interface ServeBundleOptions {
  /** Address to listen on (default 127.0.0.1; the lab uses its bridge address, e.g. 198.18.0.1). */
  host?: string;
  /** Port (default 0: any free port). */
  port?: number;
}

export interface BundleServer {
  /** The base URL of the mirror, ending in `/`: a file's URL is `url + path`. */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves a bundle directory read-only over HTTP, so the install code downloads from it exactly as from
 * the official sites (`base + path`). GET and HEAD only; nothing outside the directory is served.
 */
export async function serveBundle(dir: string, options: ServeBundleOptions = {}): Promise<BundleServer> {
  const root = await realpath(resolve(dir));
  const server = createServer((req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? "/", "http://mirror").pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    const file = resolve(root, `.${path}`);
    const notFound = () => {
      if (!res.headersSent) res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found\n");
    };
    if (!file.startsWith(root + sep)) {
      notFound();
      return;
    }
    realpath(file)
      .then(async (real) => {
        const s = await stat(real);
        if (!real.startsWith(root + sep) || !s.isFile()) throw new Error("not a file of the bundle");
        res.writeHead(200, { "content-length": s.size, "content-type": "application/octet-stream" });
        if (req.method === "HEAD") {
          res.end();
          return;
        }
        createReadStream(real)
          .on("error", () => res.destroy())
          .pipe(res);
      })
      .catch(notFound);
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolveListen());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/`,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
}
