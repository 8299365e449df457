// The NER task's view module (built into ../static/view.js by `make install`).
import { defineView } from "@leanlife/kit";
import css from "./ner.css";
import { NER_KEYS, NerView } from "./ner";

export default defineView({ keyHelp: NER_KEYS, css, component: NerView });
