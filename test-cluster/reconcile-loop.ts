/**
 * How the test cluster plays a controller that cannot run here: level-based, as Kubernetes
 * controllers are. A watch on each resource the controller reads only says "something
 * changed"; the whole state is then listed again and reconciled. One reconcile runs at a
 * time, and changes seen during one start another once it ends. A watch that ends (the
 * server closes them, a resource whose CRD is not installed yet answers 404) is started
 * again after `retryMs`, with a reconcile, so that nothing seen meanwhile is missed.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { Watch } from "@kubernetes/client-node";

export interface ReconcileLoopOptions {
  readonly kubeConfig: KubeConfig;
  /** The API paths whose changes start a reconcile, e.g. `/api/v1/services`. */
  readonly watchPaths: readonly string[];
  /** Reads the current state and acts on it; a failure is logged and retried. */
  readonly reconcile: () => Promise<void>;
  readonly log: (line: string) => void;
  /**
   * How long to wait before starting an ended watch or a failed reconcile again.
   * @default 1000
   */
  readonly retryMs?: number;
}

/** A running controller play; `stop()` ends its watches and waits for its reconcile. */
export class ReconcileLoop {
  private readonly watches = new Map<string, AbortController>();
  /** Why each watch last ended: a watch that keeps ending the same way is logged once. */
  private readonly lastEnd = new Map<string, string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private passes = 0;
  private readonly passWaiters: { after: number; resolve: () => void }[] = [];

  private constructor(private readonly options: ReconcileLoopOptions) {}

  /** Starts the watches and a first reconcile. */
  static start(options: ReconcileLoopOptions): ReconcileLoop {
    const loop = new ReconcileLoop(options);
    for (const path of options.watchPaths) void loop.watch(path);
    loop.trigger();
    return loop;
  }

  /**
   * Resolves once a reconcile that started after this call has finished (whatever it
   * found): a test that changed something waits for the play to have seen it.
   */
  settled(): Promise<void> {
    const after = this.passes + (this.running ? 1 : 0);
    this.trigger();
    return new Promise((resolve) => this.passWaiters.push({ after, resolve }));
  }

  /** Ends every watch and timer, and waits for a running reconcile to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const controller of this.watches.values()) controller.abort();
    this.watches.clear();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.running;
    for (const waiter of this.passWaiters.splice(0)) waiter.resolve();
  }

  private get retryMs(): number {
    return this.options.retryMs ?? 1000;
  }

  private later(fn: () => void): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, this.retryMs);
    this.timers.add(timer);
  }

  private trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass();
  }

  private async pass(): Promise<void> {
    try {
      await this.options.reconcile();
    } catch (e) {
      if (!this.stopped) {
        this.options.log(`reconcile failed, retrying: ${(e as Error).message}`);
        this.later(() => this.trigger());
      }
    }
    this.passes += 1;
    const done = this.passWaiters.filter((w) => w.after < this.passes);
    for (const waiter of done) {
      this.passWaiters.splice(this.passWaiters.indexOf(waiter), 1);
      waiter.resolve();
    }
    this.running = undefined;
    if (this.again) {
      this.again = false;
      this.trigger();
    }
  }

  private async watch(path: string): Promise<void> {
    if (this.stopped) return;
    let ended = false;
    let controller: AbortController | undefined;
    // Called once per watch, possibly before `watch()` below has returned (a 404 does).
    const end = (why: string) => {
      if (ended) return;
      ended = true;
      controller?.abort();
      if (this.watches.get(path) === controller) this.watches.delete(path);
      if (this.stopped) return;
      if (why !== "" && this.lastEnd.get(path) !== why)
        this.options.log(
          `watch ${path} ended (${why}); starting it again every ${this.retryMs} ms`,
        );
      this.lastEnd.set(path, why);
      this.later(() => {
        void this.watch(path);
        this.trigger();
      });
    };
    try {
      controller = await new Watch(this.options.kubeConfig).watch(
        path,
        { allowWatchBookmarks: true },
        (type) => {
          if (type !== "BOOKMARK") this.trigger();
        },
        (err: unknown) => end(err ? String((err as Error).message ?? err) : ""),
      );
      if (ended || this.stopped) controller.abort();
      else this.watches.set(path, controller);
    } catch (e) {
      end((e as Error).message);
    }
  }
}
