// The guide's manual commands, rendered from the same data `khw gen` and `khw up` use: the PKI
// catalogue (@khw/pki), the kubeconfig catalogue (@khw/kubeconfig), the rendered artifacts (units,
// configs, manifests) and the steps of each `khw up` phase. Nothing here holds a CN, a path or a flag
// of its own. Pure: a cluster in, strings out; secrets are shell variables, never values.
import {
  addonManifestsFromCluster,
  base64,
  fromBase64,
  type KubeObject,
  renderObjectsYaml,
} from "@khw/addons";
import {
  KUBECONFIG_CATALOGUE,
  type Kubeconfig,
  type KubeconfigDefinition,
  kubeconfigFor,
  kubeconfigPath,
  kubeconfigTargets,
} from "@khw/kubeconfig";
import { ADMIN_PKI_DIR, CA_ID, type CertificateSpec, catalogueFromCluster } from "@khw/pki";
import { shellQuote } from "@khw/remote-exec";
import {
  ADMIN_HOST,
  artifactLocation,
  type BinaryArtifact,
  binaryPath,
  type Cluster,
  type ClusterNode,
} from "@khw/spec/core";
import { type ArtifactFile, type Artifacts, type Manifest, renderArtifacts } from "../artifacts";
import { type PhaseContext, type PhaseName, phaseByName, phaseContext, type Step } from "../up/phases";
import { workdirPaths } from "../workdir/workdir";

/** kubectl as the cluster admin on the control plane that applies (the node layout). */
const ADMIN_KUBECTL = `${binaryPath("kubectl")} --kubeconfig ${kubeconfigPath("admin")}`;

/** Stand-ins for the secrets, swapped for shell variables wherever they show. */
const PLACEHOLDER = {
  tokenId: "khwtok",
  tokenSecret: "guidetokensecret",
  expiration: "2099-12-31T23:59:59Z",
  encryptionKey: base64("khw-guide-encryption-key-32bytes"),
  pem: (what: string) =>
    `-----BEGIN CERTIFICATE-----\nS0hXR1VJREU${what.replace(/[^A-Za-z0-9]/g, "")}\n-----END CERTIFICATE-----\n`,
  key: "-----BEGIN PRIVATE KEY-----\nS0hXR1VJREU=\n-----END PRIVATE KEY-----\n",
} as const;

/** The shell variables that stand for secrets in the guide's commands. */
export const SECRET_VARS = {
  tokenId: "TOKEN_ID",
  tokenSecret: "TOKEN_SECRET",
  expiration: "TOKEN_EXPIRATION",
  encryptionKey: "ENCRYPTION_KEY",
} as const;

/** Where the guide keeps things on the admin machine, relative to the directory of cluster.yaml. */
export const LOCAL = {
  pki: ADMIN_PKI_DIR,
  kubeconfigs: "kubeconfigs",
  encryptionConfig: "encryption-config.yaml",
} as const;

/** Everything a chapter is rendered from. */
export interface GuideContext {
  cluster: Cluster;
  artifacts: Artifacts;
  phase: PhaseContext;
  catalogue: CertificateSpec[];
}

export function guideContext(cluster: Cluster): GuideContext {
  const catalogue = catalogueFromCluster(cluster);
  const material = Object.fromEntries(
    catalogue.map((c) => [c.id, { cert: PLACEHOLDER.pem(c.id), key: PLACEHOLDER.key }]),
  );
  const artifacts = renderArtifacts(cluster, {
    material,
    encryptionKey: PLACEHOLDER.encryptionKey,
    bootstrapToken: `${PLACEHOLDER.tokenId}.${PLACEHOLDER.tokenSecret}`,
    bootstrapTokenExpires: PLACEHOLDER.expiration,
  });
  return { cluster, artifacts, phase: phaseContext(cluster, artifacts), catalogue };
}

/** Replaces the placeholder secrets in generated text by their shell variables. */
export function withSecretVars(text: string): string {
  return text
    .replaceAll(PLACEHOLDER.encryptionKey, `\${${SECRET_VARS.encryptionKey}}`)
    .replaceAll(PLACEHOLDER.tokenSecret, `\${${SECRET_VARS.tokenSecret}}`)
    .replaceAll(PLACEHOLDER.tokenId, `\${${SECRET_VARS.tokenId}}`)
    .replaceAll(PLACEHOLDER.expiration, `\${${SECRET_VARS.expiration}}`);
}

// ---------------------------------------------------------------------------------------------
// SSH

