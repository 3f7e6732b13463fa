import { COREDNS_IMAGE_REPOSITORY } from "@khw/addons";

export type LabImageName = "pause" | "nginx" | "busybox" | "coredns" | "flannel";

/** One image the lab imports into containerd on its workers (tagged as khw's manifests and containerd expect). */
export interface LabImage {
  name: LabImageName;
  /** The reference it is tagged with (what the pod specs / containerd's sandbox setting name). */
  ref: string;
  /** File name of its docker-archive tarball in the output directory. */
  file: string;
  /** What it really is (it is never the upstream image of that name). */
  description: string;
}

export interface LabImageVersions {
  /** Tag of the sandbox image; containerd 2.1's default `sandbox` is registry.k8s.io/pause:3.10. */
  pauseTag: string;
  /** k8s.io/kubernetes module version whose build/pause/linux/pause.c is compiled. */
  kubernetes: string;
  /** CoreDNS version (github.com/coredns/coredns@v<version>), as in the spec's versions.coredns. */
  coredns: string;
  /** Flannel version (github.com/flannel-io/flannel@<version>): flanneld and install-conf. */
  flannel: string;
  /** nginx's upstream version in Debian's nginx package (the build checks the archive's candidate has it). */
  nginx: string;
  /** BusyBox's upstream version in Debian's busybox-static package (checked likewise). */
  busybox: string;
}

export const DEFAULT_LAB_IMAGE_VERSIONS: LabImageVersions = {
  pauseTag: "3.10",
  kubernetes: "v1.34.4",
  coredns: "1.11.3",
  flannel: "v0.28.10",
  nginx: "1.22.1",
  busybox: "1.35.0",
};

/** Where the lab's own images are tagged: never a registry's name, so nobody mistakes them for upstream's. */
export const LAB_IMAGE_REGISTRY = "khw.lab";

/** The Debian packages of the flannel image: iptables (which flanneld runs) and the libraries it links. */
export const FLANNEL_DEBS = [
  "iptables",
  "libip4tc2",
  "libip6tc2",
  "libxtables12",
  "libnftnl11",
  "libmnl0",
  "libnetfilter-conntrack3",
  "libnfnetlink0",
  "libc6",
  "libgcc-s1",
  "netbase",
] as const;

/** nginx-light (since bookworm a metapackage: nginx + the echo module) and the libraries nginx links. */
export const NGINX_DEBS = [
  "nginx-light",
  "nginx",
  "nginx-common",
  "libnginx-mod-http-echo",
  "libc6",
  "libgcc-s1",
  "libcrypt1",
  "libpcre2-8-0",
  "libssl3",
  "zlib1g",
] as const;

export const BUSYBOX_DEBS = ["busybox-static"] as const;

const fileName = (ref: string) =>
  `${ref
    .replace(/^[^/]+\//, "")
    .replace(/[/:]/g, "_")
    .replace(/^library_/, "")}.tar`;

/** The lab's images for a version set: names, references (tags) and tarball names. */
export function labImages(versions: LabImageVersions = DEFAULT_LAB_IMAGE_VERSIONS): LabImage[] {
  const pause = `registry.k8s.io/pause:${versions.pauseTag}`;
  const coredns = `${COREDNS_IMAGE_REPOSITORY}:v${versions.coredns}`;
  const flannel = `${LAB_IMAGE_REGISTRY}/flannel:${versions.flannel}`;
  const nginx = `${LAB_IMAGE_REGISTRY}/nginx:${versions.nginx}`;
  const busybox = `${LAB_IMAGE_REGISTRY}/busybox:${versions.busybox}`;
  return [
    {
      name: "pause",
      ref: pause,
      file: fileName(pause),
      description: `the pod sandbox: pause.c of k8s.io/kubernetes@${versions.kubernetes}, compiled statically with gcc`,
    },
    {
      name: "nginx",
      ref: nginx,
      file: fileName(nginx),
      description: `Debian's nginx-light (nginx ${versions.nginx}) and its libraries, the Debian default site on :80, logs to stdout/stderr`,
    },
    {
      name: "busybox",
      ref: busybox,
      file: fileName(busybox),
      description: `Debian's busybox-static (BusyBox ${versions.busybox}) with every applet linked (sh, wget, nslookup …)`,
    },
    {
      name: "coredns",
      ref: coredns,
      file: fileName(coredns),
      description: `CoreDNS built from github.com/coredns/coredns@v${versions.coredns} (CGO_ENABLED=0), entrypoint /coredns`,
    },
    {
      name: "flannel",
      ref: flannel,
      file: fileName(flannel),
      description: `/opt/bin/flanneld and /opt/bin/install-conf built from github.com/flannel-io/flannel@${versions.flannel} (CGO_ENABLED=0; without the udp backend, which needs cgo, and tencentvpc, whose SDK the Go module proxy refuses), with Debian's iptables (nft backend, as on the lab's hosts)`,
    },
  ];
}
