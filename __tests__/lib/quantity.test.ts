/** Kubernetes quantities as the API reads them (lib/quantity.ts), as charts write them. */
import { bytes, formatCpu, formatMemory, milliCpu } from "../../lib/quantity";

describe("Kubernetes quantities", () => {
  it.each([
    ["100m", 100],
    ["0.5", 500],
    ["2", 2000],
    [1, 1000],
    ["1.0005", 1001],
    ["1e-1", 100],
  ])("reads CPU %p as %p millicores", (text, expected) => {
    expect(milliCpu(text)).toBe(expected);
  });

  it.each([
    ["256Mi", 256 * 2 ** 20],
    ["1.5Gi", 1.5 * 2 ** 30],
    ["1G", 1e9],
    ["128974848", 128974848],
    ["129e6", 129e6],
    ["123k", 123_000],
  ])("reads memory %p as %p bytes", (text, expected) => {
    expect(bytes(text)).toBe(expected);
  });

  it("refuses what is no quantity", () => {
    expect(bytes("1.5 Gi")).toBeUndefined();
    expect(bytes("Mi")).toBeUndefined();
    expect(milliCpu("one")).toBeUndefined();
  });

  it("prints them as the capacity problems show them", () => {
    expect([formatCpu(7400), formatCpu(2000), formatMemory(156 * 2 ** 20)]).toEqual([
      "7400m",
      "2",
      "156Mi",
    ]);
    expect(formatMemory(14.6 * 2 ** 30)).toBe("14.6Gi");
  });
});
