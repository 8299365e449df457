// The aspect-based sentiment view: a plain ES module, written against the view contract
// (web/src/contract.ts in LeanLife) with the DOM alone, so this plugin needs no build step.
//
// Select words of the review, pick the polarity (keys 1-4), then the category (its label
// shortcut or button): that saves one aspect term. Suggestions are underlined dashes; accept
// or reject them in the list. Offsets are code points, as the server counts them.

const POLARITIES = ["positive", "negative", "neutral", "conflict"];
const POLARITY_COLORS = { positive: "#2e7d32", negative: "#c62828", neutral: "#616161", conflict: "#ef6c00" };

const CSS = `
.absa { font: 15px/1.6 system-ui, sans-serif; }
.absa-text { white-space: pre-wrap; padding: 0.8em; border: 1px solid #ccc; border-radius: 4px; user-select: text; }
.absa-term { border-bottom: 3px solid; border-radius: 2px; }
.absa-suggested { border-bottom: 2px dashed; }
.absa-cue { background: #fff59d; }
.absa-bar { margin: 0.6em 0; display: flex; flex-wrap: wrap; gap: 0.4em; align-items: center; }
.absa-bar button[aria-pressed="true"] { outline: 2px solid #1565c0; }
.absa-list { list-style: none; padding: 0; }
.absa-list li { margin: 0.25em 0; display: flex; gap: 0.5em; align-items: center; }
.absa-polarity { font-weight: 600; }
`;

function addStyle() {
  if (document.getElementById("absa-style")) return;
  const style = document.createElement("style");
  style.id = "absa-style";
  style.textContent = CSS;
  document.head.append(style);
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  node.append(...children);
  return node;
}

// The code-point offset of a DOM selection point in the text element: the code points of the
// text before it. A point may be an element's (a triple click) or outside the text (a drag
// past its end): one before the text counts as its start, one after it as its end.
function offsetOf(box, node, offset) {
  const range = document.createRange();
  range.selectNodeContents(box);
  const where = range.comparePoint(node, offset);
  if (where > 0) return Array.from(box.textContent).length;
  if (where < 0) return 0;
  range.setEnd(node, offset);
  return Array.from(range.toString()).length;
}

function spanLabel(labels) {
  return labels.filter((label) => label.kind === "span");
}

function polarityOf(item) {
  return (item.attributes && item.attributes.polarity) || "";
}

