import assert from "node:assert/strict";
import { Client } from "../mod.ts";
import { googleServiceAccount } from "../src/google_service_account.ts";
import { TokenError } from "../src/token_error.ts";
import { ManualClock } from "./_helpers.ts";
import { formServer, keyPair, pem, pkcs8Pem, verifyJws } from "./_jws.ts";

const EMAIL = "reporter@my-project.iam.gserviceaccount.com";
const SCOPE = "https://www.googleapis.com/auth/spreadsheets";

/**
 * Google's token endpoint as its documentation describes it: the JWT bearer
 * grant, an RS256 assertion by the account's key, aud = the token URI, a
 * lifetime of at most an hour, and the scope inside the assertion.
 */
async function googleStandIn(clock: ManualClock) {
  const { privateKey, publicKey } = await keyPair("RS256");
  let issued = 0;
  const server = formServer(async (form) => {
    const refuse = (description: string) =>
      Response.json({ error: "invalid_grant", error_description: description }, { status: 400 });
    if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer") {
      return refuse("grant_type");
    }
    let claims: Record<string, unknown>;
    let header: Record<string, unknown>;
    try {
      ({ claims, header } = await verifyJws(form.get("assertion") ?? "", publicKey, "RS256"));
    } catch {
      return refuse("Invalid JWT Signature.");
    }
    const now = Math.floor(clock.time / 1000);
    const iat = Number(claims.iat);
    const exp = Number(claims.exp);
    if (claims.aud !== `${server.url}/token` || claims.iss !== EMAIL) return refuse("aud or iss");
    if (!(iat <= now + 30 && exp > now - 30 && exp - iat <= 3600)) {
      return refuse(
        "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
      );
    }
    if (header.kid !== "key-1") return refuse("kid");
    return Response.json({
      access_token: `ya29.${++issued}.${claims.sub ?? "self"}.${
        String(claims.scope).replaceAll(" ", "+")
      }`,
      token_type: "Bearer",
      expires_in: 3599,
    });
  });
  const key = {
    type: "service_account",
    project_id: "my-project",
    private_key_id: "key-1",
    private_key: await pkcs8Pem(privateKey),
    client_email: EMAIL,
    client_id: "1234567890",
    token_uri: `${server.url}/token`,
  };
  return Object.assign(server, { key, publicKey });
}

Deno.test("googleServiceAccount() gives a Client the token endpoint, client id and a grant that works", async () => {
  const clock = new ManualClock();
  clock.time = Date.now();
  await using google = await googleStandIn(clock);
  const options = googleServiceAccount(JSON.stringify(google.key), { scope: SCOPE });
  assert.equal(options.tokenEndpoint, google.key.token_uri);
  assert.equal(options.clientId, EMAIL);
  await using client = new Client({ ...options, now: clock.now });
  const token = await client.getToken();
  assert.equal(token.accessToken, `ya29.1.self.${SCOPE}`);
  const form = google.forms[0];
  assert.equal(form?.has("scope"), false); // the scope travels in the assertion
});

Deno.test("googleServiceAccount() signs the claims Google expects, an hour long, on the client's clock", async () => {
  const clock = new ManualClock();
  await using google = await googleStandIn(clock);
  await using client = new Client({
    ...googleServiceAccount(google.key, { scope: [SCOPE, "openid"], subject: "alice@example.com" }),
    now: clock.now,
  });
  await client.getToken();
  const { claims, header } = await verifyJws(
    google.forms[0]?.get("assertion") ?? "",
    google.publicKey,
    "RS256",
  );
  assert.deepEqual(header, { typ: "JWT", kid: "key-1", alg: "RS256" });
  assert.deepEqual(claims, {
    iss: EMAIL,
    scope: `${SCOPE} openid`,
    aud: google.key.token_uri,
    iat: Math.floor(clock.time / 1000),
    exp: Math.floor(clock.time / 1000) + 3600,
    sub: "alice@example.com",
  });
});

