// The HTML guide in a real headless Chromium (Debian's `chromium`), driven over the DevTools protocol
// on 127.0.0.1: at desktop (1280 px) and phone (390 px) widths, light and dark, no element sticks out
// of the viewport (code blocks, tables and diagrams scroll inside themselves), every internal #link
// resolves, nothing is loaded from anywhere, the copy buttons work. Screenshots go to a temp dir
// (or $KHW_GUIDE_SHOTS, kept, to look at). Chromium is stopped by PID in afterAll.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultClusterSpecInput, loadCluster, parseClusterYaml } from "@khw/spec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { renderGuideFiles } from "../src/commands/guide";
import { UNUSUAL_SPEC } from "./golden/fixtures";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find(
  (p) => spawnSync(p, ["--version"], { encoding: "utf8" }).status === 0,
);
if (!CHROMIUM && process.env["CI"]) {
  throw new Error(
    "chromium is missing (CI=true): install the Debian package chromium (.ci/apt-packages.txt)",
  );
}

/** A minimal DevTools protocol client: one browser connection, flat sessions. */
class Cdp {
  private id = 0;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private listeners: Array<(m: { method: string; params: unknown; sessionId?: string }) => void> = [];
  constructor(private ws: WebSocket) {
    ws.on("message", (data) => {
      const m = JSON.parse(String(data));
      if (m.id !== undefined) {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error) p?.reject(new Error(`${m.error.message} (${m.error.code})`));
        else p?.resolve(m.result);
      } else for (const l of this.listeners) l(m);
    });
  }
  static async connect(url: string): Promise<Cdp> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return new Cdp(ws);
  }
  send<T = Record<string, unknown>>(method: string, params: object = {}, sessionId?: string): Promise<T> {
    const id = ++this.id;
    this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      setTimeout(() => reject(new Error(`${method}: no answer in 30 s`)), 30_000).unref();
    });
  }
  once(method: string, sessionId: string): Promise<unknown> {
    return new Promise((resolve) => {
      const l = (m: { method: string; params: unknown; sessionId?: string }) => {
        if (m.method === method && m.sessionId === sessionId) {
          this.listeners = this.listeners.filter((x) => x !== l);
          resolve(m.params);
        }
      };
      this.listeners.push(l);
    });
  }
  close(): void {
    this.ws.close();
  }
}

let browser: ChildProcess | undefined;
let cdp: Cdp | undefined;
let profile = "";
let pages = "";
const keepShots = process.env["KHW_GUIDE_SHOTS"];
const shots = keepShots ?? mkdtempSync(join(tmpdir(), "khw-guide-shots-"));

