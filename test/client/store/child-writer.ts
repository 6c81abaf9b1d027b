/**
 * A second process writing to a store, for the concurrency and crash tests (spawned by
 * helpers.ts spawnChild through ts-register.mjs). Usage:
 *
 *   child-writer.ts loop  DIR KEYHEX CHAT N        N transactions (message + cursor), yielding to the
 *                                                  event loop between them as a real client does,
 *                                                  then "done"
 *   child-writer.ts crash DIR KEYHEX CHAT STOP_AT  endless transactions (message + session + cursor),
 *                                                  printing "committed i" after each; transaction
 *                                                  STOP_AT prints "inside i" and hangs (-1: never)
 *
 * Transaction i stores message relay id i+1 with body "<mode>-i", session state u32be(i) for
 * peer "bob", and the chat's cursor i+1: a consistent store has all three in step.
 */
import { writeSync } from "node:fs";
import { fromHex, u32be } from "../../../crypto/bytes.js";
import { ClientStore } from "../../../client/store/index.js";

const [mode, dir, keyHex, chatArg, nArg] = process.argv.slice(2);
if (!mode || !dir || !keyHex || !chatArg || !nArg)
  throw new Error("usage: child-writer.ts loop|crash DIR KEYHEX CHAT N");
const chat = Number(chatArg);
const n = Number(nArg);
const say = (line: string): void => void writeSync(1, line + "\n");

const store = ClientStore.open(dir, fromHex(keyHex));
const baseKey = new Uint8Array(32).fill(7);
say("ready");

if (mode === "loop") {
  for (let i = 0; i < n; i++) {
    store.transaction(() => {
      store.messages.insert({
        chatId: chat,
        relayMsgId: i + 1,
        sender: "child",
        sentAt: i,
        body: `loop-${i}`,
        direction: "in",
        status: "delivered",
      });
      store.cursors.set(chat, i + 1);
    });
    await new Promise((r) => setTimeout(r, 0));
  }
  store.close();
  say("done");
} else if (mode === "crash") {
  for (let i = 0; ; i++) {
    store.transaction(() => {
      store.messages.insert({
        chatId: chat,
        relayMsgId: i + 1,
        sender: "bob",
        sentAt: i,
        body: `crash-${i}`,
        direction: "in",
        status: "delivered",
      });
      store.sessions.put("bob", baseKey, u32be(i));
      if (i === n) {
        say(`inside ${i}`);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // hang inside the transaction until killed
      }
      store.cursors.set(chat, i + 1);
    });
    say(`committed ${i}`);
  }
} else {
  throw new Error(`unknown mode ${mode}`);
}