Deno.test("googleServiceAccount() signs a new assertion at each renewal", async () => {
  const clock = new ManualClock();
  await using google = await googleStandIn(clock);
  await using client = new Client({
    ...googleServiceAccount(google.key, { scope: SCOPE }),
    now: clock.now,
    renewalMargin: 0,
  });
  await client.getToken();
  clock.advance(3_600_000); // an hour later the first assertion would be refused
  assert.equal((await client.getToken()).accessToken, `ya29.2.self.${SCOPE}`);
  const assertions = google.forms.map((form) => form.get("assertion"));
  assert.equal(new Set(assertions).size, 2);
});

Deno.test("googleServiceAccount() surfaces Google's clock-skew refusal as the token endpoint's error", async () => {
  const clock = new ManualClock();
  await using google = await googleStandIn(clock);
  await using client = new Client({
    ...googleServiceAccount(google.key, {
      scope: SCOPE,
      now: () => clock.time + 2 * 3_600_000, // a machine whose clock runs two hours ahead
    }),
    tokenErrors: "throw",
  });
  await assert.rejects(client.getToken(), (error) => {
    assert.ok(error instanceof TokenError);
    assert.equal(error.error, "invalid_grant");
    assert.match(String(error.errorDescription), /reasonable timeframe/);
    return true;
  });
});

Deno.test("googleServiceAccount() keeps apart the tokens of two subjects and two scopes", async () => {
  const clock = new ManualClock();
  await using google = await googleStandIn(clock);
  const identity = (options: { scope: string; subject?: string }) =>
    googleServiceAccount(google.key, options).grant.identity();
  assert.equal(identity({ scope: SCOPE }), identity({ scope: SCOPE }));
  assert.notEqual(identity({ scope: SCOPE }), identity({ scope: "openid" }));
  assert.notEqual(
    identity({ scope: SCOPE, subject: "a@x" }),
    identity({ scope: SCOPE, subject: "b@x" }),
  );
});

Deno.test("googleServiceAccount() reads a private key whose newlines are \\n (an environment variable)", async () => {
  const clock = new ManualClock();
  await using google = await googleStandIn(clock);
  const flattened = { ...google.key, private_key: google.key.private_key.replaceAll("\n", "\\n") };
  await using client = new Client({
    ...googleServiceAccount(flattened, { scope: SCOPE }),
    now: clock.now,
  });
  assert.ok((await client.getToken()).accessToken.startsWith("ya29."));
});

Deno.test("googleServiceAccount() defaults the token URI and checks the key file", async () => {
  const { privateKey, publicKey } = await keyPair("RS256");
  const key = { client_email: EMAIL, private_key: await pkcs8Pem(privateKey) };
  assert.equal(
    googleServiceAccount(key, { scope: SCOPE }).tokenEndpoint,
    "https://oauth2.googleapis.com/token",
  );
  const spki = pem("PUBLIC KEY", await crypto.subtle.exportKey("spki", publicKey));
  const cases: [unknown, RegExp][] = [
    ["{not json", /^Cannot use the Google service account key: it is not JSON$/],
    ["[]", /it is not a JSON object/],
    [{ ...key, type: "authorized_user" }, /its type is "authorized_user", not "service_account"/],
    [{ ...key, client_email: "" }, /"client_email" must be a non-empty string/],
    [{ ...key, private_key: spki }, /"private_key" holds a PUBLIC KEY, not a private key/],
    [
      { ...key, private_key: undefined },
      /"private_key" must be a CryptoKey, a private JWK or a PEM/,
    ],
    [{ ...key, token_uri: "http://oauth2.example/token" }, /"token_uri" must use https:/],
  ];
  for (const [file, message] of cases) {
    assert.throws(
      () => googleServiceAccount(file as typeof key, { scope: SCOPE }),
      { name: "TypeError", message },
    );
  }
  assert.throws(() => googleServiceAccount(key, { scope: [] }), {
    name: "TypeError",
    message: /"scope" must be a non-empty string or list/,
  });
  assert.throws(() => googleServiceAccount(key, { scope: SCOPE, subject: "" }), {
    name: "TypeError",
    message: /"subject" must be a non-empty string/,
  });
});

Deno.test("googleServiceAccount() refuses a misspelled option before reading the key", () => {
  const options = { scope: SCOPE, subjet: "alice@example.com" };
  assert.throws(
    () => googleServiceAccount("{}", options),
    new TypeError(
      'Cannot create the Google service account client: unknown option "subjet"; did you mean "subject"?',
    ),
  );
});
