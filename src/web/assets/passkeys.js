// Passkeys in the pages. @simplewebauthn/browser (its ES modules, served under /assets/webauthn/)
// turns the API's Level 3 JSON options into the browser's ceremony and the result back into
// JSON; these helpers say in plain words why a ceremony did not finish.
import {
  browserSupportsWebAuthn,
  browserSupportsWebAuthnAutofill,
  startAuthentication,
  startRegistration,
  WebAuthnAbortService,
} from './webauthn/index.js';

export { browserSupportsWebAuthnAutofill, startAuthentication, startRegistration, WebAuthnAbortService };

/** WebAuthn needs the API and a secure context (https, or http://localhost). */
export const passkeysSupported = () => window.isSecureContext && browserSupportsWebAuthn();

/** The page itself cancelled the ceremony (a newer one replaced it): nothing to tell anyone. */
export const wasAborted = (error) => error?.name === 'AbortError' || error?.code === 'ERROR_CEREMONY_ABORTED';

/**
 * What a ceremony's error means to the person. `closed` is said when the browser's prompt was
 * closed, timed out or found no passkey (NotAllowedError: browsers do not tell these apart).
 */
export function ceremonyError(error, closed) {
  switch (error?.name) {
    case 'NotAllowedError':
      return closed;
    case 'InvalidStateError':
      return 'This device already holds a passkey for your account. Use that one, or add one on another device or security key.';
    case 'NotSupportedError':
    case 'ConstraintError':
      return 'This device cannot make the kind of passkey this site needs (one that checks it is you, by fingerprint, face or screen lock).';
    case 'SecurityError':
      return 'Passkeys do not work at this address. Open the site at its usual address and try again.';
    default:
      return `The passkey could not be used${error?.message ? ` (${error.message})` : ''}. Try again.`;
  }
}

/**
 * The passkey part of a guest page (`[data-passkey]`): its button, or a sentence when this
 * browser has no passkeys, and the slot for its messages.
 */
export function passkeyPart(button) {
  const box = button.closest('[data-passkey]');
  const alert = box.querySelector('[data-passkey-alert]');
  const supported = passkeysSupported();
  box.hidden = false;
  button.hidden = !supported;
  const unsupported = box.querySelector('[data-passkey-unsupported]');
  if (unsupported) unsupported.hidden = supported;
  // No "or" before or after a sentence that offers nothing.
  const or = box.querySelector('.or');
  if (or) or.hidden = !supported;
  return {
    supported,
    say(message) {
      alert.textContent = message;
      alert.hidden = false;
    },
    clear() {
      alert.textContent = '';
      alert.hidden = true;
    },
  };
}

/**
 * A button that proves a passkey: fresh request options (`requestOptions`), the browser's
 * prompt, then `finish` with the passkey's answer. `finish` (and `refused`, given an API error
 * about the options) answers true when the page moves on; else a message stays under the
 * button, ready again. `starting` and `ended` frame each try.
 */
export function authenticationButton(button, { requestOptions, closed, finish, refused = () => false, starting = () => {}, ended = () => {} }) {
  const part = passkeyPart(button);
  button.addEventListener('click', async () => {
    starting();
    part.clear();
    button.disabled = true;
    let movedOn = false;
    try {
      const options = await requestOptions();
      if (!options.ok) {
        movedOn = refused(options);
        if (!movedOn) part.say(options.data.error);
        return;
      }
      let response;
      try {
        response = await startAuthentication({ optionsJSON: options.data });
      } catch (error) {
        if (!wasAborted(error)) part.say(ceremonyError(error, closed));
        return;
      }
      movedOn = await finish(response);
    } finally {
      if (!movedOn) {
        button.disabled = false;
        button.focus(); // a disabled button lost the focus; the message is read out from its alert
        ended();
      }
    }
  });
  return part;
}
