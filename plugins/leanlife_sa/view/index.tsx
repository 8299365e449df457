// The SA task's view module (built into ../static/view.js by `make install`).
import { defineView } from "@leanlife/kit";
import { SA_KEYS, SaView } from "./sa";

export default defineView({ keyHelp: SA_KEYS, component: SaView });
