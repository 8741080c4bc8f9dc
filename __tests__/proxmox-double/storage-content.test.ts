/**
 * Cloud images on the double: `query-url-metadata`, `download-url` (a `download` task that
 * really fetches from a loopback HTTP server here), the storage listing and deleting the
 * file, then a VM whose disk is `import-from` that file, made a template and cloned; with
 * the refusals of pve-storage, pve-common and qemu-server, and the double's own (loopback
 * only). Every call goes to the double or the test's server on 127.0.0.1.
 */
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

import { ProxmoxDouble } from "../../proxmox-double";
import { ALL_PRIVILEGES } from "../../proxmox-double/acl";
import { qcow2Image } from "../../proxmox-double/qcow2";
import type { SeedInput } from "../../proxmox-double/seed";

import { api, data, waitTask } from "./api";

// It talks to the Proxmox VE double over loopback: a budget for a loaded two-core machine.
jest.setTimeout(60_000);

const FAST = { cloneDurationMs: 40, taskDurationMs: 20, agentDelayMs: 50 } as const;
const IMAGE = "debian-13-genericcloud-amd64.qcow2";
const VOLID = `local:import/${IMAGE}`;
const GIB = 1024 ** 3;

const IMAGE_BYTES = qcow2Image(3 * GIB, { payload: "debian-13" });
const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

/** Two hosts; `local` (dir) takes imports, `isos` (dir) only ISOs, `local-lvm` disks. */
const SEED: SeedInput = {
  nodes: [{ name: "pve01" }, { name: "pve02" }],
  storages: [
    { id: "local", type: "dir", content: ["iso", "vztmpl", "import", "snippets"], sizeGiB: 100 },
    { id: "isos", type: "dir", content: ["iso"], sizeGiB: 100 },
    { id: "local-lvm", type: "lvmthin", sizeGiB: 100 },
  ],
  vms: [],
};

/** Every privilege on `/`, minus `drop` (the ACL the token gets in a permission test). */
const allBut = (...drop: string[]): Record<string, string[]> => ({
  "/": ALL_PRIVILEGES.filter((p) => !drop.includes(p)),
});

