// NER: select words to make a span and label it by click or shortcut. Where the project
// collects triggers, the new entity is held here until its trigger words are chosen: Enter
// saves the entity and its trigger in one request (Enter alone saves it without one), so a
// retraining policy counts it once and never sees an entity whose trigger is still to come.
// A saved entity can take more triggers (each discontinuous if need be). Recommendations
// show as dashed spans; Enter accepts and Delete rejects the highlighted one. The trigger
// words a recommendation cites (evidence.triggers, offsets into this text) are underlined while
// it is highlighted or its row is hovered.

import { useEffect, useMemo, useState } from "preact/hooks";
import {
  DocumentText, EvidenceNotes, LabelButtons, evidenceTriggers, isTyping, labelForKey, spansToTokens, tokenRange, tokenize, tokensToSpans, useKeys,
  type Annotation, type KeyHelp, type Offsets, type Recommendation, type TokenMark, type ViewComponentProps,
} from "@leanlife/kit";

type Selected = { kind: "entity"; id: number } | { kind: "rec"; index: number } | null;
// A labelled span not saved yet, waiting for its trigger.
interface Held { label: string; start: number; end: number }

export const NER_KEYS: KeyHelp[] = [
  ["drag or click words", "select a span"], ["← →", "move the word cursor (Shift: extend the span)"],
  ["label key", "label the selected span (or relabel the selected entity)"],
  ["Space", "select the word at the cursor / toggle it as a trigger word"],
  ["Enter", "save the new entity with its trigger (none chosen: without) / add a trigger / accept the highlighted recommendation"],
  ["Delete", "delete the selected entity, or reject the highlighted recommendation"],
  ["↑ ↓", "step through entities and recommendations"], ["Esc", "clear the selection (discards a new entity not saved yet)"],
];

const percent = (c: number) => `${Math.round(c * 100)}%`;

function triggerText(text: string, spans: Offsets[]): string {
  return spans.map((s) => text.slice(s.start, s.end)).join(" … ");
}

const entityPayload = (e: Annotation) => ({
  label: e.label, start: e.start, end: e.end, source: e.source,
  explanations: e.explanations.map(({ kind, spans }) => ({ kind, spans })),
});

