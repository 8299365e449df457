// The model page: per version its headline scores on the held-out documents (F1, precision,
// recall, how many documents were held out), a labelled learning curve, "make active" to roll
// back or forward (owners), a download, and the raw metrics behind a details toggle.
// Shown only where the server has the model API.

import { useEffect, useState } from "preact/hooks";
import { ApiError, get, has, loadCapabilities, post, type Project } from "../api";
import { namedNumbers, type Metrics } from "../metrics";

// One item of GET .../model/versions.
interface Version {
  id: number; number: number; model: string; is_active: boolean; created_at: string | null;
  metrics: Metrics; data_counts: Record<string, number>;
}

// The held-out scores a version is judged by. NER and RE report f1 / precision / recall; SA
// reports accuracy and macro_f1 (its F1).
interface Headline { f1?: number; precision?: number; recall?: number; accuracy?: number; heldout: number }

function headline(v: Version): Headline {
  const h = (v.metrics.heldout ?? {}) as Record<string, unknown>;
  const num = (k: string) => (typeof h[k] === "number" ? (h[k] as number) : undefined);
  return { f1: num("f1") ?? num("macro_f1"), precision: num("precision"), recall: num("recall"),
           accuracy: num("accuracy"), heldout: v.data_counts.heldout ?? 0 };
}

const labeledOf = (v: Version) => v.data_counts.labeled ?? v.data_counts.annotations ?? 0;
const fmt = (x: number | undefined) => (x === undefined ? "—" : x.toFixed(2));

// Three lines (F1, precision, recall) against the labeled documents each version learned from.
const SERIES = [
  { key: "f1", name: "F1", color: "#1f5fbf" },
  { key: "precision", name: "precision", color: "#2e7d32" },
  { key: "recall", name: "recall", color: "#c77800" },
] as const;

function LearningCurve({ versions }: { versions: Version[] }) {
  const [hover, setHover] = useState<number | null>(null);
  const scored = versions.filter((v) => headline(v).f1 !== undefined).sort((a, b) => labeledOf(a) - labeledOf(b) || a.id - b.id);
  if (scored.length === 0) {
    return <p class="muted" data-testid="curve-empty">No learning curve yet: a version is scored once at least 10 documents are labeled, a fifth of them held out.</p>;
  }
  const W = 640, H = 280, left = 56, right = 150, top = 16, bottom = 48;
  // Round ticks (1, 2 or 5 times a power of ten), about four of them.
  const most = Math.max(1, ...scored.map(labeledOf));
  const raw = most / 4, power = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * power).find((t) => t >= raw)!);
  const maxX = Math.ceil(most / step) * step;
  const x = (n: number) => left + (n / maxX) * (W - left - right);
  const y = (s: number) => top + (1 - s) * (H - top - bottom);
  const xTicks = Array.from({ length: maxX / step + 1 }, (_, i) => i * step);
  const hovered = hover !== null ? scored[hover] : null;
  return (
    <figure class="curve-box">
      <svg class="lcurve" viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" data-testid="learning-curve"
        aria-label="Learning curve: held-out F1, precision and recall (0 to 1) against labeled documents">
        {[0, 0.25, 0.5, 0.75, 1].map((s) => (
          <g key={s}>
            <line x1={left} x2={W - right} y1={y(s)} y2={y(s)} stroke="#e3e6ea" />
            <text x={left - 6} y={y(s) + 4} text-anchor="end">{s.toFixed(2)}</text>
          </g>
        ))}
        {xTicks.map((n) => <text key={n} x={x(n)} y={H - bottom + 16} text-anchor="middle">{n}</text>)}
        <line x1={left} x2={W - right} y1={H - bottom} y2={H - bottom} stroke="#666" />
        <line x1={left} x2={left} y1={top} y2={H - bottom} stroke="#666" />
        <text class="axis-title" x={(left + W - right) / 2} y={H - 8} text-anchor="middle">labeled documents (count)</text>
        <text class="axis-title" transform={`translate(14 ${(top + H - bottom) / 2}) rotate(-90)`} text-anchor="middle">held-out score (0–1)</text>
        {SERIES.map((s) => {
          const points = scored.filter((v) => headline(v)[s.key] !== undefined);
          return (
            <g key={s.key} data-series={s.key}>
              <polyline points={points.map((v) => `${x(labeledOf(v))},${y(headline(v)[s.key]!)}`).join(" ")}
                fill="none" stroke={s.color} stroke-width={s.key === "f1" ? 2.5 : 1.5} stroke-dasharray={s.key === "f1" ? undefined : "4 3"} />
              {points.map((v) => (
                <circle key={v.id} cx={x(labeledOf(v))} cy={y(headline(v)[s.key]!)} r={s.key === "f1" ? 4 : 3} fill={s.color}>
                  <title>{`v${v.number}: ${s.name} ${fmt(headline(v)[s.key])} with ${labeledOf(v)} labeled documents`}</title>
                </circle>
              ))}
            </g>
          );
        })}
        {SERIES.map((s, i) => (
          <g key={s.key} transform={`translate(${W - right + 16} ${top + 8 + i * 18})`}>
            <line x1="0" x2="18" y1="0" y2="0" stroke={s.color} stroke-width="2.5" stroke-dasharray={s.key === "f1" ? undefined : "4 3"} />
            <text x="24" y="4">{s.name}</text>
          </g>
        ))}
        {/* Hover targets: one band per version, so the values show wherever the pointer is above it. */}
        {scored.map((v, i) => (
          <rect key={v.id} data-testid="curve-point" x={x(labeledOf(v)) - 8} y={top} width="16" height={H - top - bottom}
            fill="transparent" onMouseEnter={() => setHover(i)} onMouseLeave={() => setHover(null)} />
        ))}
        {hovered && (() => {
          const h = headline(hovered);
          const at = x(labeledOf(hovered));
          const px = at + 196 > W - right ? at - 196 : at + 10; // beside the point, inside the plot
          return (
            <g data-testid="curve-tooltip" pointer-events="none">
              <line x1={at} x2={at} y1={top} y2={H - bottom} stroke="#999" stroke-dasharray="2 2" />
              <rect x={px} y={top + 4} width="186" height="74" rx="4" fill="#fff" stroke="#999" />
              <text x={px + 8} y={top + 20} class="tip">{`v${hovered.number} · ${labeledOf(hovered)} labeled`}</text>
              <text x={px + 8} y={top + 36} class="tip">{`F1 ${fmt(h.f1)}`}</text>
              <text x={px + 8} y={top + 52} class="tip">{`precision ${fmt(h.precision)} · recall ${fmt(h.recall)}`}</text>
              <text x={px + 8} y={top + 68} class="tip">{`${h.heldout} held-out documents`}</text>
            </g>
          );
        })()}
      </svg>
      <figcaption class="muted">Each point is a version, scored on the documents it did not train on. Hover for the values.</figcaption>
    </figure>
  );
}

