// The `moat image` commands for the daemon's image store (docs/disks.md "Images through the
// daemon"): import, ls, inspect, rm; and `moat create --disk image=N`'s disk.
import { resolve } from "node:path";
import { Command, Option } from "commander";
import { apiClient, connection, ok, type Api } from "./api-client.js";
import type { components } from "./api-types.js";
import { parseDiskSpecs } from "./device-options.js";
import { sizeText, table } from "./text-table.js";
import { UsageError } from "./usage-error.js";

type Image = components["schemas"]["Image"];

function api(cmd: Command): Api {
  return apiClient(connection(cmd.optsWithGlobals<{ socket?: string; tokenFile?: string }>()));
}

function print(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + "\n" : human());
}

/**
 * `--disk image=N[,ro][,bps=N][,iops=N]` of `moat create`: a disk that is a thin overlay on the
 * store's image N. Its format is the overlay's (qcow2): format= is refused.
 */
export function imageDiskSpec(v: string): Record<string, unknown> {
  const [first, ...opts] = v.split(",");
  const image = first!.slice("image=".length);
  if (image === "") throw new UsageError(`--disk '${v}': no image name (moat image ls)`);
  if (opts.some((o) => o.startsWith("format=")))
    throw new UsageError(`--disk '${v}': an image's disk is a qcow2 overlay; format= is not given`);
  const { path: _p, ...d } = parseDiskSpecs([["image", ...opts].join(",")])[0]!;
  return { ...d, image };
}

function inspectText(i: Image): string {
  const rows: [string, string][] = [
    ["name", i.name],
    ["id", i.id],
    ["domain", i.domain],
    ["format", i.format],
    ["virtual size", `${sizeText(i.virtual_size)} (${i.virtual_size} bytes)`],
    ["data", `${sizeText(i.bytes)} (${i.bytes} bytes)`],
    ["file size", i.file_size === undefined ? "gone" : `${i.file_size} bytes`],
    ["cluster size", i.cluster_size === null ? "-" : String(i.cluster_size)],
    ["backing", "none (the store keeps whole images)"],
    ["source", i.source],
    ["path", i.path],
    ["created", i.created_at],
    ["used by", (i.used_by ?? []).map((v) => v.name).join(", ") || "no VM"],
  ];
  return rows.map(([k, v]) => `${`${k}:`.padEnd(14)}${v}\n`).join("");
}

/** Adds `moat image` to `program`. */
export function registerImageCommands(program: Command): void {
  const image = program
    .command("image")
    .description(
      "The daemon's disk images, kept per trust domain: a VM made with --disk image=N gets a " +
        "thin qcow2 overlay on one (many VMs share one image)",
    );
  image
    .command("import")
    .description(
      "Copy a raw or qcow2 file into the daemon's store (checked there; a qcow2 with a backing " +
        "file is refused: qemu-img convert -O qcow2 flattens it). The file must lie in the image " +
        "directories you may use",
    )
    .argument("<file>", "the host file")
    .requiredOption("--name <name>", "the image's name, unique in its trust domain")
    .option("--domain <domain>", "its trust domain (default: yours, or 'default')")
    .addOption(
      new Option(
        "--format <format>",
        "raw: take the file as raw without looking; default: found from its first sector",
      ).choices(["raw", "qcow2"]),
    )
    .option("--json", "JSON")
    .action(
      async (
        file: string,
        o: { name: string; domain?: string; format?: "raw" | "qcow2"; json?: boolean },
        cmd: Command,
      ) => {
        const i = await ok(
          api(cmd).POST("/v1/images", {
            body: {
              path: resolve(file),
              name: o.name,
              ...(o.domain !== undefined ? { domain: o.domain } : {}),
              ...(o.format !== undefined ? { format: o.format } : {}),
            },
          }),
        );
        print(
          o.json === true,
          i,
          () => `${i.name} ${i.id} ${i.format} ${sizeText(i.virtual_size)}\n`,
        );
      },
    );
  image
    .command("ls", { isDefault: true })
    .description("List images (a tenant sees its own domain's)")
    .option("--json", "JSON")
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const r = await ok(api(cmd).GET("/v1/images"));
      print(o.json === true, r, () =>
        table([
          ["NAME", "ID", "DOMAIN", "FORMAT", "SIZE", "DATA", "CREATED"],
          ...r.map((i) => [
            i.name,
            i.id,
            i.domain,
            i.format,
            sizeText(i.virtual_size),
            sizeText(i.bytes),
            i.created_at,
          ]),
        ]),
      );
    });
  image
    .command("inspect")
    .description("One image: its format, sizes, file, and the VMs with overlays on it")
    .argument("<image>", "name or id")
    .option("--json", "JSON")
    .action(async (ref: string, o: { json?: boolean }, cmd: Command) => {
      const i = await ok(api(cmd).GET("/v1/images/{image}", { params: { path: { image: ref } } }));
      print(o.json === true, i, () => inspectText(i));
    });
  image
    .command("rm")
    .description("Delete images no VM has an overlay on")
    .argument("<image...>", "names or ids")
    .action(async (refs: string[], _o: unknown, cmd: Command) => {
      const c = api(cmd);
      for (const ref of refs) {
        await ok(c.DELETE("/v1/images/{image}", { params: { path: { image: ref } } }));
        process.stdout.write(`${ref}: deleted\n`);
      }
    });
}
