// moat's SDK, the package's entry point (`import { runVm, daemon } from "moat-vmm"`; docs/sdk.md):
// boot a VM and run a command in it, or manage VMs through a running `moat daemon`.
export { runVm, type RunVmOptions, type RunVmResult, type VmConfigInput } from "./run-vm.js";
export {
  daemon,
  type Daemon,
  type DaemonOptions,
  type ExecResult,
  type SnapshotView,
  type ImageView,
  type VmView,
  type VmSpecInput,
} from "./daemon-client.js";
export { ApiClientError } from "../cli/api-client-error.js";
export { MoatError, type ErrorKind } from "../base/moat-error.js";
export { VmConfigError, type VmConfig } from "../vmm/vm-config.js";
export type { VmSpec, VmState } from "../host/vm-spec.js";