export function ModelPage({ projectId }: { projectId: number }) {
  const base = `/projects/${projectId}`;
  const [available, setAvailable] = useState<boolean | null>(null);
  const [versions, setVersions] = useState<Version[]>([]);
  const [owner, setOwner] = useState(false);
  const [error, setError] = useState("");
  const [message, setMessage] = useState("");
  const fail = (e: unknown) => setError(e instanceof ApiError ? e.message : String(e));
  const load = async () => setVersions((await get<{ items: Version[] }>(`${base}/model/versions`)).items);
  useEffect(() => {
    loadCapabilities().then(async (caps) => {
      const ok = has(caps, "/projects/{project_id}/model/versions");
      setAvailable(ok);
      if (!ok) return;
      const project = await get<Project>(base);
      setOwner(project.role === "owner");
      await load();
    }).catch(fail);
  }, [base]);

  const activate = async (v: Version) => {
    setError(""); setMessage("");
    try {
      await post(`${base}/model/versions/${v.id}/activate`);
      await load();
      setMessage(`v${v.number} (${v.model}) is active: its recommendations are served from now on.`);
    } catch (e) { fail(e); }
  };

  const withAccuracy = versions.some((v) => headline(v).accuracy !== undefined);
  return (
    <main class="page model-page">
      <header class="bar"><h2>Model</h2><span class="grow" /><a href={`#/projects/${projectId}/console`}>Console</a></header>
      {error && <p class="error" data-testid="model-error">{error}</p>}
      {message && <p class="ok" data-testid="model-message">{message}</p>}
      {available === false && <p class="muted">The model API is not installed on this server.</p>}
      {available && <>
        <LearningCurve versions={versions} />
        {versions.length === 0 && <p class="muted">No versions yet: train the model from the console.</p>}
        {versions.length > 0 && (
          <table class="versions" data-testid="versions">
            <thead>
              <tr>
                <th>version</th><th>labeled documents</th><th title="on the held-out documents">F1</th><th>precision</th><th>recall</th>
                {withAccuracy && <th>accuracy</th>}<th>held-out documents</th><th>created</th><th />
              </tr>
            </thead>
            <tbody>
              {versions.map((v) => {
                const h = headline(v);
                return (
                  <tr key={v.id} data-version={v.number} class={v.is_active ? "active" : ""}>
                    <td><b>v{v.number}</b> {v.model}{v.is_active && <span class="badge" data-testid="active-badge">active</span>}</td>
                    <td class="num">{labeledOf(v)}</td>
                    <td class="num" data-testid="f1"><b>{fmt(h.f1)}</b></td>
                    <td class="num" data-testid="precision">{fmt(h.precision)}</td>
                    <td class="num" data-testid="recall">{fmt(h.recall)}</td>
                    {withAccuracy && <td class="num">{fmt(h.accuracy)}</td>}
                    <td class="num" data-testid="heldout">{h.heldout || "none (too few labeled)"}</td>
                    <td>{v.created_at?.slice(0, 16).replace("T", " ")}</td>
                    <td><div class="actions">
                      {owner && !v.is_active && <button onClick={() => activate(v)} data-testid="make-active">make active</button>}
                      <a href={`/api/v1${base}/model/versions/${v.id}/archive`} download>download</a>
                      <details data-testid="raw-metrics">
                        <summary>raw metrics</summary>
                        <dl class="raw">
                          {[...namedNumbers(v.metrics), ...Object.entries(v.data_counts)
                            .filter((e): e is [string, number] => typeof e[1] === "number").map(([k, n]) => [`data ${k}`, n] as [string, number])]
                            .map(([k, n]) => <div key={k}><dt>{k}</dt><dd>{Number.isInteger(n) ? n : n.toFixed(3)}</dd></div>)}
                        </dl>
                      </details>
                    </div></td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </>}
    </main>
  );
}
