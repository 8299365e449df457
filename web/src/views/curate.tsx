// The curation page (owners): every annotator's annotations on a document side by side, the
// ones on items they answer differently marked, and the document's gold layer, built by
// accepting an annotator's annotation or by writing one in the task's own view (mounted here
// with the gold layer as its annotations); and the document's review state.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import {
  ApiError, api, del, get, has, loadCapabilities, patch, post, put,
  type Annotation, type Capabilities, type Label, type Project, type TaskInfo, type User,
} from "../api";
import { HOST_KEYS, type KeyHelp, type ViewHandle, type ViewProps } from "../contract";
import { isTyping } from "../kit/keys";
import { navigate } from "../router";
import { PlainView, useHostKeys, useTaskView, ViewMount } from "./taskview";

type Marked = Annotation & { disagreement: boolean };
interface Curation {
  document: { id: number; text: string; meta: Record<string, unknown> };
  state: string;
  annotators: { user_id: number; username: string; finished: boolean; annotations: Marked[] }[];
  shared: Annotation[]; gold: Annotation[];
}

const REVIEW_KEYS: KeyHelp[] = [
  ["↓ ↑", "next / previous annotator annotation"], ["→ ←", "next / previous annotator"],
  ["d", "next annotation on a disagreement"], ["Enter", "accept the highlighted annotation into the gold layer"],
  ["x", "delete the gold annotation equal to the highlighted one"],
  ["c", "mark the document curated"], ["r", "put the document back in review"],
  ["Tab", "edit the gold layer in the task's view (its keys below) / back to reviewing"],
  ["]", "next document not yet curated"], ["?", "this list"],
];

// An annotation as one line of text: its label and what it labels.
function describe(a: Annotation, text: string, all: Annotation[]): string {
  const span = (x?: Annotation) => (x && x.start !== undefined && x.end !== undefined ? `“${text.slice(x.start, x.end)}”` : "?");
  if (a.kind === "span") return span(a);
  if (a.kind === "relation") return `${span(all.find((x) => x.id === a.subject))} → ${span(all.find((x) => x.id === a.object))}`;
  return "the document";
}

// Two annotations say the same when kind, label and what they label are the same.
function sameAs(a: Annotation, b: Annotation, text: string, aAll: Annotation[], bAll: Annotation[]): boolean {
  return a.kind === b.kind && a.label === b.label && describe(a, text, aAll) === describe(b, text, bAll)
    && (a.kind !== "span" || (a.start === b.start && a.end === b.end));
}

function Explanations({ a, text }: { a: Annotation; text: string }) {
  return <>{a.explanations.map((e, i) => (
    <q key={i}>{e.text ?? (e.spans ?? []).map((s) => text.slice(s.start, s.end)).join(" … ")}</q>
  ))}</>;
}

function KeyTable({ keys }: { keys: KeyHelp[] }) {
  return (
    <table class="keys"><tbody>
      {keys.map(([key, what]) => <tr key={key + what}><td><kbd>{key}</kbd></td><td>{what}</td></tr>)}
    </tbody></table>
  );
}

