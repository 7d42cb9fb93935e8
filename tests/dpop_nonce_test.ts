import assert from "node:assert/strict";
import { DpopKey } from "../src/dpop.ts";
import {
  DpopNonces,
  isNonce,
  resourceNonceChallenge,
  tokenNonceChallenge,
} from "../src/dpop_nonce.ts";
import { TokenError } from "../src/token_error.ts";
import { decodeJws } from "./_jws.ts";
import { serve } from "./_helpers.ts";

const nonceHeaders = (nonce: string) => new Headers({ "DPoP-Nonce": nonce });

Deno.test("DpopNonces.remember() keeps the latest nonce of each origin", () => {
  const nonces = new DpopNonces();
  assert.equal(nonces.remember("https://auth.example/token", nonceHeaders("n-1")), "n-1");
  nonces.remember("https://api.example/items", nonceHeaders("a-1"));
  assert.equal(nonces.get("https://auth.example/other?q#f"), "n-1");
  nonces.remember("https://auth.example/token", nonceHeaders("n-2"));
  assert.equal(nonces.get("https://auth.example/token"), "n-2");
  assert.equal(nonces.get("https://api.example/"), "a-1");
});

Deno.test("DpopNonces.get() never gives one origin's nonce to another", () => {
  const nonces = new DpopNonces();
  nonces.remember("https://auth.example/token", nonceHeaders("n-1"));
  assert.equal(nonces.get("https://auth.example:8443/token"), undefined);
  assert.equal(nonces.get("http://auth.example/token"), undefined);
  assert.equal(nonces.get("https://sub.auth.example/token"), undefined);
  assert.equal(nonces.get("not a url"), undefined);
});

Deno.test("DpopNonces.remember() ignores an answer without a valid DPoP-Nonce", () => {
  const nonces = new DpopNonces();
  nonces.remember("https://auth.example/", nonceHeaders("n-1"));
  assert.equal(nonces.remember("https://auth.example/", new Headers()), undefined);
  assert.equal(nonces.remember("https://auth.example/", nonceHeaders('a"b')), undefined);
  assert.equal(nonces.remember("https://auth.example/", nonceHeaders("a b")), undefined);
  assert.equal(nonces.get("https://auth.example/"), "n-1");
  assert.equal(isNonce(""), false);
  assert.equal(isNonce("a\\b"), false);
});

Deno.test("DpopNonces.remember() ignores a nonce longer than 4 KiB", () => {
  const nonces = new DpopNonces();
  nonces.remember("https://auth.example/", nonceHeaders("n-1"));
  assert.equal(nonces.remember("https://auth.example/", nonceHeaders("x".repeat(4097))), undefined);
  assert.equal(nonces.get("https://auth.example/"), "n-1");
  assert.equal(isNonce("x".repeat(4096)), true);
});

Deno.test("DpopNonces.remember() forgets the least recently used origin past 1,000", () => {
  const nonces = new DpopNonces();
  for (let i = 0; i < 1000; i++) nonces.remember(`https://h${i}.example/`, nonceHeaders(`n${i}`));
  nonces.remember("https://h0.example/", nonceHeaders("n0b")); // h0 is now the most recent
  nonces.remember("https://h1000.example/", nonceHeaders("n1000"));
  assert.equal(nonces.get("https://h1.example/"), undefined);
  assert.equal(nonces.get("https://h0.example/"), "n0b");
  assert.equal(nonces.get("https://h1000.example/"), "n1000");
});

Deno.test("tokenNonceChallenge() recognises a token endpoint's 400 use_dpop_nonce", () => {
  const error = new TokenError("Cannot obtain a token: the token endpoint answered 400", {
    code: "http_error",
    status: 400,
    error: "use_dpop_nonce",
    headers: { "DPoP-Nonce": "eyJ7S_zG.eyJH0-Z.HX4w-7v" },
  });
  assert.equal(tokenNonceChallenge(error), "eyJ7S_zG.eyJH0-Z.HX4w-7v");
  const headers = nonceHeaders("n-1");
  assert.equal(
    tokenNonceChallenge({ status: 400, error: "invalid_dpop_proof", headers }),
    undefined,
  );
  assert.equal(tokenNonceChallenge({ status: 401, error: "use_dpop_nonce", headers }), undefined);
  assert.equal(tokenNonceChallenge({ status: 400, error: "use_dpop_nonce" }), undefined);
  assert.equal(
    tokenNonceChallenge({ status: 400, error: "use_dpop_nonce", headers: new Headers() }),
    undefined,
  );
});

Deno.test("resourceNonceChallenge() recognises a 401 DPoP error=use_dpop_nonce only", () => {
  const answer = (status: number, challenge: string, nonce: string | null = "n-1") => {
    const headers = new Headers({ "WWW-Authenticate": challenge });
    if (nonce !== null) headers.set("DPoP-Nonce", nonce);
    return { status, headers };
  };
  const demand = 'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce"';
  assert.equal(resourceNonceChallenge(answer(401, demand)), "n-1");
  assert.equal(
    resourceNonceChallenge(answer(401, `Bearer realm="x", ${demand}`)),
    "n-1",
  );
  assert.equal(resourceNonceChallenge(answer(401, demand, null)), undefined);
  assert.equal(resourceNonceChallenge(answer(403, demand)), undefined);
  assert.equal(resourceNonceChallenge(answer(401, 'Bearer error="use_dpop_nonce"')), undefined);
  assert.equal(resourceNonceChallenge(answer(401, 'DPoP error="invalid_token"')), undefined);
  assert.equal(
    resourceNonceChallenge(answer(401, 'DPoP error_description="use_dpop_nonce"')),
    undefined,
  );
});

Deno.test("resourceNonceChallenge() gets the nonce a real resource demands, and the replay passes", async () => {
  const key = await DpopKey.generate();
  const nonces = new DpopNonces();
  const seen: (string | undefined)[] = [];
  await using resource = serve((request) => {
    const claims = decodeJws(request.headers.get("DPoP") ?? "..").claims;
    seen.push(claims.nonce as string | undefined);
    if (claims.nonce !== "server-nonce-1") {
      return new Response(null, {
        status: 401,
        headers: {
          "WWW-Authenticate": 'DPoP error="use_dpop_nonce", algs="ES256 EdDSA"',
          "DPoP-Nonce": "server-nonce-1",
        },
      });
    }
    return new Response("ok", { headers: { "DPoP-Nonce": "server-nonce-2" } });
  });
  const url = `${resource.url}/items?page=1`;
  const send = async () => {
    const proof = await key.proof({
      method: "GET",
      url,
      accessToken: "token",
      nonce: nonces.get(url),
    });
    const response = await fetch(url, {
      headers: { Authorization: "DPoP token", DPoP: proof },
    });
    nonces.remember(url, response.headers);
    return response;
  };
  const first = await send();
  await first.body?.cancel();
  assert.equal(resourceNonceChallenge(first), "server-nonce-1");
  const second = await send();
  assert.equal(await second.text(), "ok");
  assert.equal(resourceNonceChallenge(second), undefined);
  assert.deepEqual(seen, [undefined, "server-nonce-1"]);
  assert.equal(nonces.get(url), "server-nonce-2"); // a success's new nonce is kept (§8.2)
});
