// Import and export with progress, shown only where the server has the transfer endpoints.
// The format fields list the registered formats that serve the project's task.

import { useState } from "preact/hooks";
import { get, has, post, upload, type Capabilities, type Registration } from "../api";

const IMPORTS = "/projects/{project_id}/imports";
const EXPORTS = "/projects/{project_id}/exports";

interface Job { id: number; state: string; progress: number | null; error: string | null }

interface Props {
  base: string; caps: Capabilities; formats: Registration[]; say: (m: string) => void; fail: (e: unknown) => void;
  onImported: () => void;
}

export function Transfers({ base, caps, formats, say, fail, onImported }: Props) {
  // A browser uploads one file: formats that read a folder are for the command line.
  const importers = formats.filter((f) => f.imports && !f.directories);
  const exporters = formats.filter((f) => f.exports);
  const [job, setJob] = useState<Job | null>(null);
  const [chosenExport, setExportFormat] = useState<string | null>(null);
  const exportFormat = chosenExport ?? (exporters.find((f) => f.name === "jsonl") ?? exporters[0])?.name ?? "";
  const [download, setDownload] = useState("");
  if (!has(caps, IMPORTS) && !has(caps, EXPORTS)) {
    return <p class="muted" data-testid="no-transfers">File import and export are not installed on this server.</p>;
  }

  const watch = async (id: number) => {
    for (;;) {
      const current = await get<Job>(`${base}/jobs/${id}`);
      setJob(current);
      if (current.state === "finished" || current.state === "failed") return current;
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  const run = async (start: Promise<Job>) => {
    const done = await watch((await start).id);
    if (done.state === "failed") throw new Error(done.error ?? "the job failed");
    return done;
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      await run(upload<Job>(`${base}/imports`, new FormData(e.target as HTMLFormElement)));
      say("Import finished.");
      onImported();
    } catch (err) { fail(err); }
  };

  const exportFile = async (e: Event) => {
    e.preventDefault();
    try {
      const done = await run(post<Job>(`${base}/exports`, { format: exportFormat }));
      setDownload(`/api/v1${base}/exports/${done.id}/file`);
      say("Export ready.");
    } catch (err) { fail(err); }
  };

  return (
    <div class="transfers">
      {has(caps, IMPORTS) && (
        <form onSubmit={submit} data-testid="import-form">
          <input type="file" name="file" aria-label="file to import" required />
          <select name="format" aria-label="import format">
            <option value="">guess from file</option>
            {importers.map((f) => <option key={f.name} value={f.name}>{f.name}</option>)}
          </select>
          <button type="submit">Import</button>
        </form>
      )}
      {job && <progress max={1} value={job.progress ?? undefined} data-testid="job-progress">{job.state}</progress>}
      {has(caps, EXPORTS) && (
        <form onSubmit={exportFile} data-testid="export-form">
          <select aria-label="export format" value={exportFormat} onChange={(e) => setExportFormat((e.target as HTMLSelectElement).value)}>
            {exporters.map((f) => <option key={f.name} value={f.name}>{f.name}</option>)}
          </select>
          <button type="submit">Export</button>
          {download && <a href={download} download>Download</a>}
        </form>
      )}
    </div>
  );
}
