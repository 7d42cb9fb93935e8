// The core of @alf/client on Node (run by tests/node_smoke_test.ts):
//
//   deno bundle --output /tmp/alf.mjs mod.ts && node scripts/node_smoke.mjs /tmp/alf.mjs
//
// A loopback token endpoint and resource on node:http; a Client (client
// credentials grant, MemoryTokenStorage) POSTs to the resource, which rejects
// the first token with a 401: the client gets a second token and replays the
// POST with its body. Prints one line of what happened; exits 1 on any error.

import { createServer } from "node:http";
import process from "node:process";
import { pathToFileURL } from "node:url";

const bundle = process.argv[2];
if (!bundle) {
  console.error("Usage: node scripts/node_smoke.mjs <bundle of mod.ts>");
  process.exit(2);
}
// A hang is a failure too, not a test that never ends.
setTimeout(() => {
  console.error("Cannot finish the Node smoke run: no answer within 30 s");
  process.exit(1);
}, 30_000).unref();

const { Client, MemoryTokenStorage } = await import(pathToFileURL(bundle).href);

const CLIENT_ID = "node-client";
const CLIENT_SECRET = "node-secret";
const issued = [];
const seen = [];

const server = createServer(async (request, response) => {
  let body = "";
  for await (const chunk of request) body += chunk;
  if (request.url === "/token") {
    const form = new URLSearchParams(body);
    const basic = `Basic ${btoa(`${CLIENT_ID}:${CLIENT_SECRET}`)}`;
    if (
      request.method !== "POST" || request.headers.authorization !== basic ||
      form.get("grant_type") !== "client_credentials"
    ) {
      response.writeHead(400, { "content-type": "application/json" });
      response.end(JSON.stringify({ error: "invalid_request" }));
      return;
    }
    const token = `token-${issued.length + 1}`;
    issued.push(token);
    response.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
    response.end(JSON.stringify({ access_token: token, token_type: "Bearer", expires_in: 3600 }));
  } else if (request.url === "/resource") {
    seen.push(`${request.method} ${request.headers.authorization} ${JSON.stringify(body)}`);
    // The first token was revoked behind the client's back.
    if (request.headers.authorization !== "Bearer token-2") {
      response.writeHead(401, { "www-authenticate": 'Bearer error="invalid_token"' });
      response.end();
      return;
    }
    response.writeHead(200, { "content-type": "text/plain" });
    response.end(`hello ${body}`);
  } else {
    response.writeHead(404);
    response.end();
  }
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${server.address().port}`;

const client = new Client({
  tokenEndpoint: `${base}/token`,
  clientId: CLIENT_ID,
  clientSecret: CLIENT_SECRET,
  storage: new MemoryTokenStorage(),
});
try {
  const response = await client.fetch(`${base}/resource`, { method: "POST", body: "from node" });
  console.log(
    `node ${process.version}: ${response.status} ${JSON.stringify(await response.text())}; ` +
      `tokens ${issued.join(", ")}; resource saw ${seen.join(", then ")}`,
  );
} finally {
  await client.close();
  server.closeAllConnections();
  server.close();
}
