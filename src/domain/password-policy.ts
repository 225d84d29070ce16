/**
 * Password rules after NIST SP 800-63B §3.1.1.2: a length range counted in Unicode code points
 * after NFKC normalization, no composition rules, never truncated, and a blocklist of values
 * known to be common or derived from the account itself.
 */
export interface PasswordLimits {
  minLength: number;
  maxLength: number;
}

export interface PasswordContext {
  email: string;
  name: string;
}

export type PasswordRule = 'too_short' | 'too_long' | 'common' | 'repetitive' | 'sequential' | 'personal';

export type PasswordVerdict = { ok: true } | { ok: false; rule: PasswordRule; message: string };

/**
 * NFKC makes visually identical inputs (full-width letters, ligatures, composed accents) one
 * password, so the same person can always log in from another keyboard or OS. Applied at
 * every entry point: register, login, change, reset.
 */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

export function codePointLength(value: string): number {
  let length = 0;
  for (const _ of value) length++;
  return length;
}

/** Runs people type when asked for something long: "1234567890…", "abcdef…", "qwerty…". */
const SEQUENCES = ['0123456789', 'abcdefghijklmnopqrstuvwxyz', 'qwertyuiopasdfghjklzxcvbnm', '1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p'];

function isSequence(lower: string): boolean {
  return SEQUENCES.some((sequence) => {
    const cycle = sequence.repeat(Math.ceil(lower.length / sequence.length) + 1);
    const reversed = [...cycle].reverse().join('');
    return cycle.includes(lower) || reversed.includes(lower);
  });
}

/** The shortest unit that, repeated, makes up the whole value ("abcabcabc" → "abc"). */
function repeatedUnit(value: string): string {
  const chars = [...value];
  for (let size = 1; size <= chars.length / 2; size++) {
    if (chars.length % size !== 0) continue;
    const unit = chars.slice(0, size).join('');
    if (unit.repeat(chars.length / size) === value) return unit;
  }
  return value;
}

export class PasswordPolicy {
  private readonly blocklist: ReadonlySet<string>;

  constructor(
    private readonly limits: PasswordLimits,
    commonPasswords: Iterable<string>,
  ) {
    this.blocklist = new Set([...commonPasswords].map((p) => p.toLowerCase()));
  }

  /** Checks an already normalized password. */
  check(password: string, context: PasswordContext): PasswordVerdict {
    const length = codePointLength(password);
    if (length < this.limits.minLength) {
      return refuse('too_short', `Password must be at least ${this.limits.minLength} characters long`);
    }
    if (length > this.limits.maxLength) {
      return refuse('too_long', `Password must be at most ${this.limits.maxLength} characters long`);
    }
    const lower = password.toLowerCase();
    const unit = repeatedUnit(lower);
    if (this.blocklist.has(lower) || (unit !== lower && this.blocklist.has(unit))) {
      return refuse('common', 'Password is too common; choose one that is not on lists of leaked passwords');
    }
    if (codePointLength(unit) <= 3) {
      return refuse('repetitive', 'Password must not be a short sequence of characters repeated');
    }
    if (isSequence(lower)) {
      return refuse('sequential', 'Password must not be a run of consecutive keys, letters or digits');
    }
    if (personalTerms(context).some((term) => lower.includes(term))) {
      return refuse('personal', 'Password must not contain your email address or name');
    }
    return { ok: true };
  }
}

/** Parts of the account a guesser would try first. Very short parts are too common to refuse. */
function personalTerms({ email, name }: PasswordContext): string[] {
  // Same normalization as the password, so a full-width name cannot hide inside one.
  const normalizedEmail = email.normalize('NFKC').trim().toLowerCase();
  const localPart = normalizedEmail.split('@')[0] ?? '';
  const fullName = name.normalize('NFKC').trim().toLowerCase().replace(/\s+/g, ' ');
  const terms = [normalizedEmail, localPart, fullName, fullName.replace(/ /g, '')];
  return terms.filter((term) => codePointLength(term) >= 3);
}

function refuse(rule: PasswordRule, message: string): PasswordVerdict {
  return { ok: false, rule, message };
}
