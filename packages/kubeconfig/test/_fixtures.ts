import { join } from "node:path";
import { goldenChecker } from "@khw/test-kit/golden";

export * from "@khw/test-kit/loopback-fixtures";

/** This package's golden files (test/golden). */
export const expectGolden = goldenChecker(join(import.meta.dirname, "golden"));

/** PEM-shaped fixed texts: golden files must not change with every run. */
export const FAKE = {
  caPem: "-----BEGIN CERTIFICATE-----\nRklYRUQtQ0EtRk9SLUdPTERFTi1GSUxFUw==\n-----END CERTIFICATE-----\n",
  adminCertPem: "-----BEGIN CERTIFICATE-----\nRklYRUQtQURNSU4tQ0VSVA==\n-----END CERTIFICATE-----\n",
  adminKeyPem: "-----BEGIN PRIVATE KEY-----\nRklYRUQtQURNSU4tS0VZ\n-----END PRIVATE KEY-----\n",
  bootstrapToken: "abcdef.0123456789abcdef",
};
