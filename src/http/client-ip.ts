/**
 * The client's IP, through Latch's own TRUST_PROXY (the same rules as Express's `trust proxy`,
 * via proxy-addr), so a host app's setting can neither widen nor narrow it. A spoofed
 * X-Forwarded-For from an untrusted peer is ignored.
 */
import type { Request } from 'express';
import proxyaddr from 'proxy-addr';

export type ClientIp = (req: Request) => string;

export function clientIpResolver(trustProxy: boolean | number | string): ClientIp {
  const trust = compileTrust(trustProxy);
  return (req) => proxyaddr(req, trust);
}

function compileTrust(value: boolean | number | string): (address: string, hop: number) => boolean {
  if (value === true) return () => true;
  if (value === false) return () => false;
  if (typeof value === 'number') return (_address, hop) => hop < value;
  return proxyaddr.compile(value.split(',').map((part) => part.trim()));
}
