// The natural-language explanation box. Where the server can parse explanations, it shows
// the parse as the annotator types: the readable logical form, whether it holds on this
// document, and how many other documents it matches.

import { useEffect, useRef, useState } from "preact/hooks";
import type { ViewProps } from "../contract";

const PARSE_PATH = "/projects/{project_id}/explanations/parse";

interface Parse {
  parsed?: boolean; message?: string; readable?: string; logical_form?: string; holds?: boolean; matches?: number;
  examples?: { document_id?: number; text?: string }[];
}

// What the parse is checked against, named for a person (the context's keys; "label" is
// named by the view).
const NAMES: Record<string, string> = { subject: "the subject", object: "the object" };

// "a, b and c"
const listed = (names: string[]) => names.length < 2 ? names.join("") : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;

// A server message as a sentence: without the "field: " prefix the API puts first, with a
// capital and a full stop.
function sentence(message: string, field?: string): string {
  const bare = field && message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message;
  const text = bare.trim();
  return text ? `${text[0].toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? "" : "."}` : "";
}

interface Props {
  w: ViewProps;
  value: string;
  onInput: (text: string) => void;
  onSave: () => unknown; // true (or a promise of it) when saved: focus then returns to the document
  context: Record<string, unknown>; // label, subject/object: what the parse is checked against
  inputRef?: { current: HTMLTextAreaElement | null };
  labelWord?: string; // what the task calls its label, in "choose the … first" (RE: "relation")
}

export function ExplanationBox({ w, value, onInput, onSave, context, inputRef, labelWord = "label" }: Props) {
  const [parse, setParse] = useState<Parse | null>(null);
  const [parseError, setParseError] = useState("");
  const timer = useRef<number | undefined>(undefined);
  const canParse = w.can(PARSE_PATH);

  // Nothing is asked before the label (and a relation's subject and object) are chosen.
  const names: Record<string, string> = { ...NAMES, label: `the ${labelWord}` };
  const missing = Object.entries(context).filter(([, v]) => v === null || v === undefined).map(([k]) => names[k] ?? k);

  useEffect(() => {
    if (!canParse || !value.trim() || missing.length) { setParse(null); setParseError(""); return; }
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => {
      w.request<Parse>("POST", `/projects/${w.project.id}/explanations/parse`, { text: value, document_id: w.doc.id, ...context })
        .then((p) => { setParse(p); setParseError(""); })
        .catch((e) => {
          setParse(null);
          const field = (e as { field?: string }).field;
          setParseError(`This explanation cannot be checked yet: ${sentence(e instanceof Error ? e.message : String(e), field)}`);
        });
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
          if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            // Once saved, the keys are the document's again: "]" goes to the next one.
            const box = e.target as HTMLTextAreaElement;
            Promise.resolve(onSave()).then((saved) => { if (saved) box.blur(); });
          }
          if (e.key === "Escape") (e.target as HTMLTextAreaElement).blur();
        }} />
      {canParse && (
        <div class="parse" data-testid="parse" aria-live="polite">
          {value.trim() && missing.length > 0 &&
            <span class="muted">Choose {listed(missing)} first; the explanation is then checked against {missing.length > 1 ? "them" : "it"}.</span>}
          {parseError && <span class="error">{parseError}</span>}
          {parse?.parsed === false && <span class="error">{sentence(parse.message ?? "This explanation could not be parsed")}</span>}
          {parse && parse.parsed !== false && <>
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
