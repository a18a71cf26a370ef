// The medical side's MQTT broker: Aedes on plain TCP (and TLS when configured), with
// Ferry's own hooks. Every hook denies by default; aedes's own defaults let everyone in.
import net from 'node:net';
import tls from 'node:tls';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import mqttPacket from 'mqtt-packet';
import type { DeviceRule, Role, RoleRule, TlsListen } from '../../rules/types.js';
import type { Logger } from '../../common/logger.js';
import { listenOn } from '../../common/listen.js';
import { CredentialChecker } from './credentials.js';
import { allowedFilters, mayPublish, maySubscribe } from './acl.js';
import { parseUpTopic } from '../../../devices/protocol.js';
import { guardPacketSize, MQTT_PACKET_BYTES_MAX } from './packet-guard.js';
import { listenerContext, listenerOptions, verifiedPeerFingerprint } from '../../tls/listener.js';
import { systemClock, type Clock } from '../../common/clock.js';
import { DeviceRoster } from './roster.js';
import { corkPerTurn } from './cork.js';

// dev/{id}/up/{type} is the deepest topic a device uses; slots/{dept}/{date} the widest
// shared one. Nothing legitimate needs more levels.
const TOPIC_LEVELS_MAX = 8;
// A client that does not read its socket for this long is cut off, so that one frozen
// kiosk cannot hold broker memory (aedes drainTimeout).
const DRAIN_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 10_000;
const CLIENT_ID_LENGTH_MAX = 64;

// mqtt-packet otherwise builds, on its first write, a Buffer for each of the 65,536
// two-byte numbers (packet ids, lengths): 6 MiB of the inner side's live heap of about 30
// (a heap snapshot after the bench's payments), to save a two-byte allocation per number.
// aedes writes through the same module instance.
mqttPacket.writeToStream.cacheNumbers = false;

export interface BrokerOptions {
  host: string;
  port: number;
  tls?: TlsListen;
  rulesDir: string;
  devices: ReadonlyMap<string, DeviceRule>;
  roles: ReadonlyMap<Role, RoleRule>;
  log: Logger;
  // The gap: called for every publish a device is allowed to make on its up topic.
  // Resolves when the message has been refused or durably accepted; PUBACK follows.
  onUp(device: DeviceRule, type: string, payload: Buffer): Promise<void>;
  onDenied(event: DeniedEvent): void;
  onConnect?(device: DeviceRule): void;
  clock?: Clock; // the roster's times
}

export interface DeniedEvent {
  device: string;
  action: 'connect' | 'publish' | 'subscribe';
  reason: string;
  topic?: string;
  remote?: string;
}

export interface RunningBroker {
  aedes: Aedes;
  port: number;
  tlsPort: number | undefined;
  publish(topic: string, payload: string | Buffer, opts?: { qos?: 0 | 1; retain?: boolean }): Promise<void>;
  connectedDevices(): number;
  // Who is online and when each device was last seen (in memory; empty after a restart).
  roster: DeviceRoster;
  // The devices of the rules the broker runs on now.
  devices(): ReadonlyMap<string, DeviceRule>;
  // Sends to one connected client at QoS 1 under a packet id the broker reserves for it,
  // and returns that id (undefined: the client is not connected). With onPuback this
  // tells when the device has the message, which aedes reports for clean sessions with
  // no packet to match it by.
  sendTracked(clientId: string, topic: string, payload: Buffer): { packetId: number; sent: Promise<void> } | undefined;
  onPuback(listener: (client: Client, messageId: number) => void): () => void;
  // New devices and roles from reloaded rules: later connects use them at once, and a
  // connected device that was removed, disabled or given a new credential is disconnected.
  replaceRules(devices: ReadonlyMap<string, DeviceRule>, roles: ReadonlyMap<Role, RoleRule>): number;
  // Re-reads the TLS certificate, key and CA files: new handshakes use them, connected
  // devices keep their sessions. False when TLS is off; throws when a file is unusable
  // (the running certificates then stay).
  reloadTls(): boolean;
  close(): Promise<void>;
}

