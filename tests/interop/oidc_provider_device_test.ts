// Interoperability of the device authorization grant (RFC 8628) with npm:oidc-provider (panva),
// an independent implementation: the device authorization request with client authentication,
// polling through authorization_pending, the user's approval or refusal on oidc-provider's own
// pages (driven with fetch), and the renewal of the login with its refresh token.

import assert from "node:assert/strict";
import { Client, DeviceCodeGrant, type DeviceUserCode, TokenError } from "../../mod.ts";
import { ManualClock } from "../_helpers.ts";
import { approveDeviceCode } from "./_device_approval.ts";
import { type RunningProvider, startProvider as startOidcProvider } from "./_oidc_provider.ts";

const SECRET = "device-client-secret";
const DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code";

/** What oidc-provider's page functions get: a Koa context, whose body they set. */
type Page = { body: string };

/** oidc-provider with the device flow, its development login and consent pages, and one client. */
function startProvider(): Promise<RunningProvider> {
  return startOidcProvider({
    configuration: {
      clients: [{
        client_id: "device-cli",
        client_secret: SECRET,
        token_endpoint_auth_method: "client_secret_basic",
        grant_types: [DEVICE_CODE, "refresh_token"],
        response_types: [],
        redirect_uris: [],
      }],
      scopes: ["openid", "offline_access", "read"],
      features: {
        // oidc-provider's forms, on pages of the test's (its defaults print a notice each).
        deviceFlow: {
          enabled: true,
          userCodeInputSource(ctx: Page, form: string, _out: unknown, error?: Error) {
            ctx.body = `<p>${error ? `Error: ${error.name}` : "Enter the code"}</p>${form}`;
          },
          userCodeConfirmSource(ctx: Page, form: string, _c: unknown, _d: unknown, code: string) {
            ctx.body = `<h1>Confirm Device</h1><code>${code}</code>${form}`;
          },
          successSource(ctx: Page) {
            ctx.body = "<h1>Sign-in Success</h1>";
          },
        },
        devInteractions: { enabled: true },
      },
      findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub }) }),
      ttl: {
        AccessToken: 60,
        DeviceCode: 600,
        Grant: 600,
        IdToken: 60,
        Interaction: 600,
        RefreshToken: 600,
        Session: 600,
      },
    },
    async resource(request, provider) {
      const value = /^Bearer (\S+)$/.exec(request.headers.get("authorization") ?? "")?.[1] ?? "";
      const token = await provider.AccessToken.find(value);
      if (!token || token.isExpired) return new Response(null, { status: 401 });
      return Response.json({ accountId: token.accountId, scope: token.scope });
    },
  });
}

/** A client of `op` with a device grant whose waits are recorded, the user acting at `onWait`. */
function deviceClient(
  op: RunningProvider,
  onWait: (waits: number, code: DeviceUserCode) => Promise<void>,
  clock?: ManualClock,
) {
  const codes: DeviceUserCode[] = [];
  const waits: number[] = [];
  const client = new Client({
    issuer: op.issuer,
    clientId: "device-cli",
    clientSecret: SECRET,
    scope: "openid offline_access read",
    now: clock?.now,
    grant: new DeviceCodeGrant({
      onUserCode: (code) => void codes.push(code),
      delay: async (ms) => {
        waits.push(ms);
        await onWait(waits.length, codes[0]!);
      },
    }),
  });
  return { client, codes, waits };
}

Deno.test("DeviceCodeGrant gets a token from oidc-provider once the user approves, and renews it with the refresh token", async () => {
  await using op = await startProvider();
  const clock = new ManualClock();
  clock.time = Date.now(); // oidc-provider's tokens are dated by its own clock
  const { client, codes, waits } = deviceClient(op, async (count, code) => {
    if (count === 2) await approveDeviceCode(code); // one poll answered authorization_pending first
  }, clock);
  await using _ = client;
  const response = await client.fetch(op.resourceUrl);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), {
    accountId: "alice",
    scope: "openid offline_access read",
  });
  assert.equal(codes.length, 1);
  const [code] = codes;
  assert.match(code!.userCode, /^[A-Z]{4}-[A-Z]{4}$/);
  assert.equal(code!.verificationUri, `${op.issuer}/device`);
  assert.equal(
    code!.verificationUriComplete,
    `${code!.verificationUri}?user_code=${code!.userCode}`,
  );
  assert.equal(code!.expiresIn, 600);
  assert.deepEqual(waits, [5000, 5000]); // oidc-provider's interval
  const first = await client.getToken();
  assert.ok(first.refreshToken, "offline_access: a refresh token");

  clock.advance(60_000); // the access token expires on the client's clock
  const renewed = await client.getToken();
  assert.notEqual(renewed.accessToken, first.accessToken);
  assert.equal(codes.length, 1, "renewed with the refresh token, no new code");
  const again = await client.fetch(op.resourceUrl);
  assert.equal(again.status, 200);
  await again.body?.cancel();
});

Deno.test("DeviceCodeGrant ends with access_denied when the user aborts on oidc-provider's page", async () => {
  await using op = await startProvider();
  const { client, waits } = deviceClient(op, async (count, code) => {
    if (count === 1) await approveDeviceCode(code, { answer: "abort" });
  });
  await using _ = client;
  await assert.rejects(client.getToken(), (error: unknown) => {
    assert(error instanceof TokenError);
    assert.equal(error.message, "Cannot log in: the user denied the device authorization");
    assert.equal(error.code, "login_failed");
    assert.equal(error.error, "access_denied");
    assert.equal(error.status, 400);
    return true;
  });
  assert.equal(waits.length, 1);
});

Deno.test("DeviceCodeGrant authenticates its device authorization request at oidc-provider", async () => {
  await using op = await startProvider();
  await using client = new Client({
    issuer: op.issuer,
    clientId: "device-cli",
    clientSecret: "wrong",
    grant: new DeviceCodeGrant({ onUserCode: () => assert.fail("no code for a wrong secret") }),
  });
  await assert.rejects(client.getToken(), (error: unknown) => {
    assert(error instanceof TokenError);
    assert.equal(error.code, "http_error");
    assert.equal(error.error, "invalid_client");
    assert.equal(error.status, 401);
    assert.match(error.message, /^Cannot log in: the device authorization endpoint answered 401/);
    return true;
  });
});

Deno.test("DeviceCodeGrant ends with expired_token when oidc-provider says the device code expired", async () => {
  await using op = await startProvider();
  const { client, waits } = deviceClient(op, async (count, code) => {
    if (count !== 2) return; // the first poll: authorization_pending
    // The code's expiry passes on oidc-provider's side only (the client's clock says 10 minutes).
    const stored = await op.provider.DeviceCode.findByUserCode(code.userCode.replace("-", ""));
    assert(stored);
    stored.exp = Math.floor(Date.now() / 1000) - 1;
    await stored.save();
  });
  await using _ = client;
  await assert.rejects(client.getToken(), (error: unknown) => {
    assert(error instanceof TokenError);
    assert.equal(error.message, "Cannot log in: the device code expired before it was approved");
    assert.equal(error.code, "login_failed");
    assert.equal(error.error, "expired_token");
    assert.equal(error.status, 400);
    return true;
  });
  assert.equal(waits.length, 2);
});
