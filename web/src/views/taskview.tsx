// Where the task's own view runs: the module its plugin ships (TaskInfo.view_url) is imported
// once, checked against the contract, and mounted into an element of this page. A task
// without a view gets a read-only one here.

import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { VIEW_CONTRACT, type KeyHandler, type TaskView, type ViewHandle, type ViewProps } from "../contract";

const modules = new Map<string, Promise<TaskView>>();

function checked(url: string, module: { default?: Partial<TaskView> }): TaskView {
  const view = module.default;
  if (!view || view.contract !== VIEW_CONTRACT || typeof view.mount !== "function" || !Array.isArray(view.keyHelp)) {
    throw new Error(`${url} is not a task view: its default export must be {contract: ${VIEW_CONTRACT}, keyHelp, mount}`);
  }
  return view as TaskView;
}

// The view module at `url` (each is imported once; the browser caches it too).
export function loadView(url: string): Promise<TaskView> {
  let loading = modules.get(url);
  if (!loading) {
    loading = import(/* @vite-ignore */ url).then((m) => checked(url, m));
    modules.set(url, loading);
  }
  return loading;
}

export type ViewState = { view: TaskView | null; error: string };

export function useTaskView(url: string | null | undefined): ViewState {
  const [state, setState] = useState<ViewState>({ view: null, error: "" });
  useEffect(() => {
    if (!url) return;
    let current = true;
    loadView(url).then((view) => current && setState({ view, error: "" }))
      .catch((e) => current && setState({ view: null, error: `The task's view did not load: ${e instanceof Error ? e.message : e}` }));
    return () => { current = false; };
  }, [url]);
  return state;
}

interface MountProps { view: TaskView; props: ViewProps; handle: { current: ViewHandle | null } }

// Mounts `view` once and hands it every new set of props; the view owns the element's contents.
export function ViewMount({ view, props, handle }: MountProps) {
  const element = useRef<HTMLDivElement>(null);
  const mounted = useRef<ViewHandle | null>(null);
  useLayoutEffect(() => {
    mounted.current = view.mount(element.current!, props);
    handle.current = mounted.current;
    return () => { mounted.current?.unmount(); mounted.current = null; handle.current = null; };
  }, [view]);
  useLayoutEffect(() => { mounted.current?.update(props); });
  return <div class="taskview" ref={element} />;
}

// For a task whose plugin ships no view: the document and the annotations, read-only.
export function PlainView({ props }: { props: ViewProps }) {
  const { doc } = props;
  return (
    <div class="task">
      <section class="main">
        <p class="hint">The task {props.project.task} ships no annotation view; its annotations can be made through the API.</p>
        <div class="doctext plain" data-testid="doctext">{doc.text}</div>
      </section>
      <aside class="side">
        <h3>Annotations ({doc.annotations.length})</h3>
        <ul class="list" data-testid="annotations">
          {doc.annotations.map((a) => (
            <li key={a.id}>
              <span class="chip">{a.label}</span>
              {a.start !== undefined && a.end !== undefined && <span>{doc.text.slice(a.start, a.end)}</span>}
              {a.subject !== undefined && <span>#{a.subject} → #{a.object}</span>}
            </li>
          ))}
        </ul>
      </aside>
    </div>
  );
}

/** The page's keyboard: ``onKey`` (the latest one each render) gets every keydown of the
 * window; task views register their own handlers, which the page forwards keys to. */
export function useHostKeys(onKey: (e: KeyboardEvent) => void) {
  const viewKeys = useRef(new Set<KeyHandler>());
  const latestOnKey = useRef(onKey);
  latestOnKey.current = onKey;
  useEffect(() => {
    const listener = (e: KeyboardEvent) => latestOnKey.current(e);
    window.addEventListener("keydown", listener);
    return () => window.removeEventListener("keydown", listener);
  }, []);
  const registerViewKeys = useCallback((handler: KeyHandler) => {
    viewKeys.current.add(handler);
    return () => { viewKeys.current.delete(handler); };
  }, []);
  return { viewKeys, registerViewKeys };
}
