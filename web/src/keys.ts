// Keyboard handling for the workspace: one window listener per view that always calls the
// view's latest handler, so fast typing never meets a stale closure.

import { useEffect, useRef } from "preact/hooks";

export const isTyping = (e: KeyboardEvent) =>
  e.target instanceof HTMLElement && e.target.closest("input, textarea, select") !== null;

export function useKeys(handler: (e: KeyboardEvent) => void): void {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => latest.current(e);
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
}
