/** What `khw up` reports while it runs: the progress views and `--json` consume these. */
export type UpEvent =
  | { type: "run-start"; phases: string[]; hosts: string[]; dryRun: boolean }
  | { type: "phase-start"; phase: string; hosts: string[] }
  | { type: "host-start"; phase: string; host: string }
  | {
      type: "step";
      phase: string;
      host: string;
      step: string;
      status: "changed" | "unchanged" | "ok";
      detail?: string;
    }
  | { type: "host-done"; phase: string; host: string; changes: number }
  | {
      type: "host-failed";
      phase: string;
      host: string;
      step: string;
      command?: string;
      exitCode?: number | null;
      stderr?: string;
      message: string;
      hint?: string;
    }
  | { type: "phase-done"; phase: string; changes: number }
  | { type: "phase-skipped"; phase: string; reason: string }
  | { type: "phase-not-run"; phase: string; reason: string; hint: string }
  | { type: "warning"; phase: string; host?: string; message: string; fix?: string }
  | { type: "run-done"; ok: boolean; changes: number; interrupted?: boolean };

export type EventSink = (event: UpEvent) => void;
