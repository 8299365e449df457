// A view's stylesheet is imported as text (build-views.mjs: loader "text") and added by defineView.
declare module "*.css" {
  const css: string;
  export default css;
}