function sshOptions(node: ClusterNode, portFlag: "-p" | "-P"): string[] {
  const s = node.ssh;
  return [
    ...(s.port !== 22 ? [portFlag, String(s.port)] : []),
    ...(s.identityFile ? ["-i", s.identityFile] : []),
    ...(s.jump ? ["-J", `${s.jump.user}@${s.jump.host}${s.jump.port !== 22 ? `:${s.jump.port}` : ""}`] : []),
  ];
}

const login = (node: ClusterNode) => `${node.ssh.user}@${node.ssh.host}`;

/** `ssh …` to a node, with the spec's port, key and jump host. */
export function sshCommand(node: ClusterNode, remote?: string): string {
  return ["ssh", ...sshOptions(node, "-p"), login(node), ...(remote ? [remote] : [])]
    .map((w, i, all) => (i === all.length - 1 && remote ? shellQuote(w) : w))
    .join(" ");
}

/** `scp …` of local files into a directory under the SSH user's home on a node. */
export function scpCommand(node: ClusterNode, sources: string[], remoteDir: string): string {
  return ["scp", ...sshOptions(node, "-P"), ...sources, `${login(node)}:${remoteDir}/`].join(" ");
}

/** The node's SSH user's staging directory for a phase (under its home). */
const stagingDir = (phase: string) => `khw-${phase}`;
const stagedPath = (node: ClusterNode, phase: string, name: string) =>
  `~${node.ssh.user}/${stagingDir(phase)}/${name}`;

// ---------------------------------------------------------------------------------------------
// PKI: openssl

/** The OpenSSL extension file of one catalogue entry (`-extfile`). */
export function opensslExtFile(c: CertificateSpec): string {
  const sans = [...c.sans.dns.map((d) => `DNS:${d}`), ...c.sans.ips.map((ip) => `IP:${ip}`)];
  return [
    `basicConstraints = critical, CA:${c.isCA ? "TRUE" : "FALSE"}`,
    `keyUsage = critical, ${c.keyUsage.join(", ")}`,
    ...(c.extKeyUsage.length ? [`extendedKeyUsage = ${c.extKeyUsage.join(", ")}`] : []),
    ...(sans.length ? [`subjectAltName = ${sans.join(", ")}`] : []),
    "subjectKeyIdentifier = hash",
    ...(c.signer ? ["authorityKeyIdentifier = keyid"] : []),
  ].join("\n");
}

const dnValue = (v: string) => v.replace(/([\\/+=])/g, "\\$1");

/** The `-subj` argument of one catalogue entry: `/CN=…/O=…`. */
export function opensslSubject(c: CertificateSpec): string {
  return `/CN=${dnValue(c.subject.CN)}${(c.subject.O ?? []).map((o) => `/O=${dnValue(o)}`).join("")}`;
}

function keyCommand(c: CertificateSpec): string {
  switch (c.keyAlgorithm) {
    case "rsa-2048":
      return `openssl genrsa -out ${c.id}.key 2048`;
    case "rsa-4096":
      return `openssl genrsa -out ${c.id}.key 4096`;
    case "ecdsa-p256":
      return `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ${c.id}.key`;
  }
}

/**
 * The commands that make one certificate of the catalogue in the current directory: a key (0600), an
 * extension file, a CSR with the subject, and the certificate signed by its CA (or self-signed).
 */