function mountView(element, first) {
  addStyle();
  let props = first;
  let polarity = "positive";
  let selection = null; // {start, end} in code points
  let cues = []; // the evidence words of the suggestion the pointer is on
  let textBox = null; // the drawn text, redrawn alone for a selection or cues
  // While the button is down in the text, redraws wait for its release: replacing the text
  // nodes under a drag (a push arriving) moves the selection's anchor away.
  let pressed = false;
  let waiting = false;

  const codePoints = () => Array.from(props.doc.text);
  const termText = (item) => codePoints().slice(item.start, item.end).join("");

  function save(label) {
    if (!selection) {
      props.say("Select the words of an aspect term first");
      return;
    }
    const payload = { label: label.name, start: selection.start, end: selection.end, attributes: { polarity } };
    selection = null;
    props.create(payload, `aspect ${label.name} (${polarity})`);
  }

  function accept(suggestion) {
    props.create({ label: suggestion.label, start: suggestion.start, end: suggestion.end,
                   attributes: { polarity: polarityOf(suggestion) }, source: "recommendation" },
                 `accepted ${suggestion.label}`);
  }

  function changePolarity(annotation, value) {
    props.update(annotation, { label: annotation.label, start: annotation.start, end: annotation.end,
                               attributes: { polarity: value } }, `polarity ${value}`);
  }

  // The button released, in the text or (a drag past its end) anywhere else.
  function release() {
    pressed = false;
    readSelection();
    if (waiting) { waiting = false; draw(); }
  }
  const releaseOutside = () => { if (pressed) release(); };
  window.addEventListener("mouseup", releaseOutside);

  function readSelection() {
    const chosen = window.getSelection();
    if (!chosen || chosen.isCollapsed || chosen.rangeCount === 0) return;
    const range = chosen.getRangeAt(0);
    if (!textBox || !textBox.isConnected) return;
    const start = offsetOf(textBox, range.startContainer, range.startOffset);
    const end = offsetOf(textBox, range.endContainer, range.endOffset);
    if (end <= start) return;
    // Trim white space at the ends, as annotators drag past words.
    const text = codePoints();
    let [s, e] = [start, end];
    while (s < e && /\s/u.test(text[s])) s++;
    while (e > s && /\s/u.test(text[e - 1])) e--;
    selection = e > s ? { start: s, end: e } : null;
    drawText();
  }

  // The suggestions on words that are not already one of my terms (an accepted one stays
  // among the recommendations until the next version is pushed).
  function suggested() {
    return props.recommendations.filter((r) => r.start !== undefined
      && !props.mine.some((a) => a.start === r.start && a.end === r.end));
  }

  function textPieces() {
    const text = codePoints();
    const marks = []; // [start, end, className, color, testid]
    for (const a of props.mine) {
      if (a.start !== undefined) marks.push([a.start, a.end, "absa-term", POLARITY_COLORS[polarityOf(a)], "absa-term"]);
    }
    for (const r of suggested()) {
      marks.push([r.start, r.end, "absa-suggested", POLARITY_COLORS[polarityOf(r)], "absa-suggested"]);
    }
    for (const cue of cues) marks.push([cue.start, cue.end, "absa-cue", null, "absa-cue"]);
    if (selection) marks.push([selection.start, selection.end, "absa-cue", null, "absa-selection"]);
    const cuts = new Set([0, text.length]);
    for (const [s, e] of marks) { cuts.add(s); cuts.add(e); }
    const points = [...cuts].sort((a, b) => a - b);
    const pieces = [];
    for (let i = 0; i + 1 < points.length; i++) {
      const [s, e] = [points[i], points[i + 1]];
      const covering = marks.filter(([ms, me]) => ms <= s && e <= me);
      const piece = el("span", { "data-start": s }, text.slice(s, e).join(""));
      for (const [, , className, color, testid] of covering) {
        piece.classList.add(className);
        if (color) piece.style.borderColor = color;
        piece.dataset.testid = testid;
      }
      pieces.push(piece);
    }
    return pieces;
  }

  // Only the text: redrawing the whole view under the pointer would replace the suggestion
  // it is on, whose new element gets mouseenter again (a loop; clicks hit removed buttons).
  function drawText() {
    if (pressed) { waiting = true; return; }
    if (textBox) textBox.replaceChildren(...textPieces());
  }

  function draw() {
    if (pressed) { waiting = true; return; }
    const labels = spanLabel(props.labels);
    textBox = el("div", { class: "absa-text", "data-testid": "absa-text",
                          onmousedown: () => { pressed = true; }, onmouseup: release },
                       ...textPieces());
    const polarityBar = el("div", { class: "absa-bar", "data-testid": "absa-polarities" }, "Polarity:",
      ...POLARITIES.map((p, i) => el("button", { type: "button", "aria-pressed": p === polarity,
                                                 "data-polarity": p, onclick: () => { polarity = p; draw(); } },
                                     `${i + 1} ${p}`)));
    const labelBar = el("div", { class: "absa-bar", "data-testid": "absa-labels" }, "Category:",
      ...labels.map((label) => el("button", { type: "button", style: `border-left: 4px solid ${label.color}`,
                                              "data-label": label.name, onclick: () => save(label) },
                                  label.shortcut ? `${label.name} (${label.shortcut})` : label.name)));
    const mine = el("ul", { class: "absa-list", "data-testid": "absa-mine" },
      ...props.mine.filter((a) => a.start !== undefined).map((a) => el("li", { "data-id": a.id },
        el("strong", {}, termText(a)), a.label,
        el("select", { "aria-label": "polarity", onchange: (event) => changePolarity(a, event.target.value) },
           ...POLARITIES.map((p) => { const o = el("option", { value: p }, p); o.selected = p === polarityOf(a); return o; })),
        el("button", { type: "button", "aria-label": "delete", onclick: () => props.remove(a, "deleted aspect") }, "×"))));
    const suggestions = el("ul", { class: "absa-list", "data-testid": "absa-suggestions" },
      ...suggested().map((r) => {
        const evidence = r.evidence || {};
        const example = evidence.example ? `like “${evidence.example.text}” (${evidence.example.polarity})` : "";
        const cueWords = (evidence.triggers || []).map((c) => c.text).join(", ");
        return el("li", { onmouseenter: () => { cues = evidence.triggers || []; drawText(); },
                          onmouseleave: () => { cues = []; drawText(); } },
          el("strong", {}, termText(r)), r.label,
          el("span", { class: "absa-polarity", style: `color: ${POLARITY_COLORS[polarityOf(r)]}` }, polarityOf(r)),
          `${Math.round(r.confidence * 100)}%`, example, cueWords ? `cues: ${cueWords}` : "",
          el("button", { type: "button", "data-action": "accept", onclick: () => accept(r) }, "Accept"),
          el("button", { type: "button", "data-action": "reject", onclick: () => props.reject(r) }, "Reject"));
      }));
    element.replaceChildren(el("div", { class: "absa" }, textBox, polarityBar, labelBar,
                                el("h4", {}, "My aspect terms"), mine, el("h4", {}, "Suggestions"), suggestions));
  }

  const stopKeys = props.onKey((event) => {
    const index = Number(event.key) - 1;
    if (index >= 0 && index < POLARITIES.length) {
      polarity = POLARITIES[index];
      draw();
      return;
    }
    const label = spanLabel(props.labels).find((l) => l.shortcut === event.key);
    if (label) save(label);
  });

  draw();
  return {
    update(next) {
      if (next.doc.id !== props.doc.id) { selection = null; cues = []; }
      props = next;
      draw();
    },
    unmount() { stopKeys(); window.removeEventListener("mouseup", releaseOutside); element.replaceChildren(); },
  };
}

export default {
  contract: 1,
  keyHelp: [["1–4", "polarity: positive, negative, neutral, conflict"],
            ["a label's key", "save the selected words as an aspect term of that category"]],
  mount: mountView,
};
