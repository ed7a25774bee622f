/**
 * What index.html puts on the page before the console's modules run: Chart.js 4's UMD build
 * (`/assets/vendor/chart.umd.js`, served from node_modules), which defines the global `Chart` with
 * every controller registered. Typed from the chart.js package's own declarations.
 */
declare global {
  // `var`, not `let`: a UMD script's global is a property of globalThis. Undefined if it failed to load.
  var Chart: typeof import('chart.js').Chart | undefined
}

export {}
