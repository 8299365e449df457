// The fields of one label (name, kind, colour, shortcut), for the create-project form and the console.

import { RESERVED_SHORTCUT_KEYS } from "../contract";

export interface LabelDraft { name: string; kind: string; color: string; shortcut: string }

export const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

export function newDraft(kind: string, index: number): LabelDraft {
  return { name: "", kind, color: PALETTE[index % PALETTE.length], shortcut: "" };
}

// The shortcut problem to show next to the field, if any.
export function shortcutProblem(drafts: LabelDraft[], draft: LabelDraft): string {
  if (!draft.shortcut) return "";
  if (RESERVED_SHORTCUT_KEYS.has(draft.shortcut)) return `“${draft.shortcut}” is a workspace key`;
  if (drafts.some((d) => d !== draft && d.shortcut.toLowerCase() === draft.shortcut.toLowerCase())) return "taken";
  return "";
}

interface Props { draft: LabelDraft; kinds: string[]; problem: string; onChange: (d: LabelDraft) => void }

export function LabelFields({ draft, kinds, problem, onChange }: Props) {
  const set = (key: keyof LabelDraft) => (e: Event) => onChange({ ...draft, [key]: (e.target as HTMLInputElement).value });
  return (
    <span class="labelfields">
      <input aria-label="label name" placeholder="name" value={draft.name} onInput={set("name")} />
      {kinds.length > 1 && (
        <select aria-label="label kind" value={draft.kind} onChange={set("kind")}>
          {kinds.map((k) => <option key={k} value={k}>{k}</option>)}
        </select>
      )}
      <input aria-label="label colour" type="color" value={draft.color} onInput={set("color")} />
      <input aria-label="label shortcut" class="key" placeholder="key" maxLength={1} value={draft.shortcut} onInput={set("shortcut")} />
      {problem && <span class="error">{problem}</span>}
    </span>
  );
}
