// The first screen's GET requests, started while the script is still starting up instead of
// one after another as components mount; a component takes over the answer with `take`.

import { get } from "./api";

const started = new Map<string, Promise<unknown>>();

export function prefetch(paths: string[]): void {
  for (const path of paths) {
    if (started.has(path)) continue;
    const answer = get(path);
    answer.catch(() => undefined); // a failure is reported to whoever takes it
    started.set(path, answer);
  }
}

// The prefetched answer, once; a failed one is asked again (it may have been sent before the
// login that makes it succeed), and a path never prefetched is simply fetched.
export function take<T>(path: string): Promise<T> {
  const answer = started.get(path) as Promise<T> | undefined;
  started.delete(path);
  return answer ? answer.catch(() => get<T>(path)) : get<T>(path);
}

// Drops answers nobody took, so a later look at the same address asks the server again.
export function forgetPrefetched(): void {
  started.clear();
}
