/**
 * Every operation of the server, as the OpenAPI document describes it: one file a tag under
 * `operations/`, assembled here in the document's order.
 */
import { accountOperations, reauthOperation } from './operations/account.js';
import { adminOperations } from './operations/admin.js';
import { authOperations } from './operations/auth.js';
import { deviceOperations } from './operations/devices.js';
import { documentationOperations } from './operations/docs.js';
import { opsOperations } from './operations/ops.js';
import { passkeyOperations } from './operations/passkeys.js';
import { recoveryOperations } from './operations/recovery.js';
import { sessionOperations } from './operations/sessions.js';
import type { OperationSpec } from './operations/spec.js';
import { twoStepOperations } from './operations/two-step.js';

export { ACCESS_TEXT, type Access, type Method, type OperationSpec, type Success } from './operations/spec.js';

export const OPERATIONS: OperationSpec[] = [
  ...authOperations,
  reauthOperation,
  ...sessionOperations,
  ...accountOperations,
  ...recoveryOperations,
  ...documentationOperations,
  ...opsOperations,
  ...twoStepOperations,
  ...passkeyOperations,
  ...deviceOperations,
  ...adminOperations,
];
