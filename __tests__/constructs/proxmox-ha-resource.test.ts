import { Resource } from "@cdktf/provider-null/lib/resource";
import { Testing } from "cdktf";

import { ProxmoxHaResource } from "../../constructs/proxmox-ha-resource";
import { UserError } from "../../errors/user-error";

type Synth = { resource: { proxmox_haresource: Record<string, Record<string, unknown>> } };

describe("ProxmoxHaResource", () => {
  it("makes the VM an HA resource in state started, after the VM", () => {
    const json = JSON.parse(
      Testing.synthScope((scope) => {
        const vm = new Resource(scope, "vm");
        new ProxmoxHaResource(scope, "ha", { vmId: 4100, vm, comment: "node kspray-cp-1" });
      }),
    ) as Synth;
    expect(Object.values(json.resource.proxmox_haresource)).toEqual([
      {
        resource_id: "vm:4100",
        state: "started",
        comment: "node kspray-cp-1",
        depends_on: [expect.stringMatching(/^null_resource\.vm/)],
      },
    ]);
  });

  it.each([
    [{ vmId: 99, comment: "x" }, /vmId: 99 is not a Proxmox VM ID/],
    [{ vmId: 4100, comment: " x" }, /comment: " x" is empty or starts or ends with a space/],
  ])("rejects %j", (props, message) => {
    expect(() =>
      Testing.synthScope((scope) => {
        new ProxmoxHaResource(scope, "ha", { ...props, vm: new Resource(scope, "vm") });
      }),
    ).toThrow(UserError);
    expect(() =>
      Testing.synthScope((scope) => {
        new ProxmoxHaResource(scope, "ha", { ...props, vm: new Resource(scope, "vm") });
      }),
    ).toThrow(message);
  });
});
