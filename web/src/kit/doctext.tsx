// The document as clickable tokens. Views say how each token looks (TokenMark) and get back
// clicks and mouse selections as character offsets.

import type { JSX } from "preact";
import { useMemo } from "preact/hooks";
import { offsetOf, type Token } from "./text";

export interface TokenMark {
  className?: string;
  color?: string; // background colour of the entity covering the token
  tag?: string; // a label chip drawn after the token (end of an entity)
  title?: string;
}

interface Props {
  text: string;
  tokens: Token[];
  marks: Map<number, TokenMark>;
  onTokenClick?: (index: number, event: MouseEvent) => void;
  onSelect?: (start: number, end: number) => void;
}

export function DocumentText({ text, tokens, marks, onTokenClick, onSelect }: Props) {
  const gaps = useMemo(() => tokens.map((t, i) => text.slice(i === 0 ? 0 : tokens[i - 1].end, t.start)), [text, tokens]);

  // One listener for all tokens (a 500-token document would otherwise attach 500).
  const onClick = (e: MouseEvent) => {
    const token = (e.target as HTMLElement).closest<HTMLElement>(".tok[data-i]");
    if (token && onTokenClick) onTokenClick(Number(token.dataset.i), e);
  };

  const onMouseUp = () => {
    const selection = window.getSelection();
    if (!onSelect || !selection || selection.isCollapsed || selection.rangeCount === 0) return;
    const range = selection.getRangeAt(0);
    const a = offsetOf(range.startContainer, range.startOffset);
    const b = offsetOf(range.endContainer, range.endOffset);
    selection.removeAllRanges();
    if (a !== null && b !== null && a !== b) onSelect(Math.min(a, b), Math.max(a, b));
  };

  const children: JSX.Element[] = [];
  tokens.forEach((token, i) => {
    if (gaps[i]) children.push(<span key={`g${i}`} data-start={i === 0 ? 0 : tokens[i - 1].end}>{gaps[i]}</span>);
    const mark = marks.get(i);
    children.push(
      <span key={i} data-start={token.start} data-i={i} title={mark?.title}
        class={`tok ${mark?.className ?? ""}`}
        style={mark?.color ? { backgroundColor: `${mark.color}55`, borderBottomColor: mark.color } : undefined}>
        {token.text}
      </span>,
    );
    if (mark?.tag) {
      children.push(<sup key={`t${i}`} class="chip" style={{ backgroundColor: mark.color }}>{mark.tag}</sup>);
    }
  });
  return <div class="doctext" data-testid="doctext" onClick={onClick} onMouseUp={onMouseUp}>{children}</div>;
}
