import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LAB_RUNC_WRAPPER, LAB_RUNC_WRAPPER_PATH } from "@khw/images";
import { afterAll, describe, expect, it } from "vitest";
import { BASE_RECIPE, baseRecipeHash, debianSources } from "./base-image";

describe("base image recipe", () => {
  it("has a stable hash that changes with the package list or the recipe", () => {
    expect(baseRecipeHash()).toBe(baseRecipeHash({ ...BASE_RECIPE }));
    expect(baseRecipeHash({ ...BASE_RECIPE, packages: [...BASE_RECIPE.packages, "vim"] })).not.toBe(
      baseRecipeHash(),
    );
    expect(baseRecipeHash({ ...BASE_RECIPE, customize: `${BASE_RECIPE.customize}true\n` })).not.toBe(
      baseRecipeHash(),
    );
  });

  it("removes the packaged daemons' wants-links and the inherited identity", () => {
    for (const needle of [
      "containerd.service",
      "haproxy.service",
      "ssh-keygen -A",
      "/etc/machine-id",
      "nameserver 127.0.0.1",
    ]) {
      expect(BASE_RECIPE.customize).toContain(needle);
    }
  });
});

describe("base image: lab-only containerd pieces", () => {
  it("puts containerd's store on a tmpfs and installs the runc wrapper verbatim; the script parses", () => {
    const script = BASE_RECIPE.customize;
    expect(script).toContain("Where=/var/lib/containerd");
    expect(script).toContain("Type=tmpfs");
    expect(script).toContain("local-fs.target.wants/var-lib-containerd.mount");
    // Mounted again whenever containerd starts (after khw reset unmounted it).
    expect(script).toContain("RequiresMountsFor=/var/lib/containerd");
    expect(script).toContain("containerd.service.d/khw-lab-store.conf");
    const m = /cat > "\$R(\S+)" <<'SCRIPT'\n([\s\S]*?)SCRIPT\nchmod 0755 "\$R\1"/.exec(
      script.slice(script.indexOf("var-lib-containerd.mount")),
    );
    expect(m?.[1]).toBe(LAB_RUNC_WRAPPER_PATH);
    expect(m?.[2]).toBe(LAB_RUNC_WRAPPER);
    execFileSync("sh", ["-n", "-c", script]);
  });
});

describe("debianSources", () => {
  const dirs: string[] = [];
  const tempApt = () => {
    const dir = mkdtempSync(join(tmpdir(), "khw-apt-"));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("takes the machine's deb822 and one-line sources for the suite only", () => {
    const apt = tempApt();
    mkdirSync(join(apt, "sources.list.d"));
    writeFileSync(
      join(apt, "sources.list.d", "debian.sources"),
      [
        "Types: deb",
        "URIs: http://mirror.example/debian",
        "Suites: bookworm bookworm-updates",
        "Components: main",
        "",
        "Types: deb-src",
        "URIs: http://mirror.example/debian",
        "Suites: bookworm",
        "Components: main",
        "",
        "Types: deb",
        "URIs: http://other.example/trixie",
        "Suites: trixie",
        "Components: main",
      ].join("\n"),
    );
    writeFileSync(
      join(apt, "sources.list.d", "extra.list"),
      "deb [signed-by=/x.gpg] http://sec.example/debian-security bookworm-security main # c\ndeb https://nodesource.example nodistro main\n",
    );
    expect(debianSources("bookworm", apt)).toEqual([
      "deb http://mirror.example/debian bookworm main",
      "deb http://mirror.example/debian bookworm-updates main",
      "deb http://sec.example/debian-security bookworm-security main",
    ]);
  });

  it("falls back to Debian's own mirrors", () => {
    const apt = tempApt();
    expect(debianSources("bookworm", apt)[0]).toBe("deb http://deb.debian.org/debian bookworm main");
  });
});