export function NerView({ w, expose }: ViewComponentProps) {
  const { doc, labels } = w;
  const tokens = useMemo(() => tokenize(doc.text), [doc.text]);
  const [cursor, setCursor] = useState(0);
  const [anchor, setAnchor] = useState<number | null>(null);
  const [pending, setPending] = useState<[number, number] | null>(null);
  const [held, setHeld] = useState<Held | null>(null);
  const [selected, setSelected] = useState<Selected>(null);
  const [trigger, setTrigger] = useState<Set<number>>(new Set());
  const [hovered, setHovered] = useState<number | null>(null); // a recommendation's row under the mouse
  const collectsTriggers = w.project.explanation_kind === "trigger";

  useEffect(() => {
    setPending(null); setHeld(null); setSelected(null); setTrigger(new Set()); setCursor(0); setHovered(null);
  }, [doc.id]);

  const entities = w.mine.filter((a) => a.kind === "span").sort((a, b) => a.start! - b.start!);
  const recs = w.recommendations.filter((r) => r.kind === "span" && r.start !== undefined);
  const entity = selected?.kind === "entity" ? entities.find((e) => e.id === selected.id) ?? null : null;
  // The span whose trigger words are being chosen: the held entity, else the selected one.
  const target: Held | Annotation | null = held ?? entity;
  // With nothing else selected, the first recommendation is the one a key acts on.
  const recIndex = selected?.kind === "rec" ? selected.index : selected === null && !pending && !held && recs.length ? 0 : -1;
  const rec: Recommendation | undefined = recs[recIndex];

  const items: Selected[] = [
    ...entities.map((e) => ({ kind: "entity" as const, id: e.id, at: e.start! })),
    ...recs.map((r, index) => ({ kind: "rec" as const, index, at: r.start! })),
  ].sort((a, b) => a.at - b.at).map(({ at: _at, ...item }) => item as Selected);

  const triggerSpans = () => tokensToSpans(doc.text, tokens, trigger);

  // Saves the held entity with the trigger words chosen so far (if any): one request.
  const commitHeld = async (): Promise<boolean> => {
    if (!held) return false;
    const spans = trigger.size ? triggerSpans() : [];
    setHeld(null); setTrigger(new Set());
    const row = await w.create({ label: held.label, start: held.start, end: held.end,
                                 explanations: spans.length ? [{ kind: "trigger", spans }] : [] }, `label ${held.label}`);
    if (!row) { setHeld(held); return true; } // the error is on the status line; keep it to fix
    setSelected({ kind: "entity", id: row.id });
    w.say(spans.length ? `${held.label} saved with trigger “${triggerText(doc.text, spans)}”. Add another, or Esc.`
                       : `${held.label} saved without a trigger.`);
    return true;
  };
  expose({ flush: async () => { await commitHeld(); } });

  const discardHeld = () => {
    if (held) w.say(`Discarded the unsaved ${held.label}.`);
    setHeld(null); setTrigger(new Set());
  };

  const selectEntity = async (e: Annotation) => {
    await commitHeld();
    setSelected({ kind: "entity", id: e.id }); setPending(null); setTrigger(new Set());
  };

  const label = async (name: string) => {
    if (pending) {
      const span = { label: name, start: tokens[pending[0]].start, end: tokens[pending[1]].end };
      setPending(null);
      setSelected(null);
      // NER's rule (the server's too, docs/user-guide.md): my entities never overlap, since a
      // word takes one label. Said before the entity is held for its trigger, not after.
      const hit = entities.find((e) => e.start! < span.end && span.start < e.end!);
      if (hit) {
        w.say(`“${doc.text.slice(span.start, span.end)}” overlaps your ${hit.label} “${doc.text.slice(hit.start, hit.end)}”: `
              + "your entities may not overlap, since a word takes one label. Change or delete that one first.");
        return;
      }
      if (collectsTriggers) {
        setHeld(span); setTrigger(new Set());
        w.say(`${name}: choose its trigger words, then Enter.`);
        return;
      }
      const row = await w.create({ ...span, explanations: [] }, `label ${name}`);
      if (row) w.say(`${name} saved.`);
    } else if (held) {
      setHeld({ ...held, label: name });
    } else if (entity) {
      await w.update(entity, { ...entityPayload(entity), label: name }, `relabel as ${name}`);
    } else {
      w.say("Select some words first.");
    }
  };

  // Adds the chosen trigger words to the selected, saved entity.
  const saveTrigger = async () => {
    if (!entity || trigger.size === 0) return false;
    const spans = triggerSpans();
    const p = entityPayload(entity);
    await w.update(entity, { ...p, explanations: [...p.explanations, { kind: "trigger", spans }] }, "add trigger");
    setTrigger(new Set());
    w.say(`Trigger “${triggerText(doc.text, spans)}” saved. Add another, or Esc.`);
    return true;
  };

  // The cited trigger words are the model's evidence, not the annotator's: the accepted span
  // starts without triggers, and the annotator may add their own.
  const accept = async (r: Recommendation) => {
    await commitHeld();
    const row = await w.create({ label: r.label, start: r.start, end: r.end, source: "recommendation", explanations: [] },
      `accept ${r.label}`);
    if (row) { setSelected(null); w.say(`Accepted ${r.label}.`); }
  };

  const toggleTrigger = (i: number) => {
    if (!target) return;
    if (tokens[i].end > target.start! && tokens[i].start < target.end!) return;
    setTrigger((t) => { const n = new Set(t); n.has(i) ? n.delete(i) : n.add(i); return n; });
  };

  const onTokenClick = (i: number) => {
    setCursor(i);
    if (target) { toggleTrigger(i); return; }
    const hit = entities.find((e) => tokens[i].start >= e.start! && tokens[i].end <= e.end!);
    if (hit) { selectEntity(hit); return; }
    const r = recs.findIndex((x) => tokens[i].start >= x.start! && tokens[i].end <= x.end!);
    if (r >= 0) { setSelected({ kind: "rec", index: r }); return; }
    setSelected(null); // a plain word becomes the pending span
    setPending([i, i]);
    setAnchor(i);
  };

  const onSelect = async (start: number, end: number) => {
    const range = tokenRange(tokens, start, end);
    if (!range) return;
    await commitHeld();
    setSelected(null); setTrigger(new Set()); setPending(range); setAnchor(range[0]); setCursor(range[1]);
  };

  useKeys(w, async (e) => {
      if (isTyping(e)) return;
      const picked = labelForKey(labels, e, "span");
      if (picked) { e.preventDefault(); await label(picked.name); return; }
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        e.preventDefault();
        const to = Math.max(0, Math.min(tokens.length - 1, cursor + (e.key === "ArrowRight" ? 1 : -1)));
        setCursor(to);
        if (e.shiftKey && !held) {
          const from = anchor ?? cursor;
          setAnchor(from); setSelected(null); setPending([Math.min(from, to), Math.max(from, to)]);
        }
      } else if (e.key === " ") {
        e.preventDefault();
        if (target) toggleTrigger(cursor);
        else { setSelected(null); setPending([cursor, cursor]); setAnchor(cursor); }
      } else if (e.key === "Enter") {
        e.preventDefault();
        if (!(await commitHeld()) && !(await saveTrigger()) && rec) await accept(rec);
      } else if (e.key === "Delete" || e.key === "Backspace") {
        e.preventDefault();
        if (held) discardHeld();
        else if (entity) { setSelected(null); await w.remove(entity, `delete ${entity.label}`); }
        else if (rec) { w.reject(rec); setSelected(null); }
      } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        if (!items.length) return;
        await commitHeld();
        const at = items.findIndex((x) => JSON.stringify(x) === JSON.stringify(selected ?? (rec ? { kind: "rec", index: recIndex } : null)));
        const step = e.key === "ArrowDown" ? 1 : -1;
        const nextItem = items[(at + step + items.length) % items.length];
        setPending(null); setTrigger(new Set()); setSelected(nextItem);
      } else if (e.key === "Escape") {
        discardHeld(); setPending(null); setSelected(null); setTrigger(new Set());
      }
  });

  const marks = new Map<number, TokenMark>();
  const paint = (start: number, end: number, mark: (i: number, last: boolean) => TokenMark) => {
    const range = tokenRange(tokens, start, end);
    if (range) for (let i = range[0]; i <= range[1]; i++) marks.set(i, { ...marks.get(i), ...mark(i, i === range[1]) });
  };
  const addClass = (i: number, name: string) => marks.set(i, { ...marks.get(i), className: `${marks.get(i)?.className ?? ""} ${name}` });
  const colorOf = (name: string) => labels.find((l) => l.name === name)?.color ?? "#888888";
  w.others.filter((a) => a.kind === "span").forEach((a) =>
    paint(a.start!, a.end!, (_, last) => ({ className: "other", color: colorOf(a.label), tag: last ? a.label : undefined,
                                           title: `${a.label} (another annotator)` })));
  recs.forEach((r, index) => paint(r.start!, r.end!, (_, last) => ({
    className: `rec ${index === recIndex ? "focus" : ""}`, color: colorOf(r.label),
    tag: last ? `${r.label} ${percent(r.confidence)}` : undefined, title: `recommended ${r.label} (${percent(r.confidence)})`,
  })));
  const shown = hovered !== null && recs[hovered] ? recs[hovered] : rec;
  if (shown) spansToTokens(tokens, evidenceTriggers(shown, doc.text)).forEach((i) => addClass(i, "rec-trig"));
  entities.forEach((a) => paint(a.start!, a.end!, (_, last) => ({
    className: `ent ${entity?.id === a.id ? "sel" : ""}`, color: colorOf(a.label),
    tag: last ? `${a.label}${a.explanations.length ? ` ⚑${a.explanations.length}` : ""}` : undefined, title: a.label,
  })));
  if (held) paint(held.start, held.end, (_, last) => ({
    className: "ent sel held", color: colorOf(held.label), tag: last ? `${held.label} (not saved)` : undefined,
    title: `${held.label}, not saved yet`,
  }));
  if (entity) spansToTokens(tokens, entity.explanations.flatMap((x) => x.spans ?? [])).forEach((i) => addClass(i, "trig"));
  trigger.forEach((i) => addClass(i, "trig-new"));
  if (pending) for (let i = pending[0]; i <= pending[1]; i++) addClass(i, "pending");
  addClass(cursor, "cursor");

  const quoted = (span: Offsets) => `“${doc.text.slice(span.start, span.end)}”`;
  const hint = held
    ? `${quoted(held)} as ${held.label}, not saved yet: click its trigger words, then Enter saves it with them (or without, if none). Esc discards it.`
    : entity ? `Trigger mode for ${quoted(entity as Offsets)}: click words, then Enter. Esc to leave.`
    : pending ? "Press a label key or click a label." : "Select words to make a span.";

  return (
    <div class="task">
      <section class="main">
        <LabelButtons labels={labels} kind="span" active={held?.label ?? entity?.label} onPick={(l) => label(l.name)} />
        <p class="hint">{hint}</p>
        <DocumentText text={doc.text} tokens={tokens} marks={marks} onTokenClick={onTokenClick} onSelect={onSelect} />
      </section>
      <aside class="side">
        {held && (
          <div class="box">
            <button class="primary" onClick={commitHeld} data-testid="save-trigger">
              {trigger.size ? "Save with trigger ⏎" : "Save without trigger ⏎"}
            </button>
            <button onClick={discardHeld} data-testid="discard">Discard (Esc)</button>
          </div>
        )}
        {!held && entity && (
          <div class="box">
            <button onClick={saveTrigger} disabled={trigger.size === 0} data-testid="save-trigger">Save trigger ⏎</button>
            <button onClick={() => { setSelected(null); setTrigger(new Set()); }}>Done</button>
          </div>
        )}
        <h3>Entities ({entities.length}{held ? " + 1 not saved" : ""})</h3>
        <ul class="list" data-testid="entities">
          {held && (
            <li class="held sel" data-testid="held-entity">
              <span class="chip" style={{ backgroundColor: colorOf(held.label) }}>{held.label}</span>
              <span>{doc.text.slice(held.start, held.end)}</span>
              <span class="muted">not saved: choose its trigger</span>
            </li>
          )}
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
            <li key={index} class={index === recIndex ? "sel" : ""}
              onMouseEnter={() => setHovered(index)} onMouseLeave={() => setHovered(null)}>
              <span class="chip dashed" style={{ borderColor: colorOf(r.label) }}>{r.label} {percent(r.confidence)}</span>
              <span>{doc.text.slice(r.start, r.end)}</span>
              <EvidenceNotes r={r} text={doc.text} />
              <button onClick={() => accept(r)}>Accept ⏎</button>
              <button onClick={() => w.reject(r)}>Reject ⌦</button>
            </li>
          ))}
        </ul>
      </aside>
    </div>
  );
}
