// The notification endpoint's limits on time and connections, in one table. The endpoint
// faces the payment network: a host there that opens sockets and trickles bytes must not
// hold them long, nor hold so many that the payment server's own retries find no room.
export interface NotifyLimits {
  // Until the request's headers are in; an honest client sends them in one packet.
  headersTimeoutMs: number;
  // Until the whole request (headers and body) is in. Node checks both deadlines only
  // every connectionsCheckingIntervalMs, so a request lives at most the sum of the two.
  requestTimeoutMs: number;
  connectionsCheckingIntervalMs: number;
  // A socket silent this long is closed. Longer than the wait for the inner side's
  // verdict (NOTIFY_ACK_WAIT_MS), during which an honest client is silent too.
  idleSocketMs: number;
  // How long a kept-alive socket waits for its next request.
  keepAliveTimeoutMs: number;
  // Sockets open at once, from everywhere and from one address. A payment server sends a
  // handful of notifications at a time, each answered within the ack wait (5 s).
  connectionsMax: number;
  connectionsPerAddressMax: number;
}

export const NOTIFY_LIMITS: Readonly<NotifyLimits> = Object.freeze({
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  connectionsCheckingIntervalMs: 1_000,
  idleSocketMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  connectionsMax: 256,
  connectionsPerAddressMax: 32,
});
