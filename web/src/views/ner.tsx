// NER: select words to make a span, label it by click or shortcut, then click the words
// that triggered the label (several triggers, each possibly discontinuous). Recommendations
// show as dashed spans; Enter accepts and Delete rejects the highlighted one.

import { useEffect, useState } from "preact/hooks";
import type { Annotation } from "../api";
import { spansToTokens, tokenRange, tokensToSpans } from "../text";
import { isTyping, useKeys } from "../keys";
import type { Recommendation, Workspace } from "./annotate";
import { DocumentText, type TokenMark } from "./doctext";
import { LabelButtons, labelForKey } from "./labels";

type Selected = { kind: "entity"; id: number } | { kind: "rec"; index: number } | null;

export const NER_KEYS: [string, string][] = [
  ["drag or click words", "select a span"], ["← →", "move the word cursor (Shift: extend the span)"],
  ["label key", "label the selected span (or relabel the selected entity)"],
  ["Space", "select the word at the cursor / toggle it as a trigger word"],
  ["Enter", "save the trigger being built, or accept the highlighted recommendation"],
  ["Delete", "delete the selected entity, or reject the highlighted recommendation"],
  ["↑ ↓", "step through entities and recommendations"], ["Esc", "clear the selection"],
];

const percent = (c: number) => `${Math.round(c * 100)}%`;

function triggerText(text: string, spans: { start: number; end: number }[]): string {
  return spans.map((s) => text.slice(s.start, s.end)).join(" … ");
}

