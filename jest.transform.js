/**
 * The TypeScript transform every jest config shares. @kubernetes/client-node (the test
 * cluster's client) and the ES modules it loads are published as ES modules only, which
 * jest's CommonJS runtime cannot load as they are: those few are compiled to CommonJS too.
 */
const ESM_ONLY = ["@kubernetes/client-node", "openid-client", "oauth4webapi", "jose"];

module.exports = {
  transform: {
    // Type-checking happens once in `npm run lint` (tsc --noEmit); here only transpile.
    "^.+\\.ts$": ["ts-jest", { diagnostics: false }],
    "^.+\\.js$": [
      "ts-jest",
      { diagnostics: false, tsconfig: { allowJs: true, module: "commonjs", target: "ES2022" } },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY.join("|")})/)`],
};
