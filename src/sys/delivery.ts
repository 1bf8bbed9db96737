/**
 * A delivery failure: `retryable` for network errors, 5xx and 429; not for other 4xx.
 * `maybeDelivered`: the request went out whole and no answer came (a timeout, a reset
 * connection): the peer may have taken it.
 */
export class DeliveryError extends Error {
  readonly retryable: boolean
  readonly retryAfterMs: number | undefined
  readonly status: number | undefined
  readonly maybeDelivered: boolean

  constructor(
    message: string,
    options: { retryable: boolean; retryAfterMs?: number; status?: number; maybeDelivered?: boolean; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'DeliveryError'
    this.retryable = options.retryable
    this.retryAfterMs = options.retryAfterMs
    this.status = options.status
    this.maybeDelivered = options.maybeDelivered ?? false
  }
}
