// Lint rules for the whole tree (npm run lint). Formatting is prettier's job (.prettierrc.json);
// eslint-config-prettier turns off the rules that would fight it. Conventions behind the
// choices: docs/ARCHITECTURE.md, "Conventions".
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "test/vectors/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", Buffer: "readonly", URL: "readonly" } },
    rules: {
      // `let { a, b } = …` where only some are reassigned stays one declaration.
      "prefer-const": ["error", { destructuring: "all", ignoreReadBeforeAssign: true }],
      // tsc's noUnusedLocals/noUnusedParameters already fail the build; a leading underscore
      // marks a parameter kept for its position.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // Prettier does not break comments or strings: keep those readable too.
      "max-len": ["error", { code: 140, ignoreUrls: true, ignoreRegExpLiterals: true }],
    },
  },
);
