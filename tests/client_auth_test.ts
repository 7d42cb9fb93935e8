import assert from "node:assert/strict";
import { authenticate, defaultClientAuth } from "../src/client_auth.ts";

function run(method: Parameters<typeof authenticate>[0], id: string, secret?: string) {
  const headers = new Headers();
  const form = new URLSearchParams();
  authenticate(method, id, secret, headers, form);
  return { headers, form };
}

Deno.test("authenticate() form-encodes id and secret before Basic (RFC 6749 §2.3.1)", () => {
  const { headers, form } = run("client_secret_basic", "glBQ3nYU/8/kaVi/bIgXGA==", "s3cr:t é+");
  const authorization = headers.get("authorization");
  assert.ok(authorization !== null, "an Authorization header");
  const encoded = authorization.slice("Basic ".length);
  const decoded = new TextDecoder().decode(Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0)));
  assert.equal(decoded, "glBQ3nYU%2F8%2FkaVi%2FbIgXGA%3D%3D:s3cr%3At+%C3%A9%2B");
  assert.equal(form.toString(), "");
});

Deno.test("authenticate() puts id and secret in the form for client_secret_post", () => {
  const { headers, form } = run("client_secret_post", "id", "secret");
  assert.equal(headers.get("authorization"), null);
  assert.equal(form.get("client_id"), "id");
  assert.equal(form.get("client_secret"), "secret");
});

Deno.test("authenticate() sends only client_id for a public client", () => {
  const { headers, form } = run("none", "id", "ignored");
  assert.equal(headers.get("authorization"), null);
  assert.deepEqual([...form], [["client_id", "id"]]);
});

Deno.test("defaultClientAuth() picks by the credentials and the server's token_endpoint_auth_methods_supported", () => {
  const secret = { secret: true, key: false };
  // RFC 8414 §2: a server that lists nothing supports client_secret_basic.
  assert.equal(defaultClientAuth(secret), "client_secret_basic");
  assert.equal(defaultClientAuth(secret, []), "client_secret_basic");
  assert.equal(
    defaultClientAuth(secret, ["client_secret_post", "client_secret_basic"]),
    "client_secret_basic",
  );
  assert.equal(
    defaultClientAuth(secret, ["private_key_jwt", "client_secret_post"]),
    "client_secret_post",
  );
  assert.equal(defaultClientAuth(secret, ["client_secret_jwt", "none"]), "client_secret_jwt");
  // A server that takes none of the secret's methods says so in its own error.
  assert.equal(defaultClientAuth(secret, ["private_key_jwt"]), "client_secret_basic");
  assert.equal(
    defaultClientAuth({ secret: false, key: true }, ["client_secret_basic"]),
    "private_key_jwt",
  );
  assert.equal(defaultClientAuth({ secret: false, key: false }, ["client_secret_basic"]), "none");
});
