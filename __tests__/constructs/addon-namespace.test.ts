import { Testing } from "cdktf";

import { AddonNamespace } from "../../constructs/addon-namespace";
import { AddonRelease } from "../../constructs/addon-release";
import { UserError } from "../../errors/user-error";
import { localChart } from "../../lib/charts";
import { address, release } from "../support/releases";

describe("AddonNamespace", () => {
  const synth = () =>
    Testing.synthScope((scope) => {
      const ns = new AddonNamespace(scope, "Ns", {
        name: "metallb-system",
        podSecurityEnforce: "privileged",
      });
      new AddonNamespace(scope, "Plain", { name: "cert-manager" });
      new AddonRelease(scope, "App", {
        name: "app",
        namespace: ns.name,
        chart: localChart("cluster-secret-store"),
        dependsOn: [ns.release],
      });
    });

  it("is a release of our chart, recorded in kube-system, with the level its pods need", () => {
    expect(release(synth(), "metallb-system-namespace")).toMatchObject({
      namespace: "kube-system",
      wait: false,
      parsedValues: { name: "metallb-system", podSecurityEnforce: "privileged" },
    });
    expect(release(synth(), "cert-manager-namespace").parsedValues).toEqual({
      name: "cert-manager",
    });
  });

  it("is what the add-on's release depends on; no release creates a namespace itself", () => {
    const s = synth();
    expect(release(s, "app").depends_on).toEqual([address(release(s, "metallb-system-namespace"))]);
    const json = JSON.parse(s) as { resource: { helm_release: Record<string, unknown>[] } };
    for (const r of Object.values(json.resource.helm_release))
      expect(r).toMatchObject({ create_namespace: false });
  });

  it("refuses a name that is no namespace name, or too long for its release's", () => {
    for (const name of ["Metallb", "-x", "a".repeat(44)]) {
      expect(() =>
        Testing.synthScope((scope) => {
          new AddonNamespace(scope, "Ns", { name });
        }),
      ).toThrow(UserError);
    }
    expect(() =>
      Testing.synthScope((scope) => {
        new AddonNamespace(scope, "Ns", { name: "a".repeat(44) });
      }),
    ).toThrow(/Ns\.name: "a{44}" is not a namespace name/);
  });
});
