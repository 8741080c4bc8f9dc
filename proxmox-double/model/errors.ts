/** The double's API errors: what pve-api-daemon puts in the status line and `errors`. */

/** An API error: HTTP status, the message PVE puts in the status line, per-parameter errors. */
export class PveError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Readonly<Record<string, string>>,
  ) {
    super(message);
    this.name = "PveError";
  }
}

/** A `die` in a handler: 500 with the message. */
export const fail = (message: string): PveError => new PveError(500, message);

/** A parameter that fails verification: 400 with per-parameter errors. */
export const paramError = (errors: Record<string, string>): PveError =>
  new PveError(400, "Parameter verification failed.", errors);

/**
 * An error qemu-server raises in its worker rather than in the request (creating or
 * importing a disk): the task fails; where the double runs the step synchronously (PUT
 * config) it is the request's 500, as in PVE.
 */
export class WorkerError extends PveError {
  constructor(message: string) {
    super(500, message);
    this.name = "WorkerError";
  }
}