export function opensslCommands(c: CertificateSpec): string {
  const sign = c.signer
    ? `openssl x509 -req -in ${c.id}.csr -CA ${c.signer}.crt -CAkey ${c.signer}.key -CAcreateserial \\\n  -days ${c.validityDays} -sha256 -extfile ${c.id}.ext -out ${c.id}.crt`
    : `openssl x509 -req -in ${c.id}.csr -signkey ${c.id}.key \\\n  -days ${c.validityDays} -sha256 -extfile ${c.id}.ext -out ${c.id}.crt`;
  return [
    `${keyCommand(c)} && chmod 0600 ${c.id}.key`,
    heredoc(`cat > ${c.id}.ext`, opensslExtFile(c)),
    `openssl req -new -key ${c.id}.key -subj ${shellQuote(opensslSubject(c))} -out ${c.id}.csr`,
    sign,
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// kubeconfigs: kubectl config

/** The file name the guide gives a kubeconfig on the admin machine (under kubeconfigs/). */
export function kubeconfigLocalName(def: KubeconfigDefinition, node: ClusterNode | undefined): string {
  const perNode = def.user.includes("{node}") || JSON.stringify(def.credentials).includes("{node}");
  return perNode && node ? `${node.name}.kubeconfig` : `${def.id}.kubeconfig`;
}

/** Every kubeconfig of the catalogue with its target node (undefined: the admin machine). */
export function kubeconfigEntries(
  cluster: Cluster,
): Array<{ def: KubeconfigDefinition; nodes: (ClusterNode | undefined)[]; file: string }> {
  const out: Array<{ def: KubeconfigDefinition; nodes: (ClusterNode | undefined)[]; file: string }> = [];
  for (const def of KUBECONFIG_CATALOGUE) {
    for (const node of kubeconfigTargets(cluster, def)) {
      const file = kubeconfigLocalName(def, node);
      const seen = out.find((e) => e.def === def && e.file === file);
      if (seen) seen.nodes.push(node);
      else out.push({ def, nodes: [node], file });
    }
  }
  return out;
}

/**
 * `kubectl config set-cluster / set-credentials / set-context / use-context` that write the same
 * kubeconfig as khw into `file`. Embedded credentials come from pki/ (`--embed-certs`), a bootstrap
 * token from $TOKEN_ID.$TOKEN_SECRET.
 */
export function kubectlConfigCommands(
  cluster: Cluster,
  def: KubeconfigDefinition,
  node: ClusterNode | undefined,
  file: string,
): string {
  const secrets = {
    caPem: PLACEHOLDER.pem(CA_ID),
    adminCertPem: PLACEHOLDER.pem("admin"),
    adminKeyPem: PLACEHOLDER.key,
    bootstrapToken: `${PLACEHOLDER.tokenId}.${PLACEHOLDER.tokenSecret}`,
  };
  const k: Kubeconfig = kubeconfigFor(cluster, def, node, secrets);
  const local = (id: string, ext: "crt" | "key") => `${LOCAL.pki}/${id}.${ext}`;
  const embeddedId = def.credentials.kind === "embedded" ? def.credentials.identity : undefined;
  const lines: string[] = [];
  const cmd = ([verb, name, ...flags]: string[]) =>
    lines.push(
      [`${verb} ${shellQuoteKeepVars(name!)}`, ...flags.map(shellQuoteKeepVars), `--kubeconfig=${file}`].join(
        " \\\n  ",
      ),
    );
  for (const c of k.clusters) {
    cmd([
      "kubectl config set-cluster",
      c.name,
      c.certificateAuthority !== undefined
        ? `--certificate-authority=${c.certificateAuthority}`
        : `--certificate-authority=${local(CA_ID, "crt")}`,
      ...(c.certificateAuthorityData !== undefined ? ["--embed-certs=true"] : []),
      `--server=${c.server}`,
    ]);
  }
  for (const u of k.users) {
    const args: string[] = ["kubectl config set-credentials", u.name];
    if (u.clientCertificate !== undefined)
      args.push(`--client-certificate=${u.clientCertificate}`, `--client-key=${u.clientKey}`);
    if (u.clientCertificateData !== undefined && embeddedId) {
      args.push(
        `--client-certificate=${local(embeddedId, "crt")}`,
        `--client-key=${local(embeddedId, "key")}`,
        "--embed-certs=true",
      );
    }
    if (u.token !== undefined) args.push(`--token=${withSecretVars(u.token)}`);
    cmd(args);
  }
  for (const c of k.contexts)
    cmd(["kubectl config set-context", c.name, `--cluster=${c.cluster}`, `--user=${c.user}`]);
  cmd(["kubectl config use-context", k.currentContext]);
  return lines.join("\n");
}

/** Quotes a word for the shell unless it is a command prefix or holds a ${VAR} (double quotes then). */
function shellQuoteKeepVars(word: string): string {
  if (/\$\{[A-Z_]+\}/.test(word)) return `"${word}"`;
  return shellQuote(word);
}

// ---------------------------------------------------------------------------------------------
// Phases: the steps of `khw up`, as commands a person types

function heredoc(command: string, body: string, delimiter = "EOF"): string {
  let d = delimiter;
  while (body.split("\n").includes(d)) d = `${d}_`;
  return `${command} <<'${d}'\n${body.replace(/\n$/, "")}\n${d}`;
}

/** A heredoc whose body expands shell variables (only for bodies that hold ${VAR}s and no other `$`). */
function heredocExpanding(command: string, body: string): string {
  return `${command} <<EOF\n${body.replace(/\n$/, "")}\nEOF`;
}

/** Where a file of a phase comes from on the admin machine, or `inline` when the guide writes it out. */
export function localSource(ctx: GuideContext, file: ArtifactFile): string | "inline" {
  const base = file.path.split("/").pop()!;
  if (file.phase === "pki") return `${LOCAL.pki}/${base}`;
  // a certificate another phase ships (the load balancer's copy of the CA): the same file from pki/
  const sameCert = ctx.artifacts.files.find((f) => f.phase === "pki" && f.contents === file.contents);
  if (sameCert) return `${LOCAL.pki}/${sameCert.path.split("/").pop()!}`;
  if (file.phase === "encryption") return LOCAL.encryptionConfig;
  if (file.phase === "kubeconfigs") {
    const entry = kubeconfigEntries(ctx.cluster).find(
      (e) => e.def.path === file.path && e.nodes.some((n) => (n?.name ?? ADMIN_HOST) === file.host),
    );
    if (entry) return `${LOCAL.kubeconfigs}/${entry.file}`;
  }
  return "inline";
}

const mode = (m: number) => `0${(m & 0o777).toString(8)}`;

function installBinary(ctx: GuideContext, node: ClusterNode, phase: string, a: BinaryArtifact): string[] {
  const loc = artifactLocation(ctx.cluster, a.path);
  const name = a.path.split("/").pop()!;
  const out: string[] = [];
  if (loc.kind === "url") {
    out.push(`curl -fsSLo ${name} ${loc.url}`);
    if (a.checksum.kind === "digest-file") {
      const sum = artifactLocation(ctx.cluster, a.checksum.path);
      if (sum.kind === "url") out.push(`echo "$(curl -fsSL ${sum.url})  ${name}" | sha256sum -c -`);
    } else {
      const sum = artifactLocation(ctx.cluster, a.checksum.path);
      if (sum.kind === "url")
        out.push(`curl -fsSL ${sum.url} | grep ${shellQuote(` ${a.checksum.name}`)}$ | sha256sum -c -`);
    }
  } else {
    out.push(`cp ${stagedPath(node, phase, name)} . # copied from ${loc.path} on the admin machine`);
  }
  if (a.archive) {
    const members = Object.values(a.archive.members);
    out.push(`tar -xzf ${name} ${members.join(" ")}`);
    for (const [exe, dest] of Object.entries(a.installAs)) {
      const member = a.archive.members[exe] ?? members.find((m) => m.endsWith(`/${exe}`)) ?? exe;
      out.push(`install -D -m 0755 ${member} ${dest}`);
    }
  } else {
    for (const dest of Object.values(a.installAs)) out.push(`install -D -m 0755 ${name} ${dest}`);
  }
  return out;
}

/** What a person does for one phase on one host: what to copy from the admin machine, what to run there. */
export interface HostCommands {
  node: ClusterNode;
  /** Run on the admin machine, from the directory of cluster.yaml; undefined when nothing is copied. */
  fromAdmin?: string;
  /** Run on the host, as root (`sudo -i`). */
  onHost: string;
  /** The files this phase places on the host, with modes. */
  files: ArtifactFile[];
}

/** A manifest as a person applies it: the bootstrap token Secret with its values as shell variables. */
function manifestText(ctx: GuideContext, m: Manifest): string {
  if (!m.secret) return m.contents;
  const addons = addonManifestsFromCluster(ctx.cluster, {
    bootstrapToken: {
      id: PLACEHOLDER.tokenId,
      secret: PLACEHOLDER.tokenSecret,
      expiration: PLACEHOLDER.expiration,
    },
  });
  const a = addons.find((x) => x.file === m.file);
  if (!a) return m.contents;
  const objects = a.objects.map((o) => {
    const s = o as KubeObject & { data?: Record<string, string> };
    if (s.kind !== "Secret" || !s.data) return o;
    const { data, ...rest } = s;
    return {
      ...rest,
      stringData: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, fromBase64(v)])),
    } as KubeObject;
  });
  return withSecretVars(renderObjectsYaml(objects));
}

