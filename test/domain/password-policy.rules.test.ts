/**
 * PasswordPolicy's runs of consecutive keys, repeated units and personal terms, at their edges
 * (the main suite is password-policy.test.ts).
 */
import { dictionary } from '@zxcvbn-ts/language-common';
import { describe, expect, it } from 'vitest';
import { normalizePassword, PasswordPolicy } from '../../src/domain/password-policy.js';

const policy = new PasswordPolicy({ minLength: 15, maxLength: 256 }, dictionary['passwords-common']);
const nobody = { email: 'zz@example.test', name: 'Q' };
const message = (password: string) => {
  const verdict = policy.check(normalizePassword(password), nobody);
  return verdict.ok ? '' : verdict.message;
};
const rule = (password: string, context = nobody) => {
  const verdict = policy.check(normalizePassword(password), context);
  return verdict.ok ? 'ok' : verdict.rule;
};

describe('runs of consecutive keys, letters or digits', () => {
  it('are refused forwards, backwards and across the wrap, whatever their length', () => {
    for (const run of [
      '0123456789012345',
      '5678901234567890123456789',
      '9876543210987654',
      'abcdefghijklmnopq',
      'zyxwvutsrqponmlkj',
      'qwertyuiopasdfghjkl',
      'lkjhgfdsapoiuytrewq',
      '1qaz2wsx3edc4rfv5tgb',
      'ABCDEFGHIJKLMNOPQR',
    ]) {
      expect(rule(run), run).toBe('sequential');
    }
  });

  it('are refused with a reason a person can read', () => {
    expect(message('0123456789012345')).toMatch(/consecutive/);
  });

  it('are only refused when the whole password is one', () => {
    expect(rule('0123456789-harbor')).toBe('ok');
    expect(rule('acegikmoqsuwy02468')).toBe('ok');
  });
});

describe('a password made of one repeated unit', () => {
  it('is refused as common when the unit is, even at half the length', () => {
    expect(rule('passwordpassword')).toBe('common');
    expect(rule('sunshinesunshine')).toBe('common');
  });
});

describe('personal terms', () => {
  it('are read from the address and name as typed, trimmed', () => {
    expect(rule('xjane@example.testx-99', { email: '  jane@example.test  ', name: 'Q' })).toBe('personal');
    expect(rule('jane doe!x-2024-abc', { email: 'zz@example.test', name: '  Jane   Doe ' })).toBe('personal');
  });

  it('count from three characters on', () => {
    expect(rule('my-zed-garden-2024', { email: 'zz@example.test', name: 'Zed' })).toBe('personal');
    expect(rule('crystal-harbor-lantern-42', { email: 'al@example.test', name: 'Al' })).toBe('ok');
  });
});
