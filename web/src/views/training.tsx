// The live connection and training indicator in the workspace's bar.

import type { ConnectionState } from "../live";
import { heldoutScore, type Metrics } from "../metrics";

export interface TrainingState {
  event: string; state?: string; progress?: number; version?: number | string;
  metrics?: Metrics; error?: string; message?: string;
}

function describe(t: TrainingState): string {
  const state = t.state ?? t.event;
  if (state === "finished" || state === "succeeded") {
    const score = heldoutScore(t.metrics ?? {});
    return `model v${t.version ?? "?"}${score ? ` · ${score[0]} ${score[1].toFixed(2)}` : ""}`;
  }
  if (state === "failed") return `training failed: ${t.error ?? t.message ?? ""}`;
  if (t.progress !== undefined) return `training ${Math.round(t.progress * 100)}%`;
  return `training ${state}`;
}

// The serving model version shows without live updates too (read once at load).
export function TrainingIndicator({ connection, training }: { connection: ConnectionState; training: TrainingState | null }) {
  if (connection === "off" && !training) return null;
  return (
    <span class={`live ${connection}`} data-testid="live" title="live updates">
      {connection !== "off" && <><span class="dot" />{connection === "live" ? "live" : connection}</>}
      {training && <span data-testid="training">{connection !== "off" ? " · " : ""}{describe(training)}</span>}
    </span>
  );
}
