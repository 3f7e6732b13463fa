import { API_PORT, type Cluster, ETCD_CLIENT_PORT, ETCD_PEER_PORT, type Role } from "@khw/spec/core";

/** The kubelet's API port (logs, exec, port-forward go from the apiserver to it). */
export const KUBELET_PORT = 10250;
export const CONTAINERD_SOCKET = "unix:///run/containerd/containerd.sock";

export type DiagramRole = Role | "admin";

export interface DiagramComponent {
  /** `<host>/<component>`, unique. */
  id: string;
  name: string;
  host: string;
}

export interface DiagramHost {
  name: string;
  role: DiagramRole;
  /** Absent for the admin machine. */
  address?: string;
  components: DiagramComponent[];
}

/**
 * What kind of connection an edge is: `api` = a client of the Kubernetes API (6443, through the LB
 * when there is one), `lb` = HAProxy forwarding to an apiserver, `etcd` = apiserver → etcd client
 * port, `peer` = etcd ↔ etcd, `kubelet` = apiserver → kubelet, `local` = on the same host.
 */
export type EdgeKind = "api" | "lb" | "etcd" | "peer" | "kubelet" | "local";

export interface DiagramEdge {
  from: string;
  to: string;
  kind: EdgeKind;
  /** What the client dials: `IP:port`, `127.0.0.1:6443` or a unix socket. */
  address: string;
  port?: number;
  /** etcd peers talk both ways. */
  bidirectional: boolean;
  label: string;
}

export interface Topology {
  cluster: string;
  apiURL: string;
  hosts: DiagramHost[];
  edges: DiagramEdge[];
}

const ADMIN = "admin";
const COMPONENTS: Record<DiagramRole, string[]> = {
  admin: ["kubectl"],
  loadbalancer: ["haproxy"],
  controlplane: ["etcd", "kube-scheduler", "kube-controller-manager", "kube-apiserver"],
  worker: ["kubelet", "kube-proxy", "containerd"],
};

const cid = (host: string, component: string) => `${host}/${component}`;

/** Who talks to whom, on which port — derived from the spec alone. */
export function topologyFromCluster(cluster: Cluster): Topology {
  const hosts: DiagramHost[] = [
    { name: ADMIN, role: "admin", components: [] },
    ...cluster.nodes.map((n) => ({ name: n.name, role: n.role, address: n.address, components: [] })),
  ];
  for (const h of hosts) {
    h.components = COMPONENTS[h.role].map((name) => ({ id: cid(h.name, name), name, host: h.name }));
  }
  const edges: DiagramEdge[] = [];
  const apiAddress = `${cluster.api.host}:${cluster.api.port}`;
  const apiTarget = cluster.loadBalancer
    ? cid(cluster.loadBalancer.name, "haproxy")
    : cid(cluster.controlPlanes[0]!.name, "kube-apiserver");
  const api = (from: string) =>
    edges.push({
      from,
      to: apiTarget,
      kind: "api",
      address: apiAddress,
      port: API_PORT,
      bidirectional: false,
      label: apiAddress,
    });

  api(cid(ADMIN, "kubectl"));
  if (cluster.loadBalancer) {
    for (const m of cluster.controlPlanes) {
      edges.push({
        from: apiTarget,
        to: cid(m.name, "kube-apiserver"),
        kind: "lb",
        address: `${m.address}:${API_PORT}`,
        port: API_PORT,
        bidirectional: false,
        label: `${m.address}:${API_PORT}`,
      });
    }
  }
  for (const m of cluster.controlPlanes) {
    for (const c of ["kube-controller-manager", "kube-scheduler"]) {
      edges.push({
        from: cid(m.name, c),
        to: cid(m.name, "kube-apiserver"),
        kind: "local",
        address: `127.0.0.1:${API_PORT}`,
        port: API_PORT,
        bidirectional: false,
        label: `127.0.0.1:${API_PORT}`,
      });
    }
    for (const e of cluster.etcd.members) {
      edges.push({
        from: cid(m.name, "kube-apiserver"),
        to: cid(e.name, "etcd"),
        kind: "etcd",
        address: `${e.address}:${ETCD_CLIENT_PORT}`,
        port: ETCD_CLIENT_PORT,
        bidirectional: false,
        label: `:${ETCD_CLIENT_PORT}`,
      });
    }
  }
  const members = cluster.etcd.members;
  members.forEach((a, i) => {
    for (const b of members.slice(i + 1)) {
      edges.push({
        from: cid(a.name, "etcd"),
        to: cid(b.name, "etcd"),
        kind: "peer",
        address: `${b.address}:${ETCD_PEER_PORT}`,
        port: ETCD_PEER_PORT,
        bidirectional: true,
        label: `:${ETCD_PEER_PORT} peer`,
      });
    }
  });
  for (const w of cluster.workers) {
    api(cid(w.name, "kubelet"));
    api(cid(w.name, "kube-proxy"));
    edges.push({
      from: cid(w.name, "kubelet"),
      to: cid(w.name, "containerd"),
      kind: "local",
      address: CONTAINERD_SOCKET,
      bidirectional: false,
      label: "CRI socket",
    });
  }
  for (const m of cluster.controlPlanes) {
    for (const w of cluster.workers) {
      edges.push({
        from: cid(m.name, "kube-apiserver"),
        to: cid(w.name, "kubelet"),
        kind: "kubelet",
        address: `${w.address}:${KUBELET_PORT}`,
        port: KUBELET_PORT,
        bidirectional: false,
        label: `:${KUBELET_PORT}`,
      });
    }
  }
  return { cluster: cluster.name, apiURL: cluster.api.url, hosts, edges };
}

