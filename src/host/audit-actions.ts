// What the audit log calls what was done. One scheme for every entry, API request or daemon
// event: lowercase parts joined by dots, the thing then what happened to it (vm.start,
// vm.console.attach, token.create, daemon.start, api.auth.failed); a hyphen joins the words of
// one part (vm.orphan-killed). An API request's method and route go in its entry's detail.

/** An audit action's shape (AUDIT_ACTION.test(name)). */
export const AUDIT_ACTION = /^[a-z]+(-[a-z]+)*(\.[a-z]+(-[a-z]+)*)+$/;

/** The audited API routes ("METHOD route") and their actions. */
const API_ACTIONS: Record<string, string> = {
  "POST /v1/vms": "vm.create",
  "DELETE /v1/vms/:vm": "vm.delete",
  "POST /v1/vms/:vm/start": "vm.start",
  "POST /v1/vms/:vm/stop": "vm.stop",
  "POST /v1/vms/:vm/kill": "vm.kill",
  "POST /v1/vms/:vm/pause": "vm.pause",
  "POST /v1/vms/:vm/resume": "vm.resume",
  "POST /v1/vms/:vm/snapshot": "vm.snapshot",
  "DELETE /v1/snapshots/:snapshot": "snapshot.delete",
  "POST /v1/images": "image.import",
  "DELETE /v1/images/:image": "image.delete",
  "PUT /v1/vms/:vm/balloon": "vm.balloon.set",
  "GET /v1/vms/:vm/guest": "vm.guest.read",
  "POST /v1/vms/:vm/agent": "vm.agent.call",
  "POST /v1/tokens": "token.create",
  "DELETE /v1/tokens/:id": "token.delete",
};

/**
 * The action of an audited request; `route` is its route's pattern, undefined when no route
 * matched (then `api.request`: its detail still says what was asked); `restore`: its body
 * names a snapshot to restore from.
 */
export function apiAuditAction(method: string, route: string | undefined, restore = false): string {
  // A HEAD runs its GET's handler (fastify), and so what the GET does.
  const m = method === "HEAD" ? "GET" : method;
  // A create from a snapshot (restore_from) is a restore.
  if (restore && m === "POST" && route === "/v1/vms") return "vm.restore";
  return (route !== undefined && API_ACTIONS[`${m} ${route}`]) || "api.request";
}
