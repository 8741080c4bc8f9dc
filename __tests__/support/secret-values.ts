/**
 * The values tests give the addons stack's secrets (`TF_VAR_<name>`): each holds what could
 * go wrong on its way to the chart, so that a test that finds it unchanged at its values
 * path proves it arrives exactly as set.
 */

/**
 * A private key as users paste it: several lines, a header with `:` `"` and `,`, base64
 * with `+` `/` `=`, a trailing newline. Made up, not a key. Names its variable, so that a
 * key landing in another backend's place shows.
 */
const pem = (variable: string) =>
  [
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    `Comment: "${variable}, made up for tests"`,
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
    "QyNTUxOQAAACB+ZmFrZS9rZXktZm9yLXRlc3RzLW9ubHkrbm90LWEtcmVhbC1vbmUAAAA=",
    "-----END OPENSSH PRIVATE KEY-----",
    "",
  ].join("\n");

/**
 * The value of each secret variable: the characters strvals treats specially (`\`, `,`, a
 * leading `{`), the rest of its syntax (`=` `.` `[` `]` `}`), YAML's and HCL's (`:` `#` `"`
 * `'` `${` `%{`), whitespace, CR LF, non-ASCII; a value ending in `\`, one ending in `,`.
 */
export function secretValue(variable: string): string {
  if (variable.startsWith("truenas_ssh_private_key_")) return pem(variable);
  if (variable.startsWith("truenas_api_key_")) return `1-${variable}:a=b\\c{d}[0].e"f'g #h,`;
  if (variable === "grafana_admin_password") {
    return `{${variable}}, p=a\\ss:w{o}[r].d "q" 'q' \${x} %{y} #z\ttab\r\nline ünï 😀 \\\\`;
  }
  throw new Error(`no test value for variable ${variable}`);
}

/** `secretValue` of each variable, by variable name. */
export function secretValues(variables: readonly string[]): Record<string, string> {
  return Object.fromEntries(variables.map((v) => [v, secretValue(v)]));
}
