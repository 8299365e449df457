// Who is logged in, and which page the hash route names.

import { useLayoutEffect, useState } from "preact/hooks";
import { ApiError, post, setCsrf, type User } from "./api";
import { prefetch, take } from "./prefetch";
import { currentRoute, useRoute } from "./router";
import { AgreementPage } from "./views/agreement";
import { Annotate, startupRequests } from "./views/annotate";
import { Console } from "./views/console";
import { CuratePage } from "./views/curate";
import { Login } from "./views/login";
import { ModelPage } from "./views/model";
import { Projects } from "./views/projects";

interface Page { projectId: number | null; view: string | undefined; documentId: number | null }

function pageOf([section, id, view, docId]: string[]): Page {
  const projectId = section === "projects" && id ? Number(id) : null;
  return { projectId, view, documentId: docId ? Number(docId) : null };
}

// Starts the requests the page at the current address needs first, before anything renders.
export function prefetchFirstScreen(): void {
  const { projectId, view, documentId } = pageOf(currentRoute());
  const annotating = projectId !== null && view === "annotate";
  prefetch(["/auth/me", ...(annotating ? startupRequests(projectId, documentId) : [])]);
}

export function App() {
  const [me, setMe] = useState<User | null | undefined>(undefined);
  const route = useRoute();

  // A layout effect runs right after the first render; a plain one would wait for a frame.
  useLayoutEffect(() => {
    take<{ user: User; csrf_token: string }>("/auth/me")
      .then((r) => { setCsrf(r.csrf_token); setMe(r.user); })
      .catch((e) => { if (e instanceof ApiError && e.status === 401) setMe(null); else throw e; });
  }, []);

  if (me === undefined) return <p class="page">Loading…</p>;
  if (me === null) return <Login onLogin={(user) => setMe(user)} />;

  const logout = async () => {
    await post("/auth/logout");
    setCsrf("");
    setMe(null);
    location.hash = "";
  };

  const { projectId, view, documentId } = pageOf(route);
  let page;
  if (projectId !== null && view === "annotate") {
    page = <Annotate key={projectId} projectId={projectId} documentId={documentId} me={me} />;
  } else if (projectId !== null && view === "console") {
    page = <Console key={projectId} projectId={projectId} me={me} />;
  } else if (projectId !== null && view === "model") {
    page = <ModelPage key={projectId} projectId={projectId} />;
  } else if (projectId !== null && view === "agreement") {
    page = <AgreementPage key={projectId} projectId={projectId} />;
  } else if (projectId !== null && view === "curate") {
    page = <CuratePage key={projectId} projectId={projectId} documentId={documentId} me={me} />;
  } else {
    page = <Projects me={me} />;
  }
  return (
    <>
      <nav class="top">
        <a href="#/projects" class="brand">LeanLife</a>
        <span class="grow" />
        <span data-testid="whoami">{me.username}{me.is_admin ? " (admin)" : ""}</span>
        <button onClick={logout}>Log out</button>
      </nav>
      {page}
    </>
  );
}