export async function startBroker(opts: BrokerOptions): Promise<RunningBroker> {
  const credentials = new CredentialChecker(opts.devices);
  let devices = opts.devices;
  const roster = new DeviceRoster(opts.clock ?? systemClock, (id) => devices.has(id));
  const denied = (event: DeniedEvent) => {
    roster.refused(event.device, event.action);
    opts.onDenied(event);
  };
  let roles = opts.roles;
  const deviceOf = new WeakMap<Client, DeviceRule>();
  // Payloads of sendTracked publishes, with the packet id each is to go under.
  const stamps = new WeakMap<Buffer, number>();
  const pubackListeners = new Set<(client: Client, messageId: number) => void>();
  const emptyIds = new WeakSet<Client>();

  const aedes = await Aedes.createBroker({
    drainTimeout: DRAIN_TIMEOUT_MS,
    maxTopicLevels: TOPIC_LEVELS_MAX,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxClientsIdLength: CLIENT_ID_LENGTH_MAX,

    preConnect(client, packet, done) {
      // [MQTT-3.1.3-6] lets a server assign an id; Ferry never does: the id is the device.
      if (!packet.clientId) emptyIds.add(client);
      done(null, true);
    },

    authenticate(client, username, password, done) {
      const refuse = (code: 2 | 4 | 5, reason: string) => {
        denied({ device: username ?? '', action: 'connect', reason, ...remoteOf(client) });
        const err = new Error(reason) as AuthenticateError;
        err.returnCode = code as AuthenticateError['returnCode'];
        done(err, false);
      };
      if (emptyIds.has(client)) return refuse(2, 'empty client id');
      if (!username) return refuse(4, 'no username');
      if (client.id !== username) return refuse(2, 'client id differs from username');
      const fingerprint = verifiedPeerFingerprint(client.conn);
      credentials.check(username, password, fingerprint).then((outcome) => {
        if (!outcome.ok) return refuse(outcome.reason === 'bad_password' || outcome.reason === 'no_password' ? 4 : 5, outcome.reason);
        deviceOf.set(client, outcome.device);
        opts.onConnect?.(outcome.device);
        done(null, true);
      }, (err: Error) => {
        opts.log.error({ err: err.message }, 'authentication failed internally');
        refuse(5, 'internal error');
      });
    },

    authorizePublish(client, packet, done) {
      if (!client) return done(null); // the broker's own publishes
      const device = deviceOf.get(client);
      if (!device || !mayPublish(device, packet.topic) || packet.retain || packet.qos === 2) {
        denied({ device: client.id, action: 'publish', reason: packet.retain ? 'retain not allowed' : 'topic not allowed', topic: packet.topic, ...remoteOf(client) });
        return done(new Error('publish not allowed'));
      }
      roster.message(device.id);
      const { type } = parseUpTopic(packet.topic)!;
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      // The gap's verdict is durable before the PUBACK that this callback releases.
      opts.onUp(device, type, payload).then(() => done(null), (err: Error) => {
        opts.log.error({ err: err.message, device: device.id }, 'gap failed');
        done(err);
      });
    },

    authorizeSubscribe(client, subscription, done) {
      const device = deviceOf.get(client);
      const allowed = device ? allowedFilters(device, roles.get(device.role)) : [];
      if (!device || !maySubscribe(subscription.topic, allowed)) {
        denied({ device: client.id, action: 'subscribe', reason: 'filter not allowed', topic: subscription.topic, ...remoteOf(client) });
        // A null subscription is granted 0x80 in the SUBACK (MQTT 3.1.1 section 3.9.3) and the
        // session stays. An error would cut the connection with no SUBACK, and a client that
        // subscribes to a list on connect would then reconnect and be cut again, forever.
        return done(null, null);
      }
      done(null, subscription);
    },

    // Nothing a device publishes is forwarded to other devices: up topics end at the gap.
    authorizeForward(client, packet) {
      if (packet.topic.startsWith('dev/') && packet.topic.includes('/up/')) return null;
      const stamp = Buffer.isBuffer(packet.payload) ? stamps.get(packet.payload) : undefined;
      // aedes keeps a packet id that the forwarded packet already has (qos-packet.js).
      if (stamp !== undefined) return Object.assign(packet, { messageId: stamp });
      return packet;
    },
  });

  // A PUBACK as it arrives, read off the client's own packet stream: aedes's 'ack' event
  // carries the acknowledged packet only for sessions it persists.
  type Parsed = { cmd: string; messageId?: number };
  aedes.on('client', (client) => {
    roster.connected(client.id, remoteOf(client).remote);
    const parser = (client as unknown as { _parser?: { on(e: 'packet', l: (p: Parsed) => void): void } })._parser;
    parser?.on('packet', (p) => {
      if (p.cmd !== 'puback' || p.messageId === undefined) return;
      for (const listener of pubackListeners) listener(client, p.messageId);
    });
  });

  aedes.on('clientDisconnect', (client) => roster.disconnected(client.id));

  const servers: net.Server[] = [];
  const guard = (socket: net.Socket) => guardPacketSize(socket, MQTT_PACKET_BYTES_MAX, (declared) => {
    opts.log.warn({ remote: socket.remoteAddress, declared }, 'MQTT packet over the size limit; connection cut');
  });
  const plain = net.createServer({ noDelay: true }, (socket) => {
    guard(socket);
    corkPerTurn(socket);
    aedes.handle(socket);
  });
  await listenOn(plain, { host: opts.host, port: opts.port }, 'MQTT');
  const port = (plain.address() as net.AddressInfo).port;
  servers.push(plain);

  let tlsPort: number | undefined;
  let secure: tls.Server | undefined;
  if (opts.tls) {
    secure = tls.createServer(listenerOptions(opts.rulesDir, opts.tls), (socket) => {
      socket.setNoDelay(true);
      guard(socket);
      corkPerTurn(socket);
      aedes.handle(socket);
    });
    secure.on('tlsClientError', (err, socket) => {
      opts.log.warn({ remote: socket.remoteAddress, err: err.message }, 'TLS handshake refused');
    });
    try {
      await listenOn(secure, { host: opts.host, port: opts.tls.port }, 'MQTTS');
    } catch (err) {
      await new Promise<void>((resolve) => plain.close(() => resolve()));
      throw err;
    }
    tlsPort = (secure.address() as net.AddressInfo).port;
    servers.push(secure);
  }

  opts.log.info({ host: opts.host, port, tlsPort }, 'broker listening');

  return {
    aedes,
    port,
    tlsPort,
    publish(topic, payload, o = {}) {
      return new Promise((resolve, reject) => {
        aedes.publish({
          cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
          qos: o.qos ?? 1, retain: o.retain ?? false, dup: false,
        }, (err) => (err ? reject(err) : resolve()));
      });
    },
    connectedDevices: () => aedes.connectedClients,
    roster,
    devices: () => devices,
    sendTracked(clientId, topic, payload) {
      const client = (aedes as unknown as { clients: Record<string, Client & { _nextId: number }> }).clients[clientId];
      if (!client) return undefined;
      // Reserved as aedes itself takes ids (qos-packet.js), so no other packet gets it.
      const id = client._nextId;
      client._nextId = id >= 65535 ? 1 : id + 1;
      stamps.set(payload, id);
      const sent = new Promise<void>((resolve, reject) => {
        client.publish({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false }, (err) => (err ? reject(err) : resolve()));
      });
      return { packetId: id, sent };
    },
    onPuback(listener) {
      pubackListeners.add(listener);
      return () => pubackListeners.delete(listener);
    },
    replaceRules(fresh, newRoles) {
      credentials.replaceDevices(fresh);
      devices = fresh;
      roster.setKnown((id) => fresh.has(id));
      roles = newRoles;
      let dropped = 0;
      const clients = (aedes as unknown as { clients: Record<string, Client> }).clients;
      for (const client of Object.values(clients)) {
        const now = fresh.get(client.id);
        const before = deviceOf.get(client);
        // A rotated secret or certificate: the session that logged in with the old one ends.
        const newCredential = before !== undefined && (before.password !== now?.password || before.certFingerprint !== now?.certFingerprint);
        if (!now || now.disabled || newCredential) {
          dropped += 1;
          client.close();
        } else {
          deviceOf.set(client, now);
        }
      }
      return dropped;
    },
    reloadTls() {
      if (!secure || !opts.tls) return false;
      secure.setSecureContext(listenerContext(opts.rulesDir, opts.tls));
      return true;
    },
    async close() {
      // Stop accepting first, then drop the clients: a server's close waits for them.
      const stopped = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await stopped;
    },
  };
}

function remoteOf(client: Client): { remote?: string } {
  const address = (client.conn as Partial<net.Socket> | undefined)?.remoteAddress;
  return address ? { remote: address } : {};
}

