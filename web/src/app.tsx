// Who is logged in, and which page the hash route names.

import { useEffect, useState } from "preact/hooks";
import { ApiError, get, post, setCsrf, type User } from "./api";
import { useRoute } from "./router";
import { Annotate } from "./views/annotate";
import { Console } from "./views/console";
import { Login } from "./views/login";
import { ModelPage } from "./views/model";
import { Projects } from "./views/projects";

export function App() {
  const [me, setMe] = useState<User | null | undefined>(undefined);
  const route = useRoute();

  useEffect(() => {
    get<{ user: User; csrf_token: string }>("/auth/me")
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

  const [section, id, view, docId] = route;
  const projectId = section === "projects" && id ? Number(id) : null;
  let page;
  if (projectId !== null && view === "annotate") {
    page = <Annotate key={projectId} projectId={projectId} documentId={docId ? Number(docId) : null} me={me} />;
  } else if (projectId !== null && view === "console") {
    page = <Console key={projectId} projectId={projectId} />;
  } else if (projectId !== null && view === "model") {
    page = <ModelPage key={projectId} projectId={projectId} />;
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
