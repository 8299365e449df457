// Label buttons with their shortcut keys, shared by the task views.

import type { Label } from "../contract";

export function labelForKey(labels: Label[], e: KeyboardEvent, kind: string): Label | undefined {
  if (e.ctrlKey || e.metaKey || e.altKey || e.key.length !== 1) return undefined;
  return labels.find((l) => l.kind === kind && l.shortcut !== null
    && l.shortcut.toLowerCase() === e.key.toLowerCase());
}

interface Props {
  labels: Label[];
  kind: string;
  active?: string | null;
  onPick: (label: Label) => void;
}

export function LabelButtons({ labels, kind, active, onPick }: Props) {
  return (
    <div class="labels" role="toolbar" aria-label={`${kind} labels`}>
      {labels.filter((l) => l.kind === kind).map((l) => (
        <button key={l.id} class={`label ${active === l.name ? "active" : ""}`} style={{ borderColor: l.color }}
          data-label={l.name} onClick={() => onPick(l)}>
          <span class="swatch" style={{ backgroundColor: l.color }} />
          {l.name}{l.shortcut && <kbd>{l.shortcut}</kbd>}
        </button>
      ))}
    </div>
  );
}