describe("proxmox double: cloud images (download-url, import-from)", () => {
  let double: ProxmoxDouble;
  let images: Server;
  let base: string;
  const served: string[] = [];

  beforeAll(async () => {
    images = createServer((req, res) => {
      served.push(`${req.method} ${req.url}`);
      const bodies: Record<string, Buffer> = {
        [`/${IMAGE}`]: IMAGE_BYTES,
        "/with-backing.qcow2": qcow2Image(GIB, { backing: true }),
        "/not-an-image.qcow2": Buffer.from("<html>a login page</html>"),
        "/plain.raw": Buffer.alloc(8192),
      };
      if (req.url === "/moved") {
        res.writeHead(302, { Location: `/${IMAGE}` }).end();
        return;
      }
      const body = bodies[req.url ?? ""];
      if (!body) {
        res.writeHead(404, "Not Found").end();
        return;
      }
      res.writeHead(200, {
        "Content-Type": "application/octet-stream",
        "Content-Length": String(body.length),
      });
      res.end(req.method === "HEAD" ? undefined : body);
    });
    await new Promise<void>((r) => images.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(images.address() as AddressInfo).port}`;
    double = await ProxmoxDouble.start({ ...FAST, seed: SEED });
  });
  afterAll(async () => {
    await double.stop();
    await new Promise((r) => images.close(r));
  });
  afterEach(() => {
    double.setAcl(undefined);
    double.setFaults({});
  });

  const download = (params: Record<string, string>, node = "pve01", storage = "local") =>
    api(double, "POST", `nodes/${node}/storage/${storage}/download-url`, {
      content: "import",
      filename: IMAGE,
      url: `${base}/${IMAGE}`,
      ...params,
    });
  const downloaded = async (params: Record<string, string> = {}) => {
    const res = await download(params);
    expect(res.status).toBe(200);
    return waitTask(double, res.body.data);
  };
  const listing = async (storage = "local", node = "pve01") =>
    (await data(double, "GET", `nodes/${node}/storage/${storage}/content`, {
      content: "import",
    })) as Array<Record<string, unknown>>;
  const remove = async (volid: string) => {
    const res = await api(
      double,
      "DELETE",
      `nodes/pve01/storage/local/content/${encodeURIComponent(volid)}`,
    );
    expect(res.status).toBe(200);
    return waitTask(double, res.body.data);
  };

  describe("query-url-metadata", () => {
    it("answers the file name, size and type from a HEAD request", async () => {
      const meta = await data(double, "GET", "nodes/pve01/query-url-metadata", {
        url: `${base}/${IMAGE}`,
      });
      expect(meta).toEqual({
        filename: IMAGE,
        size: IMAGE_BYTES.length,
        mimetype: "application/octet-stream",
      });
      expect(served).toContain(`HEAD /${IMAGE}`);
    });

    it("fails with the server's status line when the URL is not there", async () => {
      const res = await api(double, "GET", "nodes/pve01/query-url-metadata", {
        url: `${base}/missing.qcow2`,
      });
      expect(res.status).toBe(500);
      expect(res.statusMessage).toBe("invalid server response: '404 Not Found'");
    });

    it("refuses a URL outside loopback, sending nothing", async () => {
      const res = await api(double, "GET", "nodes/pve01/query-url-metadata", {
        // TEST-NET-1 (RFC 5737): not routed anywhere, should the guard ever let it through.
        url: "https://192.0.2.1/images/cloud/trixie/latest/x.qcow2",
      });
      expect(res.status).toBe(501);
      expect(res.statusMessage).toMatch(
        /^proxmox-double: fetches URLs from loopback addresses only .* not '192\.0\.2\.1'$/,
      );
    });
  });

  describe("download-url", () => {
    afterEach(async () => {
      if ((await listing()).length > 0) await remove(VOLID);
    });

    it("fetches the file in a download task; the storage then lists it, with its size", async () => {
      served.length = 0;
      const done = await downloaded({
        checksum: sha256(IMAGE_BYTES),
        "checksum-algorithm": "sha256",
      });
      expect(done).toMatchObject({ type: "download", exitstatus: "OK" });
      expect(served).toEqual([`GET /${IMAGE}`]);
      expect(await listing()).toEqual([
        {
          volid: VOLID,
          format: "qcow2",
          size: IMAGE_BYTES.length,
          content: "import",
          ctime: expect.any(Number),
        },
      ]);
      // What the image holds (qemu-img's virtual size), as GET content/{volume} reports it.
      const info = await data(
        double,
        "GET",
        `nodes/pve01/storage/local/content/${encodeURIComponent(VOLID)}`,
      );
      expect(info).toEqual({
        path: `/var/lib/vz/import/${IMAGE}`,
        size: 3 * GIB,
        used: IMAGE_BYTES.length,
        format: "qcow2",
      });
      // The file lives on pve01's local storage only.
      expect(await listing("local", "pve02")).toEqual([]);
    });

    it("follows a redirect on loopback, like wget", async () => {
      expect((await downloaded({ url: `${base}/moved` })).exitstatus).toBe("OK");
      expect((await listing()).map((v) => v.volid)).toEqual([VOLID]);
    });

    it("fails the task with pve-common's message when the checksum does not match", async () => {
      const wrong = "0".repeat(64);
      const done = await downloaded({ checksum: wrong, "checksum-algorithm": "sha256" });
      expect(done.exitstatus).toBe(
        `checksum mismatch: got '${sha256(IMAGE_BYTES)}' != expect '${wrong}'`,
      );
      expect(await listing()).toEqual([]);
    });

    it("checks the checksum with the algorithm given (md5 here)", async () => {
      const md5 = createHash("md5").update(IMAGE_BYTES).digest("hex");
      const done = await downloaded({ checksum: md5.toUpperCase(), "checksum-algorithm": "md5" });
      expect(done.exitstatus).toBe("OK");
    });

    it("fails the task with wget's last line when the server answers 404", async () => {
      const done = await downloaded({ url: `${base}/gone/${IMAGE}` });
      expect(done.exitstatus).toMatch(
        /^download failed: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d ERROR 404: Not Found\.$/,
      );
      expect(await listing()).toEqual([]);
    });

    it("fails the task when nothing listens at the URL", async () => {
      const done = await downloaded({ url: `http://127.0.0.1:1/${IMAGE}` });
      expect(done.exitstatus).toBe(
        "download failed: Connecting to 127.0.0.1:1... failed: Connection refused.",
      );
    });

    it("fails the task for a file qemu-img would not take as the image it claims to be", async () => {
      const notImage = await downloaded({ url: `${base}/not-an-image.qcow2` });
      expect(notImage.exitstatus).toBe(
        "failed to verify file: failed to query file information with qemu-img",
      );
      const backing = await downloaded({ url: `${base}/with-backing.qcow2` });
      expect(backing.exitstatus).toMatch(
        /^failed to verify file: backing file not allowed for untrusted image '\/var\/lib\/vz\/import\/debian-13-genericcloud-amd64\.qcow2\.tmp_dwnl\.\d+'!$/,
      );
      expect(await listing()).toEqual([]);
    });

    it("refuses to overwrite an existing file, unless its checksum is the one given", async () => {
      await downloaded();
      const again = await downloaded();
      expect(again.exitstatus).toBe(
        `refusing to override existing file '/var/lib/vz/import/${IMAGE}'`,
      );
      const same = await downloaded({
        checksum: sha256(IMAGE_BYTES),
        "checksum-algorithm": "sha256",
      });
      expect(same.exitstatus).toBe("OK");
    });

    it("refuses a storage not configured for the content type, in Proxmox's words", async () => {
      const res = await download({}, "pve01", "isos");
      expect(res.status).toBe(500);
      expect(res.statusMessage).toBe("storage 'isos' is not configured for content-type 'import'");
    });

    it("refuses a storage that is not file based", async () => {
      const res = await download({}, "pve01", "local-lvm");
      expect(res.status).toBe(500);
      expect(res.statusMessage).toBe(
        "can't upload to storage type 'lvmthin', not a file based storage!",
      );
    });

    it("refuses a file name without an image extension", async () => {
      const res = await download({ filename: "debian-13.img" });
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual({ filename: "invalid filename or wrong extension" });
    });

    it("refuses a checksum without its algorithm (the schema's `requires`)", async () => {
      const res = await download({ checksum: sha256(IMAGE_BYTES) });
      expect(res.status).toBe(400);
      expect(Object.keys(res.body.errors)).toEqual(["checksum-algorithm"]);
    });

    it("refuses a URL outside loopback before any task starts", async () => {
      const res = await download({ url: "https://192.0.2.1/images/x.qcow2" });
      expect(res.status).toBe(501);
      expect(double.tasks().filter((t) => t.type === "download" && t.status === "running")).toEqual(
        [],
      );
    });

    it("needs Datastore.AllocateTemplate on the storage", async () => {
      double.setAcl(allBut("Datastore.AllocateTemplate"));
      const res = await download({});
      expect(res.status).toBe(403);
      expect(res.statusMessage).toBe(
        "Permission check failed (/storage/local, Datastore.AllocateTemplate)",
      );
    });

    it("needs Sys.Audit and Sys.Modify on /, or Sys.AccessNetwork on the node", async () => {
      double.setAcl(allBut("Sys.Modify", "Sys.AccessNetwork"));
      const res = await download({});
      expect(res.status).toBe(403);
      expect(res.statusMessage).toBe("Permission check failed (/, Sys.Modify)");
      double.setAcl({
        "/": ALL_PRIVILEGES.filter((p) => !p.startsWith("Sys.")),
        "/nodes/pve01": ["Sys.AccessNetwork"],
      });
      const allowed = await download({});
      expect(allowed.status).toBe(200);
      await waitTask(double, allowed.body.data);
    });

    it("lets a test fail every download (faults.failTasks)", async () => {
      double.setFaults({ failTasks: ["download"] });
      const done = await downloaded();
      expect(done.exitstatus).toBe("download failed: injected fault (proxmox-double failTasks)");
      expect(await listing()).toEqual([]);
    });
  });

  describe("deleting a file", () => {
    it("removes it in an imgdel task", async () => {
      await downloaded();
      const done = await remove(VOLID);
      expect(done).toMatchObject({ type: "imgdel", exitstatus: "OK" });
      expect(await listing()).toEqual([]);
    });

    it("only warns when the file is already gone", async () => {
      expect((await remove(VOLID)).exitstatus).toBe("WARNINGS: 1");
    });

    it("needs Datastore.Allocate on the storage", async () => {
      double.setAcl(allBut("Datastore.Allocate"));
      const res = await api(
        double,
        "DELETE",
        `nodes/pve01/storage/local/content/${encodeURIComponent(VOLID)}`,
      );
      expect(res.status).toBe(403);
      expect(res.statusMessage).toBe(
        "Permission check failed (/storage/local, Datastore.Allocate)",
      );
    });
  });

  describe("a template from the image (import-from)", () => {
    beforeAll(async () => {
      await downloaded();
    });

    const create = (vmid: number, scsi0: string) =>
      api(double, "POST", "nodes/pve01/qemu", { vmid, name: `vm-${vmid}`, scsi0 });

    it("imports the image's virtual size, grows, becomes a template and clones on its node", async () => {
      const created = await create(9300, `local-lvm:0,import-from=${VOLID},size=${2 * GIB}`);
      expect(created.status).toBe(200);
      expect((await waitTask(double, created.body.data)).exitstatus).toBe("OK");
      expect(double.vm(9300)?.config.scsi0).toBe("local-lvm:vm-9300-disk-0,size=3G");

      const grown = await data(double, "PUT", "nodes/pve01/qemu/9300/resize", {
        disk: "scsi0",
        size: "8G",
      });
      expect((await waitTask(double, grown)).exitstatus).toBe("OK");
      const template = await data(double, "POST", "nodes/pve01/qemu/9300/template");
      expect((await waitTask(double, template)).exitstatus).toBe("OK");
      expect(double.vm(9300)?.config).toMatchObject({
        template: "1",
        scsi0: "local-lvm:base-9300-disk-0,size=8G",
      });

      const full = await data(double, "POST", "nodes/pve01/qemu/9300/clone", {
        newid: 9301,
        full: 1,
        storage: "local-lvm",
      });
      expect((await waitTask(double, full)).exitstatus).toBe("OK");
      expect(double.vm(9301)?.config.scsi0).toBe("local-lvm:vm-9301-disk-0,size=8G");
      const linked = await data(double, "POST", "nodes/pve01/qemu/9300/clone", { newid: 9302 });
      expect((await waitTask(double, linked)).exitstatus).toBe("OK");
      expect(double.vm(9302)?.config.scsi0).toBe(
        "local-lvm:base-9300-disk-0/vm-9302-disk-0,size=8G",
      );

      // Still refused: a full clone to another node onto storage that is not shared.
      const away = await api(double, "POST", "nodes/pve01/qemu/9300/clone", {
        newid: 9303,
        full: 1,
        target: "pve02",
        storage: "local-lvm",
      });
      expect(away.status).toBe(500);
      expect(away.statusMessage).toBe("can't clone to non-shared storage 'local-lvm'");
    });

    it("fails the create task when the file to import is not there, leaving nothing", async () => {
      const created = await create(9310, "local-lvm:0,import-from=local:import/nope.qcow2");
      expect(created.status).toBe(200);
      const done = await waitTask(double, created.body.data);
      expect(done.exitstatus).toBe(
        "unable to create VM 9310 - failed to stat '/var/lib/vz/import/nope.qcow2'",
      );
      expect(double.vm(9310)).toBeUndefined();
      const volumes = (await data(double, "GET", "nodes/pve01/storage/local-lvm/content", {
        vmid: 9310,
      })) as unknown[];
      expect(volumes).toEqual([]);
    });

    it("does not see a file that lives on another node's local storage", async () => {
      const created = await api(double, "POST", "nodes/pve02/qemu", {
        vmid: 9311,
        scsi0: `local-lvm:0,import-from=${VOLID}`,
      });
      const done = await waitTask(double, created.body.data);
      expect(done.exitstatus).toBe(
        `unable to create VM 9311 - failed to stat '/var/lib/vz/import/${IMAGE}'`,
      );
    });

    it("refuses import-from on a disk that is not STORAGE:0", async () => {
      const res = await create(9312, `local-lvm:8,import-from=${VOLID}`);
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual({
        scsi0: "'import-from' requires special syntax - use <storage ID>:0,import-from=<source>",
      });
    });

    it("refuses to import from an ISO", async () => {
      const res = await create(9313, "local-lvm:0,import-from=local:iso/debian.iso");
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual({
        scsi0: "local:iso/debian.iso has wrong type 'iso' - needs to be 'images' or 'import'",
      });
    });

    it("needs read access to the storage the image is on", async () => {
      double.setAcl({
        "/": ALL_PRIVILEGES.filter((p) => !p.startsWith("Datastore.")),
        "/storage/local-lvm": ["Datastore.AllocateSpace"],
      });
      const res = await create(9314, `local-lvm:0,import-from=${VOLID}`);
      expect(res.status).toBe(403);
      expect(res.statusMessage).toBe(
        "Permission check failed (/storage/local, Datastore.AllocateSpace|Datastore.Audit)",
      );
      double.setAcl({
        "/": ALL_PRIVILEGES.filter((p) => !p.startsWith("Datastore.")),
        "/storage/local-lvm": ["Datastore.AllocateSpace"],
        "/storage/local": ["Datastore.Audit"],
      });
      const allowed = await create(9314, `local-lvm:0,import-from=${VOLID}`);
      expect(allowed.status).toBe(200);
      expect((await waitTask(double, allowed.body.data)).exitstatus).toBe("OK");
    });
  });
});
