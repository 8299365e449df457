// Tokens are derived from the text (offsets are characters everywhere): words, numbers, and
// each other non-space character on its own, so selections snap to whole words.

import type { Offsets } from "../contract";

export interface Token extends Offsets { index: number; text: string }

const TOKEN = /[\p{L}\p{N}_]+(?:['’.-][\p{L}\p{N}_]+)*|[^\s]/gu;

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  for (const match of text.matchAll(TOKEN)) {
    const start = match.index ?? 0;
    tokens.push({ index: tokens.length, start, end: start + match[0].length, text: match[0] });
  }
  return tokens;
}

// The tokens that overlap [start, end), as a first..last index range (or null).
export function tokenRange(tokens: Token[], start: number, end: number): [number, number] | null {
  let first = -1;
  let last = -1;
  for (const token of tokens) {
    if (token.end > start && token.start < end) {
      if (first < 0) first = token.index;
      last = token.index;
    }
  }
  return first < 0 ? null : [first, last];
}

// Token indices -> character spans, merging tokens separated only by spaces into one span
// (a trigger "New York" is one span; "said ... told" are two).
export function tokensToSpans(text: string, tokens: Token[], indices: Iterable<number>): Offsets[] {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const spans: Offsets[] = [];
  for (const index of sorted) {
    const token = tokens[index];
    const previous = spans[spans.length - 1];
    if (previous && sorted.includes(index - 1) && text.slice(previous.end, token.start).trim() === "") {
      previous.end = token.end;
    } else {
      spans.push({ start: token.start, end: token.end });
    }
  }
  return spans;
}

export function spansToTokens(tokens: Token[], spans: Offsets[]): Set<number> {
  const out = new Set<number>();
  for (const span of spans) {
    const range = tokenRange(tokens, span.start, span.end);
    if (range) for (let i = range[0]; i <= range[1]; i++) out.add(i);
  }
  return out;
}

// Character offset of a DOM selection point inside the document element: each token element
// carries data-start, and text nodes between tokens carry data-offset on their wrapper.
export function offsetOf(node: Node, offset: number): number | null {
  const element = (node.nodeType === Node.TEXT_NODE ? node.parentElement : node) as HTMLElement | null;
  const holder = element?.closest<HTMLElement>("[data-start]");
  if (!holder) return null;
  return Number(holder.dataset.start) + (node.nodeType === Node.TEXT_NODE ? offset : 0);
}
