// The RE task's view module (built into ../static/view.js by `make install`).
import { defineView } from "@leanlife/kit";
import css from "./re.css";
import { RE_KEYS, ReView } from "./re";

export default defineView({ keyHelp: RE_KEYS, css, component: ReView });
