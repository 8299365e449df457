// The REST API, exactly as programs use it: JSON under /api/v1, a cookie session, and the
// CSRF token from /auth/login sent on every write.

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string, public field?: string) {
    super(message);
  }
}

let csrfToken = "";

export function setCsrf(token: string | null | undefined): void {
  csrfToken = token ?? "";
}

export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return send<T>(method, path, headers, body === undefined ? undefined : JSON.stringify(body));
}

// A file upload (multipart form), with the same errors as JSON calls.
export function upload<T = any>(path: string, form: FormData): Promise<T> {
  return send<T>("POST", path, {}, form);
}

async function send<T>(method: string, path: string, headers: Record<string, string>, body?: BodyInit): Promise<T> {
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(`/api/v1${path}`, { method, headers, credentials: "same-origin", body });
  if (response.status === 204) return undefined as T;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = data?.error ?? {};
    throw new ApiError(response.status, error.code ?? "http_error",
      error.message ?? `${method} ${path}: HTTP ${response.status}`, error.details?.field);
  }
  return data as T;
}

export const get = <T = any>(path: string) => api<T>("GET", path);
export const post = <T = any>(path: string, body?: unknown) => api<T>("POST", path, body ?? {});
export const put = <T = any>(path: string, body?: unknown) => api<T>("PUT", path, body);
export const patch = <T = any>(path: string, body: unknown) => api<T>("PATCH", path, body);
export const del = (path: string) => api<void>("DELETE", path);

// The number of documents a list query matches: the server counts (one request, one row).
export async function countOf(path: string): Promise<number> {
  const sep = path.includes("?") ? "&" : "?";
  const page = await get<Page<{ id: number }> & { total: number }>(`${path}${sep}limit=1&count=true`);
  return page.total;
}

// Which optional parts of the server exist: read once from the OpenAPI document, so the UI
// shows a control only when its endpoint is there.
export type Capabilities = Set<string>;
let capabilities: Promise<Capabilities> | null = null;

export function loadCapabilities(): Promise<Capabilities> {
  capabilities ??= get<{ paths: Record<string, unknown> }>("/openapi.json")
    .then((doc) => new Set(Object.keys(doc.paths)));
  return capabilities;
}

export function has(caps: Capabilities, path: string): boolean {
  return caps.has(`/api/v1${path}`);
}

export interface Page<T> { items: T[]; next_cursor: number | null }
import type { User } from "./contract";

// The data shapes a task view receives are part of the view contract.
export type {
  Annotation, Doc, Explanation, Label, MySettings, Offsets, Project, ProjectSettings, User,
} from "./contract";
export interface TaskInfo {
  name: string; title: string; label_kinds: string[]; explanation_kinds: string[]; ui_component: string;
  view_url: string | null; // the task plugin's view module (contract.ts), if it ships one
}
export interface Registration {
  kind: string; name: string; plugin: string; version: string; description?: string;
  tasks?: string[]; // models, formats, query strategies: the tasks they serve
  imports?: boolean; exports?: boolean; directories?: boolean; // formats
}
export interface Member { user: User; role: string; settings: Record<string, unknown> }
