import { File } from "@cdktf/provider-local/lib/file";
import { TerraformStack, Testing } from "cdktf";
import "cdktf/lib/testing/adapters/jest";

import { KubesprayInventory } from "../../constructs/kubespray-inventory";
import { renderFiles } from "../../lib/kubespray/render";
import { accept, homelab } from "../fixtures/definitions";

const { inventory, groupVars } = renderFiles(accept(homelab()).config);

function synth() {
  const stack = new TerraformStack(Testing.app(), "test");
  const files = new KubesprayInventory(stack, "inventory", {
    hostsFile: "/state/inventory/hosts.yaml",
    groupVarsFile: "/state/inventory/group_vars/all/kubespray.yml",
    inventory,
    groupVars,
  });
  const json = Testing.synth(stack);
  const parsed = JSON.parse(json) as {
    resource: { local_file: Record<string, { filename: string; content: string }> };
  };
  return {
    files,
    json,
    byName: new Map(Object.values(parsed.resource.local_file).map((f) => [f.filename, f])),
  };
}

describe("KubesprayInventory", () => {
  it("writes the inventory and group_vars with mode 0600 in a 0700 directory", () => {
    const { json } = synth();
    for (const filename of [
      "/state/inventory/hosts.yaml",
      "/state/inventory/group_vars/all/kubespray.yml",
    ]) {
      expect(json).toHaveResourceWithProperties(File, {
        filename,
        file_permission: "0600",
        directory_permission: "0700",
      });
    }
  });

  it("yamlencodes the documents it is given, so that token addresses resolve at apply", () => {
    const { byName } = synth();
    const hosts = byName.get("/state/inventory/hosts.yaml")?.content ?? "";
    expect(hosts).toMatch(/^\$\{yamlencode\(\{"all" = /);
    expect(hosts).toContain('"kspray-cp-1" = {"ansible_host" = "10.10.30.21"');
    const vars = byName.get("/state/inventory/group_vars/all/kubespray.yml")?.content ?? "";
    expect(vars).toMatch(/^\$\{yamlencode\(/);
    expect(vars).toContain(`"kube_version" = "${String(groupVars.kube_version)}"`);
  });

  it("names the inventory file Resource and exposes both files", () => {
    const { files } = synth();
    expect(files.hostsFile.node.id).toBe("Resource");
    expect(files.groupVarsFile.node.id).toBe("GroupVars");
  });
});