function stepCommands(ctx: GuideContext, node: ClusterNode, phase: string, step: Step): string[] {
  switch (step.kind) {
    case "facts":
      return [];
    case "upload": {
      const f = step.file;
      const src = localSource(ctx, f);
      if (src === "inline") {
        return [heredoc(`install -D -m ${mode(f.mode)} /dev/stdin ${f.path}`, f.contents)];
      }
      return [
        `install -D -o root -g root -m ${mode(f.mode)} ${stagedPath(node, phase, src.split("/").pop()!)} ${f.path}`,
      ];
    }
    case "install":
      return [`# ${step.artifact.id}`, ...installBinary(ctx, node, phase, step.artifact)];
    case "run": {
      // khw runs each step as a script of its own: in a subshell, its `exit` and `set --` stay its own.
      const body = step.args?.length
        ? `set -- ${step.args.map(shellQuote).join(" ")}\n${step.script}`
        : step.script;
      return [`# ${step.name}`, /\bexit\b|\$[1-9@]/.test(body) ? `(\n${body}\n)` : body];
    }
    case "services": {
      const own = step.services.filter((s) => s.enable).map((s) => s.name);
      const stock = step.services.filter((s) => !s.enable).map((s) => s.name);
      // restart, not `enable --now`: a service that already runs (haproxy after apt-get) must read its new files.
      return [
        "systemctl daemon-reload",
        ...(own.length ? [`systemctl enable ${own.join(" ")}`] : []),
        `systemctl restart ${[...stock, ...own].join(" ")}`,
      ];
    }
    case "wait":
      return [`# check: ${step.name} (repeat until it matches ${String(step.expect)})`, step.script];
    case "apply": {
      const body = manifestText(ctx, step.manifest);
      const apply = `${ADMIN_KUBECTL} apply -f -`;
      return [
        `# ${step.manifest.file}: ${step.manifest.description}`,
        step.manifest.secret ? heredocExpanding(apply, body) : heredoc(apply, body),
      ];
    }
    case "admin-kubeconfig":
      return [];
    case "approve-serving-csrs":
      // khw approves a kubelet serving CSR only when its requestor, subject, usages and SANs are the node's own.
      return [
        "# check each pending kubelet-serving CSR: requestor system:node:<name>, SANs only that node's name and address",
        `${ADMIN_KUBECTL} get csr --field-selector spec.signerName=kubernetes.io/kubelet-serving`,
        `CSR_NAME=csr-xxxxx # one that passed the check above\n${ADMIN_KUBECTL} certificate approve "$CSR_NAME"`,
      ];
  }
}

