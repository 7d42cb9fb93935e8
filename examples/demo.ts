/**
 * A narrated tour of what the client does, against the stand-in server of
 * `@alf/client/testing` on 127.0.0.1. Run it with `deno task demo`.
 *
 * @module
 */

import { Client, KvTokenStorage } from "../mod.ts";
import { startAuthServer } from "../testing.ts";

let time = Date.now();
const now = () => time;
const step = (text: string) => console.log(`\n● ${text}`);
const show = (label: string, value: unknown) => console.log(`  ${label.padEnd(28)} ${value}`);

await using server = await startAuthServer({ expiresIn: 3600, now });
server.tokenDelay = 50; // a token endpoint that takes a moment, so requests overlap
const reasons: string[] = [];
let renewed = () => {};
await using client = new Client({
  tokenEndpoint: server.tokenEndpoint,
  clientId: "demo-client",
  clientSecret: "demo-secret",
  scope: ["read", "write"],
  now,
  onEvent: (event) => {
    if (event.type === "token") reasons.push(event.reason);
    if (event.type === "token" && event.reason === "expiring") renewed();
  },
});
const drain = async (
  responses: Promise<Response>[],
) => (await Promise.all(responses.map(async (r) => {
  const response = await r;
  await response.body?.cancel();
  return response.status;
})));

console.log(`Stand-in authorization server and resource at ${server.origin}`);

step("20 concurrent requests on a new client");
let statuses = await drain(Array.from({ length: 20 }, () => client.fetch(server.resourceUrl)));
show("responses", `${statuses.filter((s) => s === 200).length} × 200`);
show("token requests", `${server.tokenRequests.length} (one, shared by all 20)`);

step("20 more requests a minute later");
time += 60_000;
statuses = await drain(Array.from({ length: 20 }, () => client.fetch(server.resourceUrl)));
show("responses", `${statuses.filter((s) => s === 200).length} × 200`);
show("token requests", `${server.tokenRequests.length} (the cached token was reused)`);

step("59 minutes later: inside the 60 s renewal window");
time += 58 * 60_000 + 30_000;
const renewal = new Promise<void>((resolve) => renewed = resolve);
statuses = await drain([client.fetch(server.resourceUrl)]);
show("response", `${statuses[0]}, sent at once with the still-valid token`);
await renewal; // the renewal ran in the background
await drain([client.fetch(server.resourceUrl)]);
show("token requests", `${server.tokenRequests.length} (renewed early, in the background)`);
show("tokens used so far", new Set(server.resourceRequests.map((r) => r.token)).size);

step("The server revokes every token; a POST with a streamed body follows");
server.revoke();
const body = new ReadableStream({
  start(controller) {
    controller.enqueue(new TextEncoder().encode('{"order": 42}'));
    controller.close();
  },
});
const posted = await client.request("POST", server.resourceUrl, { body });
show("response", `${posted.status} ${JSON.stringify(await posted.json())}`);
const [rejected, replayed] = server.resourceRequests.slice(-2);
if (!rejected || !replayed) throw new Error("Cannot show the replay: the resource saw no replay");
show("first attempt", `401 with the revoked token (${rejected.body.byteLength} bytes sent)`);
show("replay", `${replayed.body.byteLength} bytes, same body, new token`);
show("token requests", `${server.tokenRequests.length} (one renewal after the 401)`);

step("The token endpoint fails (503) after another revocation");
time += 30_000; // a token rejected within 30 s of its renewal is not renewed again at once
server.revoke();
server.failTokenRequests(1, { status: 503, body: '{"error":"temporarily_unavailable"}' });
const before = server.resourceRequests.length;
const failed = await client.fetch(server.resourceUrl);
show("response", `${failed.status} ${await failed.text()}`);
show(
  "resource calls",
  `${server.resourceRequests.length - before} (the rejected attempt; none without a token)`,
);

step("The token endpoint is back");
statuses = await drain([client.fetch(server.resourceUrl)]);
show("response", statuses[0]);
show("token requests", `${server.tokenRequests.length} in all, one of them failed`);
show("tokens obtained, and why", reasons.join(", "));

step("Two clients share one KV file, each through its own connection, as two processes would");
const dir = await Deno.makeTempDir({ prefix: "alf-demo-" });
try {
  using kvA = await Deno.openKv(`${dir}/tokens.kv`);
  using kvB = await Deno.openKv(`${dir}/tokens.kv`);
  const shared = {
    tokenEndpoint: server.tokenEndpoint,
    clientId: "demo-client",
    clientSecret: "demo-secret",
    scope: "read",
    now,
  };
  await using a = new Client({ ...shared, storage: new KvTokenStorage(kvA) });
  await using b = new Client({ ...shared, storage: new KvTokenStorage(kvB) });
  const start = server.tokenRequests.length;
  const both = (n: number) =>
    drain(Array.from({ length: n }, (_, i) => (i % 2 ? b : a).fetch(server.resourceUrl)));
  statuses = await both(20);
  show("responses", `${statuses.filter((s) => s === 200).length} × 200, half from each client`);
  show("token requests", `${server.tokenRequests.length - start} (one, shared through KV)`);
  server.revoke();
  statuses = await both(2);
  show("after a revocation", `${statuses.filter((s) => s === 200).length} × 200, both replayed`);
  show("token requests", `${server.tokenRequests.length - start} (one renewal for both clients)`);
} finally {
  await Deno.remove(dir, { recursive: true });
}
console.log("\nDone.");
