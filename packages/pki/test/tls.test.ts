// Real TLS handshakes on 127.0.0.1 with the issued certificates (Node's TLS = OpenSSL underneath).
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { connect, createServer, type Server, type TLSSocket } from "node:tls";
import {
  catalogueFromCluster,
  issueCertificate,
  issuePki,
  type KeyAlgorithm,
  type PkiMaterial,
} from "@khw/pki";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { defaultCluster, fixtureKey, seededRandom, testKeys } from "./helpers";

// OpenSSL checks validity against the real clock during a handshake, so these certificates are
// issued at the real time (the only tests that read it).

interface Outcome {
  /** What the server saw: whether OpenSSL verified the client's chain, the client's CN, or why not. */
  server: { authorized: boolean; peerCN?: string; reason?: string } | { error: string };
  /** Whether the client got the server's greeting. */
  greeted: boolean;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function handshake(
  serverPair: { cert: string; key: string },
  clientPair: { cert: string; key: string },
  ca: string,
  clientCa = ca,
): Promise<Outcome> {
  let serverSide: Outcome["server"] | undefined;
  // rejectUnauthorized: false only so the verdict and its reason can be recorded; an unverified client
  // is then dropped without a greeting, as the apiserver would.
  const server = createServer(
    { cert: serverPair.cert, key: serverPair.key, ca, requestCert: true, rejectUnauthorized: false },
    (socket) => {
      const peer = socket.getPeerCertificate();
      if (socket.authorized) {
        serverSide = { authorized: true, peerCN: peer.subject?.CN as string };
        socket.end("hello\n");
      } else {
        serverSide = {
          authorized: false,
          peerCN: peer.subject?.CN as string,
          reason: String(socket.authorizationError),
        };
        socket.destroy();
      }
    },
  );
  const serverError = new Promise<void>((resolve) =>
    server.on("tlsClientError", (err) => {
      serverSide = { error: err.message };
      resolve();
    }),
  );
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const client: TLSSocket = connect({
    host: "127.0.0.1",
    port,
    cert: clientPair.cert,
    key: clientPair.key,
    ca: clientCa,
  });
  let data = "";
  client.on("data", (d) => {
    data += d;
  });
  await new Promise<void>((resolve) => {
    client.on("close", () => resolve());
    client.on("error", () => resolve());
  });
  if (!serverSide) await Promise.race([serverError, new Promise((r) => setTimeout(r, 2000))]);
  return { server: serverSide ?? { error: "no server-side event" }, greeted: data === "hello\n" };
}

describe.each<KeyAlgorithm>(["rsa-2048", "ecdsa-p256"])("TLS with %s certificates", (algorithm) => {
  let m: PkiMaterial;
  let foreignAdmin: { cert: string; key: string };

  beforeAll(async () => {
    const catalogue = catalogueFromCluster(defaultCluster(algorithm));
    m = await issuePki({ catalogue, now: new Date(), random: seededRandom(), keys: testKeys(algorithm) });
    // The same admin certificate, but under another CA with the very same name.
    const p = algorithm === "ecdsa-p256" ? "ec" : "rsa";
    const otherCa = {
      cert: issueCertificate({ spec: catalogue[0]!, key: fixtureKey(`${p}-other-ca`), now: new Date() }),
      key: fixtureKey(`${p}-other-ca`),
    };
    const admin = catalogue.find((c) => c.id === "admin")!;
    foreignAdmin = {
      cert: issueCertificate({
        spec: admin,
        key: fixtureKey(`${p}-leaf-1`),
        issuer: otherCa,
        now: new Date(),
      }),
      key: fixtureKey(`${p}-leaf-1`),
    };
  });

  it("the apiserver certificate serves 127.0.0.1 and accepts the admin client certificate", async () => {
    const out = await handshake(m["kube-apiserver"]!, m.admin!, m.ca!.cert);
    expect(out).toEqual({ server: { authorized: true, peerCN: "admin" }, greeted: true });
  });

  it("the apiserver refuses a client certificate signed by another CA", async () => {
    const out = await handshake(m["kube-apiserver"]!, foreignAdmin, m.ca!.cert);
    expect(out.greeted).toBe(false);
    expect(out.server).toEqual({
      authorized: false,
      peerCN: "admin",
      reason: expect.stringMatching(/signature|UNABLE_TO_VERIFY|self.signed/i),
    });
  });

  it("etcd-server works as server and as client (peer and apiserver-to-etcd)", async () => {
    const out = await handshake(m["etcd-server"]!, m["etcd-server"]!, m.ca!.cert);
    expect(out).toEqual({ server: { authorized: true, peerCN: "etcd-server" }, greeted: true });
  });

  it("a client-only certificate cannot serve: kube-scheduler as a server is refused by the client", async () => {
    const out = await handshake(m["kube-scheduler"]!, m.admin!, m.ca!.cert);
    expect(out.greeted).toBe(false);
  });
});
