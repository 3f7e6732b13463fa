import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fromBase64 } from "./base64";
import {
  BOOTSTRAP_TOKEN_PATTERN,
  bootstrapTokenExpiration,
  bootstrapTokenSecret,
  formatBootstrapToken,
  generateBootstrapToken,
  isBootstrapToken,
  parseBootstrapToken,
} from "./bootstrap-token";
import { AddonsError } from "./errors";

/** A deterministic byte source: the bytes given, cycled. */
function bytesFrom(seq: number[]): (n: number) => Uint8Array {
  let i = 0;
  return (n) => Uint8Array.from({ length: n }, () => seq[i++ % seq.length]!);
}

describe("generateBootstrapToken", () => {
  it("draws 6 + 16 characters of [a-z0-9] from the injected source, deterministically", () => {
    const seq = Array.from({ length: 64 }, (_, i) => i * 7);
    const a = generateBootstrapToken(bytesFrom(seq));
    expect(a).toEqual(generateBootstrapToken(bytesFrom(seq)));
    expect(formatBootstrapToken(a)).toMatch(BOOTSTRAP_TOKEN_PATTERN);
    // byte b < 252 maps to ALPHABET[b % 36]: 0→a, 7→h, 14→o, 21→v, 28→2, 35→9
    expect(a.id).toBe("ahov29");
  });

  it("skips bytes ≥ 252 so that no character is favoured", () => {
    const t = generateBootstrapToken(bytesFrom([255, 252, 0, 253, 1]));
    expect(t.id).toBe("ababab");
    expect(t.secret).toMatch(/^[ab]{16}$/);
  });

  it("refuses a source that never yields usable bytes", () => {
    expect(() => generateBootstrapToken(bytesFrom([255]))).toThrow(AddonsError);
    expect(() => generateBootstrapToken(() => new Uint8Array(0))).toThrow(/returned no bytes/);
  });

  it("with crypto.randomBytes: 500 tokens, all well-formed and distinct", () => {
    const tokens = Array.from({ length: 500 }, () =>
      formatBootstrapToken(generateBootstrapToken(randomBytes)),
    );
    for (const t of tokens) expect(isBootstrapToken(t)).toBe(true);
    expect(new Set(tokens).size).toBe(500);
  });
});

describe("the token format", () => {
  it.each([
    ["07401b.f395accd246ae52d", true],
    ["07401B.f395accd246ae52d", false],
    ["07401b.f395accd246ae52", false],
    ["07401bf395accd246ae52d", false],
    ["0740-b.f395accd246ae52d", false],
    [" 07401b.f395accd246ae52d", false],
  ])("%s → %s", (token, ok) => {
    expect(isBootstrapToken(token)).toBe(ok);
    if (ok) expect(parseBootstrapToken(token)).toEqual({ id: "07401b", secret: "f395accd246ae52d" });
    else expect(() => parseBootstrapToken(token)).toThrow(AddonsError);
  });

  it("errors carry a code, the field and a hint", () => {
    try {
      parseBootstrapToken("nope", "bootstrapToken");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(AddonsError);
      expect((e as AddonsError).code).toBe("INVALID_BOOTSTRAP_TOKEN");
      expect((e as AddonsError).field).toBe("bootstrapToken");
      expect((e as AddonsError).hint).toMatch(/generateBootstrapToken/);
    }
  });
});

describe("expiry", () => {
  it("is RFC 3339 UTC from an injected clock", () => {
    expect(bootstrapTokenExpiration(new Date("2026-11-27T14:05:06.789Z"), 24)).toBe("2026-11-28T14:05:06Z");
    expect(() => bootstrapTokenExpiration(new Date("2026-11-27T00:00:00Z"), 0)).toThrow(/positive/);
  });

  it("accepts a Date or RFC 3339 text on the Secret, and extra groups only under system:bootstrappers:", () => {
    const token = { id: "07401b", secret: "f395accd246ae52d" };
    expect(
      fromBase64(
        bootstrapTokenSecret({ token, expiration: new Date("2027-01-01T00:00:00Z") }).data!["expiration"]!,
      ),
    ).toBe("2027-01-01T00:00:00Z");
    const s = bootstrapTokenSecret({
      token,
      expiration: "2027-01-01T00:00:00+01:00",
      extraGroups: ["system:bootstrappers:x"],
    });
    expect(fromBase64(s.data!["auth-extra-groups"]!)).toBe("system:bootstrappers:x");
    expect(fromBase64(s.data!["expiration"]!)).toBe("2027-01-01T00:00:00+01:00");
    expect(() => bootstrapTokenSecret({ token, expiration: "2027-01-01", extraGroups: [] })).toThrow(
      /RFC 3339/,
    );
    expect(() =>
      bootstrapTokenSecret({ token, expiration: "2027-01-01T00:00:00Z", extraGroups: ["admins"] }),
    ).toThrow(/extraGroups\[0\]/);
  });
});
