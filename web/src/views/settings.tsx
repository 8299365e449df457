// The annotator's own settings (which recommendations to see) and the shortcut overview.

import type { KeyHelp, Label, MySettings } from "../contract";

interface Props {
  settings: MySettings; labels: Label[];
  appKeys: KeyHelp[]; taskKeys: KeyHelp[]; // the workspace's keys, and those the task's view declares
  mayShowOthers: boolean;
  onChange: (change: Partial<MySettings>) => void; onClose: () => void;
}

export function SettingsPanel({ settings, labels, appKeys, taskKeys, mayShowOthers, onChange, onClose }: Props) {
  return (
    <div class="drawer" role="dialog" aria-label="Settings and shortcuts" data-testid="settings">
      <button class="x close" onClick={onClose} title="Close">×</button>
      <h3>My settings</h3>
      <label><input type="checkbox" checked={settings.show_recommendations}
        onChange={(e) => onChange({ show_recommendations: (e.target as HTMLInputElement).checked })} /> Show recommendations</label>
      <label>Only recommendations with confidence at least{" "}
        <input type="number" min={0} max={1} step={0.05} value={settings.min_recommendation_confidence}
          onChange={(e) => onChange({ min_recommendation_confidence: Number((e.target as HTMLInputElement).value) })} /></label>
      {mayShowOthers && (
        <label><input type="checkbox" checked={settings.show_others_annotations}
          onChange={(e) => onChange({ show_others_annotations: (e.target as HTMLInputElement).checked })} /> Show other annotators' work</label>
      )}
      <h3>Shortcuts</h3>
      <table class="keys">
        <tbody>
          {labels.filter((l) => l.shortcut).map((l) => (
            <tr key={l.id}><td><kbd>{l.shortcut}</kbd></td><td>{l.name} <span class="muted">({l.kind})</span></td></tr>
          ))}
          {[...taskKeys, ...appKeys].map(([key, what]) => (
            <tr key={key + what}><td><kbd>{key}</kbd></td><td>{what}</td></tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
