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

// The route's parts: #/projects/3/annotate/17 -> ["projects", "3", "annotate", "17"].
export function currentRoute(): string[] {
  return location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
}

export function useRoute(): string[] {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const onChange = () => setRoute(currentRoute());
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
