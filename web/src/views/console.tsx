// The owner console: labels, members and roles, documents (and import/export where the
// server has them), and the learning settings. Other members get a page that says so.

import { useEffect, useState } from "preact/hooks";
import {
  ApiError, countOf, del, get, has, loadCapabilities, patch, post,
  type Capabilities, type Label, type Member, type Project, type ProjectSettings, type Registration, type TaskInfo, type User,
} from "../api";
import { LabelFields, newDraft, shortcutProblem, type LabelDraft } from "./labelform";
import { Transfers } from "./transfers";

export function Console({ projectId, me }: { projectId: number; me: User }) {
  const base = `/projects/${projectId}`;
  const [project, setProject] = useState<Project | null>(null);
  const [task, setTask] = useState<TaskInfo | null>(null);
  const [models, setModels] = useState<Registration[]>([]);
  const [formats, setFormats] = useState<Registration[]>([]);
  const [strategies, setStrategies] = useState<Registration[]>([]);
  const [caps, setCaps] = useState<Capabilities>(new Set());
  const [message, setMessage] = useState("");
  const fail = (e: unknown) => setMessage(e instanceof ApiError ? `Error: ${e.message}` : String(e));

  useEffect(() => {
    Promise.all([get<Project>(base), get<{ tasks: TaskInfo[]; registrations: Registration[] }>("/plugins"), loadCapabilities()])
      .then(([p, plugins, c]) => {
        setProject(p); setCaps(c);
        setTask(plugins.tasks.find((t) => t.name === p.task) ?? null);
        // Only what serves the project's task: an NER project cannot train an SA model.
        const serves = (kind: string) => plugins.registrations.filter((r) => r.kind === kind && (r.tasks ?? []).includes(p.task));
        setModels(serves("model"));
        setFormats(serves("format"));
        setStrategies(serves("query_strategy"));
      }).catch(fail);
  }, [base]);

  if (!project || !task) return <main class="page"><p>{message || "Loading…"}</p></main>;
  // The server refuses an annotator every owner action; say so rather than show them.
  if (project.role !== "owner" && !me.is_admin) {
    return (
      <main class="page" data-testid="owners-only">
        <h2>{project.name}</h2>
        <p>The console is for the project's owners; you are {project.role ? `an ${project.role}` : "not a member"} of this project.</p>
        <p><a href={`#/projects/${projectId}/annotate`}>Annotate this project</a> · <a href="#/projects">All projects</a></p>
      </main>
    );
  }
  return (
    <main class="page console">
      <header class="bar">
        <h2 class="name" title={project.name}>{project.name}</h2><span class="muted">{task.title} · explanations: {project.explanation_kind}</span>
        <span class="grow" />
        <a href={`#/projects/${projectId}/annotate`}>Annotate</a>
        {has(caps, "/projects/{project_id}/model/versions") && <a href={`#/projects/${projectId}/model`}>Model</a>}
        {has(caps, "/projects/{project_id}/agreement") && <a href={`#/projects/${projectId}/agreement`}>Agreement</a>}
        {has(caps, "/projects/{project_id}/documents/{document_id}/curation") && <a href={`#/projects/${projectId}/curate`}>Curate</a>}
      </header>
      <p class="status" role="status" data-testid="status">{message}</p>
      <div class="grid">
        <Labels base={base} kinds={task.label_kinds} say={setMessage} fail={fail} />
        <Members base={base} project={project} onProject={setProject} say={setMessage} fail={fail} />
        <Documents base={base} caps={caps} formats={formats} say={setMessage} fail={fail} />
        <Learning base={base} caps={caps} settings={project.settings} models={models} strategies={strategies} say={setMessage} fail={fail} />
        <Team base={base} settings={project.settings} say={setMessage} fail={fail} />
      </div>
    </main>
  );
}

interface Section { base: string; say: (m: string) => void; fail: (e: unknown) => void }

