export { makeContext, credentialsOf, type Identity, type RequestContext } from './context.js';
export { noauthIdentity } from './noauth.js';
export { KeystoneTokenValidator, type KeystoneOptions } from './keystone.js';
export { Policy, parseRule, readPolicyFile, PolicyParseError, BASE_RULES } from './policy.js';
export { authenticator, requireAuth, type Authenticate } from './authenticate.js';