// ---------------------------------------------------------------------------------------------
// Mermaid

const mid = (id: string) => id.replace(/[^A-Za-z0-9]/g, "_");
const mtext = (s: string) => s.replace(/"/g, "#quot;");

const ROLE_TEXT: Record<DiagramRole, string> = {
  admin: "admin machine",
  loadbalancer: "load balancer",
  controlplane: "control plane + etcd",
  worker: "worker",
};

/** Mermaid flowchart text: one subgraph per host, one arrow per connection. */
export function renderMermaid(t: Topology): string {
  const lines = ["flowchart TB", `  %% khw diagram of cluster ${t.cluster}; API ${t.apiURL}`];
  for (const h of t.hosts) {
    const title = [h.name, ROLE_TEXT[h.role], h.address].filter(Boolean).join(" · ");
    lines.push(`  subgraph ${mid(h.name)}["${mtext(title)}"]`);
    for (const c of h.components) lines.push(`    ${mid(c.id)}["${mtext(c.name)}"]`);
    lines.push("  end");
  }
  for (const e of t.edges) {
    const arrow = e.bidirectional ? "<-->" : e.kind === "local" || e.kind === "kubelet" ? "-.->" : "-->";
    lines.push(`  ${mid(e.from)} ${arrow}|"${mtext(e.label)}"| ${mid(e.to)}`);
  }
  const classes: Record<DiagramRole, string> = {
    admin: "fill:#f3f4f6,stroke:#6b7280",
    loadbalancer: "fill:#fff7ed,stroke:#ea580c",
    controlplane: "fill:#eff6ff,stroke:#2563eb",
    worker: "fill:#f0fdf4,stroke:#16a34a",
  };
  for (const h of t.hosts) lines.push(`  style ${mid(h.name)} ${classes[h.role]}`);
  return `${lines.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------
// SVG

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

const HOST_W = 330;
const COL_GAP = 90;
const ROW_GAP = 120;
const HEADER_H = 46;
const COMP_H = 30;
const PAD = 12;
const MARGIN = 64;
const TITLE_H = 56;

const STYLE: Record<DiagramRole, { fill: string; stroke: string }> = {
  admin: { fill: "#f3f4f6", stroke: "#6b7280" },
  loadbalancer: { fill: "#fff7ed", stroke: "#ea580c" },
  controlplane: { fill: "#eff6ff", stroke: "#2563eb" },
  worker: { fill: "#f0fdf4", stroke: "#16a34a" },
};

const EDGE_STYLE: Record<EdgeKind, { color: string; dash?: string; legend: string }> = {
  api: {
    color: "#2563eb",
    legend: "Kubernetes API client → :6443 (via the load balancer when there is one)",
  },
  lb: { color: "#ea580c", legend: "HAProxy (TCP) → an apiserver :6443" },
  etcd: { color: "#7c3aed", legend: "apiserver → etcd client port :2379 (TLS, client cert)" },
  peer: { color: "#7c3aed", dash: "6 4", legend: "etcd ↔ etcd peers :2380" },
  kubelet: { color: "#0d9488", dash: "2 4", legend: "apiserver → kubelet :10250 (logs, exec, port-forward)" },
  local: { color: "#4b5563", legend: "on the same host (127.0.0.1:6443, containerd socket)" },
};

export function escapeXml(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** Component boxes inside a host box, row by row (a row holds 1 or 2 components). */
function componentRows(role: DiagramRole): string[][] {
  switch (role) {
    case "controlplane":
      return [["etcd"], ["kube-scheduler", "kube-controller-manager"], ["kube-apiserver"]];
    case "worker":
      return [["kubelet", "kube-proxy"], ["containerd"]];
    default:
      return COMPONENTS[role].map((c) => [c]);
  }
}

/** Gap above component row `i`: wider where a labelled local arrow runs between two rows. */
function rowGap(role: DiagramRole, i: number): number {
  if (i === 0) return 0;
  if (role === "controlplane" && i === 2) return 30;
  if (role === "worker" && i === 1) return 26;
  return 10;
}

function rowOffset(role: DiagramRole, i: number): number {
  let y = 0;
  for (let k = 1; k <= i; k++) y += COMP_H + rowGap(role, k);
  return y;
}

function hostHeight(role: DiagramRole): number {
  const rows = componentRows(role).length;
  return HEADER_H + rowOffset(role, rows - 1) + COMP_H + PAD;
}

function r(n: number): string {
  return String(Math.round(n * 10) / 10);
}

/**
 * A self-contained SVG: control planes on top (etcd peers arc above them), the admin machine and
 * the load balancer in the middle, workers below; every connection an arrow labelled with its port.
 */
export function renderSvg(t: Topology): string {
  const byRole = (role: DiagramRole) => t.hosts.filter((h) => h.role === role);
  const masters = byRole("controlplane");
  const workers = byRole("worker");
  const lb = byRole("loadbalancer")[0];
  const admin = byRole("admin")[0]!;
  const cols = Math.max(masters.length, workers.length, 3);
  const innerW = cols * HOST_W + (cols - 1) * COL_GAP;
  const width = innerW + 2 * MARGIN;
  const rowW = (n: number) => n * HOST_W + (n - 1) * COL_GAP;
  const rowX = (n: number, i: number) => MARGIN + (innerW - rowW(n)) / 2 + i * (HOST_W + COL_GAP);

  const hostBox = new Map<string, Box>();
  const peerLift = (dx: number) => 30 + Math.min(Math.abs(dx) * 0.12, 70);
  const peerArc = peerLift((masters.length - 1) * (HOST_W + COL_GAP)) + 10;
  let y = MARGIN + TITLE_H + (masters.length > 1 ? peerArc : 0);
  const mastersH = hostHeight("controlplane");
  for (const [i, h] of masters.entries())
    hostBox.set(h.name, { x: rowX(masters.length, i), y, w: HOST_W, h: mastersH });
  y += mastersH + ROW_GAP;
  const midH = Math.max(hostHeight("admin"), lb ? hostHeight("loadbalancer") : 0);
  // narrower than the others, so the kubectl → API arrow has room for its label
  hostBox.set(admin.name, { x: MARGIN, y, w: HOST_W - 110, h: hostHeight("admin") });
  if (lb)
    hostBox.set(lb.name, { x: MARGIN + (innerW - HOST_W) / 2, y, w: HOST_W, h: hostHeight("loadbalancer") });
  y += midH;
  if (workers.length > 0) {
    y += ROW_GAP;
    const wh = hostHeight("worker");
    for (const [i, h] of workers.entries())
      hostBox.set(h.name, { x: rowX(workers.length, i), y, w: HOST_W, h: wh });
    y += wh;
  }
  const legendTop = y + 40;
  const legendKinds = (Object.keys(EDGE_STYLE) as EdgeKind[]).filter((k) =>
    t.edges.some((e) => e.kind === k),
  );
  const height = legendTop + legendKinds.length * 20 + MARGIN;

  const compBox = new Map<string, Box>();
  for (const h of t.hosts) {
    const b = hostBox.get(h.name);
    if (!b) continue;
    componentRows(h.role).forEach((row, ri) => {
      const cy = b.y + HEADER_H + rowOffset(h.role, ri);
      const cw = (b.w - 2 * PAD - (row.length - 1) * 10) / row.length;
      row.forEach((name, ci) => {
        compBox.set(cid(h.name, name), { x: b.x + PAD + ci * (cw + 10), y: cy, w: cw, h: COMP_H });
      });
    });
  }

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${r(width)}" height="${r(height)}" viewBox="0 0 ${r(width)} ${r(height)}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
  );
  out.push(`<title>${escapeXml(`Cluster ${t.cluster}: hosts, components and connections`)}</title>`);
  out.push("<defs>");
  for (const [kind, s] of Object.entries(EDGE_STYLE)) {
    out.push(
      `<marker id="arrow-${kind}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${s.color}"/></marker>`,
    );
  }
  out.push("</defs>");
  out.push(`<rect x="0" y="0" width="${r(width)}" height="${r(height)}" fill="#ffffff"/>`);
  out.push(
    `<text x="${MARGIN}" y="${MARGIN + 8}" font-size="20" font-weight="bold" fill="#111827">${escapeXml(`Cluster ${t.cluster}`)}</text>`,
  );
  out.push(
    `<text x="${MARGIN}" y="${MARGIN + 32}" font-size="13" fill="#374151">${escapeXml(`API ${t.apiURL} · ${masters.length} control plane(s) with stacked etcd · ${workers.length} worker(s)${lb ? " · 1 load balancer" : ""}`)}</text>`,
  );

  // Edges first, so the boxes sit on top of the lines; labels last, on top of everything.
  const labels: string[] = [];
  const label = (x: number, y: number, text: string, color: string) => {
    const w = text.length * 6.6 + 8;
    labels.push(
      `<g class="edge-label"><rect x="${r(x - w / 2)}" y="${r(y - 9)}" width="${r(w)}" height="16" rx="3" fill="#ffffff" fill-opacity="0.92" stroke="${color}" stroke-width="0.6"/><text x="${r(x)}" y="${r(y + 3)}" font-size="11" text-anchor="middle" fill="${color}">${escapeXml(text)}</text></g>`,
    );
  };
  const line = (e: DiagramEdge, d: string) => {
    const s = EDGE_STYLE[e.kind];
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : "";
    const start = e.bidirectional ? ` marker-start="url(#arrow-${e.kind})"` : "";
    out.push(
      `<path class="edge edge-${e.kind}" data-from="${escapeXml(e.from)}" data-to="${escapeXml(e.to)}" d="${d}" fill="none" stroke="${s.color}" stroke-width="1.4"${dash}${start} marker-end="url(#arrow-${e.kind})"/>`,
    );
  };
  const localLabels = new Set<string>();
  for (const e of t.edges) {
    const a = compBox.get(e.from);
    const b = compBox.get(e.to);
    if (!a || !b) continue;
    const color = EDGE_STYLE[e.kind].color;
    const sameHost = e.from.split("/")[0] === e.to.split("/")[0];
    if (sameHost) {
      const hb = hostBox.get(e.from.split("/")[0]!)!;
      if (e.kind === "etcd") {
        // apiserver (bottom row) → its own etcd (top row): around the outer side of the host box
        const left = hb.x + hb.w / 2 <= width / 2;
        const x0 = left ? hb.x : hb.x + hb.w;
        const dx = left ? -34 : 34;
        const xa = left ? a.x : a.x + a.w;
        const xb = left ? b.x : b.x + b.w;
        const y1 = a.y + a.h / 2;
        const y2 = b.y + b.h / 2;
        line(e, `M${r(xa)},${r(y1)} C${r(x0 + dx)},${r(y1)} ${r(x0 + dx)},${r(y2)} ${r(xb)},${r(y2)}`);
        label(x0 + dx * 0.75, (y1 + y2) / 2, e.label, color);
      } else if (a.y + a.h <= b.y || b.y + b.h <= a.y) {
        const x = Math.max(a.x, b.x) + (Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x)) / 2;
        const down = a.y < b.y;
        const y1 = down ? a.y + a.h : a.y;
        const y2 = down ? b.y : b.y + b.h;
        line(e, `M${r(x)},${r(y1)} L${r(x)},${r(y2)}`);
        const key = `${hb.x},${y1}`;
        if (!localLabels.has(key)) {
          localLabels.add(key);
          // the two loopback arrows of a control plane share one label, centred between them
          const lx = e.label === "CRI socket" ? x + 44 : hb.x + hb.w / 2;
          label(lx, (y1 + y2) / 2, e.label, color);
        }
      }
      continue;
    }
    if (e.kind === "peer") {
      const x1 = a.x + a.w / 2;
      const x2 = b.x + b.w / 2;
      const y0 = a.y;
      const lift = peerLift(x2 - x1);
      line(e, `M${r(x1)},${r(y0)} C${r(x1)},${r(y0 - lift)} ${r(x2)},${r(y0 - lift)} ${r(x2)},${r(y0)}`);
      label((x1 + x2) / 2, y0 - lift * 0.75, e.label, color);
      continue;
    }
    if (Math.abs(a.y - b.y) < 1e-6 || (a.y < b.y + b.h && b.y < a.y + a.h)) {
      // side by side (admin → LB)
      const right = a.x < b.x;
      const x1 = right ? a.x + a.w : a.x;
      const x2 = right ? b.x : b.x + b.w;
      const y1 = a.y + a.h / 2;
      const y2 = b.y + b.h / 2;
      line(e, `M${r(x1)},${r(y1)} L${r(x2)},${r(y2)}`);
      label((x1 + x2) / 2, (y1 + y2) / 2 - 12, e.label, color);
      continue;
    }
    if (e.kind === "etcd") {
      // apiserver (bottom of a master box) → etcd (top of a master box): leave on the side
      const own = a.x === b.x || Math.abs(a.x - b.x) < HOST_W / 2;
      const hostA = hostBox.get(e.from.split("/")[0]!)!;
      const x1 = own ? hostA.x + hostA.w : a.x + (b.x > a.x ? a.w : 0);
      const y1 = a.y + a.h / 2;
      const x2 = own ? hostA.x + hostA.w : b.x + (b.x > a.x ? 0 : b.w);
      const y2 = b.y + b.h / 2;
      if (own) {
        line(
          e,
          `M${r(a.x + a.w)},${r(y1)} C${r(x1 + 28)},${r(y1)} ${r(x2 + 28)},${r(y2)} ${r(b.x + b.w)},${r(y2)}`,
        );
        label(x1 + 18, (y1 + y2) / 2, e.label, color);
      } else {
        line(e, `M${r(x1)},${r(y1)} L${r(x2)},${r(y2)}`);
        label(x1 + (x2 - x1) * 0.3, y1 + (y2 - y1) * 0.3, e.label, color);
      }
      continue;
    }
    const down = a.y < b.y;
    const x1 = a.x + a.w / 2;
    const y1 = down ? a.y + a.h : a.y;
    const x2 = b.x + b.w / 2;
    const y2 = down ? b.y : b.y + b.h;
    const curve = `M${r(x1)},${r(y1)} C${r(x1)},${r(y1 + (down ? 50 : -50))} ${r(x2)},${r(y2 + (down ? -50 : 50))} ${r(x2)},${r(y2)}`;
    line(e, curve);
    if (e.kind === "kubelet") continue; // one port for all of them: the legend says it
    const tt = e.kind === "api" ? 0.3 : 0.5;
    const lx = bezier(x1, x1, x2, x2, tt);
    const ly = bezier(y1, y1 + (down ? 50 : -50), y2 + (down ? -50 : 50), y2, tt);
    label(lx, ly, e.kind === "api" && !e.from.startsWith(`${ADMIN}/`) ? `:${e.port}` : e.label, color);
  }

  for (const h of t.hosts) {
    const b = hostBox.get(h.name);
    if (!b) continue;
    const s = STYLE[h.role];
    out.push(`<g class="host host-${h.role}" id="host-${escapeXml(h.name)}">`);
    out.push(
      `<rect x="${r(b.x)}" y="${r(b.y)}" width="${r(b.w)}" height="${r(b.h)}" rx="8" fill="${s.fill}" stroke="${s.stroke}" stroke-width="1.6"/>`,
    );
    out.push(
      `<text x="${r(b.x + PAD)}" y="${r(b.y + 20)}" font-size="14" font-weight="bold" fill="#111827">${escapeXml(h.name)}</text>`,
    );
    out.push(
      `<text x="${r(b.x + PAD)}" y="${r(b.y + 37)}" font-size="11" fill="#374151">${escapeXml([ROLE_TEXT[h.role], h.address].filter(Boolean).join(" · "))}</text>`,
    );
    for (const c of h.components) {
      const cb = compBox.get(c.id)!;
      out.push(
        `<g class="component" id="${escapeXml(c.id)}"><rect x="${r(cb.x)}" y="${r(cb.y)}" width="${r(cb.w)}" height="${r(cb.h)}" rx="4" fill="#ffffff" stroke="${s.stroke}"/><text x="${r(cb.x + cb.w / 2)}" y="${r(cb.y + 19)}" font-size="11.5" text-anchor="middle" fill="#111827">${escapeXml(c.name)}</text></g>`,
      );
    }
    out.push("</g>");
  }
  out.push(...labels);

  legendKinds.forEach((k, i) => {
    const s = EDGE_STYLE[k];
    const ly = legendTop + i * 20;
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : "";
    out.push(
      `<line x1="${MARGIN}" y1="${ly}" x2="${MARGIN + 40}" y2="${ly}" stroke="${s.color}" stroke-width="1.4"${dash} marker-end="url(#arrow-${k})"/>`,
    );
    out.push(
      `<text x="${MARGIN + 52}" y="${ly + 4}" font-size="12" fill="#374151">${escapeXml(s.legend)}</text>`,
    );
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

function bezier(p0: number, p1: number, p2: number, p3: number, t: number): number {
  const u = 1 - t;
  return u * u * u * p0 + 3 * u * u * t * p1 + 3 * u * t * t * p2 + t * t * t * p3;
}
