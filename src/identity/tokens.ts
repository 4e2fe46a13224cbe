import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Db } from '../db/index.js';

// Tokens are random opaque strings, and the table (migration 007) keeps only their SHA-256
// digests with who they are for, their expiry and their revocation. A signed token would
// still need the table for revocation on every check, so signing would buy nothing; the
// table also makes tokens outlive a restart of the process.

interface TokensTable {
  digest: string;
  user_id: string;
  project_id: string | null;
  methods: string;
  audit_ids: string;
  issued_at: string;
  expires_at: string;
  revoked_at: string | null;
}

type IdentityDb = Kysely<{ identity_tokens: TokensTable }>;

export interface TokenRecord {
  userId: string;
  projectId: string | null;
  methods: string[];
  /** This token's audit id first, then the one of the token it was re-scoped from, if any. */
  auditIds: string[];
  /** Keystone's form: '2026-01-02T03:04:05.000000Z'. */
  issuedAt: string;
  expiresAt: string;
}

/** An instant the way Keystone writes it: microseconds, Z (and ordered as text). */
export const keystoneTime = (date: Date) => `${date.toISOString().slice(0, 23)}000Z`;

const digestOf = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/** Keystone's audit ids are 16 random bytes, URL-safe base64 without padding. */
export const newAuditId = () => randomBytes(16).toString('base64url');

export class TokenStore {
  private readonly kysely: IdentityDb;

  constructor(
    db: Db,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.kysely = db.kysely as unknown as IdentityDb;
  }

  /** Stores `record` under a new token and returns the token; expired rows are dropped on the way. */
  async issue(record: TokenRecord): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    await this.kysely.deleteFrom('identity_tokens').where('expires_at', '<=', keystoneTime(this.now())).execute();
    await this.kysely
      .insertInto('identity_tokens')
      .values({
        digest: digestOf(token),
        user_id: record.userId,
        project_id: record.projectId,
        methods: record.methods.join(','),
        audit_ids: record.auditIds.join(','),
        issued_at: record.issuedAt,
        expires_at: record.expiresAt,
        revoked_at: null,
      })
      .execute();
    return token;
  }

  /** The token's record, or null when it is unknown, expired or revoked. */
  async find(token: string): Promise<TokenRecord | null> {
    const row = await this.kysely.selectFrom('identity_tokens').selectAll().where('digest', '=', digestOf(token)).executeTakeFirst();
    if (!row || row.revoked_at !== null || row.expires_at <= keystoneTime(this.now())) return null;
    return {
      userId: row.user_id,
      projectId: row.project_id,
      methods: row.methods.split(','),
      auditIds: row.audit_ids.split(','),
      issuedAt: row.issued_at,
      expiresAt: row.expires_at,
    };
  }

  /** Revokes a valid token; false when it was not valid. */
  async revoke(token: string): Promise<boolean> {
    const result = await this.kysely
      .updateTable('identity_tokens')
      .set({ revoked_at: keystoneTime(this.now()) })
      .where('digest', '=', digestOf(token))
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', keystoneTime(this.now()))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async ping(): Promise<void> {
    await this.kysely.selectFrom('identity_tokens').select('digest').limit(1).execute();
  }
}
