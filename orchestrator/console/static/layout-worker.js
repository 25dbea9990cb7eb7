// Lays out a DOT graph with Graphviz (viz.js, WebAssembly) away from the page's thread, so a graph
// that Graphviz takes long over never freezes the page: the page gives up on it after a while.
"use strict";
importScripts("/console/static/vendor/viz-standalone-3.11.0.js");
const ready = Viz.instance();

onmessage = async (event) => {
  try {
    const viz = await ready;
    postMessage({ svg: viz.renderString(event.data, { format: "svg" }) });
  } catch (error) {
    postMessage({ error: String(error) });
  }
};
