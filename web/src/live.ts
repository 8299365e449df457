// Live updates over Socket.IO, used only when the server has a Socket.IO endpoint. The
// connection state drives the "connection lost / recovered" banner; the client reconnects
// by itself.

import type { Socket } from "socket.io-client";

export type ConnectionState = "off" | "connecting" | "live" | "lost";
export type LiveHandler = (event: string, data: any) => void;

let available: Promise<boolean> | null = null;

// The Engine.IO handshake answers 200 only where the realtime module is mounted.
export function liveAvailable(): Promise<boolean> {
  available ??= fetch("/socket.io/?EIO=4&transport=polling", { credentials: "same-origin" })
    .then((r) => r.ok)
    .catch(() => false);
  return available;
}

export interface LiveConnection { close(): void }

export function connectProject(projectId: number, onState: (s: ConnectionState) => void,
                               onEvent: LiveHandler): LiveConnection {
  let socket: Socket | null = null;
  let closed = false;
  onState("connecting");
  // The client library is a chunk of its own, loaded only now: the first screen does not
  // wait for it to be parsed.
  import("socket.io-client").then(({ io }) => {
    if (closed) return;
    // WebSocket first: a long-polling session lives in one web process, and without sticky
    // sessions (several `serve` workers or processes) its next poll may reach another one.
    // Long-polling only where a WebSocket cannot open (a proxy that drops the Upgrade
    // headers): without tryAllTransports the client would retry the WebSocket for ever.
    socket = io({ path: "/socket.io", withCredentials: true, auth: { project_id: projectId },
                  query: { project_id: String(projectId) }, transports: ["websocket", "polling"],
                  tryAllTransports: true });
    listen(socket, projectId, onState, onEvent);
  }).catch(() => onState("lost"));
  return { close: () => { closed = true; socket?.close(); } };
}

function listen(socket: Socket, projectId: number, onState: (s: ConnectionState) => void, onEvent: LiveHandler): void {
  socket.on("connect", () => {
    onState("live");
    socket.emit("join", { project_id: projectId });
  });
  socket.on("disconnect", () => onState("lost"));
  socket.on("connect_error", () => onState("lost"));
  socket.onAny((event: string, data: any) => {
    if (data?.project_id === undefined || data.project_id === projectId) onEvent(event, data);
  });
}
