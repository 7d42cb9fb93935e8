import assert from "node:assert/strict";
import { Client, DeviceCodeGrant, type DeviceUserCode, TokenError } from "../../mod.ts";
import { type AuthServer, startAuthServer } from "../../testing.ts";
import { ManualClock } from "../_helpers.ts";

const DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code";

function polls(server: AuthServer): number {
  return server.tokenRequests.filter((r) => r.form.get("grant_type") === DEVICE_CODE).length;
}

/** Opens the address with the code, as the user would on their phone. */
async function approve(code: DeviceUserCode | undefined): Promise<void> {
  const response = await fetch(code!.verificationUriComplete!);
  assert.equal(response.status, 200);
  await response.body?.cancel();
}

/** A client of the kit with a device grant whose waits are recorded, not waited. */
function deviceClient(
  server: AuthServer,
  options: {
    interval?: number;
    clock?: ManualClock;
    onWait?: (waits: number[], codes: DeviceUserCode[]) => void | Promise<void>;
    approveAtOnce?: boolean;
  } = {},
) {
  const waits: number[] = [];
  const codes: DeviceUserCode[] = [];
  const client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "cli",
    now: options.clock?.now,
    grant: new DeviceCodeGrant({
      deviceAuthorizationEndpoint: server.url("/device_authorization"),
      interval: options.interval,
      onUserCode: async (code) => {
        codes.push(code);
        if (options.approveAtOnce) await approve(code);
      },
      delay: async (ms) => {
        waits.push(ms);
        await options.onWait?.(waits, codes);
      },
    }),
  });
  return { client, waits, codes };
}

Deno.test("DeviceCodeGrant.obtain() shows the codes once and polls until the user approves", async () => {
  await using server = await startAuthServer();
  const { client, waits, codes } = deviceClient(server, {
    onWait: async (waits, codes) => {
      if (waits.length === 3) await approve(codes[0]);
    },
  });
  await using _ = client;
  const token = await client.getToken();
  assert(server.accepts(token.accessToken));
  assert.equal(codes.length, 1);
  assert.equal(codes[0]?.userCode, "USER-0001");
  assert.equal(codes[0]?.verificationUri, server.url("/device"));
  assert.equal(codes[0]?.verificationUriComplete, server.url("/device?user_code=USER-0001"));
  assert.equal(codes[0]?.expiresIn, 600);
  assert.equal(polls(server), 3); // pending, pending, token
  assert.deepEqual(waits, [5000, 5000, 5000]); // the default interval
  const poll = server.tokenRequests[0]!.form;
  assert.match(poll.get("device_code") ?? "", /^dc-1-/);
  assert.equal(poll.get("client_id"), "cli");
});

Deno.test("DeviceCodeGrant.obtain() adds 5 s to the interval at each slow_down", async () => {
  await using server = await startAuthServer({
    deviceAuthorization: { answers: ["slow_down", "authorization_pending", "slow_down"] },
  });
  const { client, waits } = deviceClient(server, { interval: 1000, approveAtOnce: true });
  await using _ = client;
  await client.getToken();
  assert.deepEqual(waits, [1000, 6000, 6000, 11000]);
  assert.equal(polls(server), 4);
});

Deno.test("DeviceCodeGrant.obtain() waits the interval the server gives", async () => {
  await using server = await startAuthServer({
    deviceAuthorization: { interval: 2, answers: ["authorization_pending"] },
  });
  const { client, waits } = deviceClient(server, { interval: 1000, approveAtOnce: true });
  await using _ = client;
  await client.getToken();
  assert.deepEqual(waits, [2000, 2000]);
});

for (const answer of ["access_denied", "expired_token"]) {
  Deno.test(`DeviceCodeGrant.obtain() ends with login_failed on ${answer}`, async () => {
    await using server = await startAuthServer({
      deviceAuthorization: { answers: ["authorization_pending", answer] },
    });
    const { client } = deviceClient(server);
    await using _ = client;
    await assert.rejects(client.getToken(), (error: unknown) => {
      assert(error instanceof TokenError);
      assert.equal(error.code, "login_failed");
      assert.equal(error.error, answer);
      assert.equal(error.status, 400);
      return true;
    });
    assert.equal(polls(server), 2);
  });
}

