/**
 * The in-memory fake the domain tests use passes the same contract, so a domain test cannot
 * lean on behaviour no real store has.
 */
import { InMemorySessionStore } from '../support/fakes.js';
import { epochCounter, sessionStoreContract } from './session-store.contract.js';

sessionStoreContract('in-memory fake', true, async () => ({
  store: new InMemorySessionStore(),
  addUser: async () => {},
  bumpEpoch: epochCounter(),
  verifyUser: async () => {},
  close: async () => {},
}));
