// ESLint: typescript-eslint's recommended rules over the TypeScript sources. The CPU core
// (AssemblyScript: decorators on functions, WebAssembly builtins) is checked by its own
// compiler, asc, instead.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "src/accel/soft/cpu/**", "guest/**", "test/isa/**", "src/cli/api-types.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      "@typescript-eslint/no-unsafe-function-type": "off",
    },
  },
);
