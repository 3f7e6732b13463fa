import { describe, expect, it } from "vitest";
import { prerequisitesError } from "./preflight";

describe("prerequisitesError", () => {
  it("names everything missing in one message, with one install command", () => {
    const err = prerequisitesError([
      { what: "root privileges", install: "run it as root (sudo khw lab …)" },
      { what: "systemd-nspawn", install: "apt-get install -y systemd-container" },
      { what: "mmdebstrap", install: "apt-get install -y mmdebstrap" },
    ]);
    expect(err.code).toBe("LAB_PREREQUISITES_MISSING");
    expect(err.message).toBe(
      "[preflight] the lab needs root privileges, systemd-nspawn, mmdebstrap, which this machine lacks.\n" +
        "Fix: run it as root (sudo khw lab …); apt-get install -y systemd-container mmdebstrap",
    );
  });
});