Deno.test("DeviceCodeGrant.obtain() stops polling when the codes expire on the client's clock", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ deviceAuthorization: { expiresIn: 60 } });
  const { client, waits } = deviceClient(server, {
    clock,
    onWait: (waits) => {
      if (waits.length === 3) clock.advance(60_000);
      if (waits.length > 3) throw new Error("polled past the expiry");
    },
  });
  await using _ = client;
  await assert.rejects(client.getToken(), (error: unknown) => {
    assert(error instanceof TokenError);
    assert.equal(error.code, "login_failed");
    assert.equal(error.error, "expired_token");
    return true;
  });
  assert.equal(waits.length, 3);
  assert.equal(polls(server), 2); // the third wait ended past the expiry: no third poll
});

Deno.test("DeviceCodeGrant.obtain() stops waiting when the client closes", async () => {
  await using server = await startAuthServer();
  const shown = Promise.withResolvers<void>();
  const client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "cli",
    grant: new DeviceCodeGrant({
      deviceAuthorizationEndpoint: server.url("/device_authorization"),
      interval: 3_600_000, // a real timer: only the close can end the wait
      onUserCode: () => shown.resolve(),
    }),
  });
  const token = client.getToken();
  const settled = token.then(() => undefined, (error: unknown) => error);
  await shown.promise;
  await client.close();
  const error = await settled;
  assert(error instanceof TokenError, String(error));
  assert.equal(error.code, "aborted");
  assert.equal(error.message, "Cannot log in: the login was aborted");
  assert.equal(polls(server), 0);
});

Deno.test("DeviceCodeGrant.obtain() finds the device authorization endpoint by discovery", async () => {
  const members: Record<string, unknown> = {};
  await using server = await startAuthServer({
    deviceAuthorization: { interval: 0 },
    metadata: { members },
  });
  members.device_authorization_endpoint = server.url("/device_authorization");
  await using client = new Client({
    issuer: server.issuer,
    clientId: "cli",
    grant: new DeviceCodeGrant({ onUserCode: approve }),
  });
  const token = await client.getToken();
  assert(server.accepts(token.accessToken));
  assert.equal(polls(server), 1);
});

Deno.test("DeviceCodeGrant.obtain() fails when no device authorization endpoint is known", async () => {
  await using server = await startAuthServer();
  await using client = new Client({
    issuer: server.issuer,
    clientId: "cli",
    grant: new DeviceCodeGrant({ onUserCode: () => {} }),
  });
  await assert.rejects(client.getToken(), (error: unknown) => {
    assert(error instanceof TokenError);
    assert.match(error.message, /no device authorization endpoint is known/);
    return true;
  });
});

Deno.test("DeviceCodeGrant.obtain() keeps the device authorization endpoint's error", async () => {
  await using server = await startAuthServer();
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "cli",
    grant: new DeviceCodeGrant({
      deviceAuthorizationEndpoint: server.url("/device_authorization"),
      onUserCode: () => assert.fail("no code to show"),
      fetch: () => Promise.resolve(Response.json({ error: "invalid_client" }, { status: 401 })),
    }),
  });
  await assert.rejects(client.getToken(), (error: unknown) => {
    assert(error instanceof TokenError);
    assert.equal(error.code, "http_error");
    assert.equal(error.error, "invalid_client");
    assert.equal(error.status, 401);
    return true;
  });
});

Deno.test("DeviceCodeGrant.needsUser() is true without a refresh token", () => {
  const grant = new DeviceCodeGrant({ onUserCode: () => {} });
  assert.equal(grant.needsUser(undefined), true);
  assert.equal(
    grant.needsUser({ accessToken: "a", tokenType: "Bearer", refreshToken: "r" } as never),
    false,
  );
  assert.equal(grant.timeout, 900_000);
});
