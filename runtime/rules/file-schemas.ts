// The JSON Schemas of the four rule files themselves. Every object refuses keys it does
// not know: a misspelt key is an error, not a silently ignored setting
// (fastify `lib/initial-config-validation.js` does the same for its options).
import { Ajv, type ValidateFunction } from 'ajv';
import { ROLES } from './types.js';
import { LOG_LEVELS, RULE_BOUNDS as B } from './defaults.js';

export const DEVICE_ID = '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$';
// A department code ends up as a topic level (`dept/{dept}/inbox`): no wildcard, no slash.
export const DEPT = '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$';
export const MESSAGE_TYPE = '^[a-z]+(\\.[a-z]+)+$';
// sha256 of the DER certificate, as `openssl x509 -fingerprint -sha256` prints it.
export const CERT_FINGERPRINT = '^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$';

const port = { type: 'integer', minimum: 0, maximum: 65535 };
const host = { type: 'string', minLength: 1, maxLength: 253 };
const relPath = { type: 'string', minLength: 1, maxLength: 1024 };
const int = (minimum: number, maximum: number) => ({ type: 'integer', minimum, maximum });

const gateway = {
  type: 'object',
  additionalProperties: false,
  required: ['payment'],
  properties: {
    timeZone: { type: 'string', minLength: 1, maxLength: 64 },
    mqtt: {
      type: 'object',
      additionalProperties: false,
      properties: {
        host,
        port,
        tls: {
          type: 'object',
          additionalProperties: false,
          required: ['port', 'cert', 'key'],
          properties: { port, cert: relPath, key: relPath, ca: relPath, requireClientCert: { type: 'boolean' } },
        },
      },
    },
    channel: {
      type: 'object',
      additionalProperties: false,
      properties: { socket: { type: 'string', minLength: 1, maxLength: B.socketPathCharsMax } },
    },
    payment: {
      type: 'object',
      additionalProperties: false,
      // url has no default on purpose: a forgotten url must not quietly mean "simulator".
      required: ['url'],
      properties: {
        url: { type: ['string', 'null'], maxLength: 2048 },
        secret: { type: 'string', maxLength: 1024 },
        secretFile: relPath,
        timeoutMs: int(B.timeoutMsMin, B.timeoutMsMax),
        simulatorHost: host,
        simulatorPort: port,
        tls: {
          type: 'object',
          additionalProperties: false,
          properties: { ca: relPath, cert: relPath, key: relPath },
        },
      },
    },
    notify: {
      type: 'object',
      additionalProperties: false,
      properties: { host, port, toleranceSec: int(B.toleranceSecMin, B.toleranceSecMax) },
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxPayloadBytes: int(B.payloadBytesMin, B.payloadBytesMax),
        replyWaitMs: int(B.replyWaitMsMin, B.replyWaitMsMax),
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      properties: { level: { type: 'string', enum: [...LOG_LEVELS] } },
    },
    management: {
      type: 'object',
      additionalProperties: false,
      properties: {
        host, port,
        token: { type: 'string', maxLength: 1024 }, tokenFile: relPath,
        adminToken: { type: 'string', maxLength: 1024 }, adminTokenFile: relPath,
      },
    },
    store: {
      type: 'object',
      additionalProperties: false,
      properties: {
        backend: { type: 'string', enum: ['leveldb', 'postgres'] },
        postgres: {
          type: 'object',
          additionalProperties: false,
          required: ['urlFile'],
          properties: { urlFile: relPath },
        },
      },
    },
    retention: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(
        ['paymentsDays', 'billsDays', 'registrationsDays', 'dispatchesDays', 'idempotencyDays', 'auditDays']
          .map((key) => [key, int(1, B.retentionDaysMax)]),
      ),
    },
  },
};

const devices = {
  type: 'object',
  additionalProperties: false,
  required: ['devices'],
  properties: {
    devices: {
      type: 'array',
      maxItems: B.devicesMax,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'role'],
        properties: {
          id: { type: 'string', pattern: DEVICE_ID },
          role: { type: 'string', enum: [...ROLES] },
          dept: { type: 'string', pattern: DEPT },
          password: { type: 'string', maxLength: 512 },
          certFingerprint: { type: 'string', pattern: CERT_FINGERPRINT },
          disabled: { type: 'boolean' },
        },
      },
    },
  },
};

const roleEntry = {
  // `receiver:` with nothing after it is an empty entry, not an error.
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {
    subscribe: {
      type: 'array',
      maxItems: B.subscribeFiltersMax,
      items: { type: 'string', minLength: 1, maxLength: B.topicFilterCharsMax },
    },
  },
};

const roles = {
  type: 'object',
  additionalProperties: false,
  required: ['roles'],
  properties: {
    roles: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(ROLES.map((r) => [r, roleEntry])),
    },
  },
};

const messages = {
  type: 'object',
  additionalProperties: false,
  required: ['messages'],
  properties: {
    messages: {
      type: 'object',
      maxProperties: B.messageTypesMax,
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['roles', 'schema'],
        properties: {
          description: { type: 'string', maxLength: 500 },
          roles: { type: 'array', minItems: 1, maxItems: ROLES.length, uniqueItems: true, items: { type: 'string' } },
          maxBytes: int(B.payloadBytesMin, B.payloadBytesMax),
          rate: {
            type: 'object',
            additionalProperties: false,
            properties: { perMinute: int(1, B.ratePerMinuteMax), burst: int(1, B.rateBurstMax) },
          },
          schema: { type: 'object' },
        },
      },
    },
  },
};

export interface FileValidators {
  gateway: ValidateFunction;
  devices: ValidateFunction;
  roles: ValidateFunction;
  messages: ValidateFunction;
}

let compiled: FileValidators | null = null;

export function fileValidators(): FileValidators {
  if (!compiled) {
    const ajv = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true });
    compiled = {
      gateway: ajv.compile(gateway),
      devices: ajv.compile(devices),
      roles: ajv.compile(roles),
      messages: ajv.compile(messages),
    };
  }
  return compiled;
}
