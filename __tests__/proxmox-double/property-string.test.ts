import {
  formatSize,
  linkLocalOf,
  parseDrive,
  parseNet,
  parseProps,
  parseSize,
  printDrive,
  printNet,
  randomMac,
} from "../../proxmox-double/property-string";

describe("property strings", () => {
  it("parses a drive with its file as the default key and prints the other keys sorted", () => {
    const drive = parseDrive("file=local-lvm:vm-100-disk-0,ssd=1,size=40G,aio=io_uring");
    expect(drive.get("file")).toBe("local-lvm:vm-100-disk-0");
    expect(printDrive(drive)).toBe("local-lvm:vm-100-disk-0,aio=io_uring,size=40G,ssd=1");
    expect(printDrive(parseDrive("local-lvm:vm-100-disk-0,size=40G"))).toBe(
      "local-lvm:vm-100-disk-0,size=40G",
    );
  });

  it("reads `virtio=MAC` as model and MAC, and prints a NIC model first", () => {
    const net = parseProps("bridge=vmbr0,virtio=BC:24:11:00:00:01,tag=30");
    expect(net.get("model")).toBe("virtio");
    expect(net.get("macaddr")).toBe("BC:24:11:00:00:01");
    expect(printNet(net)).toBe("virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=30");
    expect(printNet(parseProps("model=e1000,macaddr=BC:24:11:00:00:02"))).toBe(
      "e1000=BC:24:11:00:00:02",
    );
    // `qm set --net0 virtio,bridge=vmbr0`: the model alone, a MAC to be generated
    const bare = parseNet("virtio,bridge=vmbr0");
    expect(bare.get("model")).toBe("virtio");
    expect(bare.has("macaddr")).toBe(false);
  });

  it("refuses a bare value where no default key exists", () => {
    expect(() => parseProps("foo,bar=1")).toThrow("value without key: 'foo'");
  });

  it("parses sizes with binary units, no unit meaning bytes", () => {
    expect(parseSize("40G")).toBe(40 * 1024 ** 3);
    expect(parseSize("528K")).toBe(540_672);
    expect(parseSize("42949672960")).toBe(40 * 1024 ** 3);
    expect(parseSize("1.5G")).toBe(1.5 * 1024 ** 3);
    expect(() => parseSize("40GB")).toThrow("unable to parse size '40GB'");
  });

  it("formats sizes in the largest exact unit, like PVE's format_size", () => {
    expect(formatSize(40 * 1024 ** 3)).toBe("40G");
    expect(formatSize(4 * 1024 ** 2)).toBe("4M");
    expect(formatSize(540_672)).toBe("528K");
    expect(formatSize(2 * 1024 ** 4)).toBe("2T");
    expect(formatSize(1500)).toBe("1500");
  });

  it("makes MACs with Proxmox's prefix and their IPv6 link-local address", () => {
    expect(randomMac()).toMatch(/^BC:24:11(:[0-9A-F]{2}){3}$/);
    expect(linkLocalOf("BC:24:11:AA:BB:CC")).toBe("fe80::be24:11ff:feaa:bbcc");
  });
});
