import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** CRC-32 (IEEE), for the zip writer. */
function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** A zip archive with stored (uncompressed) entries: what a module proxy serves as `<v>.zip`. */
export function storedZip(files: Record<string, string>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const data = Buffer.from(text);
    const nameBuf = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    locals.push(local, nameBuf, data);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, nameBuf);
    offset += 30 + nameBuf.length + data.length;
  }
  const centralDir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(centralDir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, centralDir, end]);
}

/** Writes one module version into a GOPROXY=file:// tree. Paths must be lower case (no case-encoding here). */
export async function addModule(
  proxy: string,
  path: string,
  version: string,
  files: Record<string, string>,
): Promise<void> {
  const dir = join(proxy, path, "@v");
  await mkdir(dir, { recursive: true });
  const goMod = files["go.mod"];
  if (goMod === undefined) throw new Error(`module ${path} needs a go.mod`);
  const zipped: Record<string, string> = {};
  for (const [name, text] of Object.entries(files)) zipped[`${path}@${version}/${name}`] = text;
  await writeFile(join(dir, `${version}.mod`), goMod);
  await writeFile(
    join(dir, `${version}.info`),
    JSON.stringify({ Version: version, Time: "2026-02-10T12:53:36Z" }),
  );
  await writeFile(join(dir, `${version}.zip`), storedZip(zipped));
  await writeFile(join(dir, "list"), `${version}\n`);
}

const versionPackage = `package version

var (
\tgitMajor     = ""
\tgitMinor     = ""
\tgitVersion   = "v0.0.0-master+$Format:%H$"
\tgitTreeState = ""
\tbuildDate    = "1970-01-01T00:00:00Z"
)

func Get() string { return gitVersion }
`;

function kubeMain(kind: "server" | "kubectl"): string {
  if (kind === "kubectl") {
    return `package main

import (
\t"fmt"
\t"os"

\t"k8s.io/client-go/pkg/version"
)

func main() {
\tif len(os.Args) > 2 && os.Args[1] == "version" && os.Args[2] == "--client" {
\t\tfmt.Println("Client Version: " + version.Get())
\t\treturn
\t}
\tos.Exit(1)
}
`;
  }
  return `package main

import (
\t"fmt"
\t"os"

\t"k8s.io/component-base/version"
)

func main() {
\tif len(os.Args) > 1 && os.Args[1] == "--version" {
\t\tfmt.Println("Kubernetes " + version.Get())
\t\treturn
\t}
\tos.Exit(1)
}
`;
}

function etcdMain(line: string): string {
  return `package main

import "fmt"

func main() { fmt.Println("${line}") }
`;
}

/**
 * A fake module proxy with the shape of the real one: k8s.io/kubernetes (requiring its staging modules
 * as v0.0.0 with `=> ./staging/...` replaces), the staging modules k8s.io/component-base and
 * k8s.io/client-go at v0.<minor>.<patch>, and the three etcd modules. Tiny, so Go builds it in seconds.
 */
export async function writeFakeGoProxy(
  proxy: string,
  kubernetesVersion: string,
  etcdVersion: string,
): Promise<void> {
  const staging = kubernetesVersion.replace(/^v1\./, "v0.");
  await addModule(proxy, "k8s.io/component-base", staging, {
    "go.mod": "module k8s.io/component-base\n\ngo 1.22\n",
    "version/base.go": versionPackage,
  });
  await addModule(proxy, "k8s.io/client-go", staging, {
    "go.mod": "module k8s.io/client-go\n\ngo 1.22\n",
    "pkg/version/base.go": versionPackage,
  });
  const kubeFiles: Record<string, string> = {
    "go.mod": `// generated
module k8s.io/kubernetes

go 1.22.0

godebug default=go1.22

require (
\tk8s.io/client-go v0.0.0
\tk8s.io/component-base v0.0.0
)

replace (
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
\tk8s.io/component-base => ./staging/src/k8s.io/component-base
\tk8s.io/kubelet => ./staging/src/k8s.io/kubelet
)
`,
  };
  for (const name of [
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
  ]) {
    kubeFiles[`cmd/${name}/main.go`] = kubeMain("server");
  }
  kubeFiles["cmd/kubectl/main.go"] = kubeMain("kubectl");
  await addModule(proxy, "k8s.io/kubernetes", kubernetesVersion, kubeFiles);
  const ev = etcdVersion.slice(1);
  await addModule(proxy, "go.etcd.io/etcd/server/v3", etcdVersion, {
    "go.mod": "module go.etcd.io/etcd/server/v3\n\ngo 1.22\n",
    "main.go": etcdMain(`etcd Version: ${ev}`),
  });
  await addModule(proxy, "go.etcd.io/etcd/etcdctl/v3", etcdVersion, {
    "go.mod": "module go.etcd.io/etcd/etcdctl/v3\n\ngo 1.22\n",
    "main.go": etcdMain(`etcdctl version: ${ev}`),
  });
  await addModule(proxy, "go.etcd.io/etcd/etcdutl/v3", etcdVersion, {
    "go.mod": "module go.etcd.io/etcd/etcdutl/v3\n\ngo 1.22\n",
    "main.go": etcdMain(`etcdutl version: ${ev}`),
  });
}
