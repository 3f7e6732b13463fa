import type { Command } from "commander";

/**
 * Examples shown at the end of every command's `--help`, by command path. A test checks that every
 * command of the tree has some, so a new command without examples fails it.
 */
export const EXAMPLES: Record<string, readonly string[]> = {
  "": [
    "khw init && khw validate     # write the default spec (the Vagrant lab), check it",
    "khw gen                      # every certificate, kubeconfig and unit into out/<host>/",
    "khw up -v=2                  # bring the cluster up, echoing the run's log",
    "khw completion bash > /etc/bash_completion.d/khw",
  ],
  init: [
    "khw init                     # ./cluster.yaml with comments",
    "khw init --vagrant           # and the Vagrantfile of the same five hosts beside it",
    "khw init -o lab.yaml --force",
  ],
  validate: ["khw validate", "khw validate -f lab.yaml --json"],
  schema: ["khw schema > cluster.schema.json"],
  gen: [
    "khw gen",
    "khw gen -f lab.yaml -o /tmp/artifacts",
    "khw gen --pki-only           # only the certificates and secrets in pki/",
  ],
  up: [
    "khw up --dry-run             # what would change on each host",
    "khw up                       # preflight → … → smoke, resumable",
    "khw up --only pki,kubeconfigs -v=2",
    "khw up --list -o yaml",
    "khw up --dry-run             # after adding master-3 to cluster.yaml: the membership steps",
    "khw up                       # member add, master-3 joins, apiservers one by one, HAProxy",
  ],
  diagram: ["khw diagram -o cluster.svg", "khw diagram --format mermaid"],
  kubeconfig: ["khw kubeconfig", "khw kubeconfig --print > admin.kubeconfig"],
  certs: ["khw certs check-expiration", "khw certs renew --all"],
  "certs check-expiration": [
    "khw certs check-expiration",
    "khw certs check-expiration --warn-days 90 -o yaml",
  ],
  "certs renew": ["khw certs renew kube-apiserver", "khw certs renew --all"],
  status: ["khw status", "khw status -o json | jq '.hosts[].host'"],
  smoke: ["khw smoke"],
  reset: ["khw reset --yes"],
  etcd: ["khw etcd status", "khw etcd snapshot save && khw etcd snapshot restore backups/etcd-<time>.db"],
  "etcd status": ["khw etcd status", "khw etcd status --json | jq '.members[] | {name, isLeader, revision}'"],
  "etcd snapshot": [
    "khw etcd snapshot save",
    "khw etcd snapshot restore backups/etcd-20261202T140000Z.db --dry-run",
  ],
  "etcd snapshot save": [
    "khw etcd snapshot save                 # backups/etcd-<UTC time>.db, 0600, git-ignored",
    "khw etcd snapshot save /srv/etcd.db --json",
  ],
  "etcd snapshot restore": [
    "khw etcd snapshot restore backups/etcd-20261202T140000Z.db --dry-run   # the plan, per host",
    "khw etcd snapshot restore backups/etcd-20261202T140000Z.db --yes       # run again to resume",
  ],
  node: ["khw node remove worker-3 --dry-run"],
  "node remove": [
    "khw node remove worker-3 --dry-run      # what would be drained, stopped and removed",
    "khw node remove worker-3 --yes --update-spec",
    "khw node remove worker-3 --timeout 600 --force --json",
    "khw node remove worker-3 --unreachable --yes --update-spec   # its host is gone: no drain, no reset",
    "khw node remove master-3 --dry-run      # a control plane: quorum, member remove, HAProxy, apiservers",
    "khw node remove master-3 --yes --update-spec",
  ],
  upgrade: ["khw upgrade plan --to v1.34.4", "khw upgrade apply --to v1.34.4 --yes"],
  "upgrade plan": ["khw upgrade plan --to v1.34.4", "khw upgrade plan --to v1.35.0 --json --offline"],
  "upgrade apply": [
    "khw upgrade apply --to v1.34.4 --dry-run   # the plan",
    "khw upgrade apply --to v1.34.4 --yes       # Ctrl-C, then the same again, resumes",
    "khw upgrade apply --to v1.34.4 --yes --json  # the steps and the result as JSON lines",
  ],
  lab: ["khw lab up && khw up && khw smoke && khw lab down"],
  "lab up": ["khw lab up", "khw lab up -f cluster.yaml --no-images"],
  "lab down": ["khw lab down"],
  "lab status": ["khw lab status --json"],
  "lab stop": ["khw lab stop worker-2   # power a host off (its files stay)"],
  "lab start": ["khw lab start worker-2"],
  "lab ssh": ["khw lab ssh master-1", "khw lab ssh worker-1 -- systemctl status kubelet"],
  bundle: ["khw bundle build && khw bundle verify"],
  "bundle build": [
    "khw bundle build",
    "khw bundle build --kubernetes v1.34.4 -o ./bundle",
    "khw bundle build --kubernetes v1.34.3 -o ./mirror && khw bundle build -o ./mirror   # both versions, for khw upgrade",
  ],
  "bundle fetch": ["khw bundle fetch -o ./bundle"],
  "bundle verify": ["khw bundle verify", "khw bundle verify ./bundle"],
  guide: [
    "khw guide                    # ./guide: Markdown chapters and one HTML page",
    "khw guide -f lab.yaml -o /tmp/guide",
  ],
  explain: ["khw explain pki", "khw explain workers"],
  version: ["khw version", "khw version -o yaml"],
  completion: [
    "khw completion bash > /etc/bash_completion.d/khw",
    "khw completion zsh > ~/.zsh/completions/_khw   # a directory on $fpath",
    "khw completion fish > ~/.config/fish/completions/khw.fish",
  ],
};

/** The path of a command below the root: "certs check-expiration". */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** Adds an "Examples:" section to the help of every command of the tree that has examples. */
export function applyExamples(cmd: Command): void {
  const examples = EXAMPLES[commandPath(cmd)];
  if (examples?.length)
    cmd.addHelpText("after", `\nExamples:\n${examples.map((e) => `  ${e}`).join("\n")}\n`);
  for (const sub of cmd.commands) applyExamples(sub);
}