function Labels({ base, kinds, say, fail }: Section & { kinds: string[] }) {
  const [labels, setLabels] = useState<Label[]>([]);
  const [drafts, setDrafts] = useState<LabelDraft[]>([]);
  const [fresh, setFresh] = useState<LabelDraft>(newDraft(kinds[0], 0));
  const load = () => get<{ items: Label[] }>(`${base}/labels`).then((r) => {
    setLabels(r.items);
    setDrafts(r.items.map((l) => ({ name: l.name, kind: l.kind, color: l.color, shortcut: l.shortcut ?? "" })));
    setFresh(newDraft(kinds[0], r.items.length));
  });
  useEffect(() => { load().catch(fail); }, [base]);

  const save = async (i: number) => {
    const d = drafts[i];
    try { await patch(`${base}/labels/${labels[i].id}`, { name: d.name, color: d.color, shortcut: d.shortcut || null }); say(`Saved ${d.name}.`); await load(); }
    catch (e) { fail(e); }
  };
  const add = async (e: Event) => {
    e.preventDefault();
    try { await post(`${base}/labels`, { ...fresh, shortcut: fresh.shortcut || null }); say(`Added ${fresh.name}.`); await load(); }
    catch (err) { fail(err); }
  };
  const remove = async (l: Label) => {
    if (!confirm(`Delete label ${l.name} and every annotation that uses it?`)) return;
    try { await del(`${base}/labels/${l.id}`); await load(); } catch (e) { fail(e); }
  };
  const all = [...drafts, fresh];
  return (
    <section class="card" data-testid="labels-section">
      <h3>Labels</h3>
      {drafts.map((d, i) => (
        <div key={labels[i].id} class="row">
          <LabelFields draft={d} kinds={[d.kind]} problem={shortcutProblem(all, d)}
            onChange={(n) => setDrafts(drafts.map((x, j) => (j === i ? n : x)))} />
          <span class="muted">{d.kind}</span>
          <button onClick={() => save(i)}>Save</button>
          <button class="x" title="Delete" onClick={() => remove(labels[i])}>×</button>
        </div>
      ))}
      <form class="row" onSubmit={add}>
        <LabelFields draft={fresh} kinds={kinds} problem={shortcutProblem(all, fresh)} onChange={setFresh} />
        <button type="submit">Add label</button>
      </form>
    </section>
  );
}

function Members({ base, project, onProject, say, fail }: Section & { project: Project; onProject: (p: Project) => void }) {
  const [members, setMembers] = useState<Member[]>([]);
  const [username, setUsername] = useState("");
  const [role, setRole] = useState("annotator");
  const load = () => get<{ items: Member[] }>(`${base}/members`).then((r) => setMembers(r.items));
  useEffect(() => { load().catch(fail); }, [base]);

  const act = async (work: Promise<unknown>, done: string) => {
    try { await work; say(done); await load(); } catch (e) { fail(e); }
  };
  const add = (e: Event) => { e.preventDefault(); act(post(`${base}/members`, { username, role }), `Added ${username}.`).then(() => setUsername("")); };
  const seeOthers = async (value: boolean) => {
    try { onProject(await patch<Project>(base, { annotators_see_others: value })); } catch (e) { fail(e); }
  };
  return (
    <section class="card" data-testid="members-section">
      <h3>Members</h3>
      <ul class="list">
        {members.map((m) => (
          <li key={m.user.id}>
            <b>{m.user.username}</b>
            <select aria-label={`role of ${m.user.username}`} value={m.role}
              onChange={(e) => act(patch(`${base}/members/${m.user.id}`, { role: (e.target as HTMLSelectElement).value }), "Role changed.")}>
              <option value="owner">owner</option><option value="annotator">annotator</option>
            </select>
            <button class="x" title="Remove" onClick={() => act(del(`${base}/members/${m.user.id}`), `Removed ${m.user.username}.`)}>×</button>
          </li>
        ))}
      </ul>
      <form class="row" onSubmit={add}>
        <input aria-label="member username" placeholder="username" value={username} onInput={(e) => setUsername((e.target as HTMLInputElement).value)} />
        <select aria-label="member role" value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value)}>
          <option value="annotator">annotator</option><option value="owner">owner</option>
        </select>
        <button type="submit">Add member</button>
      </form>
      <label><input type="checkbox" checked={project.annotators_see_others}
        onChange={(e) => seeOthers((e.target as HTMLInputElement).checked)} /> Annotators see each other's work</label>
    </section>
  );
}

