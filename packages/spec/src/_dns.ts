// Here, not in schema.ts, so the semantic checks (cluster.ts) load without zod (the quick path, quick.ts).

/** RFC 1123 label, as Kubernetes requires for node names. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
