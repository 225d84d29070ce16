// Passkeys on the sign-in pages: "Sign in with a passkey" on /login, with the browser's autofill offering
// passkeys in the email field too (conditional UI), and on the second step after the password.
import { api, secondStepEnded, signedIn } from './lib.js';
import { authenticationButton, browserSupportsWebAuthnAutofill, startAuthentication, WebAuthnAbortService } from './passkeys.js';

const byId = (id) => document.getElementById(id);

/** Fresh request options: any passkey of this site for a guest, the user's own for a pending sign-in. */
const requestOptions = () => api('POST', '/api/auth/passkeys/login/options');

const signInButton = byId('passkey-sign-in');
if (signInButton) {
  const form = byId('login-form');
  const notAccepted = 'That passkey was not accepted. Try another one, or use your password.';

  /** Signs in with a passkey's answer; false (with the message shown) when it was refused. */
  const finish = async (response) => {
    const res = await api('POST', '/api/auth/passkeys/login', { response, rememberMe: byId('rememberMe').checked });
    if (res.ok || res.data.code === 'already_authenticated') {
      signedIn(form.dataset.next);
      return true;
    }
    part.say(res.status === 401 ? notAccepted : res.data.error);
    return false;
  };

  // Conditional UI: the browser offers the site's passkeys in the email field's autofill. Its
  // request waits until one is picked, so it gets a fresh challenge before the old one expires
  // (5 minutes); the button's request replaces it (one ceremony at a time), and it starts
  // again when the button's ends without signing in.
  const REFRESH_MS = 4 * 60_000;
  let timer;
  let buttonRunning = false;
  const autofill = async () => {
    clearTimeout(timer);
    if (buttonRunning || !(await browserSupportsWebAuthnAutofill())) return;
    const options = await requestOptions();
    if (!options.ok || buttonRunning) return; // the button still works, and says what is wrong
    timer = setTimeout(autofill, REFRESH_MS);
    let response;
    try {
      response = await startAuthentication({ optionsJSON: options.data, useBrowserAutofill: true });
    } catch {
      return; // replaced, refreshed, or nothing picked: nothing to tell
    }
    clearTimeout(timer);
    part.clear();
    if (!(await finish(response))) autofill();
  };

  const part = authenticationButton(signInButton, {
    requestOptions,
    closed: 'The passkey prompt was closed; you can try again or use your password.',
    finish,
    // Signed in meanwhile (another tab): on as after a sign-in.
    refused: (res) => {
      if (res.data.code !== 'already_authenticated') return false;
      signedIn(form.dataset.next);
      return true;
    },
    starting: () => {
      buttonRunning = true;
      clearTimeout(timer);
      WebAuthnAbortService.cancelCeremony();
    },
    ended: () => {
      buttonRunning = false;
      autofill();
    },
  });
  if (part.supported) autofill();
}

const secondStepButton = byId('passkey-second-step');
if (secondStepButton) {
  const form = byId('second-step-form');
  const codes = form.querySelector('[data-method]') !== null;
  const orCode = codes ? ', or enter a code' : '';
  const part = authenticationButton(secondStepButton, {
    requestOptions,
    closed: `The passkey prompt was closed; you can try again${codes ? ' or enter a code' : ''}.`,
    finish: async (response) => {
      const rememberDevice = byId('rememberDevice')?.checked === true; // not offered on a step-up
      const res = await api('POST', '/api/auth/mfa/verify', { method: 'passkey', response, rememberDevice });
      if (res.ok) signedIn(form.dataset.next);
      else if (res.data.code === 'mfa_required') secondStepEnded(form.dataset.next);
      else part.say(res.status === 401 ? `That passkey was not accepted. Try another one${orCode}.` : res.data.error);
      return res.ok || res.data.code === 'mfa_required';
    },
  });
}
