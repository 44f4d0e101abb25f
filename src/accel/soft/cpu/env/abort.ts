// The CPU core never aborts on guest input; an abort here is a moat bug. `--use abort=` points
// AssemblyScript's runtime checks at this trap so a bug surfaces as a WebAssembly trap the
// worker reports with the hart's state, instead of importing a host function for it.
export function abort(
  _message: usize,
  _fileName: usize,
  _lineNumber: u32,
  _columnNumber: u32,
): void {
  unreachable();
}
