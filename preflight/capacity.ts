/**
 * Whether the add-ons' pods fit the definition's nodes (lib/capacity): each release
 * rendered once by the real helm CLI from its pinned chart archive, the requests of what
 * it runs summed per node the scheduler may place them on, after Kubespray's kubelet
 * reservations. A pod that finds no node is a problem naming the pool (or the add-on's
 * switch when no pool may take it at all); when the charts cannot be rendered here, one
 * warning says why and what was not checked.
 */
import { projectPath } from "../config/project-root";
import type { ClusterConfig } from "../config/schema";
import type { Issue } from "../errors/user-error";
import { issue } from "../errors/user-error";
import type { CapacityReport } from "../lib/capacity";
import { addonsCapacity } from "../lib/capacity";
import type { RenderOptions } from "../lib/capacity/render";
import { renderAddonReleases } from "../lib/capacity/render";
import { chartsDirFromEnvironment } from "../lib/environment";

/** Where preflight finds helm and the charts: the toolchain's helm, `UPSTREAM_CHARTS`. */
export function capacityRenderOptions(env: NodeJS.ProcessEnv, baseDir: string): RenderOptions {
  return {
    helm: projectPath(".toolchain", "bin", "helm"),
    chartsDir: chartsDirFromEnvironment(env),
    baseDir,
    env,
  };
}

export interface CapacityCheck {
  readonly problems: Issue[];
  /** What was counted; undefined when the charts could not be rendered. */
  readonly report?: CapacityReport;
}

/** The capacity problems of the definition's add-ons (see the module's comment). */
export async function checkCapacity(
  config: ClusterConfig,
  opts: RenderOptions,
): Promise<CapacityCheck> {
  const rendered = await renderAddonReleases(config, opts);
  if (!rendered.ok) {
    return {
      problems: [
        {
          ...issue(
            "addons",
            `the add-ons' resource requests were not checked against the nodes: ${rendered.reason}`,
            "build the toolchain (npm run toolchain) and set UPSTREAM_CHARTS to a folder of the pinned chart archives (helm pull --version) to check them",
          ),
          warning: true,
        },
      ],
    };
  }
  const report = addonsCapacity(config, rendered.releases);
  return { problems: report.problems.map((p) => issue(p.what, p.problem, p.fix)), report };
}