/** The hosts of a phase and, per host, the commands that do by hand what `khw up --only PHASE` does. */
export function phaseCommands(
  ctx: GuideContext,
  phaseName: PhaseName,
  only: (step: Step) => boolean = () => true,
): HostCommands[] {
  const phase = phaseByName(phaseName);
  if (!phase) return [];
  return phase.hosts(ctx.cluster, ctx.artifacts).flatMap((node) => {
    const steps = phase.steps(ctx.phase, node).filter(only);
    if (steps.every((s) => s.kind === "facts" || s.kind === "admin-kubeconfig")) return [];
    const files = steps.flatMap((s) => (s.kind === "upload" ? [s.file] : []));
    const sources = [...new Set(files.map((f) => localSource(ctx, f)).filter((s) => s !== "inline"))];
    const bundled = steps.flatMap((s) => {
      if (s.kind !== "install") return [];
      const loc = artifactLocation(ctx.cluster, s.artifact.path);
      return loc.kind === "file" ? [loc.path] : [];
    });
    const toCopy = [...sources, ...bundled];
    const dir = stagingDir(phaseName);
    const fromAdmin = toCopy.length
      ? [sshCommand(node, `mkdir -p ${dir}`), scpCommand(node, toCopy, dir)].join("\n")
      : undefined;
    const body = steps.flatMap((s) => stepCommands(ctx, node, phaseName, s));
    if (toCopy.length) body.push(`rm -rf ~${node.ssh.user}/${dir}`);
    const installsBinaries = steps.some((s) => s.kind === "install");
    const onHost = [...(installsBinaries ? ['cd "$(mktemp -d)"'] : []), ...body].join("\n");
    return [{ node, ...(fromAdmin ? { fromAdmin } : {}), onHost, files }];
  });
}

/** The admin machine's own kubeconfig (`khw up --only admin` writes it beside cluster.yaml as admin.kubeconfig). */
export const ADMIN_MACHINE_KUBECONFIG = {
  def: KUBECONFIG_CATALOGUE.find((d) => d.audience === "admin")!,
  file: workdirPaths("").adminKubeconfig,
};

/** Where khw keeps its own secrets on the admin machine (what the guide's shell variables stand for). */
export const KHW_STATE = workdirPaths("");
