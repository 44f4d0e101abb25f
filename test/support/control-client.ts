// Talks to a VM's control socket (docs/control.md) the way an operator's tool would: several
// requests on one connection, the replies in order. (One request, one reply: vmmCall in
// src/host/vmm-client.ts.)
import net from "node:net";
import assert from "node:assert/strict";
import type { ControlOk, ControlOp, ControlReply } from "../../src/vmm/control-protocol.js";

export type Reply = Record<string, unknown>;

/** `r`, which must be an ok reply (the test fails, showing it, if not). */
export function okReply<Op extends ControlOp>(r: ControlReply<Op>): ControlOk<Op> {
  if (r.ok !== true) assert.fail(`not ok: ${JSON.stringify(r)}`);
  return r;
}

/** Sends requests (objects, or raw lines) on a control socket; resolves to the parsed replies. */
export function control(path: string, reqs: (object | string)[]): Promise<Reply[]> {
  return new Promise((resolve, reject) => {
    const c = net.connect(path);
    let got = "";
    c.setEncoding("utf8");
    c.on("data", (d: string) => {
      got += d;
      const lines = got.split("\n").filter((l) => l !== "");
      if (lines.length === reqs.length) {
        c.end();
        resolve(lines.map((l) => JSON.parse(l) as Reply));
      }
    });
    c.on("error", reject);
    for (const r of reqs) c.write((typeof r === "string" ? r : JSON.stringify(r)) + "\n");
  });
}