export function CuratePage({ projectId, documentId, me }: { projectId: number; documentId: number | null; me: User }) {
  const base = `/projects/${projectId}`;
  const [project, setProject] = useState<Project | null>(null);
  const [labels, setLabels] = useState<Label[]>([]);
  const [task, setTask] = useState<TaskInfo | null>(null);
  const [caps, setCaps] = useState<Capabilities>(new Set());
  const [curation, setCuration] = useState<Curation | null>(null);
  const [cursor, setCursor] = useState(0);
  const [editing, setEditing] = useState(false);
  const [showKeys, setShowKeys] = useState(false);
  const [message, setMessage] = useState("");
  const viewHandle = useRef<ViewHandle | null>(null);
  const say = useCallback((m: string) => setMessage(m), []);
  const fail = useCallback((e: unknown) => setMessage(e instanceof ApiError ? `Error: ${e.message}` : String(e)), []);

  useEffect(() => {
    Promise.all([get<Project>(base), get<{ items: Label[] }>(`${base}/labels`), get<{ tasks: TaskInfo[] }>("/plugins"), loadCapabilities()])
      .then(([p, l, plugins, c]) => {
        setProject(p); setLabels(l.items); setCaps(c);
        setTask(plugins.tasks.find((t) => t.name === p.task) ?? null);
      }).catch(fail);
  }, [base]);

  // The first document after `after` (by id) not yet curated, or null.
  const nextToCurate = useCallback(async (after: number): Promise<number | null> => {
    const pages = await Promise.all(["annotated", "in review"].map((state) =>
      get<{ items: { id: number }[] }>(`${base}/documents?review=${encodeURIComponent(state)}&limit=1&cursor=${after}`)));
    const ids = pages.flatMap((p) => p.items.map((d) => d.id));
    return ids.length ? Math.min(...ids) : null;
  }, [base]);

  const shownId = useRef<number | null>(null);
  const load = useCallback(async (id: number) => {
    const loaded = await get<Curation>(`${base}/documents/${id}/curation`);
    if (shownId.current !== id) { shownId.current = id; setCursor(0); setMessage(""); }
    setCuration(loaded);
  }, [base]);

  useEffect(() => {
    if (documentId !== null) { load(documentId).catch(fail); return; }
    nextToCurate(0).then((id) => {
      if (id === null) say("Every document is curated.");
      else navigate(`/projects/${projectId}/curate/${id}`, true);
    }).catch(fail);
  }, [documentId]);

  const doc = curation?.document;
  const work = curation?.annotators.flatMap((a) => a.annotations.map((ann) => ({ annotator: a.user_id, ann }))) ?? [];
  const all = [...(curation?.annotators.flatMap((a) => a.annotations) ?? []), ...(curation?.shared ?? [])];
  const highlighted = work[Math.min(cursor, work.length - 1)]?.ann;

  const act = async (work: () => Promise<unknown>, said: string) => {
    if (!doc) return;
    try { await work(); await load(doc.id); say(said); } catch (e) { fail(e); }
  };
  const accept = (a: Annotation) => act(() => post(`${base}/documents/${doc!.id}/gold`, { accept: a.id }), `Accepted ${a.label} into the gold layer.`);
  const setState = (state: string) => act(() => patch(`${base}/documents/${doc!.id}/curation`, { state }), `The document is ${state}.`);
  const removeGold = (g: Annotation) => act(() => del(`${base}/gold/${g.id}`), `Deleted gold ${g.label}.`);
  const goNext = async () => {
    if (!doc) return;
    try {
      await viewHandle.current?.flush?.();
      const id = await nextToCurate(doc.id);
      if (id === null) say("No document after this one waits for curation.");
      else navigate(`/projects/${projectId}/curate/${id}`);
    } catch (e) { fail(e); }
  };

  const reviewKey = (e: KeyboardEvent) => {
    if (!curation || !doc) return;
    const move = (to: number) => { e.preventDefault(); if (work.length) setCursor(((to % work.length) + work.length) % work.length); };
    const annotatorAt = work[cursor]?.annotator;
    if (e.key === "ArrowDown") move(cursor + 1);
    else if (e.key === "ArrowUp") move(cursor - 1);
    else if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
      const order = curation.annotators.filter((a) => a.annotations.length).map((a) => a.user_id);
      const next = order[(order.indexOf(annotatorAt) + (e.key === "ArrowRight" ? 1 : order.length - 1)) % order.length];
      move(work.findIndex((w) => w.annotator === next));
    } else if (e.key === "d") {
      const after = work.findIndex((w, i) => i > cursor && w.ann.disagreement);
      const found = after >= 0 ? after : work.findIndex((w) => w.ann.disagreement);
      if (found >= 0) move(found); else say("No disagreement on this document.");
    } else if (e.key === "Enter" && highlighted) { e.preventDefault(); accept(highlighted); }
    else if (e.key === "x" && highlighted) {
      const gold = curation.gold.find((g) => sameAs(g, highlighted, doc.text, curation.gold, all));
      if (gold) removeGold(gold); else say("The gold layer has no annotation like the highlighted one.");
    } else if (e.key === "c") setState("curated");
    else if (e.key === "r") setState("in review");
  };

  // One key listener: the page's keys, or (while editing the gold layer) the task view's.
  const onKey = (e: KeyboardEvent) => {
    if (e.ctrlKey || e.metaKey || e.altKey) { if (editing) viewKeys.current.forEach((h) => h(e)); return; }
    const typing = isTyping(e);
    if (!typing && e.key === "Tab") { e.preventDefault(); setEditing((v) => !v); return; }
    if (!typing && HOST_KEYS.has(e.key)) {
      e.preventDefault();
      if (e.key === "]") goNext();
      else if (e.key === "?") setShowKeys((v) => !v);
      return;
    }
    if (editing) viewKeys.current.forEach((h) => h(e));
    else if (!typing) reviewKey(e);
  };
  const { viewKeys, registerViewKeys } = useHostKeys(onKey);

  const { view, error: viewError } = useTaskView(task?.view_url);

  if (!project) return <main class="page"><p>{message || "Loading…"}</p></main>;
  if (project.role !== "owner" && !me.is_admin) {
    return <main class="page"><p>Curation is for the project's owners.</p><p><a href="#/projects">All projects</a></p></main>;
  }

  // The task's view, given the gold layer as "my" annotations: its saves write gold.
  const gold: ViewProps | null = curation && doc ? {
    project, labels, me, settings: { show_recommendations: false, min_recommendation_confidence: 1, show_others_annotations: false },
    doc: { ...doc, finished: false, annotations: curation.gold },
    mine: curation.gold, others: [], recommendations: [], say,
    async create(payload, what) {
      try { const row = await post<Annotation>(`${base}/documents/${doc.id}/gold`, payload); await load(doc.id); say(`Gold: ${what}`); return row; }
      catch (e) { fail(e); return null; }
    },
    async update(annotation, payload, what) {
      try { const row = await put<Annotation>(`${base}/gold/${annotation.id}`, payload); await load(doc.id); say(`Gold: ${what}`); return row; }
      catch (e) { fail(e); return null; }
    },
    async remove(annotation, what) {
      try { await del(`${base}/gold/${annotation.id}`); await load(doc.id); say(`Gold: ${what}`); } catch (e) { fail(e); }
    },
    reject() {},
    onKey: registerViewKeys,
    request: (method, path, body) => api(method, path, body),
    can: (path) => has(caps, path),
  } : null;

  return (
    <main class="workspace curate">
      <header class="bar">
        <a href="#/projects">Projects</a>
        <strong class="name" title={project.name}>{project.name}</strong>
        <span class="muted">curation{doc ? ` · document #${doc.id}` : ""}</span>
        {curation && <span>state: <b data-testid="review-state">{curation.state}</b></span>}
        <span class="grow" />
        <button onClick={() => setState("annotated")} title="back to annotated: as if nobody had reviewed it" disabled={!curation}>Annotated</button>
        <button onClick={() => setState("in review")} title="r" disabled={!curation}>In review</button>
        <button onClick={() => setState("curated")} title="c" disabled={!curation} class="primary">Curated</button>
        <button onClick={goNext} title="]">Next ]</button>
        <button onClick={() => setShowKeys((v) => !v)} title="?">Keys ?</button>
        <a href={`#/projects/${projectId}/agreement`}>Agreement</a>
        <a href={`#/projects/${projectId}/console`}>Console</a>
      </header>
      <p class="status" role="status" data-testid="status">{message}</p>
      {curation && doc && (
        <section class="annotators" data-testid="annotators">
          {curation.annotators.length === 0 && <p class="muted">Nobody has annotated this document yet.</p>}
          {curation.annotators.map((a) => (
            <div class="card" key={a.user_id} data-testid={`annotator-${a.username}`}>
              <h3>{a.username} <span class="muted">{a.finished ? "finished" : ""} · {a.annotations.length}</span></h3>
              <ul class="list">
                {a.annotations.map((ann) => {
                  const inGold = curation.gold.some((g) => sameAs(g, ann, doc.text, curation.gold, all));
                  return (
                    <li key={ann.id} data-testid={`annotation-${ann.id}`}
                      class={`${ann === highlighted && !editing ? "sel" : ""} ${ann.disagreement ? "disagree" : ""}`}
                      onClick={() => setCursor(work.findIndex((w) => w.ann === ann))}>
                      {ann.disagreement && <span class="error" title="the annotators answer this item differently">≠</span>}
                      <span class="chip" style={{ background: labels.find((l) => l.name === ann.label)?.color }}>{ann.label}</span>
                      <span>{describe(ann, doc.text, all)}</span>
                      <Explanations a={ann} text={doc.text} />
                      <span class="grow" />
                      {inGold ? <span class="ok" title="the gold layer has it">✓ gold</span>
                        : <button onClick={(e) => { e.stopPropagation(); accept(ann); }} title="Enter">Accept</button>}
                    </li>
                  );
                })}
              </ul>
            </div>
          ))}
          <div class="card gold" data-testid="gold">
            <h3>Gold layer <span class="muted">{curation.gold.length}</span></h3>
            <ul class="list">
              {curation.gold.map((g) => (
                <li key={g.id}>
                  <span class="chip" style={{ background: labels.find((l) => l.name === g.label)?.color }}>{g.label}</span>
                  <span>{describe(g, doc.text, curation.gold)}</span>
                  <Explanations a={g} text={doc.text} />
                  <span class="grow" />
                  <button class="x" title="Delete from the gold layer" onClick={() => removeGold(g)}>×</button>
                </li>
              ))}
            </ul>
          </div>
        </section>
      )}
      {viewError && <p class="error" role="alert">{viewError}</p>}
      <h3 class="gold-heading">Gold layer in the task's view <span class="muted" data-testid="mode">{editing ? "(editing gold: its keys work here; Tab: back to reviewing)" : "(Tab to edit)"}</span></h3>
      <div class={editing ? "gold-editor editing" : "gold-editor"} data-testid="gold-editor">
        {gold && view && <ViewMount key={doc!.id} view={view} props={gold} handle={viewHandle} />}
        {gold && task && !task.view_url && <PlainView props={gold} />}
      </div>
      {showKeys && (
        <div class="drawer" role="dialog" aria-label="Curation keys" data-testid="keys">
          <button class="x close" onClick={() => setShowKeys(false)} title="Close">×</button>
          <h3>Curation keys</h3>
          <KeyTable keys={REVIEW_KEYS} />
          <h3>Editing the gold layer (after Tab)</h3>
          <KeyTable keys={[...labels.filter((l) => l.shortcut).map((l): KeyHelp => [l.shortcut!, `${l.name} (${l.kind})`]), ...(view?.keyHelp ?? [])]} />
        </div>
      )}
    </main>
  );
}
