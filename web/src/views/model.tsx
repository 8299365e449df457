// The model page: versions with their metrics, a learning curve, and a download per version.
// Shown only where the server has the model API.

import { useEffect, useState } from "preact/hooks";
import { ApiError, get, has, loadCapabilities } from "../api";
import { heldoutScore, namedNumbers, type Metrics } from "../metrics";

// One item of GET .../model/versions.
interface Version {
  id: number; number: number; model: string; is_active: boolean; created_at: string | null;
  metrics: Metrics; data_counts: Record<string, number>;
}

const annotationsOf = (v: Version) => v.data_counts.annotations ?? v.data_counts.labeled ?? 0;
const scoreOf = (v: Version) => heldoutScore(v.metrics)?.[1];

function LearningCurve({ versions }: { versions: Version[] }) {
  const points = versions.filter((v) => scoreOf(v) !== undefined).map((v) => [annotationsOf(v), scoreOf(v)!] as const)
    .sort((a, b) => a[0] - b[0]);
  if (points.length === 0) return <p class="muted">No scored versions yet.</p>;
  const maxX = Math.max(1, ...points.map((p) => p[0]));
  const x = (v: number) => 40 + (v / maxX) * 440;
  const y = (v: number) => 180 - v * 160;
  return (
    <svg class="curve" viewBox="0 0 500 210" role="img" aria-label="learning curve: score against annotations">
      <line x1="40" y1="180" x2="480" y2="180" /><line x1="40" y1="20" x2="40" y2="180" />
      <text x="480" y="200" text-anchor="end">annotations ({maxX})</text><text x="4" y="24">1.0</text><text x="4" y="184">0</text>
      <polyline points={points.map((p) => `${x(p[0])},${y(p[1])}`).join(" ")} />
      {points.map((p, i) => <circle key={i} cx={x(p[0])} cy={y(p[1])} r="3"><title>{`${p[0]} annotations: ${p[1].toFixed(3)}`}</title></circle>)}
    </svg>
  );
}

export function ModelPage({ projectId }: { projectId: number }) {
  const base = `/projects/${projectId}`;
  const [available, setAvailable] = useState<boolean | null>(null);
  const [versions, setVersions] = useState<Version[]>([]);
  const [error, setError] = useState("");
  useEffect(() => {
    loadCapabilities().then(async (caps) => {
      const ok = has(caps, "/projects/{project_id}/model/versions");
      setAvailable(ok);
      if (ok) setVersions((await get<{ items: Version[] }>(`${base}/model/versions`)).items);
    }).catch((e) => setError(e instanceof ApiError ? e.message : String(e)));
  }, [base]);

  return (
    <main class="page">
      <header class="bar"><h2>Model</h2><span class="grow" /><a href={`#/projects/${projectId}/console`}>Console</a></header>
      {error && <p class="error">{error}</p>}
      {available === false && <p class="muted">The model API is not installed on this server.</p>}
      {available && <>
        <LearningCurve versions={versions} />
        <table class="versions" data-testid="versions">
          <thead><tr><th>version</th><th>annotations</th><th>metrics</th><th>created</th><th /></tr></thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.id}>
                <td>v{v.number} {v.model}{v.is_active ? " (active)" : ""}</td><td>{annotationsOf(v)}</td>
                <td>{namedNumbers(v.metrics).map(([k, s]) => `${k} ${s.toFixed(3)}`).join(", ")}</td>
                <td>{v.created_at?.slice(0, 19).replace("T", " ")}</td>
                <td><a href={`/api/v1${base}/model/versions/${v.id}/archive`} download>Download</a></td>
              </tr>
            ))}
          </tbody>
        </table>
      </>}
    </main>
  );
}
