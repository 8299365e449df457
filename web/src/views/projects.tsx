// My projects, a form to create one (task, explanation kind, labels), and, for admins, users.

import { useEffect, useState } from "preact/hooks";
import { ApiError, get, post, type Page, type Project, type TaskInfo, type User } from "../api";
import { navigate } from "../router";
import { LabelFields, newDraft, shortcutProblem, type LabelDraft } from "./labelform";

const KIND_TITLES: Record<string, string> = { none: "none", trigger: "trigger words", natural_language: "sentences" };

export function Projects({ me }: { me: User }) {
  const [projects, setProjects] = useState<Project[]>([]);
  const [tasks, setTasks] = useState<TaskInfo[]>([]);
  useEffect(() => {
    get<Page<Project>>("/projects?limit=200").then((p) => setProjects(p.items));
    get<{ tasks: TaskInfo[] }>("/plugins").then((p) => setTasks(p.tasks));
  }, []);

  return (
    <main class="page columns">
      <section>
        <h2>Projects</h2>
        {projects.length === 0 && <p class="muted">No projects yet.</p>}
        <ul class="list projects" data-testid="projects">
          {projects.map((p) => (
            <li key={p.id}>
              <a href={`#/projects/${p.id}/annotate`}><b>{p.name}</b></a>
              <span class="muted">{p.task} · {p.role ?? "admin"}</span>
              {(p.role === "owner" || me.is_admin) && <a href={`#/projects/${p.id}/console`}>console</a>}
            </li>
          ))}
        </ul>
        {me.is_admin && <Users />}
      </section>
      {tasks.length > 0 && <CreateProject tasks={tasks} />}
    </main>
  );
}

function CreateProject({ tasks }: { tasks: TaskInfo[] }) {
  const [name, setName] = useState("");
  const [taskName, setTaskName] = useState(tasks[0].name);
  const task = tasks.find((t) => t.name === taskName)!;
  const [explanation, setExplanation] = useState(task.explanation_kinds[0] ?? "none");
  const [multi, setMulti] = useState(false);
  // New projects retrain their suggested model as annotations arrive; 0 means on request only.
  const [retrainEvery, setRetrainEvery] = useState(10);
  const [drafts, setDrafts] = useState<LabelDraft[]>([newDraft(task.label_kinds[0], 0)]);
  const [error, setError] = useState("");

  const changeTask = (value: string) => {
    const t = tasks.find((x) => x.name === value)!;
    setTaskName(value);
    setExplanation(t.explanation_kinds[0] ?? "none");
    setDrafts(drafts.map((d) => ({ ...d, kind: t.label_kinds.includes(d.kind) ? d.kind : t.label_kinds[0] })));
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      const retrain_policy = retrainEvery > 0 ? { mode: "every_n", n: retrainEvery } : { mode: "manual" };
      const project = await post<Project>("/projects", { name, task: taskName, explanation_kind: explanation, multi_label: multi, retrain_policy });
      for (const d of drafts.filter((x) => x.name.trim())) {
        await post(`/projects/${project.id}/labels`, { name: d.name, kind: d.kind, color: d.color, shortcut: d.shortcut || null });
      }
      navigate(`/projects/${project.id}/console`);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };

  return (
    <form class="card" onSubmit={submit} data-testid="create-project">
      <h2>New project</h2>
      <label>Name <input name="name" required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} /></label>
      <label>Task <select name="task" value={taskName} onChange={(e) => changeTask((e.target as HTMLSelectElement).value)}>
        {tasks.map((t) => <option key={t.name} value={t.name}>{t.title}</option>)}
      </select></label>
      <label>Explanations <select name="explanation_kind" value={explanation}
        onChange={(e) => setExplanation((e.target as HTMLSelectElement).value)}>
        {["none", ...task.explanation_kinds].map((k) => <option key={k} value={k}>{KIND_TITLES[k] ?? k}</option>)}
      </select></label>
      {task.label_kinds.includes("document") && (
        <label><input type="checkbox" checked={multi} onChange={(e) => setMulti((e.target as HTMLInputElement).checked)} /> several labels per document</label>
      )}
      <label>Retrain after every <input name="retrain_every" type="number" min="0" value={retrainEvery}
        onInput={(e) => setRetrainEvery(Math.max(0, Number((e.target as HTMLInputElement).value) || 0))} /> new
        annotations <span class="muted">(0: only when asked)</span></label>
      <fieldset>
        <legend>Labels</legend>
        {drafts.map((d, i) => (
          <div key={i}>
            <LabelFields draft={d} kinds={task.label_kinds} problem={shortcutProblem(drafts, d)}
              onChange={(n) => setDrafts(drafts.map((x, j) => (j === i ? n : x)))} />
          </div>
        ))}
        <button type="button" onClick={() => setDrafts([...drafts, newDraft(task.label_kinds[0], drafts.length)])}>+ label</button>
      </fieldset>
      {error && <p class="error" role="alert">{error}</p>}
      <button class="primary" type="submit">Create project</button>
    </form>
  );
}

function Users() {
  const [users, setUsers] = useState<User[]>([]);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const load = () => get<{ items: User[] }>("/users").then((r) => setUsers(r.items));
  useEffect(() => { load(); }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      await post("/users", { username, password });
      setUsername(""); setPassword(""); setError("");
      load();
    } catch (err) { setError(err instanceof ApiError ? err.message : String(err)); }
  };
  return (
    <form class="card" onSubmit={submit} data-testid="users">
      <h3>Users</h3>
      <p class="muted">{users.map((u) => u.username).join(", ")}</p>
      <input aria-label="new username" placeholder="username" value={username} onInput={(e) => setUsername((e.target as HTMLInputElement).value)} />
      <input aria-label="new password" placeholder="password (10+)" type="password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
      <button type="submit">Add user</button>
      {error && <p class="error" role="alert">{error}</p>}
    </form>
  );
}
