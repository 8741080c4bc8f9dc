/** Address arithmetic (config/net.ts). */
import {
  contains,
  formatIpRange,
  intToIp,
  ipToInt,
  isIpv4,
  isNetworkAddress,
  overlaps,
  parseCidr,
  parseIdRange,
  parseIpRange,
  size,
} from "../../config/net";

describe("addresses", () => {
  test.each(["0.0.0.0", "10.10.30.1", "255.255.255.255"])("accepts %s", (ip) => {
    expect(isIpv4(ip)).toBe(true);
    expect(intToIp(ipToInt(ip))).toBe(ip);
  });

  test.each(["10.10.30", "10.10.30.256", "010.10.30.1", "10.10.30.1 ", "::1", "1.2.3.4/32"])(
    "rejects %s",
    (ip) => {
      expect(isIpv4(ip)).toBe(false);
      expect(() => ipToInt(ip)).toThrow();
    },
  );

  test("maps addresses to unsigned integers", () => {
    expect(ipToInt("255.255.255.255")).toBe(2 ** 32 - 1);
    expect(ipToInt("10.0.0.1")).toBe(167772161);
  });
});

describe("parseCidr", () => {
  test("gives the first and last address and the prefix", () => {
    expect(parseCidr("10.10.30.0/24")).toEqual({
      first: ipToInt("10.10.30.0"),
      last: ipToInt("10.10.30.255"),
      prefix: 24,
      text: "10.10.30.0/24",
    });
    expect(parseCidr("0.0.0.0/0")).toMatchObject({ first: 0, last: 2 ** 32 - 1 });
    expect(parseCidr("10.1.2.3/32")).toMatchObject({
      first: ipToInt("10.1.2.3"),
      last: ipToInt("10.1.2.3"),
    });
  });

  test("masks host bits, and isNetworkAddress tells", () => {
    expect(formatIpRange(parseCidr("10.10.30.7/24")!)).toBe("10.10.30.0-10.10.30.255");
    expect(isNetworkAddress("10.10.30.7/24")).toBe(false);
    expect(isNetworkAddress("10.10.30.0/24")).toBe(true);
  });

  test.each(["10.10.30.0", "10.10.30.0/33", "10.10.30.0/", "a/24", "10.10.30.0/24/1"])(
    "rejects %s",
    (text) => expect(parseCidr(text)).toBeUndefined(),
  );
});

describe("parseIpRange", () => {
  test("reads A-B, a single address and a CIDR", () => {
    expect(formatIpRange(parseIpRange("10.10.30.200-10.10.30.229")!)).toBe(
      "10.10.30.200-10.10.30.229",
    );
    expect(formatIpRange(parseIpRange("10.10.30.200 - 10.10.30.229")!)).toBe(
      "10.10.30.200-10.10.30.229",
    );
    expect(formatIpRange(parseIpRange("10.10.30.7")!)).toBe("10.10.30.7");
    expect(formatIpRange(parseIpRange("10.10.30.224/28")!)).toBe("10.10.30.224-10.10.30.239");
    expect(size(parseIpRange("10.10.30.200-10.10.30.229")!)).toBe(30);
  });

  test("keeps a reversed range for the caller to report", () => {
    const range = parseIpRange("10.10.30.9-10.10.30.1")!;
    expect(range.first).toBeGreaterThan(range.last);
  });

  test.each(["", "10.10.30.1-", "10.10.30.1-10.10.30.2-10.10.30.3", "a-b"])("rejects %j", (t) =>
    expect(parseIpRange(t)).toBeUndefined(),
  );
});

describe("parseIdRange", () => {
  test("reads N-M, N and numbers", () => {
    expect(parseIdRange("101-106")).toEqual({ first: 101, last: 106 });
    expect(parseIdRange(" 101 - 106 ")).toEqual({ first: 101, last: 106 });
    expect(parseIdRange("101")).toEqual({ first: 101, last: 101 });
    expect(parseIdRange(101)).toEqual({ first: 101, last: 101 });
    expect(size(parseIdRange("101-106")!)).toBe(6);
  });

  test.each(["101..106", "x", "-5", "1-2-3", 1.5])("rejects %j", (t) =>
    expect(parseIdRange(t)).toBeUndefined(),
  );
});

describe("overlaps and contains", () => {
  const a = { first: 10, last: 20 };
  test("touching ranges overlap, adjacent ones do not", () => {
    expect(overlaps(a, { first: 20, last: 30 })).toBe(true);
    expect(overlaps(a, { first: 21, last: 30 })).toBe(false);
    expect(overlaps(a, { first: 0, last: 9 })).toBe(false);
    expect(overlaps(a, { first: 12, last: 13 })).toBe(true);
  });

  test("contains is inclusive", () => {
    expect(contains(a, { first: 10, last: 20 })).toBe(true);
    expect(contains(a, { first: 9, last: 20 })).toBe(false);
    expect(contains(a, { first: 10, last: 21 })).toBe(false);
  });
});
