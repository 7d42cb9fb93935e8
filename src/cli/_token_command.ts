// `alf token`: prints a fresh access token, or the whole token record.

import { decodeJwt } from "../testing/_jwt_verify.ts";
import { flagOption } from "./_args.ts";
import { openClient } from "./_client_config.ts";
import type { Command } from "./_command.ts";
import { CliError, EXIT_CODE, usageError } from "./exit_code.ts";

/** The `alf token` command. */
export const tokenCommand: Command = {
  name: "token",
  summary: "print a fresh access token",
  help: `alf token: print an access token that can be sent now, obtaining one if needed

A stored token inside its renewal margin (by default its last minute) is renewed
first: the token printed is never one about to expire.

Usage:
  alf token [--json | --claims] [configuration]

  curl -H "Authorization: Bearer $(alf token)" https://api.example.com/items
  alf token --claims | jq .claims.scope

Options:
  --json       print the whole token record as JSON: accessToken, tokenType,
               issuedAt and expiresAt (epoch milliseconds), refreshToken, scope
  --claims     print the header and the claims of a JWT access token as JSON,
               decoded but NOT verified: to see its scopes, audience and expiry
               while debugging (exit code 1 for a token that is not a JWT)
  -h, --help   show this help`,
  options: [{ name: "json", value: false }, { name: "claims", value: false }],
  async run(args, io) {
    if (args.positionals.length > 0) {
      throw usageError(
        `Cannot parse the arguments: alf token takes no arguments, got ${args.positionals.length}`,
      );
    }
    if (flagOption(args, "json") && flagOption(args, "claims")) {
      throw usageError(
        "Cannot parse the arguments: --json and --claims print different things; give one",
      );
    }
    await using configured = await openClient(args, io);
    const token = await configured.client.getToken();
    if (flagOption(args, "claims")) {
      await io.print(`${JSON.stringify(claimsOf(token.accessToken), null, 2)}\n`);
    } else {
      await io.print(
        flagOption(args, "json") ? `${JSON.stringify(token, null, 2)}\n` : `${token.accessToken}\n`,
      );
    }
    return EXIT_CODE.OK;
  },
};

/**
 * The header and claims of a JWT access token
 * ([RFC 9068](https://www.rfc-editor.org/rfc/rfc9068)), decoded without
 * verifying its signature: only the API can tell whether it is valid.
 *
 * @throws {CliError} with exit code 1 for a token that is not a signed JWT;
 * the token is never repeated.
 */
function claimsOf(accessToken: string): { header: unknown; claims: unknown } {
  const decoded = decodeJwt(accessToken);
  if (decoded) return decoded;
  // Five parts: an encrypted JWT (RFC 7516 §7.1), readable by the API alone.
  const why = accessToken.split(".").length === 5
    ? "it is an encrypted JWT (JWE), which only the API can read"
    : "it is not a JWT but an opaque token, which only the authorization server can read " +
      "(token introspection, RFC 7662)";
  throw new CliError(`Cannot show the claims of the access token: ${why}`, EXIT_CODE.FAILURE);
}
