// A password hint while typing: the same length rule as the server, a blocklist of common
// passwords (the server's own list, served as /assets/common-passwords.json), repeats, runs of
// keys and the person's own name or email. Advice only: the server decides.

const SEQUENCES = ['0123456789', 'abcdefghijklmnopqrstuvwxyz', 'qwertyuiopasdfghjklzxcvbnm'];
let common;

function loadCommon() {
  common ??= fetch('/assets/common-passwords.json')
    .then((r) => (r.ok ? r.json() : []))
    .then((list) => new Set(list))
    .catch(() => new Set());
  return common;
}

const length = (s) => [...s].length;

function isRun(lower) {
  return SEQUENCES.some((seq) => {
    const cycle = seq.repeat(Math.ceil(lower.length / seq.length) + 1);
    return cycle.includes(lower) || [...cycle].reverse().join('').includes(lower);
  });
}

function personalTerms(form) {
  const email = (form.querySelector('[name=email], [name=username]')?.value ?? '').trim().toLowerCase();
  const name = (form.querySelector('[name=name]')?.value ?? document.getElementById('profile-name')?.textContent ?? '').trim().toLowerCase();
  return [email, email.split('@')[0], name, name.replace(/\s+/g, '')].filter((t) => length(t) >= 3);
}

/** score 0–4 and a sentence. */
export function assess(password, { min, max, blocklist, personal }) {
  const n = length(password);
  const lower = password.normalize('NFKC').toLowerCase();
  if (n === 0) return { score: 0, text: `Use at least ${min} characters. A few unrelated words make a strong password you can remember.` };
  if (n < min) return { score: n >= min * 0.66 ? 1 : 0, text: `${min - n} more character${min - n === 1 ? '' : 's'} needed (at least ${min}).` };
  if (n > max) return { score: 0, text: `Too long: at most ${max} characters.` };
  if (blocklist.has(lower)) return { score: 0, text: 'This is a well-known password. Choose something else.' };
  if (new Set(lower).size <= 3) return { score: 0, text: 'Too repetitive. Choose something less predictable.' };
  if (isRun(lower)) return { score: 0, text: 'That is a run of keys, letters or digits. Choose something less predictable.' };
  if (personal.some((t) => lower.includes(t))) return { score: 1, text: 'Do not use your name or email address in your password.' };
  if (n >= min + 8 && new Set(lower).size >= 10) return { score: 4, text: 'Strong password.' };
  return { score: n >= min + 4 ? 3 : 2, text: 'Good. A little longer makes it even stronger.' };
}

export function attachStrengthHints(root) {
  for (const input of root.querySelectorAll('input[data-strength]')) {
    const box = document.getElementById(`${input.id}-hint`);
    const meter = box?.querySelector('meter');
    const text = box?.querySelector('.hint');
    if (!box || !meter || !text) continue;
    const min = Number(input.dataset.minLength) || 15;
    const max = Number(input.dataset.maxLength) || 256;
    let blocklist = new Set();
    const update = () => {
      const { score, text: message } = assess(input.value, { min, max, blocklist, personal: personalTerms(input.form) });
      meter.value = score;
      meter.hidden = input.value === '';
      text.textContent = message;
      box.dataset.score = String(score);
    };
    input.addEventListener('input', update);
    input.addEventListener('focus', () => loadCommon().then((set) => { blocklist = set; update(); }), { once: true });
    update();
  }
}
