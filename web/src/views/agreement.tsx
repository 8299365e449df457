// The agreement page (owners): the project's overall figures, a matrix of annotator pairs
// (Cohen's kappa, or exact-span F1 for spans, with the items compared), the labels that
// disagree most, and the documents behind a cell or a label, each one click from curation.

import { useEffect, useState } from "preact/hooks";
import { ApiError, get, type Member, type Page } from "../api";

type Figure = number | null | undefined;
interface Figures { kappa?: Figure; f1?: Figure; alpha: Figure; items: number }
interface Pair extends Figures { annotators: [number, number]; labels: Record<string, Figures> }
interface Agreement { kind: string; overall: Figures; labels: Record<string, Figures>; pairs: Pair[] }

// Which documents are listed: a pair's (optionally on one label), or any two annotators' on a label.
interface Cell { pair?: [number, number]; label?: string; title: string }

const shown = (v: Figure) => (v === null || v === undefined ? "–" : v.toFixed(2));
// Lower agreement first; an undefined figure (nothing to compare) last.
const ascending = (a: Figure, b: Figure) => (a ?? Infinity) - (b ?? Infinity);

export function AgreementPage({ projectId }: { projectId: number }) {
  const base = `/projects/${projectId}`;
  const [figures, setFigures] = useState<Agreement | null>(null);
  const [names, setNames] = useState<Map<number, string>>(new Map());
  const [cell, setCell] = useState<Cell | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    Promise.all([get<Agreement>(`${base}/agreement`), get<{ items: Member[] }>(`${base}/members`)])
      .then(([f, m]) => { setFigures(f); setNames(new Map(m.items.map((x) => [x.user.id, x.user.username]))); })
      .catch((e) => setError(e instanceof ApiError ? e.message : String(e)));
  }, [base]);

  const name = (id: number) => names.get(id) ?? `user ${id}`;
  const score = figures?.kind === "span" ? "f1" : "kappa";
  const scoreName = score === "f1" ? "F1" : "kappa";
  const annotators = [...new Set(figures?.pairs.flatMap((p) => p.annotators) ?? [])].sort((a, b) => a - b);
  const pairOf = (a: number, b: number) => figures?.pairs.find((p) => p.annotators[0] === Math.min(a, b) && p.annotators[1] === Math.max(a, b));
  const labels = Object.entries(figures?.labels ?? {}).sort(([, a], [, b]) => ascending(a[score], b[score]) || ascending(a.alpha, b.alpha));

  return (
    <main class="page agreement">
      <header class="bar">
        <h2>Agreement</h2><span class="grow" />
        <a href={`#/projects/${projectId}/curate`}>Curate</a>
        <a href={`#/projects/${projectId}/console`}>Console</a>
      </header>
      {error && <p class="error" role="alert">{error}</p>}
      {figures && <>
        <p data-testid="overall">
          Overall: {scoreName} <b>{shown(figures.overall[score])}</b> (mean over pairs) · Krippendorff's alpha <b>{shown(figures.overall.alpha)}</b> · {figures.overall.items} items
          {" "}<span class="muted">({figures.kind === "span" ? "alpha over tokens" : `compared: ${figures.kind} labels`})</span>
        </p>
        {annotators.length === 0 ? <p class="muted">No two annotators have labelled the same item yet.</p> : (
          <div class="columns">
            <section class="card">
              <h3>Annotator pairs ({scoreName}, items compared)</h3>
              <table class="matrix" data-testid="pair-matrix">
                <thead><tr><th />{annotators.map((b) => <th key={b}>{name(b)}</th>)}</tr></thead>
                <tbody>
                  {annotators.map((a) => (
                    <tr key={a}><th>{name(a)}</th>{annotators.map((b) => {
                      const p = a === b ? undefined : pairOf(a, b);
                      if (!p) return <td key={b} class="muted">{a === b ? "" : "–"}</td>;
                      const title = `${name(a)} and ${name(b)}`;
                      return (
                        <td key={b} data-testid={`cell-${name(a)}-${name(b)}`}>
                          <button class="link" title={`documents where ${title} disagree`} onClick={() => setCell({ pair: [a, b], title })}>
                            <b>{shown(p[score])}</b> <span class="muted">({p.items})</span>
                          </button>
                        </td>
                      );
                    })}</tr>
                  ))}
                </tbody>
              </table>
              <h3>Labels, most disagreement first</h3>
              <table class="matrix" data-testid="label-table">
                <thead><tr><th>label</th><th>{scoreName}</th><th>alpha</th><th>items</th></tr></thead>
                <tbody>
                  {labels.map(([label, f]) => (
                    <tr key={label}>
                      <th><button class="link" title={`documents where annotators disagree on ${label}`}
                        onClick={() => setCell({ label, title: `label ${label}` })}>{label}</button></th>
                      <td>{shown(f[score])}</td><td>{shown(f.alpha)}</td><td>{f.items}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
            {cell && <Documents key={`${cell.pair}:${cell.label}`} base={base} projectId={projectId} cell={cell} />}
          </div>
        )}
      </>}
    </main>
  );
}

function Documents({ base, projectId, cell }: { base: string; projectId: number; cell: Cell }) {
  const [docs, setDocs] = useState<{ id: number; text: string }[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState("");
  const load = (cursor: number) => {
    const query = [cell.pair && `pair=${cell.pair.join(",")}`, cell.label && `label=${encodeURIComponent(cell.label)}`, `cursor=${cursor}`];
    setLoading(true);
    get<Page<{ document_id: number }>>(`${base}/agreement?${query.filter(Boolean).join("&")}`)
      // Each with the start of its text, so that the list says which review or sentence it is.
      .then(async (page) => {
        const texts = await Promise.all(page.items.map((d) => get<{ id: number; text: string }>(`${base}/documents/${d.document_id}`)));
        setDocs((old) => [...old, ...texts.map(({ id, text }) => ({ id, text }))]);
        setNext(page.next_cursor);
      })
      .catch((e) => setError(e instanceof ApiError ? e.message : String(e)))
      .finally(() => setLoading(false));
  };
  useEffect(() => load(0), []);
  return (
    <section class="card" data-testid="disagreeing-documents">
      <h3>Where {cell.pair ? `${cell.title} disagree` : `annotators disagree on ${cell.title}`}</h3>
      {error && <p class="error">{error}</p>}
      {!loading && docs.length === 0 && <p class="muted">No document.</p>}
      <ul class="list">
        {docs.map(({ id, text }) => (
          <li key={id}><a href={`#/projects/${projectId}/curate/${id}`}>document #{id}</a>
            <span class="muted snippet">{text.length > 90 ? `${text.slice(0, 90)}…` : text}</span></li>
        ))}
      </ul>
      {next !== null && <button onClick={() => load(next)} disabled={loading}>More</button>}
    </section>
  );
}
