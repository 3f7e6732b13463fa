import type { ChapterProse } from "../../text";

export const encryption: ChapterProse = {
  title: "Data encryption config",
  what: () => [
    "The apiserver encrypts Secrets before they reach etcd (aescbc with a 32-byte key, then identity to read anything stored before). Every control plane needs the same key, or one apiserver cannot read what another wrote. The file holds a secret: 0600, control planes only.",
  ],
  steps: {
    key: () => "Generate the key once and write the config:",
    distribute: () => "Copy it to the control planes:",
  },
};
