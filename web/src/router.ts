// Hash routes (#/projects/3/annotate/17): the server serves one page, the app the rest.

import { useEffect, useState } from "preact/hooks";

export function navigate(path: string, replace = false): void {
  const hash = `#${path}`;
  if (location.hash === hash) return;
  if (replace) {
    history.replaceState(null, "", hash);
    window.dispatchEvent(new HashChangeEvent("hashchange")); // replaceState fires none; keep the route in step
  } else {
    location.hash = hash;
  }
}

export function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
