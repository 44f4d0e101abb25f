// Boots a VM with moat's SDK, runs a command in it and prints what it wrote and its status.
// npm run build compiles it: node dist/examples/run-command.js uname -a
import { runVm } from "moat-vmm";

const command = process.argv.length > 2 ? process.argv.slice(2) : ["uname", "-m"];
const { status, output, stderr } = await runVm({ accel: "soft", memory_mib: 128 }, command);
process.stdout.write(output);
process.stderr.write(stderr);
console.log(`exit status ${status}`);
