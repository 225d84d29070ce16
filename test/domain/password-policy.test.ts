import { dictionary } from '@zxcvbn-ts/language-common';
import { describe, expect, it } from 'vitest';
import { codePointLength, normalizePassword, PasswordPolicy, type PasswordVerdict } from '../../src/domain/password-policy.js';

const common = dictionary['passwords-common'];
const limits = { minLength: 15, maxLength: 256 };
const policy = new PasswordPolicy(limits, common);
const person = { email: 'jane.doe@example.com', name: 'Jane Quinterro' };
const STRONG = 'violet-harbor-lantern-42';

/** What the service does: normalize, then check. */
function check(password: string, context = person): PasswordVerdict {
  return policy.check(normalizePassword(password), context);
}

function refused(verdict: PasswordVerdict): { rule: string; message: string } {
  if (verdict.ok) throw new Error('expected the password to be refused');
  return verdict;
}

/** A password that breaks no rule but length: distinct, non-repeating, non-personal. */
function filler(length: number): string {
  const alphabet = 'bcdfghjkmnpqrstvwxyz0123456789';
  let out = '';
  for (let i = 0; out.length < length; i++) out += alphabet[(i * 7 + Math.floor(i / alphabet.length)) % alphabet.length];
  return out;
}

describe('codePointLength and NFKC', () => {
  it('counts astral emoji as one code point each: 15 emoji are 15, not 30', () => {
    const emoji = '😀🎉🚀🌈🔥💡🎸🍕🐙🌵🧩🛸🦊🍉🎲';
    expect(emoji.length).toBe(30);
    expect(codePointLength(emoji)).toBe(15);
    expect(codePointLength(normalizePassword(emoji))).toBe(15);
  });

  it('counts combining characters as code points, after NFKC has composed what it can', () => {
    // "e" + U+0301 composes to "é" (1 code point); "q" + U+0301 has no composed form (2).
    expect(codePointLength(normalizePassword('e\u0301'))).toBe(1);
    expect(codePointLength(normalizePassword('q\u0301'))).toBe(2);
  });

  it('normalizes full-width letters and ligatures to their plain forms', () => {
    expect(normalizePassword('ｐａｓｓｗｏｒｄ１２３')).toBe('password123');
    expect(normalizePassword('ﬁre')).toBe('fire');
    expect(normalizePassword('eﬀort')).toBe('effort');
    expect(normalizePassword('\u212B')).toBe('\u00C5');
  });
});

describe('PasswordPolicy length', () => {
  it('accepts 15 astral emoji at a minimum of 15 and refuses 14', () => {
    const fifteen = '😀🎉🚀🌈🔥💡🎸🍕🐙🌵🧩🛸🦊🍉🎲';
    expect(check(fifteen)).toEqual({ ok: true });
    const fourteen = [...fifteen].slice(0, 14).join('');
    expect(refused(check(fourteen)).rule).toBe('too_short');
  });

  it('refuses 30 UTF-16 units that are only 15 code points when 16 are required', () => {
    const strict = new PasswordPolicy({ minLength: 16, maxLength: 256 }, common);
    const verdict = strict.check('😀🎉🚀🌈🔥💡🎸🍕🐙🌵🧩🛸🦊🍉🎲', person);
    expect(refused(verdict).rule).toBe('too_short');
  });

  it('counts length after NFKC: a ligature is two letters', () => {
    // 14 code points as typed, 15 after "ﬁ" becomes "fi".
    const typed = 'ﬁrm-lantern-q7';
    expect(codePointLength(typed)).toBe(14);
    expect(check(typed)).toEqual({ ok: true });
  });

  it('refuses too short with a message naming the rule and the limit', () => {
    const v = refused(check(filler(14)));
    expect(v.rule).toBe('too_short');
    expect(v.message).toMatch(/at least 15 characters/);
  });

  it('refuses too long with a message naming the rule and the limit', () => {
    const v = refused(check(filler(257)));
    expect(v.rule).toBe('too_long');
    expect(v.message).toMatch(/at most 256 characters/);
  });

  it('never truncates: exactly the maximum passes, one more fails', () => {
    expect(check(filler(256))).toEqual({ ok: true });
    expect(check(filler(15))).toEqual({ ok: true });
    expect(refused(check(filler(257))).rule).toBe('too_long');
    // An astral character at the end still counts once and still is not cut off.
    expect(refused(check(filler(256) + '😀')).rule).toBe('too_long');
    expect(check(filler(255) + '😀')).toEqual({ ok: true });
  });

  it('follows the configured limits', () => {
    const custom = new PasswordPolicy({ minLength: 8, maxLength: 64 }, common);
    expect(custom.check(filler(8), person)).toEqual({ ok: true });
    expect(refused(custom.check(filler(7), person)).message).toMatch(/at least 8/);
    expect(custom.check(filler(64), person)).toEqual({ ok: true });
    expect(refused(custom.check(filler(65), person)).message).toMatch(/at most 64/);
  });
});

