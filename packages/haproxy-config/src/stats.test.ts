import { describe, expect, it } from "vitest";
import { HaproxyConfigError } from "./errors";
import { apiBackendHealth, parseHaproxyStats } from "./stats";

// The shape of HAProxy 2.6's CSV (first columns and the ones read), as `/stats;csv` serves it.
const CSV = [
  "# pxname,svname,qcur,qmax,scur,smax,slim,stot,status,lastchg,check_status,",
  "kubernetes,FRONTEND,,,0,3,4096,42,OPEN,,,",
  "kubernetes-control-planes,master-1,0,0,0,2,,20,UP,120,L4OK,",
  "kubernetes-control-planes,master-2,0,0,0,2,,22,DOWN,3,L4CON,",
  "kubernetes-control-planes,master-3,0,0,0,1,,5,UP 1/3,50,L4CON,",
  "kubernetes-control-planes,BACKEND,0,0,0,3,410,47,UP,120,,",
  "stats,FRONTEND,,,1,1,4096,9,OPEN,,,",
  "",
].join("\n");

describe("parseHaproxyStats / apiBackendHealth", () => {
  it("reads every row by column name", () => {
    const rows = parseHaproxyStats(CSV);
    expect(rows).toHaveLength(6);
    expect(rows[2]).toMatchObject({
      proxy: "kubernetes-control-planes",
      name: "master-2",
      status: "DOWN",
      checkStatus: "L4CON",
      lastChange: 3,
      sessions: 22,
    });
    expect(rows[0]!.lastChange).toBeUndefined();
  });

  it("says which control planes take traffic and which are out", () => {
    const h = apiBackendHealth(CSV);
    expect(h.servers.map((s) => s.name)).toEqual(["master-1", "master-2", "master-3"]);
    expect(h.up).toEqual(["master-1", "master-3"]);
    expect(h.down).toEqual(["master-2"]);
  });

  it("refuses text that is not HAProxy's CSV", () => {
    expect(() => parseHaproxyStats("<html>")).toThrow(HaproxyConfigError);
  });
});
