// Bearer tokens of the management API (gateway.yaml `management`). Both tokens are
// compared in constant time, through SHA-256 digests so that the lengths match too.
import { createHash, timingSafeEqual } from 'node:crypto';

export type Access = 'read' | 'admin';

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

export class TokenCheck {
  private readonly read: Buffer;
  private readonly admin: Buffer;

  constructor(tokens: { token: string; adminToken: string }) {
    this.read = digest(tokens.token);
    this.admin = digest(tokens.adminToken);
  }

  // The access an Authorization header grants, or null. Both comparisons always run.
  check(header: string | undefined): Access | null {
    const match = /^Bearer ([\x21-\x7e]{1,1024})$/.exec(header ?? '');
    const given = digest(match?.[1] ?? '');
    const isAdmin = timingSafeEqual(given, this.admin);
    const isRead = timingSafeEqual(given, this.read);
    if (!match) return null;
    return isAdmin ? 'admin' : isRead ? 'read' : null;
  }
}
