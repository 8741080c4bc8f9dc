import { Testing } from "cdktf";

import type { CloudImageTemplateProps } from "../../constructs/cloud-image-template";
import { CloudImageTemplate } from "../../constructs/cloud-image-template";

const BASE: CloudImageTemplateProps = {
  name: "kspray-template-pve02",
  vmId: 9001,
  host: "pve02",
  imageUrl: "https://images.lan/debian-13-genericcloud-amd64.qcow2",
  checksum: "ab".repeat(64),
  checksumAlgorithm: "sha512",
  fileName: "debian-13-genericcloud-amd64.qcow2",
  datastore: "local-lvm",
  description: "a template",
  tags: ["kspray", "template"],
};

type Block = Record<string, Record<string, Record<string, unknown>>>;

function synth(over: Partial<CloudImageTemplateProps> = {}) {
  const json = JSON.parse(
    Testing.synthScope((scope) => {
      new CloudImageTemplate(scope, "template-pve02", { ...BASE, ...over });
    }),
  ) as { resource: Block };
  const files = Object.entries(json.resource.proxmox_virtual_environment_download_file);
  const vms = Object.values(json.resource.proxmox_virtual_environment_vm);
  expect(files).toHaveLength(1);
  expect(vms).toHaveLength(1);
  return { fileKey: files[0][0], file: files[0][1], vm: vms[0] };
}

describe("CloudImageTemplate", () => {
  it("has Proxmox download the image to the host's import storage, checksum verified", () => {
    expect(synth().file).toEqual({
      node_name: "pve02",
      datastore_id: "local",
      content_type: "import",
      url: BASE.imageUrl,
      file_name: BASE.fileName,
      checksum: BASE.checksum,
      checksum_algorithm: "sha512",
      overwrite: false,
    });
    expect(synth({ imageDatastore: "images" }).file.datastore_id).toBe("images");
  });

  it("is a template on the same host whose boot disk is imported from that file", () => {
    const { fileKey, vm } = synth();
    expect(vm).toMatchObject({
      name: "kspray-template-pve02",
      node_name: "pve02",
      vm_id: 9001,
      template: true,
      started: false,
      agent: { enabled: true },
      disk: [
        {
          interface: "scsi0",
          datastore_id: "local-lvm",
          import_from: `\${proxmox_virtual_environment_download_file.${fileKey}.id}`,
        },
      ],
      initialization: { datastore_id: "local-lvm", interface: "ide2" },
      serial_device: [{ device: "socket" }],
      vga: { type: "serial0" },
      boot_order: ["scsi0"],
    });
  });

  it("is made anew when a new image is downloaded, even under the same file name", () => {
    const { fileKey, vm } = synth();
    expect(vm.lifecycle).toEqual({
      replace_triggered_by: [`proxmox_virtual_environment_download_file.${fileKey}`],
    });
  });

  it("rejects a checksum of the wrong length and a file Proxmox imports no disk from", () => {
    expect(() => synth({ checksum: "ab".repeat(32) })).toThrow(
      "stack/template-pve02.checksum: 64 hex digits, but a sha512 checksum has 128; copy the image's line of its SHA512SUMS file, or fix checksumAlgorithm",
    );
    expect(() => synth({ fileName: "debian.img" })).toThrow(
      /^stack\/template-pve02\.fileName: "debian\.img" is not a name Proxmox imports a disk from/,
    );
  });
});
