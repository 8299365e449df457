// Keyboard handling for task views: the host routes the keys it does not take to the view
// (ViewProps.onKey); the hook always calls the view's latest handler, so fast typing never
// meets a stale closure.

import { useEffect, useRef } from "preact/hooks";
import type { KeyHandler, ViewProps } from "../contract";

export const isTyping = (e: KeyboardEvent) =>
  e.target instanceof HTMLElement && e.target.closest("input, textarea, select") !== null;

export function useKeys(props: ViewProps, handler: KeyHandler): void {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => props.onKey((e) => latest.current(e)), []);
}
