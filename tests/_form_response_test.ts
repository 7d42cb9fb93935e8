import assert from "node:assert/strict";
import { isFormContentType, parseFormBody } from "../src/_form_response.ts";
import { formServer } from "./_jws.ts";

Deno.test("isFormContentType() reads the media type, whatever its case and parameters", () => {
  assert.ok(isFormContentType("application/x-www-form-urlencoded"));
  assert.ok(isFormContentType("Application/X-WWW-Form-Urlencoded; charset=utf-8"));
  assert.ok(!isFormContentType("application/json"));
  assert.ok(!isFormContentType("text/plain"));
  assert.ok(!isFormContentType(null));
});

Deno.test("parseFormBody() reads GitHub's token response sent without Accept: application/json", async () => {
  // What github.com/login/oauth/access_token answers when the request has no Accept header.
  await using github = formServer(() =>
    new Response(
      "access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a&scope=repo%2Cgist&token_type=bearer",
      {
        headers: { "Content-Type": "application/x-www-form-urlencoded; charset=utf-8" },
      },
    )
  );
  const response = await fetch(github.url, { method: "POST", body: "code=x" });
  assert.ok(isFormContentType(response.headers.get("content-type")));
  assert.deepEqual(parseFormBody(await response.text()), {
    access_token: "gho_16C7e42F292c6912E7710c838347Ae178B4a",
    scope: "repo,gist",
    token_type: "bearer",
  });
});

Deno.test("parseFormBody() reads an error sent as a form, and expires_in as a string", () => {
  assert.deepEqual(
    parseFormBody(
      "error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired.&error_uri=https%3A%2F%2Fdocs.github.com",
    ),
    {
      error: "bad_verification_code",
      error_description: "The code passed is incorrect or expired.",
      error_uri: "https://docs.github.com",
    },
  );
  assert.deepEqual(parseFormBody("access_token=a&expires_in=28800\r\n"), {
    access_token: "a",
    expires_in: "28800",
  });
});

Deno.test("parseFormBody() refuses an empty body and a repeated name", () => {
  assert.equal(parseFormBody(""), undefined);
  assert.equal(parseFormBody("  \n"), undefined);
  assert.equal(parseFormBody("access_token=a&access_token=b"), undefined);
});

Deno.test("parseFormBody() keeps a __proto__ name as a plain member", () => {
  const members = parseFormBody("__proto__=x&access_token=a");
  assert.equal(Object.getPrototypeOf(members), Object.prototype);
  assert.equal(members?.["__proto__"], "x");
});