beforeAll(async () => {
  if (!CHROMIUM) return;
  profile = mkdtempSync(join(tmpdir(), "khw-chromium-"));
  pages = mkdtempSync(join(tmpdir(), "khw-guide-html-"));
  mkdirSync(shots, { recursive: true });
  browser = spawn(
    CHROMIUM,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--no-default-browser-check",
      "--disable-extensions",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--hide-scrollbars",
      "--remote-debugging-address=127.0.0.1",
      "--remote-debugging-port=0",
      `--user-data-dir=${profile}`,
      "about:blank",
    ],
    // its own process group: the renderer and utility processes are stopped with it (they write into the profile)
    { stdio: ["ignore", "ignore", "pipe"], detached: true },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let err = "";
    const timer = setTimeout(() => reject(new Error(`chromium did not start in 60 s:\n${err}`)), 60_000);
    browser!.stderr!.on("data", (d) => {
      err += String(d);
      const m = /DevTools listening on (ws:\/\/127\.0\.0\.1:\d+\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    browser!.once("exit", (code) => reject(new Error(`chromium exited (${code}):\n${err}`)));
  });
  cdp = await Cdp.connect(url);
}, 90_000);

afterAll(async () => {
  cdp?.close();
  if (browser?.pid && browser.exitCode === null) {
    const exited = new Promise((r) => browser!.once("exit", r));
    const group = (sig: NodeJS.Signals) => {
      try {
        process.kill(-browser!.pid!, sig);
      } catch {}
    };
    group("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    group("SIGKILL");
  }
  // a child that outlived the group kill for a moment may still add a file: retry on ENOTEMPTY/EBUSY
  if (profile) rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  if (pages) rmSync(pages, { recursive: true, force: true });
  if (!keepShots) rmSync(shots, { recursive: true, force: true });
});

interface PageReport {
  vw: number;
  docScrollWidth: number;
  overflowing: string[];
  links: number;
  broken: string[];
  external: string[];
  codeBlocks: number;
  copyButtons: number;
  background: string;
  scrollingCode: number;
}

// Runs in the page: every element's right edge within the viewport, clipped by its nearest scrolling ancestor.
const CHECK = `(() => {
  const vw = document.documentElement.clientWidth;
  const clipOf = (el) => { for (let p = el.parentElement; p; p = p.parentElement) { const o = getComputedStyle(p).overflowX; if (o === "auto" || o === "scroll" || o === "hidden") return p; } return null; };
  const overflowing = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    const clip = clipOf(el);
    const right = clip ? Math.min(r.right, clip.getBoundingClientRect().right) : r.right;
    if (right > vw + 0.5 || r.left < -0.5) overflowing.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + "." + (el.getAttribute("class") || "") + " right=" + Math.round(r.right));
  }
  const ids = [...document.querySelectorAll('a[href^="#"]')].map((a) => decodeURIComponent(a.getAttribute("href").slice(1)));
  return {
    vw, docScrollWidth: document.documentElement.scrollWidth, overflowing,
    links: ids.length, broken: ids.filter((id) => !document.getElementById(id)),
    external: [...document.querySelectorAll("[src], link[href], [srcset]")].map((e) => e.outerHTML.slice(0, 120)),
    codeBlocks: document.querySelectorAll(".code pre").length,
    copyButtons: document.querySelectorAll(".code button.copy").length,
    background: getComputedStyle(document.body).backgroundColor,
    scrollingCode: [...document.querySelectorAll(".code pre")].filter((p) => p.scrollWidth > p.clientWidth).length,
  };
})()`;

async function openAt(
  file: string,
  width: number,
  dark: boolean,
): Promise<{ session: string; report: PageReport }> {
  const { targetId } = await cdp!.send<{ targetId: string }>("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await cdp!.send<{ sessionId: string }>("Target.attachToTarget", {
    targetId,
    flatten: true,
  });
  await cdp!.send("Page.enable", {}, sessionId);
  await cdp!.send(
    "Emulation.setDeviceMetricsOverride",
    { width, height: 900, deviceScaleFactor: 1, mobile: width < 600 },
    sessionId,
  );
  await cdp!.send(
    "Emulation.setEmulatedMedia",
    { features: [{ name: "prefers-color-scheme", value: dark ? "dark" : "light" }] },
    sessionId,
  );
  const loaded = cdp!.once("Page.loadEventFired", sessionId);
  await cdp!.send("Page.navigate", { url: `file://${file}` }, sessionId);
  await loaded;
  const report = await evaluate<PageReport>(sessionId, CHECK);
  return { session: sessionId, report };
}

async function evaluate<T>(sessionId: string, expression: string): Promise<T> {
  const r = await cdp!.send<{ result: { value: T }; exceptionDetails?: unknown }>(
    "Runtime.evaluate",
    { expression, returnByValue: true, awaitPromise: true },
    sessionId,
  );
  if (r.exceptionDetails) throw new Error(`in the page: ${JSON.stringify(r.exceptionDetails)}`);
  return r.result.value;
}

async function screenshot(sessionId: string, name: string): Promise<Buffer> {
  const { data } = await cdp!.send<{ data: string }>("Page.captureScreenshot", { format: "png" }, sessionId);
  const png = Buffer.from(data, "base64");
  writeFileSync(join(shots, name), png);
  return png;
}

const pngWidth = (png: Buffer) => png.readUInt32BE(16);

const SPECS = {
  default: undefined,
  unusual: UNUSUAL_SPEC,
} as const;

describe.skipIf(!CHROMIUM)("the HTML guide in headless Chromium", () => {
  for (const [name, spec] of Object.entries(SPECS)) {
    for (const [label, width, dark] of [
      ["desktop", 1280, false],
      ["phone", 390, false],
      ["phone-dark", 390, true],
    ] as const) {
      it(`${name}, ${label} (${width} px): nothing overflows, every #link resolves, nothing external, copy works`, async () => {
        const cluster = (spec ? parseClusterYaml(spec) : loadCluster(defaultClusterSpecInput())).cluster;
        const file = join(pages, `${name}.html`);
        writeFileSync(file, renderGuideFiles(cluster).get("index.html")!);
        const { session, report } = await openAt(file, width, dark);
        expect(report.vw).toBe(width);
        expect(report.overflowing).toEqual([]);
        expect(report.docScrollWidth).toBeLessThanOrEqual(width);
        expect(report.broken).toEqual([]);
        expect(report.links).toBeGreaterThan(50);
        expect(report.external).toEqual([]);
        expect(report.codeBlocks).toBeGreaterThan(20);
        expect(report.copyButtons).toBe(report.codeBlocks);
        // On a phone the long commands scroll inside their blocks (that is what keeps the page narrow).
        if (width < 600) expect(report.scrollingCode).toBeGreaterThan(5);
        expect(report.background).toBe(dark ? "rgb(21, 23, 26)" : "rgb(253, 253, 252)");
        const top = await screenshot(session, `${name}-${label}-top.png`);
        expect(pngWidth(top)).toBe(width);
        await evaluate(session, `document.getElementById("certificate-authority-by-hand").scrollIntoView()`);
        await screenshot(session, `${name}-${label}-certificates.png`);
        await evaluate(session, `document.getElementById("prerequisites-what").scrollIntoView()`);
        await screenshot(session, `${name}-${label}-topology.png`);
        const copied = await evaluate<string>(
          session,
          `new Promise((r) => { const b = document.querySelector(".code button.copy"); b.click(); setTimeout(() => r(b.textContent), 100); })`,
        );
        expect(copied).toBe("Copied");
        await cdp!.send("Target.closeTarget", { targetId: await targetOf(session) });
      }, 120_000);
    }
  }
});

async function targetOf(sessionId: string): Promise<string> {
  const { targetInfos } = await cdp!.send<{
    targetInfos: Array<{ targetId: string; type: string; url: string }>;
  }>("Target.getTargets");
  void sessionId;
  return targetInfos.filter((t) => t.type === "page" && t.url.startsWith("file://")).at(-1)!.targetId;
}
