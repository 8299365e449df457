// A model version's metrics as the server stores them: {"train": {...}, "heldout": {...}},
// each a map of names to numbers. "heldout" stays empty until enough documents are labeled
// to hold some out (see docs/api.md, The loop).

export type Metrics = Record<string, unknown>;

const isNumber = (e: [string, unknown]): e is [string, number] => typeof e[1] === "number";

// Every number, named "<part> <metric>" (e.g. "heldout f1"), for a table cell.
export function namedNumbers(metrics: Metrics): [string, number][] {
  return Object.entries(metrics).flatMap(([part, values]) =>
    values && typeof values === "object"
      ? Object.entries(values as Record<string, unknown>).filter(isNumber).map(([k, v]) => [`${part} ${k}`, v] as [string, number])
      : []);
}

// The score that says how good a version is: its held-out F1 (or accuracy, or the first
// held-out number); undefined when nothing was held out.
export function heldoutScore(metrics: Metrics): [string, number] | undefined {
  const heldout = Object.fromEntries(Object.entries((metrics.heldout ?? {}) as Record<string, unknown>).filter(isNumber));
  for (const name of ["f1", "accuracy"]) if (name in heldout) return [name, heldout[name]];
  return Object.entries(heldout)[0];
}
