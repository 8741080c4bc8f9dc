import { imageBaseName, imageFileName } from "../../config/cloud-image";
import { parseClusterConfig } from "../../config/load";
import { DEBIAN_IMAGE, homelab, withImage } from "../fixtures/definitions";

const imaged = (image = {}) => parseClusterConfig(withImage(homelab(), image)).config;

describe("image file names", () => {
  it("keeps the URL's file name, or fileName, with the checksum's first 12 digits", () => {
    const config = imaged({ checksum: "0A1B2C3D4E5F".padEnd(128, "9") });
    const image = config.proxmox.template.image!;
    expect(imageBaseName(image)).toBe("debian-13-genericcloud-amd64.qcow2");
    expect(imageFileName(image)).toBe("debian-13-genericcloud-amd64-0a1b2c3d4e5f.qcow2");
    const named = imaged({ fileName: "trixie.raw" }).proxmox.template.image!;
    expect(imageFileName(named)).toBe(`trixie-${DEBIAN_IMAGE.checksum.slice(0, 12)}.raw`);
  });

  it("changes with the checksum, so a new image never meets the old file", () => {
    const a = imaged({ checksum: "ab".repeat(64) }).proxmox.template.image!;
    const b = imaged({ checksum: "cd".repeat(64) }).proxmox.template.image!;
    expect(imageFileName(a)).not.toBe(imageFileName(b));
  });
});