function Documents({ base, caps, formats, say, fail }: Section & { caps: Capabilities; formats: Registration[] }) {
  const [text, setText] = useState("");
  const [count, setCount] = useState("");
  const load = () => countOf(`${base}/documents`).then((total) => setCount(String(total)));
  useEffect(() => { load().catch(fail); }, [base]);
  const add = async (e: Event) => {
    e.preventDefault();
    const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
    try {
      for (let i = 0; i < lines.length; i += 1000) {
        await post(`${base}/documents`, { documents: lines.slice(i, i + 1000).map((t) => ({ text: t })) });
      }
      setText(""); say(`Added ${lines.length} documents.`); await load();
    } catch (err) { fail(err); }
  };
  return (
    <section class="card" data-testid="documents-section">
      <h3>Documents <span class="muted" data-testid="document-count">{count}</span></h3>
      <form onSubmit={add}>
        <textarea aria-label="documents, one per line" rows={4} placeholder="Paste documents, one per line"
          value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
        <button type="submit">Add documents</button>
      </form>
      <Transfers base={base} caps={caps} formats={formats} say={say} fail={fail} onImported={load} />
    </section>
  );
}

const RETRAIN_MODES: [string, string][] = [["manual", "manual only"], ["every_n", "every N annotations"], ["every_t", "at most every T seconds"]];

function Learning({ base, caps, settings, models, strategies, say, fail }: Section & {
  caps: Capabilities; settings: ProjectSettings; models: Registration[]; strategies: Registration[];
}) {
  const [form, setForm] = useState(settings);
  const set = (change: Partial<ProjectSettings>) => setForm({ ...form, ...change });
  const policy = form.retrain_policy;
  const chosen = strategies.find((s) => s.name === (form.query_strategy ?? strategies[0]?.name));
  const save = async (e: Event) => {
    e.preventDefault();
    try {
      setForm(await patch<ProjectSettings>(`${base}/settings`, {
        model: form.model, retrain_policy: policy, query_strategy: form.query_strategy,
        confidence_threshold: form.confidence_threshold, device: form.device,
        min_recommendation_confidence: form.min_recommendation_confidence }));
      say("Learning settings saved.");
    } catch (err) { fail(err); }
  };
  const trainNow = async () => {
    try {
      const job = await post<{ id: number }>(`${base}/model/train`);
      // With Redis and no worker listening, the job would wait silently: say so.
      const status = await get<{ training_unavailable_reason: string | null }>(`${base}/model`);
      say(`Training queued (job ${job.id})${status.training_unavailable_reason ? `: ${status.training_unavailable_reason}` : "."}`);
    } catch (e) { fail(e); }
  };
  return (
    <form class="card" onSubmit={save} data-testid="learning-section">
      <h3>Learning</h3>
      <label>Model <select aria-label="model" value={form.model ?? ""} onChange={(e) => set({ model: (e.target as HTMLSelectElement).value || null })}>
        <option value="">none</option>
        {models.map((m) => <option key={m.name} value={m.name}>{m.name} ({m.plugin})</option>)}
      </select></label>
      <label>Retrain <select aria-label="retraining policy" value={policy.mode}
        onChange={(e) => set({ retrain_policy: { mode: (e.target as HTMLSelectElement).value, n: policy.n ?? 10, seconds: policy.seconds ?? 300 } })}>
        {RETRAIN_MODES.map(([v, t]) => <option key={v} value={v}>{t}</option>)}
      </select></label>
      {policy.mode === "every_n" && <label>N <input type="number" min={1} value={policy.n ?? 10}
        onInput={(e) => set({ retrain_policy: { mode: "every_n", n: Number((e.target as HTMLInputElement).value) } })} /></label>}
      {policy.mode === "every_t" && <label>T (seconds) <input type="number" min={1} value={policy.seconds ?? 300}
        onInput={(e) => set({ retrain_policy: { mode: "every_t", seconds: Number((e.target as HTMLInputElement).value) } })} /></label>}
      {/* null: the first strategy registered for the task (pipeline/scoring.py, strategy_for). */}
      <label>Queue order (query strategy) <select aria-label="query strategy" value={form.query_strategy ?? ""}
        onChange={(e) => set({ query_strategy: (e.target as HTMLSelectElement).value || null })}>
        <option value="">default{strategies.length ? ` (${strategies[0].name})` : ""}</option>
        {strategies.map((s) => <option key={s.name} value={s.name} title={s.description}>{s.name}</option>)}
      </select></label>
      {chosen?.description && <p class="muted" data-testid="strategy-description">{chosen.description}</p>}
      <label>Queue skips documents the model is this sure about <input aria-label="confidence threshold" type="number" min={0} max={1} step={0.05}
        value={form.confidence_threshold ?? ""} onInput={(e) => { const v = (e.target as HTMLInputElement).value; set({ confidence_threshold: v === "" ? null : Number(v) }); }} /></label>
      <label>Show suggestions from this confidence (members may choose their own) <input aria-label="suggestions shown from confidence"
        type="number" min={0} max={1} step={0.05} value={form.min_recommendation_confidence}
        onInput={(e) => set({ min_recommendation_confidence: Number((e.target as HTMLInputElement).value) })} /></label>
      <label>Device <input aria-label="device" placeholder="best available" value={form.device ?? ""}
        onInput={(e) => set({ device: (e.target as HTMLInputElement).value || null })} /></label>
      <button type="submit">Save settings</button>
      {has(caps, "/projects/{project_id}/model/train") && <button type="button" onClick={trainNow}>Train now</button>}
    </form>
  );
}

