// RE: the document's entities are highlighted; choose the subject, then the object, then the
// relation, and explain it. New entities are made by selecting words and a span label. The
// model's recommended relations are listed with their evidence (the explanations that fired,
// the words they cite); the highlighted one (↑ ↓, or the mouse) has its subject and object
// outlined in the text, Enter accepts it and Delete rejects it.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import {
  DocumentText, EvidenceNotes, ExplanationBox, LabelButtons, evidenceTriggers, isTyping, spansToTokens, labelForKey, tokenRange, tokenize, useKeys,
  type Annotation, type KeyHelp, type Label, type Recommendation, type TokenMark, type ViewComponentProps,
} from "@leanlife/kit";

export const RE_KEYS: KeyHelp[] = [
  ["click an entity / ← → then Space", "choose the subject, then the object"],
  ["relation key", "choose the relation (then write the explanation)"],
  ["Ctrl+Enter", "save the relation"], ["drag words + entity key", "add an entity"], ["Esc", "start over"],
  ["↑ ↓", "step through the recommended relations"],
  ["Enter", "accept the highlighted recommendation"], ["Delete", "reject the highlighted recommendation"],
];

const percent = (c: number) => `${Math.round(c * 100)}%`;

export function ReView({ w }: ViewComponentProps) {
  const { doc, labels } = w;
  const tokens = useMemo(() => tokenize(doc.text), [doc.text]);
  const [subject, setSubject] = useState<number | null>(null);
  const [object, setObject] = useState<number | null>(null);
  const [relation, setRelation] = useState<string | null>(null);
  const [focus, setFocus] = useState(0);
  const [pending, setPending] = useState<[number, number] | null>(null);
  const [text, setText] = useState("");
  const [hovered, setHovered] = useState<number | null>(null); // a recommendation's row under the mouse
  const [picked, setPicked] = useState(0); // the highlighted recommendation (↑ ↓)
  const box = useRef<HTMLTextAreaElement | null>(null);
  const explains = w.project.explanation_kind === "natural_language";

  const entities = [...w.mine, ...w.others].filter((a) => a.kind === "span").sort((a, b) => a.start! - b.start!);
  const relations = w.mine.filter((a) => a.kind === "relation");
  const byId = new Map(entities.map((e) => [e.id, e]));
  const nameOf = (id: number | null | undefined) => {
    const e = id == null ? undefined : byId.get(id);
    return e ? doc.text.slice(e.start, e.end) : "?";
  };

  const reset = () => { setSubject(null); setObject(null); setRelation(null); setText(""); setPending(null); };
  useEffect(() => { reset(); setFocus(0); setHovered(null); setPicked(0); }, [doc.id]);
  // Recommended relations between entities shown here (an entity I cannot see stands for the
  // one shown on the same words), not already saved by me; `from` is the host's, for reject().
  const shownId = (id: number | undefined, span: Recommendation["subject_span"]) => id !== undefined && byId.has(id) ? id
    : span && entities.find((e) => e.start === span.start && e.end === span.end && e.label === span.label)?.id;
  const recs = w.recommendations.filter((r) => r.kind === "relation")
    .map((r) => ({ ...r, subject: shownId(r.subject, r.subject_span), object: shownId(r.object, r.object_span), from: r }))
    .filter((r) => r.subject !== undefined && r.object !== undefined
      && !relations.some((a) => a.subject === r.subject && a.object === r.object && a.label === r.label));
  const recIndex = recs.length ? Math.min(picked, recs.length - 1) : -1;
  // Keys act on the highlighted recommendation unless a relation is being built.
  const rec = subject === null && !pending ? recs[recIndex] : undefined;

  const accept = async (r: Recommendation) => {
    const row = await w.create({ label: r.label, subject: r.subject, object: r.object, source: "recommendation",
                                 explanations: [] }, `accept ${r.label}`);
    if (row) w.say(`Accepted ${nameOf(r.subject)} —${r.label}→ ${nameOf(r.object)}.`);
  };

  const choose = (e: Annotation) => {
    setPending(null);
    if (subject === null || object !== null) { setSubject(e.id); setObject(null); w.say(`Subject: ${nameOf(e.id)}. Now the object.`); }
    else if (e.id !== subject) { setObject(e.id); w.say("Now the relation."); }
  };

  const save = async (name = relation) => {
    if (subject === null || object === null || !name) { w.say("Choose a subject, an object and a relation."); return false; }
    const row = await w.create({ label: name, subject, object,
                                 explanations: text.trim() ? [{ kind: "natural_language", text }] : [] }, `relation ${name}`);
    if (row) { w.say(`Saved ${nameOf(subject)} —${name}→ ${nameOf(object)}.`); reset(); }
    return row !== null;
  };

  const pickRelation = (l: Label) => {
    setRelation(l.name);
    if (explains) { box.current?.focus(); } else save(l.name);
  };

  const addEntity = async (l: Label) => {
    if (!pending) { w.say("Select words first."); return; }
    setPending(null);
    await w.create({ label: l.name, start: tokens[pending[0]].start, end: tokens[pending[1]].end }, `entity ${l.name}`);
  };

  useKeys(w, async (e) => {
      if (isTyping(e)) return;
      const span = pending ? labelForKey(labels, e, "span") : undefined;
      const rel = labelForKey(labels, e, "relation");
      if (span) { e.preventDefault(); addEntity(span); }
      else if (rel) { e.preventDefault(); pickRelation(rel); }
      else if ((e.key === "ArrowRight" || e.key === "ArrowLeft") && entities.length) {
        e.preventDefault();
        setFocus((f) => (f + (e.key === "ArrowRight" ? 1 : -1) + entities.length) % entities.length);
      } else if (e.key === " " && entities[focus]) { e.preventDefault(); choose(entities[focus]); }
      else if ((e.key === "ArrowDown" || e.key === "ArrowUp") && recs.length) {
        e.preventDefault();
        setPicked((recIndex + (e.key === "ArrowDown" ? 1 : -1) + recs.length) % recs.length);
      } else if (e.key === "Enter" && rec) { e.preventDefault(); await accept(rec); }
      else if ((e.key === "Delete" || e.key === "Backspace") && rec) { e.preventDefault(); w.reject(rec.from); }
      else if (e.key === "Escape") reset();
  });

  const colorOf = (name: string) => labels.find((l) => l.name === name)?.color ?? "#888888";
  const marks = new Map<number, TokenMark>();
  entities.forEach((e, k) => {
    const range = tokenRange(tokens, e.start!, e.end!);
    if (!range) return;
    const role = e.id === subject ? "subj" : e.id === object ? "obj" : "";
    for (let i = range[0]; i <= range[1]; i++) {
      marks.set(i, { className: `ent ${role} ${k === focus ? "focus" : ""}`, color: colorOf(e.label), title: e.label,
                     tag: i === range[1] ? (role === "subj" ? `${e.label} · subject` : role === "obj" ? `${e.label} · object` : e.label) : undefined });
    }
  });
  const addClass = (i: number, name: string) => marks.set(i, { ...marks.get(i), className: `${marks.get(i)?.className ?? ""} ${name}` });
  // The recommendation under the mouse, else the highlighted one: its entities and cited words.
  const shown = hovered !== null && recs[hovered] ? recs[hovered] : rec;
  if (shown) {
    for (const [id, name] of [[shown.subject, "rec-subj"], [shown.object, "rec-obj"]] as const) {
      const e = byId.get(id!);
      const range = e && tokenRange(tokens, e.start!, e.end!);
      if (range) for (let i = range[0]; i <= range[1]; i++) addClass(i, name);
    }
    spansToTokens(tokens, evidenceTriggers(shown, doc.text)).forEach((i) => addClass(i, "rec-trig"));
  }
  if (pending) for (let i = pending[0]; i <= pending[1]; i++) marks.set(i, { ...marks.get(i), className: `${marks.get(i)?.className ?? ""} pending` });

  const onTokenClick = (i: number) => {
    const hit = entities.find((e) => tokens[i].start >= e.start! && tokens[i].end <= e.end!);
    if (hit) { setFocus(entities.indexOf(hit)); choose(hit); } else setPending([i, i]);
  };
  const onSelect = (start: number, end: number) => setPending(tokenRange(tokens, start, end));

  return (
    <div class="task">
      <section class="main">
        <p class="hint" data-testid="re-state">
          Subject: <b>{subject === null ? "—" : nameOf(subject)}</b> · Object: <b>{object === null ? "—" : nameOf(object)}</b>
          {" "}· Relation: <b>{relation ?? "—"}</b>
        </p>
        <DocumentText text={doc.text} tokens={tokens} marks={marks} onTokenClick={onTokenClick} onSelect={onSelect} />
        <h4>Relation</h4>
        <LabelButtons labels={labels} kind="relation" active={relation} onPick={pickRelation} />
        <ExplanationBox w={w} value={text} onInput={setText} onSave={() => save()} inputRef={box}
          context={{ subject, object, label: relation }} labelWord="relation" />
        {explains && <button class="primary" onClick={() => save()}>Save relation</button>}
        <h4>Entities <span class="muted">(select words, then a type)</span></h4>
        <LabelButtons labels={labels} kind="span" onPick={addEntity} />
      </section>
      <aside class="side">
        <h3>Relations ({relations.length})</h3>
        <ul class="list" data-testid="relations">
          {relations.map((r) => (
            <li key={r.id}>
              <span>{nameOf(r.subject)}</span>
              <span class="chip" style={{ backgroundColor: colorOf(r.label) }}>{r.label}</span>
              <span>{nameOf(r.object)}</span>
              {r.explanations.map((x, k) => <q key={k}>{x.text}</q>)}
              <button class="x" title="Delete" onClick={() => w.remove(r, `delete ${r.label}`)}>×</button>
            </li>
          ))}
        </ul>
        {recs.length > 0 && <>
          <h3>Recommended ({recs.length})</h3>
          <ul class="list" data-testid="recommendations">
            {recs.map((r, i) => (
              <li key={`${r.label}:${r.subject}:${r.object}`} class={i === recIndex && rec ? "sel" : ""}
                onMouseEnter={() => setHovered(i)} onMouseLeave={() => setHovered(null)}>
                <span>{nameOf(r.subject)}</span>
                <span class="chip dashed" style={{ borderColor: colorOf(r.label) }}>{r.label} {percent(r.confidence)}</span>
                <span>{nameOf(r.object)}</span>
                <EvidenceNotes r={r} text={doc.text} />
                <button onClick={() => accept(r)}>Accept ⏎</button>
                <button onClick={() => w.reject(r.from)}>Reject ⌦</button>
              </li>
            ))}
          </ul>
        </>}
      </aside>
    </div>
  );
}
