import { describe, expect, it } from 'vitest';
import { ipKey } from '../../src/domain/client-key.js';

describe('ipKey', () => {
  it('keeps an IPv4 address as it is', () => {
    expect(ipKey('198.51.100.7')).toBe('198.51.100.7');
    expect(ipKey('0.0.0.0')).toBe('0.0.0.0');
  });

  it('turns an IPv4-mapped IPv6 address into its IPv4, dotted or in hex', () => {
    expect(ipKey('::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(ipKey('::FFFF:C633:6407')).toBe('198.51.100.7');
    expect(ipKey('0:0:0:0:0:ffff:198.51.100.7')).toBe('198.51.100.7');
  });

  it('keys an IPv6 address on its /64, however it is spelled', () => {
    const key = '2001:db8:1:2::/64';
    for (const ip of ['2001:db8:1:2::1', '2001:db8:1:2::ffff', '2001:DB8:1:2:AAAA:BBBB:CCCC:DDDD', '2001:0db8:0001:0002:0000:0000:0000:0001', '2001:db8:1:2:0:0:0.0.0.1']) {
      expect(ipKey(ip), ip).toBe(key);
    }
    expect(ipKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(ipKey('2001:db8:0:1::1')).not.toBe(ipKey('2001:db8:1:0::1'));
  });

  it('expands :: wherever it stands', () => {
    expect(ipKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(ipKey('2001:db8::')).toBe('2001:db8:0:0::/64');
    expect(ipKey('::1')).toBe('0:0:0:0::/64');
    expect(ipKey('::')).toBe('0:0:0:0::/64');
    expect(ipKey('1::2:3:4:5:6:7')).toBe('1:0:2:3::/64');
    expect(ipKey('1:2:3:4:5::')).toBe('1:2:3:4::/64');
    expect(ipKey('1:2:3::4:5:6')).toBe('1:2:3:0::/64');
  });

  it('drops a zone, which names an interface rather than a host', () => {
    expect(ipKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });

  it('does not map IPv6 addresses that merely embed an IPv4 elsewhere', () => {
    expect(ipKey('::ffff:0:198.51.100.7')).toBe('0:0:0:0::/64'); // IPv4-translated (RFC 2765), not mapped
    expect(ipKey('64:ff9b::198.51.100.7')).toBe('64:ff9b:0:0::/64');
  });

  it('returns anything that is not an address unchanged', () => {
    expect(ipKey('unknown')).toBe('unknown');
    expect(ipKey('')).toBe('');
    expect(ipKey('2001:db8::1::2')).toBe('2001:db8::1::2');
  });
});
