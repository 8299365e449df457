import { render } from "preact";
import { App, prefetchFirstScreen } from "./app";
import "./style.css";

prefetchFirstScreen();
render(<App />, document.getElementById("app")!);