// The server's limit (MAX_OVERLAP in api/projects.py).
const MAX_OVERLAP = 100;
const percent = (share: number) => String(Math.round(share * 10000) / 100);

// Overlap: how many annotators each document goes to, for which share of the documents
// (PATCH .../settings {overlap, overlap_share}; the share is shown in percent).
function Team({ base, settings, say, fail }: Section & { settings: ProjectSettings }) {
  const [overlap, setOverlap] = useState(String(settings.overlap));
  const [share, setShare] = useState(percent(settings.overlap_share));
  const k = Number(overlap), p = Number(share);
  const overlapProblem = overlap.trim() === "" || !Number.isInteger(k) || k < 1 || k > MAX_OVERLAP
    ? `Annotators per document must be a whole number from 1 to ${MAX_OVERLAP}.` : "";
  const shareProblem = share.trim() === "" || !Number.isFinite(p) || p < 0 || p > 100
    ? "The share of documents must be a percentage from 0 to 100." : "";
  const save = async (e: Event) => {
    e.preventDefault();
    if (overlapProblem || shareProblem) return;
    try {
      const saved = await patch<ProjectSettings>(`${base}/settings`, { overlap: k, overlap_share: p / 100 });
      setOverlap(String(saved.overlap)); setShare(percent(saved.overlap_share));
      say(saved.overlap === 1 ? "Overlap saved: each document goes to one annotator."
        : `Overlap saved: ${percent(saved.overlap_share)}% of the documents go to ${saved.overlap} annotators each, the others to one.`);
    } catch (err) { fail(err); }
  };
  return (
    <form class="card" onSubmit={save} data-testid="team-section" noValidate>
      <h3>Team annotation</h3>
      <label>Annotators per document <input aria-label="annotators per document" type="number" min={1} max={MAX_OVERLAP} step={1}
        value={overlap} onInput={(e) => setOverlap((e.target as HTMLInputElement).value)} /></label>
      {overlapProblem && <span class="error" role="alert">{overlapProblem}</span>}
      <label>for this share of the documents (%) <input aria-label="share of documents (%)" type="number" min={0} max={100} step={1}
        value={share} onInput={(e) => setShare((e.target as HTMLInputElement).value)} /></label>
      {shareProblem && <span class="error" role="alert">{shareProblem}</span>}
      <p class="muted">The share is chosen by document id, the same documents every time; the other documents go to one
        annotator. 1 annotator per document: no overlap, whatever the share.</p>
      <button type="submit" disabled={Boolean(overlapProblem || shareProblem)}>Save team settings</button>
    </form>
  );
}
