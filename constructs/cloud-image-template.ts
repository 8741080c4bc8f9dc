import { Construct } from "constructs";

import { VirtualEnvironmentDownloadFile } from "../.gen/providers/proxmox/virtual-environment-download-file";
import { VirtualEnvironmentVm } from "../.gen/providers/proxmox/virtual-environment-vm";
import { checksumProblem } from "../config/cloud-image";
import type { ChecksumAlgorithm } from "../config/schema";
import { IMPORT_FILE_NAME } from "../config/schema";
import { UserError } from "../errors/user-error";

export interface CloudImageTemplateProps {
  /** Template name shown in Proxmox. */
  readonly name: string;
  readonly vmId: number;
  /** Proxmox node the image is downloaded to and the template made on. */
  readonly host: string;
  /** Where Proxmox downloads the cloud image from (http or https). */
  readonly imageUrl: string;
  /** The image's checksum, verified by Proxmox after the download. */
  readonly checksum: string;
  /** `md5`, `sha1`, `sha224`, `sha256`, `sha384` or `sha512`. */
  readonly checksumAlgorithm: ChecksumAlgorithm;
  /** Name of the file on `imageDatastore`, ending in .qcow2, .raw or .vmdk. */
  readonly fileName: string;
  /**
   * Storage on `host` the image is downloaded to, with the `import` content type.
   * @default "local"
   */
  readonly imageDatastore?: string;
  /** Storage for the template's boot disk and cloud-init drive. */
  readonly datastore: string;
  /** Text shown in the Proxmox UI, saying what manages the template. */
  readonly description: string;
  /** Proxmox tags. */
  readonly tags: readonly string[];
}

/**
 * A cloud-init template made from a cloud image on one host: the image downloaded by
 * Proxmox (checksum verified there), a VM whose boot disk is imported from it onto
 * `datastore`, with a cloud-init drive, a serial console and the guest agent flag, turned
 * into a template. A new image (URL or checksum) downloads again and makes the template
 * anew, under the same VM ID; VMs cloned earlier are full clones and stay as they are.
 */
export class CloudImageTemplate extends Construct {
  public readonly resource: VirtualEnvironmentVm;
  public readonly image: VirtualEnvironmentDownloadFile;

  constructor(scope: Construct, id: string, props: CloudImageTemplateProps) {
    super(scope, id);
    // What Proxmox would refuse only after the download: a checksum of the wrong length, a
    // file name it imports no disk from.
    const problem = checksumProblem(props.checksum, props.checksumAlgorithm);
    if (problem !== undefined) throw UserError.prop(this, "checksum", problem);
    if (!IMPORT_FILE_NAME.test(props.fileName))
      throw UserError.prop(
        this,
        "fileName",
        `${JSON.stringify(props.fileName)} is not a name Proxmox imports a disk from; end it in .qcow2, .raw or .vmdk`,
      );
    this.image = new VirtualEnvironmentDownloadFile(this, "Image", {
      nodeName: props.host,
      datastoreId: props.imageDatastore ?? "local",
      contentType: "import",
      url: props.imageUrl,
      fileName: props.fileName,
      checksum: props.checksum,
      checksumAlgorithm: props.checksumAlgorithm,
      // The file changes only when the definition does: no size checks against the URL,
      // which would replace a pinned image whenever a "latest" URL moves on.
      overwrite: false,
    });

    this.resource = new VirtualEnvironmentVm(this, "Resource", {
      name: props.name,
      nodeName: props.host,
      vmId: props.vmId,
      description: props.description,
      tags: [...props.tags].sort(),
      template: true,
      started: false,
      onBoot: false,
      operatingSystem: { type: "l26" },
      scsiHardware: "virtio-scsi-single",
      disk: [
        {
          interface: "scsi0",
          datastoreId: props.datastore,
          importFromAttribute: this.image.id,
          discard: "on",
          iothread: true,
        },
      ],
      bootOrder: ["scsi0"],
      initialization: { datastoreId: props.datastore, interface: "ide2" },
      serialDevice: [{ device: "socket" }],
      vga: { type: "serial0" },
      agent: { enabled: true },
      // A new download must make a new template. The file name carries the checksum's
      // digits, so a new image has a new ID too; the trigger keeps the replacement from
      // resting on how the provider treats a changed `import_from`. OpenTofu's JSON syntax
      // takes the resource's address here, not the `${...}` reference cdktf writes for one.
      lifecycle: {
        replaceTriggeredBy: [`${this.image.terraformResourceType}.${this.image.friendlyUniqueId}`],
      },
    });
  }
}
