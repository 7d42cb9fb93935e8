// Stands in for xdg-open in the login tests: visits the URL as a user's browser would.

import { ScriptedBrowser } from "../../testing.ts";

await using browser = new ScriptedBrowser();
const [url] = Deno.args;
if (url === undefined) throw new TypeError("Cannot visit: no URL given");
await browser.open(url);
