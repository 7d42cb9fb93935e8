// `alf token`: prints a fresh access token, or the whole token record.

import { flagOption } from "./_args.ts";
import { openClient } from "./_client_config.ts";
import type { Command } from "./_command.ts";
import { EXIT_CODE, usageError } from "./exit_code.ts";

/** The `alf token` command. */
export const tokenCommand: Command = {
  name: "token",
  summary: "print a fresh access token",
  help: `alf token: print an access token that can be sent now, obtaining one if needed

A stored token inside its renewal margin (by default its last minute) is renewed
first: the token printed is never one about to expire.

Usage:
  alf token [--json] [configuration]

  curl -H "Authorization: Bearer $(alf token)" https://api.example.com/items

Options:
  --json       print the whole token record as JSON: accessToken, tokenType,
               issuedAt and expiresAt (epoch milliseconds), refreshToken, scope
  -h, --help   show this help`,
  options: [{ name: "json", value: false }],
  async run(args, io) {
    if (args.positionals.length > 0) {
      throw usageError(
        `Cannot parse the arguments: alf token takes no arguments, got ${args.positionals.length}`,
      );
    }
    await using configured = await openClient(args, io);
    const token = await configured.client.getToken();
    await io.print(
      flagOption(args, "json") ? `${JSON.stringify(token, null, 2)}\n` : `${token.accessToken}\n`,
    );
    return EXIT_CODE.OK;
  },
};
