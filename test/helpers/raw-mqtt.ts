// Raw MQTT.js connections for the tests that must send what a well-behaved device
// client never would: wrong ids, bad payloads, forbidden topics.
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';

export function connectRaw(url: string, opts: IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...opts });
    client.once('connect', () => resolve(client));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
}

// Resolves with the CONNACK return code of a refused connection.
export async function refusalCode(url: string, opts: IClientOptions): Promise<number | string> {
  try {
    const client = await connectRaw(url, opts);
    client.end(true);
    return 0;
  } catch (err) {
    const code = (err as { code?: number | string }).code;
    return code ?? (err as Error).message;
  }
}

export function closeRaw(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.end(true, {}, () => resolve()));
}

// Waits until the broker closes the connection (what MQTT 3.1.1 does to a forbidden
// publish) or the timeout passes; true when it was closed.
export function closedWithin(client: MqttClient, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (!client.connected) return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    client.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

// The return codes of the SUBACK that answers one SUBSCRIBE of `filters`. MQTT.js reports
// a 0x80 as an error but still hands over the SUBACK; a connection that closes before any
// SUBACK rejects.
export function subackCodes(client: MqttClient, filters: string[], qos: 0 | 1 = 1): Promise<number[]> {
  return new Promise((resolve, reject) => {
    client.subscribe(filters, { qos }, (err, _granted, packet) => {
      if (packet && 'granted' in packet && Array.isArray(packet.granted)) return resolve(packet.granted as number[]);
      reject(err ?? new Error('no SUBACK'));
    });
  });
}
