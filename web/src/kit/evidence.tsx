// A recommendation's evidence, read defensively: its shape is between the model and the view
// (contract.ts), so every field is checked before use. The models that ship with LeanLife send
//   triggers: [{text, start, end, weight?}]  words of THIS document (TriggerNER, NExT, toy models)
//   training_triggers: [string]              training phrases they were matched against (TriggerNER)
//   example: {document_id, start, end, text} the annotated example a suggestion copies (dictionary)
//   explanations: [string]                   the explanations that fired (NExT)

import type { Offsets, Recommendation } from "../contract";

export interface TriggerSpan extends Offsets { text: string; weight?: number }
export interface EvidenceExample extends Offsets { document_id: number; text: string }

const isNumber = (x: unknown): x is number => typeof x === "number" && Number.isInteger(x);
const strings = (x: unknown): string[] => (Array.isArray(x) ? x.filter((s): s is string => typeof s === "string") : []);

// The trigger words of `text` the recommendation cites; spans outside the text are dropped.
export function evidenceTriggers(r: Recommendation, text: string): TriggerSpan[] {
  const triggers = r.evidence?.triggers;
  if (!Array.isArray(triggers)) return [];
  return triggers.flatMap((t) => {
    const { start, end, weight } = (t ?? {}) as Record<string, unknown>;
    if (!isNumber(start) || !isNumber(end) || start < 0 || end <= start || end > text.length) return [];
    return [{ start, end, text: text.slice(start, end), weight: typeof weight === "number" ? weight : undefined }];
  });
}

export const trainingTriggers = (r: Recommendation): string[] => strings(r.evidence?.training_triggers);
export const evidenceExplanations = (r: Recommendation): string[] => strings(r.evidence?.explanations);

export function evidenceExample(r: Recommendation): EvidenceExample | null {
  const x = r.evidence?.example as Record<string, unknown> | undefined;
  return x && typeof x.text === "string" && isNumber(x.start) && isNumber(x.end) && isNumber(x.document_id)
    ? { document_id: x.document_id, start: x.start, end: x.end, text: x.text } : null;
}

// The evidence as a few short notes, for a recommendation's row in a list.
export function EvidenceNotes({ r, text }: { r: Recommendation; text: string }) {
  const triggers = evidenceTriggers(r, text);
  const training = trainingTriggers(r);
  const example = evidenceExample(r);
  const explanations = evidenceExplanations(r);
  return (
    <>
      {triggers.length > 0 && (
        <span class="trigger" data-testid="rec-triggers" title="the words of this document the model matched">
          ⚑ {triggers.map((t) => t.text).join(", ")}
        </span>
      )}
      {training.length > 0 && (
        <span class="muted evidence" title="trigger phrases from training they were matched against">
          like: {training.join(", ")}
        </span>
      )}
      {example && (
        <span class="muted evidence" data-testid="rec-example" title={`the annotation it copies (document #${example.document_id})`}>
          as in: “{example.text}” (#{example.document_id})
        </span>
      )}
      {explanations.map((x, k) => <q key={k} class="evidence">{x}</q>)}
    </>
  );
}

// Plain text with some character ranges marked (a document without tokens, as in SA).
export function MarkedText({ text, spans, className }: { text: string; spans: Offsets[]; className: string }) {
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  const parts = [];
  let at = 0;
  for (const s of sorted) {
    if (s.start < at) continue; // overlapping ranges: the first one wins
    if (s.start > at) parts.push(text.slice(at, s.start));
    parts.push(<mark key={s.start} class={className} data-start={s.start}>{text.slice(s.start, s.end)}</mark>);
    at = s.end;
  }
  parts.push(text.slice(at));
  return <>{parts}</>;
}
