import { parseClusterConfig } from "../../config/load";
import { readNamedFiles } from "../../config/named-files";
import { UserError } from "../../errors/user-error";
import { everyOption, FIXTURES, homelab } from "../fixtures/definitions";

describe("readNamedFiles", () => {
  it("reads each Vault issuer's caBundleFile, by issuer name, relative to baseDir", () => {
    const def = everyOption();
    def.addons.certManager.clusterIssuers[0].vault.caBundleFile = "vault-ca.pem";
    const { config } = parseClusterConfig(def);
    const name = config.addons.certManager!.clusterIssuers[0].name;
    const bundles = readNamedFiles(config, FIXTURES).vaultCaBundles;
    expect(Object.keys(bundles)).toEqual([name]);
    expect(bundles[name]).toContain("-----BEGIN CERTIFICATE-----");
  });

  it("reads nothing without caBundleFile", () => {
    expect(readNamedFiles(parseClusterConfig(homelab()).config, FIXTURES).vaultCaBundles).toEqual(
      {},
    );
  });

  it("names the field when a file cannot be read", () => {
    const def = homelab();
    def.addons.certManager.clusterIssuers[0].vault.caBundleFile = "/nonexistent/ca.pem";
    const read = () => readNamedFiles(parseClusterConfig(def).config, "/");
    expect(read).toThrow(UserError);
    expect(read).toThrow(
      /addons\.certManager\.clusterIssuers\[0\]\.vault\.caBundleFile: cannot read "\/nonexistent\/ca\.pem" \(ENOENT\)/,
    );
  });

  it("names every missing file at once: a CA bundle and a local chart", () => {
    const def = homelab();
    def.addons.certManager.clusterIssuers[0].vault.caBundleFile = "missing-ca.pem";
    (def.addons as Record<string, unknown>).chartOverrides = {
      "cert-manager": { path: "charts-mirror/cert-manager" },
    };
    const read = () => readNamedFiles(parseClusterConfig(def).config, FIXTURES);
    expect(read).toThrow(
      [
        'addons.certManager.clusterIssuers[0].vault.caBundleFile: cannot read "missing-ca.pem" (ENOENT); give the path of a PEM file',
        `addons.chartOverrides.cert-manager.path: "charts-mirror/cert-manager" does not exist (relative paths start in ${FIXTURES}); give a chart directory or .tgz on this machine, or leave path out for the repository`,
      ].join("\n"),
    );
  });
});