describe('PasswordPolicy blocklist', () => {
  const longCommon = common.find((p) => codePointLength(p) >= 15 && /[a-z]/.test(p) && !/(.)\1\1/.test(p));

  it('has a real list with long entries to test against', () => {
    expect(common.length).toBeGreaterThan(10_000);
    expect(longCommon).toBeDefined();
  });

  it('refuses a common password from the list', () => {
    const v = refused(check(longCommon!));
    expect(v.rule).toBe('common');
    expect(v.message).toMatch(/common/i);
  });

  it('refuses it case-insensitively', () => {
    expect(refused(check(longCommon!.toUpperCase())).rule).toBe('common');
    const mixed = [...longCommon!].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join('');
    expect(refused(check(mixed)).rule).toBe('common');
  });

  it('refuses a common password typed in full-width letters', () => {
    const fullWidth = [...longCommon!]
      .map((c) => (/[!-~]/.test(c) ? String.fromCodePoint(c.codePointAt(0)! + 0xfee0) : c))
      .join('');
    expect(fullWidth).not.toBe(longCommon);
    expect(refused(check(fullWidth)).rule).toBe('common');
  });

  it('refuses a common password repeated to reach the length', () => {
    const repeated = 'password'.repeat(3);
    expect(common).toContain('password');
    expect(common).not.toContain(repeated);
    expect(refused(check(repeated)).rule).toBe('common');
    expect(refused(check('DragonDragonDragon')).rule).toBe('common');
  });

  it('refuses a single character repeated, and a short sequence repeated', () => {
    const v = refused(check('x'.repeat(20)));
    expect(v.rule).toBe('repetitive');
    expect(v.message).toMatch(/repeat/i);
    expect(refused(check('😀'.repeat(16))).rule).toBe('repetitive');
    expect(refused(check('xq7'.repeat(6))).rule).toBe('repetitive');
  });

  it('uses the list it was given, not a built-in one', () => {
    const empty = new PasswordPolicy(limits, []);
    expect(empty.check(longCommon!, person)).toEqual({ ok: true });
    const custom = new PasswordPolicy(limits, ['Violet-Harbor-Lantern-42']);
    expect(refused(custom.check(STRONG, person)).rule).toBe('common');
  });
});

describe('PasswordPolicy personal terms', () => {
  it('refuses a password containing the email address, case-insensitively', () => {
    const v = refused(check('my-JANE.DOE@EXAMPLE.COM-pw'));
    expect(v.rule).toBe('personal');
    expect(v.message).toMatch(/email|name/i);
  });

  it("refuses a password containing the email's local part", () => {
    expect(refused(check('xx-Jane.Doe-secret-99')).rule).toBe('personal');
  });

  it('refuses a password containing the name, with or without its spaces, case-insensitively', () => {
    expect(refused(check('hello jane quinterro 2024')).rule).toBe('personal');
    expect(refused(check('JaneQuinterro-rules-7')).rule).toBe('personal');
    expect(refused(check('my-QUINTERRO jane', { email: 'x@y.z', name: 'Quinterro Jane' })).rule).toBe('personal');
  });

  it('collapses runs of whitespace in the name', () => {
    expect(refused(check('ok jane quinterro ok', { ...person, name: '  Jane   Quinterro ' })).rule).toBe('personal');
  });

  it('refuses a password typed in full-width letters that contains the name', () => {
    expect(refused(check('ｊａｎｅ ｑｕｉｎｔｅｒｒｏ 2024')).rule).toBe('personal');
  });

  it('refuses the name even when the name itself was given in full-width letters (NFKC on both sides)', () => {
    // The password is NFKC-normalized before the check; the name and email it is compared
    // with must be too, or "Ｊａｎｅ Ｑｕｉｎｔｅｒｒｏ" can use "jane quinterro" as a password.
    const fullWidthName = { email: 'x@example.com', name: 'Ｊａｎｅ Ｑｕｉｎｔｅｒｒｏ' };
    expect(refused(check('hello jane quinterro 2024', fullWidthName)).rule).toBe('personal');
  });

  it('accepts a password unrelated to the account', () => {
    expect(check(STRONG)).toEqual({ ok: true });
  });
});

describe('PasswordPolicy accepts strong passwords', () => {
  it.each([
    STRONG,
    'correct horse battery staple',
    'Tänzer über Brücken 1879',
    '雨の日には図書館で静かに本を読む',
    '🎲 rolling dice under moonlight',
  ])('accepts %s', (password) => {
    expect(check(password)).toEqual({ ok: true });
  });
});
