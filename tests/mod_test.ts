// What a program loads when it imports the package: a client that never logs
// in through the browser does not load the login's listener, pages or launcher
// (they load with the first login), and `Client` does not load the flows.

import assert from "node:assert/strict";
import { moduleGraph, staticModules } from "../bench/_module_graph.ts";

const ROOT = new URL("../", import.meta.url);
const LOGIN_RUNTIME = [
  "src/login/_loopback_listener.ts",
  "src/login/_callback_pages.ts",
  "src/login/_launch_browser.ts",
  "src/login/_response_issuer.ts",
];

async function loadedBy(entry: string): Promise<string[]> {
  const modules = await staticModules(new URL(entry, ROOT).pathname);
  return modules.filter((s) => s.startsWith(ROOT.href)).map((s) => s.slice(ROOT.href.length));
}

Deno.test("mod.ts loads no browser-login runtime until a login starts", async () => {
  const loaded = await loadedBy("mod.ts");
  assert.ok(loaded.includes("src/login/_browser_login.ts"), "the graph was read");
  assert.deepEqual(loaded.filter((m) => LOGIN_RUNTIME.includes(m)), []);
});

Deno.test("Client loads neither the installed flows, the login runtime, KV nor the grants it does not make", async () => {
  const loaded = await loadedBy("src/client.ts");
  assert.ok(loaded.includes("src/_installed_flow.ts"), "the graph was read");
  const unused = [
    "src/login/browser_flow.ts",
    "src/login/implicit_grant.ts",
    "src/storage/kv.ts",
    "src/storage/redis.ts",
    "src/grants/device_code.ts",
    "src/grants/jwt_bearer.ts",
    "src/grants/token_exchange.ts",
    "src/google_service_account.ts",
    ...LOGIN_RUNTIME,
  ];
  assert.deepEqual(loaded.filter((m) => unused.includes(m)), []);
});

Deno.test("mod.ts's lazily loaded modules are there to load", async () => {
  const graph = await moduleGraph(new URL("mod.ts", ROOT).pathname);
  const all = graph.modules.map((m) => m.specifier.slice(ROOT.href.length));
  for (const module of LOGIN_RUNTIME) assert.ok(all.includes(module), `${module} in the graph`);
  assert.deepEqual(graph.modules.filter((m) => m.error !== undefined), []);
});
