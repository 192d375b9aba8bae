import type { ConnectionOptions, PeerCertificate } from 'tls';

export type Kind = 'rds' | 'dsql' | 'dsql-admin' | 'elasticache' | 'memorydb';

export interface TokenOptions {
  /** The endpoint connected to, e.g. mydb.c9akciq32.us-east-1.rds.amazonaws.com. */
  host: string;
  /** The database port (required for RDS). */
  port?: number;
  /** The database user (required but for DSQL). */
  user?: string;
  /** The region; inferred from the endpoint name, else AWS_REGION, the profile's. */
  region?: string;
  /** The AWS profile; else IAM_DB_AUTH_PROFILE, else the default chain (AWS_PROFILE). */
  profile?: string;
  kind?: Kind;
  /** The name and port to sign for when connecting elsewhere (a tunnel, an address). */
  signingHost?: string;
  signingPort?: number;
  /** Seconds; 900 (the default) is the only lifetime RDS accepts. */
  expiresIn?: number;
  /** false: neither read nor fill the library's token cache. */
  cache?: boolean;
  /** ElastiCache Serverless. */
  serverless?: boolean;
}

export class IamDbAuthError extends Error {
  /** An IAM_ERROR_* number (include/iam_db_auth.h); never renumbered. */
  code: number;
}

export function token(options: TokenOptions): string;
export function tokenAsync(options: TokenOptions): Promise<string>;
export function caFile(): string;
export function tlsOptions(serverName: string): ConnectionOptions & {
  checkServerIdentity(host: string, cert: PeerCertificate): Error | undefined;
};

export interface PoolOptions {
  host: string;
  port?: number;
  user: string;
  database?: string;
  region?: string;
  profile?: string;
  signingHost?: string;
  signingPort?: number;
  cache?: boolean;
  [setting: string]: unknown;
}

/** For new pg.Pool(...) / new pg.Client(...). */
export function pgConfig(options: PoolOptions): Record<string, unknown>;
/** For mysql2.createPool(...) / createConnection(...). */
export function mysql2Config(options: PoolOptions): Record<string, unknown>;
export function version(): string;
export function clearCache(): void;
