// The natural-language explanation box. Where the server can parse explanations, it shows
// the parse as the annotator types: the readable logical form, whether it holds on this
// document, and how many other documents it matches.

import { useEffect, useRef, useState } from "preact/hooks";
import type { ViewProps } from "../contract";

const PARSE_PATH = "/projects/{project_id}/explanations/parse";

interface Parse {
  readable?: string; logical_form?: string; holds?: boolean; matches?: number;
  examples?: { document_id?: number; text?: string }[];
}

interface Props {
  w: ViewProps;
  value: string;
  onInput: (text: string) => void;
  onSave: () => void;
  context: Record<string, unknown>; // label, subject/object: what the parse is checked against
  inputRef?: { current: HTMLTextAreaElement | null };
}

export function ExplanationBox({ w, value, onInput, onSave, context, inputRef }: Props) {
  const [parse, setParse] = useState<Parse | null>(null);
  const [parseError, setParseError] = useState("");
  const timer = useRef<number | undefined>(undefined);
  const canParse = w.can(PARSE_PATH);

  useEffect(() => {
    if (!canParse || !value.trim()) { setParse(null); setParseError(""); return; }
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => {
      w.request<Parse>("POST", `/projects/${w.project.id}/explanations/parse`, { text: value, document_id: w.doc.id, ...context })
        .then((p) => { setParse(p); setParseError(""); })
        .catch((e) => { setParse(null); setParseError(e instanceof Error ? e.message : String(e)); });
    }, 250);
    return () => window.clearTimeout(timer.current);
  }, [value, canParse, w.doc.id, JSON.stringify(context)]);

  if (w.project.explanation_kind !== "natural_language") return null;
  return (
    <div class="explanation">
      <label for="explanation">Explanation <span class="muted">(why this label? Ctrl+Enter saves)</span></label>
      <textarea id="explanation" data-testid="explanation" ref={inputRef} rows={3} value={value}
        placeholder="e.g. The word “terrible” appears right before the movie title."
        onInput={(e) => onInput((e.target as HTMLTextAreaElement).value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); onSave(); }
          if (e.key === "Escape") (e.target as HTMLTextAreaElement).blur();
        }} />
      {canParse && (
        <div class="parse" data-testid="parse" aria-live="polite">
          {parseError && <span class="error">{parseError}</span>}
          {parse && <>
            <code>{parse.readable ?? parse.logical_form ?? "—"}</code>
            {parse.holds !== undefined && <span class={parse.holds ? "ok" : "error"}>{parse.holds ? "holds here" : "does not hold here"}</span>}
            {parse.matches !== undefined && <span>matches {parse.matches} other documents</span>}
            {(parse.examples ?? []).slice(0, 3).map((x, i) => <q key={i}>{x.text ?? `#${x.document_id}`}</q>)}
          </>}
        </div>
      )}
    </div>
  );
}
