// SA / document classification: pick a label (button or shortcut), explain it, save. A
// recommendation lists its evidence; hovering it marks the words it cites in the text.

import { useEffect, useRef, useState } from "preact/hooks";
import {
  EvidenceNotes, ExplanationBox, LabelButtons, MarkedText, evidenceTriggers, isTyping, labelForKey, useKeys, type KeyHelp, type Label, type ViewComponentProps,
} from "@leanlife/kit";

export const SA_KEYS: KeyHelp[] = [
  ["label key", "choose the label (saves at once when the project takes no explanations)"],
  ["type, then Ctrl+Enter", "save the label with its explanation"], ["Esc", "leave the explanation box"],
  ["Delete", "remove my label"],
];

export function SaView({ w }: ViewComponentProps) {
  const { doc, labels } = w;
  const mine = w.mine.filter((a) => a.kind === "document");
  const [choice, setChoice] = useState<string | null>(null);
  const [text, setText] = useState("");
  const [hovered, setHovered] = useState<number | null>(null); // a recommendation's row under the mouse
  const box = useRef<HTMLTextAreaElement | null>(null);
  const explains = w.project.explanation_kind === "natural_language";

  useEffect(() => { setChoice(null); setText(""); setHovered(null); }, [doc.id]);
  const cited = hovered !== null && w.recommendations[hovered] ? evidenceTriggers(w.recommendations[hovered], doc.text) : [];

  const save = async (name = choice) => {
    if (!name) { w.say("Choose a label first."); return false; }
    const payload = { label: name, explanations: text.trim() ? [{ kind: "natural_language", text }] : [] };
    const existing = w.project.multi_label ? mine.find((a) => a.label === name) : mine[0];
    const row = existing ? await w.update(existing, payload, `label ${name}`) : await w.create(payload, `label ${name}`);
    if (row) { w.say(`Saved ${name}.`); setChoice(null); setText(""); }
    return row !== null;
  };

  const pick = (l: Label) => {
    setChoice(l.name);
    if (explains) { box.current?.focus(); w.say(`${l.name}: write why, then Ctrl+Enter.`); }
    else save(l.name);
  };

  useKeys(w, (e) => {
      if (isTyping(e)) return;
      const picked = labelForKey(labels, e, "document");
      if (picked) { e.preventDefault(); pick(picked); }
      else if ((e.key === "Delete" || e.key === "Backspace") && mine.length) {
        e.preventDefault(); w.remove(mine[mine.length - 1], `remove ${mine[mine.length - 1].label}`);
      }
  });

  return (
    <div class="task">
      <section class="main">
        <div class="doctext plain" data-testid="doctext"><MarkedText text={doc.text} spans={cited} className="rec-trig" /></div>
        <LabelButtons labels={labels} kind="document" active={choice} onPick={pick} />
        <ExplanationBox w={w} value={text} onInput={setText} onSave={() => save()} context={{ label: choice }} inputRef={box} />
        {explains && <button class="primary" onClick={() => save()} disabled={!choice}>Save {choice ?? ""}</button>}
      </section>
      <aside class="side">
        <h3>My label</h3>
        <ul class="list" data-testid="doc-labels">
          {mine.map((a) => (
            <li key={a.id}>
              <span class="chip" style={{ backgroundColor: labels.find((l) => l.name === a.label)?.color }}>{a.label}</span>
              {a.explanations.map((x, k) => <q key={k}>{x.text}</q>)}
              <button class="x" title="Remove" onClick={() => w.remove(a, `remove ${a.label}`)}>×</button>
            </li>
          ))}
        </ul>
        {w.recommendations.length > 0 && <>
          <h3>Recommended</h3>
          <ul class="list" data-testid="recommendations">
            {w.recommendations.map((r, i) => (
              <li key={i} onMouseEnter={() => setHovered(i)} onMouseLeave={() => setHovered(null)}>
                <button onClick={() => setChoice(r.label)}>{r.label} {Math.round(r.confidence * 100)}%</button>
                <EvidenceNotes r={r} text={doc.text} />
              </li>
            ))}
          </ul>
        </>}
      </aside>
    </div>
  );
}
