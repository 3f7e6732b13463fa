// Checks with the real (pinned) kubectl.
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:https";
import type { TLSSocket } from "node:tls";
import { run } from "@khw/host-io";

/** What the stand-in apiserver serves with and trusts: the cluster CA and a serving certificate for 127.0.0.1. */
export interface ApiserverIdentity {
  /** The cluster CA (PEM): it must have signed `certPem`, and client certificates are verified against it. */
  caPem: string;
  /** A serving certificate valid for the IP 127.0.0.1 (kube-apiserver's has it among its SANs). */
  certPem: string;
  keyPem: string;
}

/** One request the stand-in apiserver received from kubectl. */
export interface SeenRequest {
  path: string;
  /** The CN of the client certificate kubectl presented in the handshake, if it presented one. */
  clientCN?: string;
  /** Why the presented client certificate was refused (the cluster CA does not verify it). */
  certificateError?: string;
  /** Whether the request carried `Authorization: Bearer <token>`. */
  bearerToken: boolean;
  /** Authenticated as kube-apiserver would: a client certificate the CA verifies, or a bearer token. */
  authenticated: boolean;
}

export interface KubectlTlsProbe {
  /**
   * kubectl loaded the kubeconfig's TLS material and used it: it trusted the server through the
   * kubeconfig's CA, presented its client certificate and key in a completed handshake (or sent its token),
   * was authenticated and printed the server's answer.
   */
  clean: boolean;
  status: number | null;
  stdout: string;
  stderr: string;
  /** What the server saw, in order (empty when kubectl never completed a handshake). */
  requests: SeenRequest[];
}

/**
 * Runs `kubectl --kubeconfig <file> get --raw /version` against a real TLS server on an ephemeral
 * 127.0.0.1 port that stands in for kube-apiserver: it serves `identity`'s certificate and requests a
 * client certificate, verified against the cluster CA. So kubectl must load everything — the CA to
 * trust the server, and the client certificate and key, which client-go loads from files only when a
 * server asks for them during the handshake — and a bad PEM, a key that does not match its certificate
 * or a certificate from another CA makes kubectl (or the server) refuse, whatever the machine's load.
 * The server is stopped before this resolves.
 */
export async function kubectlLoadsTls(
  kubectl: string,
  file: string,
  identity: ApiserverIdentity,
  env?: NodeJS.ProcessEnv,
): Promise<KubectlTlsProbe> {
  // Printed by kubectl only when it reached this server and was let in.
  const nonce = randomBytes(12).toString("hex");
  const requests: SeenRequest[] = [];
  const server = createServer(
    {
      ca: identity.caPem,
      cert: identity.certPem,
      key: identity.keyPem,
      requestCert: true,
      // the handshake completes with a certificate the CA does not verify; the request is refused below
      // (401, as kube-apiserver does), and `certificateError` says why
      rejectUnauthorized: false,
    },
    (req, res) => {
      const socket = req.socket as TLSSocket;
      const peer = socket.getPeerCertificate();
      const presented = peer !== null && Object.keys(peer).length > 0;
      const bearerToken = /^Bearer \S+$/.test(req.headers.authorization ?? "");
      const authenticated = presented ? socket.authorized : bearerToken;
      const cn = presented ? peer.subject?.CN : undefined;
      requests.push({
        path: req.url ?? "",
        ...(cn !== undefined ? { clientCN: Array.isArray(cn) ? cn.join(",") : cn } : {}),
        ...(presented && !socket.authorized
          ? { certificateError: String(socket.authorizationError ?? "not verified") }
          : {}),
        bearerToken,
        authenticated,
      });
      res.setHeader("Content-Type", "application/json");
      if (!authenticated) {
        res.statusCode = 401;
        res.end(
          JSON.stringify({
            kind: "Status",
            apiVersion: "v1",
            status: "Failure",
            message: presented ? `client certificate: ${socket.authorizationError}` : "Unauthorized",
            reason: "Unauthorized",
            code: 401,
          }),
        );
        return;
      }
      res.end(JSON.stringify({ major: "1", minor: "34", gitVersion: `v1.34.4-khw-probe-${nonce}` }));
    },
  );
  await listen(server);
  try {
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const r = await run(
      kubectl,
      [
        "--kubeconfig",
        file,
        "--server",
        `https://127.0.0.1:${port}`,
        "get",
        "--raw",
        "/version",
        "--request-timeout=60s",
      ],
      // a safety net: kubectl's own request timeout is 60 s
      { env, timeoutMs: 120_000 },
    );
    return {
      status: r.code,
      stdout: r.stdout,
      stderr: r.stderr,
      requests,
      clean:
        r.code === 0 &&
        r.stdout.includes(nonce) &&
        requests.length > 0 &&
        requests.every((x) => x.authenticated),
    };
  } finally {
    await close(server);
  }
}

function listen(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
