/** Base64 of a string's UTF-8 bytes (Secret `data`), without Buffer so the package stays platform-neutral. */
export function base64(text: string): string {
  let binary = "";
  for (const b of new TextEncoder().encode(text)) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** The inverse of base64(); for tests and readers of Secret `data`. */
export function fromBase64(encoded: string): string {
  const binary = atob(encoded);
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

/** Every value of a string map, base64-encoded, keys in the given order. */
export function base64Values(map: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k, base64(v)]));
}
