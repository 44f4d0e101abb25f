// The `moat` commands for the daemon's snapshots (docs/snapshot.md "Through the daemon"):
// `moat snapshot VM NAME`, `moat snapshots` (ls, rm) and `moat restore SNAPSHOT --name N`.
import { Command } from "commander";
import { apiClient, connection, ok, type Api } from "./api-client.js";
import type { components } from "./api-types.js";
import { sizeText, table } from "./text-table.js";

function api(cmd: Command): Api {
  return apiClient(connection(cmd.optsWithGlobals<{ socket?: string; tokenFile?: string }>()));
}

function print(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + "\n" : human());
}

/** Adds the snapshot commands to `program`. */
export function registerSnapshotCommands(program: Command): void {
  program
    .command("snapshot")
    .description(
      "Snapshot a running or paused VM into the daemon's store: paused for it, then resumed " +
        "(--stop: stopped instead). The snapshot belongs to the VM's trust domain",
    )
    .argument("<vm>", "name or id")
    .argument("<name>", "the snapshot's name, unique in the VM's trust domain")
    .option("--stop", "stop the VM after the snapshot instead of resuming it")
    .option("--json", "JSON")
    .action(
      async (vm: string, name: string, o: { stop?: boolean; json?: boolean }, cmd: Command) => {
        const s = await ok(
          api(cmd).POST("/v1/vms/{vm}/snapshot", {
            params: { path: { vm } },
            body: { name, ...(o.stop ? { stop: true } : {}) },
          }),
        );
        print(o.json === true, s, () => `${s.name} ${s.id} ${sizeText(s.bytes)}\n`);
      },
    );

  const snaps = program.command("snapshots").description("The daemon's snapshots");
  snaps
    .command("ls", { isDefault: true })
    .description("List snapshots (a tenant sees its own domain's)")
    .option("--json", "JSON")
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const r = await ok(api(cmd).GET("/v1/snapshots"));
      print(o.json === true, r, () =>
        table([
          ["NAME", "ID", "DOMAIN", "VM", "SIZE", "CREATED"],
          ...r.map((s) => [s.name, s.id, s.domain, s.vm, sizeText(s.bytes), s.created_at]),
        ]),
      );
    });
  snaps
    .command("rm")
    .description("Delete snapshots no VM is restored from")
    .argument("<snapshot...>", "names or ids")
    .action(async (refs: string[], _o: unknown, cmd: Command) => {
      const c = api(cmd);
      for (const snapshot of refs) {
        await ok(c.DELETE("/v1/snapshots/{snapshot}", { params: { path: { snapshot } } }));
        process.stdout.write(`${snapshot}: deleted\n`);
      }
    });

  program
    .command("restore")
    .description(
      "Create a VM from a snapshot of its trust domain (its machine is the snapshot's) and " +
        "start it: it runs on from where the snapshot was taken, through admission like any start",
    )
    .argument("<snapshot>", "name or id")
    .requiredOption("--name <name>", "the new VM's name")
    .option("--domain <domain>", "its trust domain (the snapshot's; default: the caller's)")
    .option("--no-start", "only create it")
    .action(
      async (
        snapshot: string,
        o: { name: string; domain?: string; start: boolean },
        cmd: Command,
      ) => {
        const c = api(cmd);
        const vm = await ok(
          c.POST("/v1/vms", {
            // The schema's defaults make its machine fields required in the generated type;
            // a restore names none (the API refuses them with restore_from).
            body: {
              name: o.name,
              restore_from: snapshot,
              ...(o.domain !== undefined ? { domain: o.domain } : {}),
            } as components["schemas"]["VmSpec"],
          }),
        );
        const now = o.start
          ? await ok(c.POST("/v1/vms/{vm}/start", { params: { path: { vm: vm.id } } }))
          : vm;
        process.stdout.write(`${now.name} ${now.id} ${now.state}\n`);
      },
    );
}