export function NerView({ w }: { w: Workspace }) {
  const { doc, tokens, labels } = w;
  const [cursor, setCursor] = useState(0);
  const [anchor, setAnchor] = useState<number | null>(null);
  const [pending, setPending] = useState<[number, number] | null>(null);
  const [selected, setSelected] = useState<Selected>(null);
  const [trigger, setTrigger] = useState<Set<number>>(new Set());

  useEffect(() => { setPending(null); setSelected(null); setTrigger(new Set()); setCursor(0); }, [doc.id]);

  const entities = w.mine.filter((a) => a.kind === "span").sort((a, b) => a.start! - b.start!);
  const recs = w.recommendations.filter((r) => r.kind === "span" && r.start !== undefined);
  const triggersOf = (r: Recommendation) => r.evidence?.triggers ?? [];
  const entity = selected?.kind === "entity" ? entities.find((e) => e.id === selected.id) ?? null : null;
  // With nothing else selected, the first recommendation is the one a key acts on.
  const recIndex = selected?.kind === "rec" ? selected.index : selected === null && !pending && recs.length ? 0 : -1;
  const rec: Recommendation | undefined = recs[recIndex];

  const items: Selected[] = [
    ...entities.map((e) => ({ kind: "entity" as const, id: e.id, at: e.start! })),
    ...recs.map((r, index) => ({ kind: "rec" as const, index, at: r.start! })),
  ].sort((a, b) => a.at - b.at).map(({ at: _at, ...item }) => item as Selected);

  const selectEntity = (e: Annotation) => { setSelected({ kind: "entity", id: e.id }); setPending(null); setTrigger(new Set()); };

  const label = async (name: string) => {
    if (pending) {
      setPending(null);
      const row = await w.create({ label: name, start: tokens[pending[0]].start, end: tokens[pending[1]].end, explanations: [] },
        `label ${name}`);
      if (row) {
        setSelected({ kind: "entity", id: row.id });
        setTrigger(new Set());
        w.say(`${name} saved. Click its trigger words, then Enter (or “Save trigger”).`);
      }
    } else if (entity) {
      await w.update(entity, { ...payload(entity), label: name }, `relabel as ${name}`);
    } else {
      w.say("Select some words first.");
    }
  };

  const payload = (e: Annotation) => ({
    label: e.label, start: e.start, end: e.end, source: e.source,
    explanations: e.explanations.map(({ kind, spans }) => ({ kind, spans })),
  });

  const saveTrigger = async () => {
    if (!entity || trigger.size === 0) return false;
    const spans = tokensToSpans(doc.text, tokens, trigger);
    const p = payload(entity);
    await w.update(entity, { ...p, explanations: [...p.explanations, { kind: "trigger", spans }] }, "add trigger");
    setTrigger(new Set());
    w.say(`Trigger “${triggerText(doc.text, spans)}” saved. Add another, or Esc.`);
    return true;
  };

  // The matched trigger phrases are the model's evidence, not positions in this text: the
  // accepted span starts without triggers, and the annotator may add their own.
  const accept = async (r: Recommendation) => {
    const row = await w.create({ label: r.label, start: r.start, end: r.end, source: "recommendation", explanations: [] },
      `accept ${r.label}`);
    if (row) { setSelected(null); w.say(`Accepted ${r.label}.`); }
  };

  const toggleTrigger = (i: number) => {
    if (!entity) return;
    if (tokens[i].end > entity.start! && tokens[i].start < entity.end!) return;
    setTrigger((t) => { const n = new Set(t); n.has(i) ? n.delete(i) : n.add(i); return n; });
  };

  const onTokenClick = (i: number) => {
    setCursor(i);
    if (entity) { toggleTrigger(i); return; }
    const hit = entities.find((e) => tokens[i].start >= e.start! && tokens[i].end <= e.end!);
    if (hit) { selectEntity(hit); return; }
    const r = recs.findIndex((x) => tokens[i].start >= x.start! && tokens[i].end <= x.end!);
    if (r >= 0) { setSelected({ kind: "rec", index: r }); return; }
    setSelected(null); // a plain word becomes the pending span
    setPending([i, i]);
    setAnchor(i);
  };

  const onSelect = (start: number, end: number) => {
    const range = tokenRange(tokens, start, end);
    if (!range) return;
    setSelected(null); setTrigger(new Set()); setPending(range); setAnchor(range[0]); setCursor(range[1]);
  };

  useKeys(async (e) => {
      if (isTyping(e)) return;
      const picked = labelForKey(labels, e, "span");
      if (picked) { e.preventDefault(); await label(picked.name); return; }
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        e.preventDefault();
        const to = Math.max(0, Math.min(tokens.length - 1, cursor + (e.key === "ArrowRight" ? 1 : -1)));
        setCursor(to);
        if (e.shiftKey) {
          const from = anchor ?? cursor;
          setAnchor(from); setSelected(null); setPending([Math.min(from, to), Math.max(from, to)]);
        }
      } else if (e.key === " ") {
        e.preventDefault();
        if (entity) toggleTrigger(cursor);
        else { setSelected(null); setPending([cursor, cursor]); setAnchor(cursor); }
      } else if (e.key === "Enter") {
        e.preventDefault();
        if (!(await saveTrigger()) && rec) await accept(rec);
      } else if (e.key === "Delete" || e.key === "Backspace") {
        e.preventDefault();
        if (entity) { setSelected(null); await w.remove(entity, `delete ${entity.label}`); }
        else if (rec) { w.reject(rec); setSelected(null); }
      } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        if (!items.length) return;
        const at = items.findIndex((x) => JSON.stringify(x) === JSON.stringify(selected ?? (rec ? { kind: "rec", index: recIndex } : null)));
        const step = e.key === "ArrowDown" ? 1 : -1;
        const nextItem = items[(at + step + items.length) % items.length];
        setPending(null); setTrigger(new Set()); setSelected(nextItem);
      } else if (e.key === "Escape") {
        setPending(null); setSelected(null); setTrigger(new Set());
      }
  });

  const marks = new Map<number, TokenMark>();
  const paint = (start: number, end: number, mark: (i: number, last: boolean) => TokenMark) => {
    const range = tokenRange(tokens, start, end);
    if (range) for (let i = range[0]; i <= range[1]; i++) marks.set(i, { ...marks.get(i), ...mark(i, i === range[1]) });
  };
  const colorOf = (name: string) => labels.find((l) => l.name === name)?.color ?? "#888888";
  w.others.filter((a) => a.kind === "span").forEach((a) =>
    paint(a.start!, a.end!, (_, last) => ({ className: "other", color: colorOf(a.label), tag: last ? a.label : undefined,
                                           title: `${a.label} (another annotator)` })));
  recs.forEach((r, index) => paint(r.start!, r.end!, (_, last) => ({
    className: `rec ${index === recIndex ? "focus" : ""}`, color: colorOf(r.label),
    tag: last ? `${r.label} ${percent(r.confidence)}` : undefined, title: `recommended ${r.label} (${percent(r.confidence)})`,
  })));
  if (rec) tokens.forEach((t, i) => {
    if (triggersOf(rec).some((phrase) => phrase.split(/\s+/).includes(t.text))) {
      marks.set(i, { ...marks.get(i), className: `${marks.get(i)?.className ?? ""} rec-trig` });
    }
  });
  entities.forEach((a) => paint(a.start!, a.end!, (_, last) => ({
    className: `ent ${entity?.id === a.id ? "sel" : ""}`, color: colorOf(a.label),
    tag: last ? `${a.label}${a.explanations.length ? ` ⚑${a.explanations.length}` : ""}` : undefined, title: a.label,
  })));
  if (entity) spansToTokens(tokens, entity.explanations.flatMap((x) => x.spans ?? []))
    .forEach((i) => marks.set(i, { ...marks.get(i), className: `${marks.get(i)?.className ?? ""} trig` }));
  trigger.forEach((i) => marks.set(i, { ...marks.get(i), className: `${marks.get(i)?.className ?? ""} trig-new` }));
  if (pending) for (let i = pending[0]; i <= pending[1]; i++) marks.set(i, { ...marks.get(i), className: `${marks.get(i)?.className ?? ""} pending` });
  marks.set(cursor, { ...marks.get(cursor), className: `${marks.get(cursor)?.className ?? ""} cursor` });

  return (
    <div class="task">
      <section class="main">
        <LabelButtons labels={labels} kind="span" active={entity?.label} onPick={(l) => label(l.name)} />
        <p class="hint">{entity
          ? `Trigger mode for “${doc.text.slice(entity.start, entity.end)}”: click words, then Enter. Esc to leave.`
          : pending ? "Press a label key or click a label." : "Select words to make a span."}</p>
        <DocumentText text={doc.text} tokens={tokens} marks={marks} onTokenClick={onTokenClick} onSelect={onSelect} />
      </section>
      <aside class="side">
        {entity && (
          <div class="box">
            <button onClick={saveTrigger} disabled={trigger.size === 0} data-testid="save-trigger">Save trigger ⏎</button>
            <button onClick={() => { setSelected(null); setTrigger(new Set()); }}>Done</button>
          </div>
        )}
        <h3>Entities ({entities.length})</h3>
        <ul class="list" data-testid="entities">
          {entities.map((a) => (
            <li key={a.id} class={entity?.id === a.id ? "sel" : ""}>
              <span class="chip" style={{ backgroundColor: colorOf(a.label) }}>{a.label}</span>
              <button class="link" onClick={() => selectEntity(a)}>{doc.text.slice(a.start, a.end)}</button>
              {a.explanations.map((x, k) => <span key={k} class="trigger">⚑ {triggerText(doc.text, x.spans ?? [])}</span>)}
              <button class="x" title="Delete" onClick={() => w.remove(a, `delete ${a.label}`)}>×</button>
            </li>
          ))}
        </ul>
        {recs.length > 0 && <h3>Recommendations ({recs.length})</h3>}
        <ul class="list" data-testid="recommendations">
          {recs.map((r, index) => (
            <li key={index} class={index === recIndex ? "sel" : ""}>
              <span class="chip dashed" style={{ borderColor: colorOf(r.label) }}>{r.label} {percent(r.confidence)}</span>
              <span>{doc.text.slice(r.start, r.end)}</span>
              {triggersOf(r).length > 0 && <span class="trigger" title="matched trigger phrases">⚑ {triggersOf(r).join(", ")}</span>}
              <button onClick={() => accept(r)}>Accept ⏎</button>
              <button onClick={() => w.reject(r)}>Reject ⌦</button>
            </li>
          ))}
        </ul>
      </aside>
    </div>
  );
}
