import { File } from "@cdktf/provider-local/lib/file";
import { TerraformStack, TerraformVariable, Testing } from "cdktf";
import "cdktf/lib/testing/adapters/jest";
import { parse } from "yaml";

import { KubesprayInventory } from "../../constructs/kubespray-inventory";
import type { InventoryDocument } from "../../lib/kubespray/inventory";
import { renderFiles } from "../../lib/kubespray/render";
import { accept, homelab } from "../fixtures/definitions";

const { inventory, groupVars } = renderFiles(accept(homelab()).config);

function synth(edit?: (inventory: InventoryDocument, stack: TerraformStack) => InventoryDocument) {
  const stack = new TerraformStack(Testing.app(), "test");
  const files = new KubesprayInventory(stack, "inventory", {
    hostsFile: "/state/inventory/hosts.yaml",
    groupVarsFile: "/state/inventory/group_vars/all/kubespray.yml",
    inventory: edit ? edit(structuredClone(inventory), stack) : inventory,
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

  it("writes a control plane out of name order in that order, token addresses resolving in the text", () => {
    const order = ["kspray-cp-2", "kspray-cp-3", "kspray-cp-1"];
    const { byName } = synth((doc, stack) => {
      const hosts = Object.fromEntries(order.map((n) => [n, {}]));
      const address = new TerraformVariable(stack, "address", { type: "string" });
      const cp3 = doc.all.hosts["kspray-cp-3"];
      return {
        all: {
          ...doc.all,
          hosts: { ...doc.all.hosts, "kspray-cp-3": { ...cp3, ansible_host: address.stringValue } },
          children: {
            ...doc.all.children,
            kube_control_plane: { hosts },
            etcd: { hosts },
          },
        },
      };
    });
    const text = byName.get("/state/inventory/hosts.yaml")?.content ?? "";
    expect(text).not.toMatch(/yamlencode/);
    expect(text).toContain('ansible_host: "${var.address}"');
    // What OpenTofu writes once the address is known, read as Ansible's YAML 1.1 parser does.
    const written = parse(text.replace("${var.address}", "10.10.30.99"), {
      version: "1.1",
    }) as InventoryDocument;
    expect(Object.keys(written.all.children.kube_control_plane.hosts)).toEqual(order);
    expect(Object.keys(written.all.children.etcd.hosts)).toEqual(order);
    expect(written.all.hosts["kspray-cp-3"].ansible_host).toBe("10.10.30.99");
    const { "kspray-cp-3": cp3, ...rest } = written.all.hosts;
    const { "kspray-cp-3": cp3Before, ...restBefore } = inventory.all.hosts;
    expect(rest).toEqual(restBefore);
    expect({ ...cp3, ansible_host: cp3Before.ansible_host }).toEqual(cp3Before);
    expect(written.all.vars).toEqual(inventory.all.vars);
  });

  it("names the inventory file Resource and exposes both files", () => {
    const { files } = synth();
    expect(files.hostsFile.node.id).toBe("Resource");
    expect(files.groupVarsFile.node.id).toBe("GroupVars");
  });
});
