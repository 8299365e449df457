// The contract between the annotation page (the host) and a task's view, which a task plugin
// ships as a built ES module in its static/ folder (docs/plugins.md, "Writing a task view").
//
// A view is framework-free at this boundary: the host calls mount(element, props) and the
// view draws into the element however it likes. A plugin built on its own therefore bundles
// its own framework (each built-in view bundles Preact: 8 to 10 kB gzipped in all) instead of
// having to match the host's copy and version; two Preact copies never share a tree, so
// hooks stay safe. Everything here is types, plus the keys the host keeps for itself.

export const VIEW_CONTRACT = 1;

// The data shapes of the REST API (docs/api.md) that a view receives.
export interface User { id: number; username: string; is_admin: boolean }
export interface Label { id: number; name: string; kind: string; color: string; shortcut: string | null }
export interface ProjectSettings {
  model: string | null; model_config: Record<string, unknown>;
  retrain_policy: { mode: string; n?: number; seconds?: number };
  query_strategy: string | null; confidence_threshold: number | null; device: string | null;
  overlap: number; overlap_share: number; // annotators per document, for this share of the documents
  min_recommendation_confidence: number; // members who chose no threshold see suggestions from here on
}
export interface Project {
  id: number; name: string; description: string; task: string; explanation_kind: string;
  multi_label: boolean; annotators_see_others: boolean; role: string | null;
  settings: ProjectSettings;
}
export interface Offsets { start: number; end: number }
export interface Explanation { id?: number; kind: string; text?: string; spans?: Offsets[] }
export interface Annotation {
  id: number; document_id: number; user_id: number | null; kind: string; label: string;
  source: string; explanations: Explanation[]; start?: number; end?: number;
  subject?: number; object?: number;
  attributes?: Record<string, unknown>; // the task's own part (e.g. an aspect term's polarity)
}
export interface Doc {
  id: number; text: string; meta: Record<string, unknown>; finished: boolean; annotations: Annotation[];
  skipped?: boolean; // skipped by me (PUT .../skipped), until the next retraining
}
export interface MySettings {
  show_recommendations: boolean; min_recommendation_confidence: number; show_others_annotations: boolean;
}

// One model prediction (GET .../model/recommendations/<document_id>, or a push). `evidence`
// is the model's own account of why; its shape is between the model and the view (TriggerNER
// sends {triggers: [{text, start, end, weight}], ...}; kit/evidence.tsx reads the shapes the
// shipped models send), so the host passes it through untouched.
export interface Recommendation {
  kind: string; label: string; start?: number; end?: number; subject?: number; object?: number;
  confidence: number; evidence?: Record<string, unknown>; attributes?: Record<string, unknown>;
  // A relation's entities by their words (GET .../recommendations and the push): the ids above may be
  // another annotator's entities, which the viewer's own entity on the same words stands for.
  subject_span?: { start: number; end: number; label: string };
  object_span?: { start: number; end: number; label: string };
}

// The body of POST .../annotations or PUT .../annotations/<id>: the task's own fields
// (label, start/end, subject/object, attributes) and its explanations, all in one request.
export type Payload = Record<string, unknown>;

// [key, what it does], for the shortcut overview (the "?" panel).
export type KeyHelp = [string, string];
export type KeyHandler = (event: KeyboardEvent) => void | Promise<void>;

// Keys the host takes outside text fields (and Ctrl+Z): the view never sees them there.
export const HOST_KEYS = new Set(["[", "]", "}", "?"]);
// Keys no label shortcut may take: the host's, and Space, with which views pick words.
export const RESERVED_SHORTCUT_KEYS = new Set([...HOST_KEYS, " "]);

// What the host gives a view, anew on every change (a new document, saved annotations,
// recommendations arriving).
export interface ViewProps {
  project: Project; labels: Label[]; me: User; doc: Doc; settings: MySettings;
  mine: Annotation[]; // my annotations on this document
  others: Annotation[]; // other annotators' (empty unless the project and my settings show them)
  recommendations: Recommendation[]; // already filtered by my settings and my rejections
  // Saving: each call is one request, lands on the undo stack and reloads the document.
  create(payload: Payload, what: string): Promise<Annotation | null>;
  update(annotation: Annotation, payload: Payload, what: string): Promise<Annotation | null>;
  remove(annotation: Annotation, what: string): Promise<void>;
  reject(recommendation: Recommendation): void;
  say(message: string): void; // the status line
  // Every key the host did not take (see HOST_KEYS); returns the function that stops them.
  onKey(handler: KeyHandler): () => void;
  // The REST API under /api/v1 with this session (and its CSRF token on writes); `can` says
  // whether the server has an optional endpoint, by its OpenAPI path template.
  request<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  can(pathTemplate: string): boolean;
}

// What mount() returns.
export interface ViewHandle {
  update(props: ViewProps): void;
  unmount(): void;
  // Called before the annotator leaves the document: save what the view still holds.
  flush?(): Promise<void>;
}

// The default export of a view module.
export interface TaskView {
  contract: typeof VIEW_CONTRACT;
  keyHelp: KeyHelp[]; // the view's keys, shown with the host's in the shortcut overview
  mount(element: HTMLElement, props: ViewProps): ViewHandle;
}
