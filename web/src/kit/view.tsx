// Turns a Preact component into a task view module (contract.ts): mount renders it into the
// host's element with this bundle's own Preact, update re-renders it with the new props (its
// state survives), unmount clears it. A view's stylesheet is added to the page once.

import type { ComponentType } from "preact";
import { render } from "preact";
import { VIEW_CONTRACT, type KeyHelp, type TaskView, type ViewHandle, type ViewProps } from "../contract";

// What a view component may hand back to the host, through the `expose` prop.
export interface Exposed { flush?(): Promise<void> }
export interface ViewComponentProps { w: ViewProps; expose: (exposed: Exposed) => void }

interface Options { keyHelp: KeyHelp[]; css?: string; component: ComponentType<ViewComponentProps> }

const styled = new Set<string>();

function addStyle(css: string): void {
  if (styled.has(css)) return;
  styled.add(css);
  const style = document.createElement("style");
  style.textContent = css;
  document.head.append(style);
}

export function defineView({ keyHelp, css, component: Component }: Options): TaskView {
  return {
    contract: VIEW_CONTRACT,
    keyHelp,
    mount(element: HTMLElement, props: ViewProps): ViewHandle {
      if (css) addStyle(css);
      let exposed: Exposed = {};
      const expose = (e: Exposed) => { exposed = e; };
      const draw = (p: ViewProps) => render(<Component w={p} expose={expose} />, element);
      draw(props);
      return {
        update: draw,
        unmount: () => render(null, element),
        flush: () => exposed.flush?.() ?? Promise.resolve(),
      };
    },
  };
}
