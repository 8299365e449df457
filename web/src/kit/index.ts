// The toolkit the built-in task views are written with (plugins/leanlife_*/view), bundled
// into each view at build time as "@leanlife/kit". A third-party view may use it the same way
// or ignore it: the contract (contract.ts) is all the host asks for.

export * from "../contract";
export { DocumentText, type TokenMark } from "./doctext";
export {
  EvidenceNotes, MarkedText, evidenceExample, evidenceExplanations, evidenceTriggers, trainingTriggers,
  type EvidenceExample, type TriggerSpan,
} from "./evidence";
export { ExplanationBox } from "./explanation";
export { isTyping, useKeys } from "./keys";
export { LabelButtons, labelForKey } from "./labels";
export { offsetOf, spansToTokens, tokenize, tokenRange, tokensToSpans, type Token } from "./text";
export { defineView, type Exposed, type ViewComponentProps } from "./view";
