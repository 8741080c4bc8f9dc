import { readVaultCaBundles } from "../../config/ca-bundles";
import { parseClusterConfig } from "../../config/load";
import { UserError } from "../../errors/user-error";
import { everyOption, FIXTURES, homelab } from "../fixtures/definitions";

describe("readVaultCaBundles", () => {
  it("reads each Vault issuer's caBundleFile, by issuer name, relative to baseDir", () => {
    const def = everyOption();
    def.addons.certManager.clusterIssuers[0].vault.caBundleFile = "vault-ca.pem";
    const { config } = parseClusterConfig(def);
    const name = config.addons.certManager!.clusterIssuers[0].name;
    const bundles = readVaultCaBundles(config, FIXTURES);
    expect(Object.keys(bundles)).toEqual([name]);
    expect(bundles[name]).toContain("-----BEGIN CERTIFICATE-----");
  });

  it("reads nothing without caBundleFile", () => {
    expect(readVaultCaBundles(parseClusterConfig(homelab()).config, FIXTURES)).toEqual({});
  });

  it("names the field when a file cannot be read", () => {
    const def = homelab();
    def.addons.certManager.clusterIssuers[0].vault.caBundleFile = "/nonexistent/ca.pem";
    const read = () => readVaultCaBundles(parseClusterConfig(def).config, "/");
    expect(read).toThrow(UserError);
    expect(read).toThrow(
      /addons\.certManager\.clusterIssuers\[0\]\.vault\.caBundleFile: cannot read "\/nonexistent\/ca\.pem" \(ENOENT\)/,
    );
  });
});
